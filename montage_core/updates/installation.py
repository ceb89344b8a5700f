"""An installed program: versions side by side, one `current` pointer, switched atomically.

    <root>/current              "0.2.0" — replaced in one rename, never edited in place
    <root>/versions/0.1.0/      one complete version each (the previous one is kept)
    <root>/versions/0.2.0/
    <root>/update/source.json   {"url": the repository, "ca_file": optional extra CA}
    <root>/update/root.json     the trust anchor shipped with the installation
    <root>/update/metadata/     what python-tuf has verified so far (rollback protection)
    <root>/update/downloads/    verified release archives
    <root>/<launcher>           starts `current`: launch.py (source form), or
                                montage-client & co. (frozen form, launchers.py)

A new version is unpacked beside the running one under a temporary name,
renamed into `versions/` only when complete, started once with `--version`
to see that it runs, and only then does `current` name it. An interruption
at any point leaves `current` naming a complete version.

How a version is laid out and started depends on the build: `AppForm`.
`SourceTreeForm` is the packages as source, run by this Python;
`FrozenForm` (frozen.py) is a PyInstaller one-folder build, what the
installers install (docs/updates.md, "Frozen builds").
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from montage_core.version import is_frozen

from .errors import InstallFailed, UpdatesNotSetUp
from .versions import version_key

logger = logging.getLogger(__name__)

CURRENT = "current"
RELEASE_MANIFEST = "montage-release.json"
MODULES = {"montage-client": "montage_client", "montage-receiver": "montage_receiver"}
PROBE_SECONDS = 60.0


class AppForm(Protocol):
    """One kind of build: where the running version lives, its layout, how to start it."""

    platform: str  # the repository's platform tag for this kind of build

    def running_folder(self) -> Path:
        """The version folder the running program was started from."""

    def check(self, folder: Path, app: str) -> None:
        """Raise InstallFailed unless `folder` is a complete version of `app`."""

    def command(self, folder: Path, app: str, args: list[str]) -> tuple[list[str], dict[str, str]]:
        """The command line and environment that start `app` from `folder`."""

    def launcher(self, root: Path, app: str, args: list[str]) -> tuple[list[str], dict[str, str]]:
        """The command line (and environment) that starts the current version, as a
        shortcut does: what a program that has just updated itself becomes."""

    def write_launcher(self, root: Path, app: str) -> None:
        """Put the launcher of `app` in `root` (once, at first install)."""


LAUNCHER = '''#!/usr/bin/env python3
"""Starts the current version of a Montage program installed here (see versions/)."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MODULES = {modules!r}
program, args = sys.argv[1], sys.argv[2:]
folder = ROOT / "versions" / (ROOT / "current").read_text().strip()
env = dict(os.environ, PYTHONPATH=str(folder))
# -P: the working directory must not put another copy of Montage first on the path.
os.execve(sys.executable, [sys.executable, "-P", "-m", MODULES[program], *args], env)
'''


class SourceTreeForm:
    """The packages as source, run by this Python (the venv that has their libraries)."""

    platform = "source"

    def running_folder(self) -> Path:
        return Path(__file__).resolve().parents[2]

    def check(self, folder: Path, app: str) -> None:
        module = MODULES.get(app)
        needed = [folder / "montage_core" / "__init__.py"]
        if module is not None:
            needed.append(folder / module / "__main__.py")
        missing = [p.relative_to(folder).as_posix() for p in needed if not p.is_file()]
        if module is None or missing:
            raise InstallFailed(
                f"The release is not a complete {app} (missing {', '.join(missing) or app}); "
                "nothing was changed."
            )

    def command(self, folder: Path, app: str, args: list[str]) -> tuple[list[str], dict[str, str]]:
        env = dict(os.environ, PYTHONPATH=str(folder))
        return [sys.executable, "-P", "-m", MODULES[app], *args], env

    def launcher(self, root: Path, app: str, args: list[str]) -> tuple[list[str], dict[str, str]]:
        return [sys.executable, str(root / "launch.py"), app, *args], dict(os.environ)

    def write_launcher(self, root: Path, app: str) -> None:
        path = root / "launch.py"
        path.write_text(LAUNCHER.format(modules=MODULES))
        path.chmod(0o755)


def running_form() -> AppForm:
    """The form of the running program: frozen by PyInstaller, or source."""
    if is_frozen():
        from .frozen import FrozenForm

        return FrozenForm()
    return SourceTreeForm()


@dataclass(frozen=True)
class UpdateSource:
    url: str
    ca_file: str | None  # an extra CA for the server; a relative name is a file in update/

    def as_json(self) -> str:
        """update/source.json (installers write the same)."""
        return json.dumps({"url": self.url, "ca_file": self.ca_file}, indent=2) + "\n"


class Installation:
    """The installation of one program (`app`, e.g. montage-client) in `root`."""

    def __init__(self, root: Path, app: str, form: AppForm) -> None:
        self.root = root
        self.app = app
        self.form = form
        self.versions = root / "versions"
        self.update_dir = root / "update"
        self.metadata_dir = self.update_dir / "metadata"
        self.downloads = self.update_dir / "downloads"

    @classmethod
    def running(cls, app: str) -> Installation:
        """The installation this program runs from; UpdatesNotSetUp when there is none."""
        form = running_form()
        folder = form.running_folder()
        root = folder.parent.parent
        if folder.parent.name != "versions" or not (root / CURRENT).is_file():
            raise UpdatesNotSetUp(
                f"This copy of Montage (in {folder}) was not installed with updates: "
                "install it with the installer, or update it the way it was installed."
            )
        return cls(root, app, form)

    # -- what is installed -----------------------------------------------------

    def current_version(self) -> str:
        return (self.root / CURRENT).read_text().strip()

    def source(self) -> UpdateSource:
        try:
            data = json.loads((self.update_dir / "source.json").read_text())
            url = str(data["url"])
        except (OSError, ValueError, KeyError) as exc:
            raise UpdatesNotSetUp(
                f"This installation names no update server ({self.update_dir / 'source.json'}: "
                f"{type(exc).__name__})."
            ) from None
        ca_file = data.get("ca_file")
        if not ca_file:
            return UpdateSource(url, None)
        # A relative name is a file in update/ (an installer ships it there).
        return UpdateSource(url, str(self.update_dir / str(ca_file)))

    def ensure_writable(self) -> None:
        """UpdatesNotSetUp unless this user may change the installation (an update
        writes its state in update/ and a new version beside the others)."""
        for folder in (self.metadata_dir, self.downloads, self.versions):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryFile(dir=folder):
                    pass
            except OSError as exc:
                raise UpdatesNotSetUp(
                    f"Montage in {self.root} cannot be updated by this user ({folder}: "
                    f"{exc.strerror or exc}). Ask whoever installed it, or install it again."
                ) from None

    def trusted_root(self) -> bytes:
        try:
            return (self.update_dir / "root.json").read_bytes()
        except OSError:
            raise UpdatesNotSetUp(
                f"This installation has no release keys to trust ({self.update_dir / 'root.json'})."
            ) from None

    # -- changing it -----------------------------------------------------------

    def stage(self, archive: Path, version: str) -> Path:
        """Unpack `archive` as versions/<version>, complete or not at all."""
        if version == self.current_version():
            raise InstallFailed(f"Montage {version} is already the installed version.")
        self.versions.mkdir(parents=True, exist_ok=True)
        for leftover in self.versions.glob(".*.partial-*"):  # an earlier run, interrupted
            shutil.rmtree(leftover, ignore_errors=True)
        target = self.versions / version
        partial = Path(tempfile.mkdtemp(prefix=f".{version}.partial-", dir=self.versions))
        try:
            try:
                with tarfile.open(archive, "r:gz") as packed:
                    packed.extractall(partial, filter="data")
            except (tarfile.TarError, OSError) as exc:
                raise InstallFailed(
                    f"The release file could not be unpacked ({exc}); nothing was changed."
                ) from None
            self._check_manifest(partial, version)
            self.form.check(partial, self.app)
            if target.exists():  # an earlier, unfinished attempt at the same version
                shutil.rmtree(target)
            os.rename(partial, target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return target

    def probe(self, version: str) -> None:
        """Start the staged version once with --version: a build that cannot start is
        never made current."""
        command, env = self.form.command(self.versions / version, self.app, ["--version"])
        try:
            result = subprocess.run(
                command,
                env=env,
                cwd=self.root,
                capture_output=True,
                text=True,
                timeout=PROBE_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InstallFailed(
                f"Montage {version} did not start ({exc}); nothing was changed."
            ) from None
        said = result.stdout.strip()
        if result.returncode != 0 or said != f"{self.app} {version}":
            logger.info("probe of %s: %s / %s", version, said, result.stderr[-2000:])
            last = (said or result.stderr.strip()).splitlines()[-1:]
            what = repr(last[0]) if last else "nothing"
            raise InstallFailed(
                f"Montage {version} did not start correctly (it said {what}); "
                f"Montage {self.current_version()} stays installed."
            )

    def switch(self, version: str) -> None:
        """Make `version` current in one rename (the old pointer or the new, never half)."""
        pointer = self.root / CURRENT
        fresh = pointer.with_name(CURRENT + ".new")
        with fresh.open("w") as out:
            out.write(version + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(fresh, pointer)

    def prune(self, keep: set[str]) -> None:
        """Remove versions other than `keep` and the current one (and their downloads)."""
        keep = keep | {self.current_version()}
        for folder in self.versions.iterdir():
            if folder.name not in keep and version_key(folder.name) is not None:
                shutil.rmtree(folder, ignore_errors=True)

    def discard(self, version: str) -> None:
        """Remove a staged version that was never made current."""
        if version != self.current_version():
            shutil.rmtree(self.versions / version, ignore_errors=True)

    def restart_command(self, args: list[str]) -> tuple[list[str], dict[str, str]]:
        return self.form.launcher(self.root, self.app, args)

    def _check_manifest(self, folder: Path, version: str) -> None:
        try:
            manifest = json.loads((folder / RELEASE_MANIFEST).read_text())
        except (OSError, ValueError):
            return  # the signed metadata named the version; the probe checks it runs as it
        if manifest.get("version") != version or manifest.get("app") != self.app:
            raise InstallFailed(
                f"The release file holds {manifest.get('app')} {manifest.get('version')}, not "
                f"{self.app} {version} as signed; nothing was changed."
            )

    # -- a first installation ----------------------------------------------------

    @classmethod
    def create(
        cls,
        root: Path,
        app: str,
        archive: Path,
        *,
        source: UpdateSource,
        trusted_root: bytes,
        form: AppForm | None = None,
    ) -> Installation:
        """Install `archive` (a release archive with its manifest) into an empty `root`:
        what an installer does the first time."""
        form = form or SourceTreeForm()
        with tarfile.open(archive, "r:gz") as packed:
            member = packed.extractfile(RELEASE_MANIFEST)
            if member is None:
                raise InstallFailed(f"{archive} has no {RELEASE_MANIFEST}.")
            version = str(json.loads(member.read())["version"])
        installation = cls(root, app, form)
        installation.update_dir.mkdir(parents=True, exist_ok=True)
        installation.switch("none")  # stage() compares with the current version
        installation.stage(archive, version)
        installation.switch(version)
        (installation.update_dir / "root.json").write_bytes(trusted_root)
        (installation.update_dir / "source.json").write_text(source.as_json())
        form.write_launcher(root, app)
        return installation
