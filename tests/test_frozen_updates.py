"""The frozen programs update themselves, installed the way their installers install them.

The old version is the session's build (./scripts/build.sh); the new one is
the same tree built again as the next minor version
(`./scripts/build.sh --version … --dist …`: only the stamp differs, so
PyInstaller reuses all of its work and the build takes seconds). Both new
folders are published to `montage-cloud dev` with the administrator's
command, which reads each folder's stamp for its version and platform.

- The client is installed from its Linux tarball by install-client.sh, as a
  person does, then updates itself through the frozen command line from the
  dev cloud over HTTPS: it restarts into the new version, which says so, and
  keeps running after the old version's folder is gone. The repository also
  holds a newer *source-form* release, which a frozen build must never take.
- The receiver's tarball (the appliance's installation) takes an offline
  bundle with `update --from`, and a running frozen receiver finds one on a
  drive and restarts into it — with none of the old build's library paths.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from bench.xvfb import stop_process
from installer.layout import UpdateSettings
from installer.tarball import make_tarball
from montage_cloud.servers.process import free_port
from montage_core.version import platform_tag
from scripts.source_release import build_archive
from tests.dev_cloud import dev_cloud, read_line
from tests.frozen_build import FrozenBuild, build

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
CLIENT, RECEIVER = "montage-client", "montage-receiver"
NOTES = "Sharing starts faster."


def _next_minor(version: str) -> str:
    major, minor, _ = (int(part) for part in version.split("."))
    return f"{major}.{minor + 1}.0"


@dataclass(frozen=True)
class Releases:
    old: str
    new: str
    url: str
    updates: UpdateSettings  # what the installers ship: the dev cloud's URL, keys and CA
    bundle: Path  # the receiver's new version as an offline update file
    new_build: FrozenBuild


def _admin(*args: str, repo: dict[str, str]) -> str:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "montage_cloud", "admin", "release", *args),
            *("--repo", repo["repo"], "--keys", repo["keys"]),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.fixture(scope="module")
def releases(
    frozen_build: FrozenBuild, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Releases]:
    old = frozen_build.version
    new = _next_minor(old)
    dist = tmp_path_factory.mktemp("dist-new")
    # PYTHON: the session's build has set up the virtualenv already.
    new_build = build(
        "--version", new, "--dist", str(dist), env={**os.environ, "PYTHON": sys.executable}
    )
    print(f"second build ({new}): {new_build.seconds:.1f} s")
    assert (new_build.version, new_build.platform) == (new, platform_tag())
    with dev_cloud(tmp_path_factory.mktemp("cloud"), timeout=30) as (_, ready):
        repo = ready["updates"]
        for app, folder in ((CLIENT, new_build.client_dir), (RECEIVER, new_build.receiver_dir)):
            # No --app or --platform: the folder's stamp says which, and the command agrees.
            said = _admin("add", str(folder), "--version", new, "--notes", NOTES, repo=repo)
            assert f"Released {app} {new} ({platform_tag()})" in said
        # A newer release of the source form: not for a frozen build's platform.
        source = build_archive(CLIENT, "9.0.0", tmp_path_factory.mktemp("source"))
        _admin("add", str(source), "--version", "9.0.0", repo=repo)
        bundle = tmp_path_factory.mktemp("usb") / "receiver.montage-update"
        _admin("bundle", "--app", RECEIVER, "--version", new, "--out", str(bundle), repo=repo)
        updates = UpdateSettings(repo["url"], Path(repo["root"]), Path(ready["ca_cert"]))
        yield Releases(old, new, repo["url"], updates, bundle, new_build)
    shutil.rmtree(dist, ignore_errors=True)


def _unpack(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="tar")
    tarball.unlink()
    return into


def _run(
    program: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(program), *args], capture_output=True, text=True, timeout=120, env=env, cwd="/"
    )


def test_the_installed_frozen_client_updates_itself_from_the_dev_cloud(
    frozen_build: FrozenBuild, releases: Releases, tmp_path: Path
) -> None:
    old, new = releases.old, releases.new
    tarball = make_tarball(
        "client",
        frozen_build.client_dir.parent,
        out_dir=tmp_path,
        fast=True,
        updates=releases.updates,
    )
    download = _unpack(tarball, tmp_path / "download")
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), PATH="/usr/bin:/bin")
    env.pop("XDG_DATA_HOME", None)
    subprocess.run(
        [str(download / CLIENT / "install-client.sh")], env=env, check=True, capture_output=True
    )
    shutil.rmtree(download)
    installed = home / ".local/opt/montage-client"
    cli = home / ".local/bin/montage-client-cli"  # what a person types
    assert _run(cli, "--version", env=env).stdout == f"{CLIENT} {old}\n"

    check = _run(cli, "update", "--check", "--proxy", "none", env=env)
    assert check.returncode == 0, check.stderr
    # The frozen client asks for its own platform's releases: 9.0.0 is source-only.
    assert check.stdout == f"Montage {new} is available (this is {old}).\n{NOTES}\n"

    update = _run(cli, "update", "--install", "--proxy", "none", env=env)
    assert update.returncode == 0, update.stderr
    assert "Downloaded 100 %" in update.stderr
    assert f"Installed Montage {new}; starting it." in update.stderr
    # The same process went on as the new version (exec'd through the launcher).
    assert update.stdout == f"{CLIENT} {new}\n"

    assert (installed / "current").read_text() == f"{new}\n"
    assert sorted(p.name for p in (installed / "versions").iterdir()) == [old, new]
    # The new version stands on its own: the next update would prune the old one.
    shutil.rmtree(installed / "versions" / old)
    window = home / ".local/bin/montage-client"  # what the menu entry starts
    desktop = (home / ".local/share/applications/montage.desktop").read_text()
    assert f"Exec={installed / 'montage-client'}\n" in desktop
    assert _run(window, "--version", env=env).stdout == f"{CLIENT} {new}\n"
    again = _run(cli, "update", "--check", "--proxy", "none", env=env)
    assert again.stdout == f"Montage {new} is up to date.\n", again.stderr


@pytest.fixture
def receiver_installation(frozen_build: FrozenBuild, releases: Releases, tmp_path: Path) -> Path:
    """The receiver's tarball unpacked: the installation the appliance script copies,
    in a room without internet (its update server is a port nobody listens on, so
    what it installs can only have come from the drive)."""
    offline = replace(releases.updates, url=f"https://127.0.0.1:{free_port()}/updates")
    tarball = make_tarball(
        "receiver",
        frozen_build.receiver_dir.parent,
        out_dir=tmp_path,
        fast=True,
        updates=offline,
    )
    return _unpack(tarball, tmp_path / "opt") / RECEIVER


def test_the_installed_frozen_receiver_updates_from_a_bundle(
    receiver_installation: Path, releases: Releases
) -> None:
    launcher = receiver_installation / RECEIVER  # what the appliance's unit starts
    assert _run(launcher, "--version").stdout == f"{RECEIVER} {releases.old}\n"
    update = _run(launcher, "update", "--from", str(releases.bundle))
    assert update.returncode == 0, update.stderr
    assert update.stdout == f"{RECEIVER} {releases.new}\n"
    assert _run(launcher, "--version").stdout == f"{RECEIVER} {releases.new}\n"


def _event(process: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    line = read_line(process, timeout)
    assert line, f"the receiver exited ({process.poll()})"
    return dict(json.loads(line))


def test_a_running_frozen_receiver_takes_a_bundle_from_a_drive_and_restarts_into_it(
    receiver_installation: Path, releases: Releases, tmp_path: Path
) -> None:
    drive = tmp_path / "usb"
    drive.mkdir()
    process = subprocess.Popen(
        [
            *(str(receiver_installation / RECEIVER), "--headless", "--status-json"),
            *("--bind", "127.0.0.1", "--port", "0", "--no-pin", "--proxy", "none"),
            *("--data-dir", str(tmp_path / "data"), "--stats-interval", "3600"),
            *("--updates-from", str(drive), "--auto-update"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    try:
        ready = _event(process)
        assert (ready["event"], ready["version"]) == ("ready", releases.old)
        shutil.copy(releases.bundle, drive / "montage-receiver.montage-update")
        events = [_event(process) for _ in range(3)]
        assert events[:2] == [
            {"event": "update_available", "version": releases.new, "source": "file"},
            {"event": "update_installed", "version": releases.new},
        ]
        assert (events[2]["event"], events[2]["version"]) == ("ready", releases.new)
        # The same process (same pid) now runs the new build's files only: its
        # libraries, and an environment without the old build's library paths.
        old_folder = str(receiver_installation / "versions" / releases.old) + "/"
        new_folder = str(receiver_installation / "versions" / releases.new) + "/"
        maps = Path(f"/proc/{process.pid}/maps").read_text()
        assert new_folder in maps and old_folder not in maps
        environ = Path(f"/proc/{process.pid}/environ").read_bytes().decode().split("\0")
        assert [v for v in environ if old_folder.rstrip("/") in v] == []
        assert process.poll() is None
    finally:
        stop_process(process)
