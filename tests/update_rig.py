"""What the update tests share: source-tree releases, installations made as an
installer would, running an installed program, and the repository's keys."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from montage_cloud.releases.keys import ROLES, RoleKey, key_path, load_key
from montage_cloud.releases.repository import ReleaseRepository
from montage_core.updates.installation import Installation, UpdateSource
from scripts.source_release import build_archive

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Repo:
    """A served repository: its directory, its keys and how clients reach it."""

    repository: ReleaseRepository
    keys_dir: Path
    url: str
    ca_file: str | None

    @property
    def keys(self) -> dict[str, RoleKey]:
        return {role: load_key(key_path(self.keys_dir, role), role) for role in ROLES}

    @property
    def root_json(self) -> bytes:
        return (self.repository.metadata_dir / "root.json").read_bytes()

    @contextlib.contextmanager
    def restored_after(self) -> Iterator[None]:
        """Whatever a test does to the served files is undone after it."""
        saved = self.repository.path.with_name(self.repository.path.name + ".saved")
        shutil.rmtree(saved, ignore_errors=True)
        shutil.copytree(self.repository.path, saved)
        try:
            yield
        finally:
            shutil.rmtree(self.repository.path)
            saved.rename(self.repository.path)


def archives(out: Path, app: str, *versions: str) -> dict[str, Path]:
    return {version: build_archive(app, version, out) for version in versions}


def install(root: Path, app: str, archive: Path, repo: Repo, url: str | None = None) -> Path:
    """A first installation of `archive` in `root` that updates from `repo` (or `url`)."""
    Installation.create(
        root,
        app,
        archive,
        source=UpdateSource(url or repo.url, repo.ca_file),
        trusted_root=repo.root_json,
    )
    return root


def run(
    root: Path, program: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The installed program as a person starts it (the launcher, from another directory)."""
    return subprocess.run(
        [sys.executable, str(root / "launch.py"), program, *args],
        cwd=root.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def installed_version(root: Path, program: str) -> str:
    result = run(root, program, "--version")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
