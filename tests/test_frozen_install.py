"""A frozen installation's own parts, in seconds and without PyInstaller.

The builds here stand in for PyInstaller's folders: each holds the stamp
./scripts/build.sh writes and, in place of the executables, small shell
programs that answer `--version` as the real ones do and otherwise say which
version's file ran. Everything else is the real thing: the Linux tarball as
installer/tarball.py writes it, the native launchers run by /bin/sh,
releases published and bundled with `montage-cloud admin release`, and the
updater installing into the frozen form. (The real builds updating
themselves: tests/test_frozen_updates.py.)

- The tarball is an installation: `current`, versions/<v>/, the launchers
  (which also work through a link, as ~/.local/bin has them), update/.
- An update switches what the launchers start; a release that is older, of
  the source form, incomplete or unable to start is refused with its
  sentence and the old version still starts; an install interrupted at any
  point leaves the old version starting, and the next one completes.
- build.sh refuses a version that is not three numbers before building;
  the administrator's command refuses a build under another number.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from installer import freeze_rules
from installer.layout import LayoutError, UpdateSettings, first_installation
from installer.tarball import make_tarball
from montage_core.updates.errors import BadBundle, InstallFailed, Rollback, UpdateError
from montage_core.updates.frozen import FrozenForm
from montage_core.updates.installation import Installation
from montage_core.updates.launchers import EXECUTABLES
from montage_core.updates.updater import AppUpdater
from montage_core.version import STAMP, read_stamp
from scripts.source_release import build_archive
from tests.update_rig import ROOT

CLIENT, RECEIVER = "montage-client", "montage-receiver"
PLATFORM = "linux-x86_64"  # what the stand-ins are stamped as (any tag: nothing runs natively)

STAND_IN = """#!/bin/sh
if [ "$1" = --version ]; then echo "{says}"; exit {code}; fi
echo "{version} $(basename "$0") $*"
"""


def fake_build(
    dist: Path,
    app: str,
    version: str,
    *,
    says: str | None = None,
    code: int = 0,
    leave_out: str | None = None,
) -> Path:
    """dist/<app>/ as build.sh leaves it, with stand-ins for the executables."""
    folder = dist / app
    folder.mkdir(parents=True)
    (folder / "_internal").mkdir()
    (folder / "_internal" / "library.so").write_bytes(os.urandom(4096))
    for name in EXECUTABLES[app]:
        if name == leave_out:
            continue
        text = STAND_IN.format(says=says or f"{app} {version}", code=code, version=version)
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    freeze_rules.stamp(folder, app, version, PLATFORM)
    return folder


def admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "montage_cloud", "admin", "release", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def bundle(version: str, out: Path, where: tuple[str, ...]) -> None:
    made = admin("bundle", "--app", RECEIVER, "--version", version, "--out", str(out), *where)
    assert made.returncode == 0, made.stderr


# The releases of the receiver in the repository, each bundled for a drive.
RELEASES: dict[str, dict[str, Any]] = {
    "0.2.0": {},
    "0.0.9": {},  # older than the installed 0.1.0
    "0.3.0": {"says": f"{RECEIVER} 0.1.0"},  # a build that reports another version
    "0.4.0": {"code": 1, "says": "Segmentation fault"},  # a build that cannot start
    "0.5.0": {"leave_out": RECEIVER},  # a build without its executable
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("frozen-repo")
    where = ("--repo", str(base / "repo"), "--keys", str(base / "keys"))
    assert admin("init", *where).returncode == 0
    bundles = {}
    for version, how in RELEASES.items():
        folder = fake_build(base / "dist" / version, RECEIVER, version, **how)
        added = admin("add", str(folder), "--version", version, *where)
        assert added.returncode == 0, added.stderr
        assert f"Released {RECEIVER} {version} ({PLATFORM})" in added.stderr
        bundles[version] = base / f"receiver-{version}.montage-update"
        bundle(version, bundles[version], where)
    # A newer release of the source form: a frozen installation never takes it.
    source = build_archive(RECEIVER, "9.0.0", base / "source")
    assert admin("add", str(source), "--version", "9.0.0", *where).returncode == 0
    bundles["source"] = base / "receiver-source.montage-update"
    bundle("9.0.0", bundles["source"], where)
    return {"root.json": base / "repo" / "metadata" / "root.json", **bundles}


def unpack(tarball: Path, into: Path) -> Path:
    with tarfile.open(tarball) as tar:
        tar.extractall(into, filter="tar")
    return into


def start(program: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A launcher as a shortcut starts it: from elsewhere, with nothing but the path."""
    return subprocess.run(
        [str(program), *args], capture_output=True, text=True, timeout=30, cwd="/"
    )


@pytest.fixture
def receiver(tmp_path: Path, repo: dict[str, Path]) -> Path:
    """The receiver's Linux tarball of a 0.1.0 build, unpacked (the appliance's copy)."""
    dist = tmp_path / "dist"
    fake_build(dist, RECEIVER, "0.1.0")
    updates = UpdateSettings("https://127.0.0.1:9/updates", repo["root.json"])
    tarball = make_tarball("receiver", dist, out_dir=tmp_path, fast=True, updates=updates)
    assert tarball.name.startswith("Montage-Receiver-0.1.0-linux-")
    return unpack(tarball, tmp_path / "opt") / RECEIVER


def updater(root: Path) -> AppUpdater:
    form = FrozenForm(PLATFORM, windows=False)
    return AppUpdater(Installation(root, RECEIVER, form), installed="0.1.0")


def still_0_1(root: Path) -> None:
    assert start(root / RECEIVER, "--version").stdout == f"{RECEIVER} 0.1.0\n"
    assert (root / "current").read_text() == "0.1.0\n"
    assert sorted(p.name for p in (root / "versions").iterdir()) == ["0.1.0"]


def test_the_tarball_is_an_installation_its_launcher_starts(
    receiver: Path, repo: dict[str, Path], tmp_path: Path
) -> None:
    assert (receiver / "current").read_text() == "0.1.0\n"
    assert read_stamp(receiver / "versions" / "0.1.0") is not None
    assert (receiver / "update" / "root.json").read_bytes() == repo["root.json"].read_bytes()
    source = json.loads((receiver / "update" / "source.json").read_text())
    assert source == {"url": "https://127.0.0.1:9/updates", "ca_file": None}
    assert (receiver / "install-receiver-appliance.sh").is_file()
    assert start(receiver / RECEIVER, "--version").stdout == f"{RECEIVER} 0.1.0\n"
    said = start(receiver / RECEIVER, "--headless", "two words")
    assert said.stdout == f"0.1.0 {RECEIVER} --headless two words\n"
    # Through a link elsewhere (~/.local/bin, a unit's ExecStart), from another folder.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / RECEIVER).symlink_to(receiver / RECEIVER)
    assert start(bin_dir / RECEIVER, "--version").stdout == f"{RECEIVER} 0.1.0\n"


def test_a_frozen_installation_takes_a_bundle_and_its_launchers_start_it(
    receiver: Path, repo: dict[str, Path]
) -> None:
    assert updater(receiver).install_bundle(repo["0.2.0"]) == "0.2.0"
    assert (receiver / "current").read_text() == "0.2.0\n"
    assert start(receiver / RECEIVER, "--version").stdout == f"{RECEIVER} 0.2.0\n"
    # The old version stays beside it (the next update prunes it); its launcher is unchanged.
    assert sorted(p.name for p in (receiver / "versions").iterdir()) == ["0.1.0", "0.2.0"]
    # What the updated program becomes: the launcher, with none of a build's variables.
    command, env = updater(receiver).installation.restart_command(["--version"])
    assert command == [str(receiver / RECEIVER), "--version"]
    assert env["PYINSTALLER_RESET_ENVIRONMENT"] == "1"


REFUSED: dict[str, tuple[type[UpdateError], str]] = {
    "0.0.9": (Rollback, "holds Montage 0.0.9, which is not newer than the 0.1.0 installed"),
    "source": (BadBundle, f"holds {RECEIVER} (source), not {RECEIVER} ({PLATFORM})"),
    "0.3.0": (InstallFailed, f"did not start correctly (it said '{RECEIVER} 0.1.0')"),
    "0.4.0": (InstallFailed, "did not start correctly (it said 'Segmentation fault')"),
    "0.5.0": (InstallFailed, f"is not a complete {RECEIVER} (missing {RECEIVER})"),
}


@pytest.mark.parametrize("bundle", list(REFUSED))
def test_a_release_a_frozen_installation_must_not_take_is_refused_and_the_old_one_starts(
    receiver: Path, repo: dict[str, Path], bundle: str
) -> None:
    kind, sentence = REFUSED[bundle]
    with pytest.raises(kind) as refused:
        updater(receiver).install_bundle(repo[bundle])
    assert sentence in str(refused.value)
    still_0_1(receiver)
    assert not list((receiver / "versions").glob(".*"))  # no half-unpacked folder left


def test_an_install_interrupted_at_any_point_leaves_the_old_version_and_the_next_completes(
    receiver: Path, repo: dict[str, Path]
) -> None:
    # What a kill leaves at each step: a half-unpacked folder, a complete folder
    # not yet made current, a pointer written but not yet renamed over `current`.
    versions = receiver / "versions"
    half = versions / ".0.2.0.partial-x1y2"
    shutil.copytree(versions / "0.1.0", half, symlinks=True)
    (half / RECEIVER).write_text("#!/bin/sh\nexit 9\n")  # cut off mid-file
    shutil.copytree(versions / "0.1.0", versions / "0.2.0", symlinks=True)
    (receiver / "current.new").write_text("0.")
    assert start(receiver / RECEIVER, "--version").stdout == f"{RECEIVER} 0.1.0\n"

    assert updater(receiver).install_bundle(repo["0.2.0"]) == "0.2.0"
    assert start(receiver / RECEIVER, "--version").stdout == f"{RECEIVER} 0.2.0\n"
    assert sorted(p.name for p in versions.iterdir()) == ["0.1.0", "0.2.0"]
    assert not (receiver / "current.new").exists()


def test_the_launcher_says_what_is_wrong_without_current(receiver: Path) -> None:
    (receiver / "current").unlink()
    started = start(receiver / RECEIVER, "--version")
    assert started.returncode == 2
    assert started.stderr == f"montage: {receiver}/current is missing; install Montage again.\n"


def test_the_client_launchers_start_the_executable_of_their_name(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    fake_build(dist, CLIENT, "0.1.0")
    tarball = make_tarball("client", dist, out_dir=tmp_path, fast=True)
    client = unpack(tarball, tmp_path / "opt") / CLIENT
    assert (client / "montage-client-cli").readlink() == Path(CLIENT)
    assert start(client / "montage-client-cli", "join").stdout == "0.1.0 montage-client-cli join\n"
    assert start(client / CLIENT).stdout == f"0.1.0 {CLIENT} \n"
    assert not (client / "update").exists()  # a tarball made without update settings
    # On macOS a version's folder is an app bundle, its executables in Contents/MacOS.
    app = client / "versions" / "0.1.0"
    macos = app / "Contents" / "MacOS"
    macos.mkdir(parents=True)
    for name in EXECUTABLES[CLIENT]:
        (app / name).rename(macos / name)
    assert start(client / "montage-client-cli", "join").stdout == "0.1.0 montage-client-cli join\n"


def test_an_installer_refuses_a_folder_without_a_stamp_or_keys(tmp_path: Path) -> None:
    folder = fake_build(tmp_path / "dist", RECEIVER, "0.1.0")
    (folder / STAMP).unlink()
    with pytest.raises(LayoutError, match=r"has no build stamp: build it with"):
        first_installation(RECEIVER, folder, None)
    not_root = tmp_path / "timestamp.json"
    not_root.write_text(json.dumps({"signed": {"_type": "timestamp"}}))
    with pytest.raises(LayoutError, match=r"is not a repository's root\.json"):
        UpdateSettings("https://updates.example/", not_root).files()


@pytest.mark.parametrize("version", ["0.2", "v0.2.0", "01.2.0", "1.2.3.4"])
def test_build_refuses_a_version_that_is_not_three_numbers(version: str) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "build.sh"), "--version", version],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (
        2,
        f"build.sh: '{version}' is not a version such as 0.2.0\n",
    )


def test_a_build_is_never_published_under_another_number(tmp_path: Path) -> None:
    folder = fake_build(tmp_path / "dist", RECEIVER, "0.2.0")
    where = ("--repo", str(tmp_path / "repo"), "--keys", str(tmp_path / "keys"))
    assert admin("init", *where).returncode == 0
    added = admin("add", str(folder), "--version", "0.3.0", *where)
    assert added.returncode != 0
    assert f"{folder} says its version is 0.2.0, not 0.3.0." in added.stderr
    assert admin("list", *where).stdout == ""
