"""The installers and what goes into the frozen programs, checked on this Linux machine.

- The Windows installer script compiles with makensis over the Linux build
  (the real Windows build is compiled by the hosted workflow).
- The Linux client tarball installs for one person and its program runs.
- The receiver appliance's systemd unit passes systemd's own check.
- The macOS Info.plist and the Windows version resource say what they must.
- The Qt modules the freeze keeps are the ones the source imports.
"""

from __future__ import annotations

import os
import plistlib
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from installer import freeze_rules
from installer.layout import UpdateSettings
from installer.nsis import compile_installer
from installer.tarball import make_tarball
from tests.frozen_build import FrozenBuild

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "receiver-appliance" / "montage-receiver.service"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("app", ["client", "receiver"])
def test_windows_installer_compiles(frozen_build: FrozenBuild, tmp_path: Path, app: str) -> None:
    dist = frozen_build.client_dir.parent
    keys = ("--repo", str(tmp_path / "repo"), "--keys", str(tmp_path / "keys"))
    subprocess.run(
        [sys.executable, "-m", "montage_cloud", "admin", "release", "init", *keys],
        check=True,
        capture_output=True,
    )
    root_json = tmp_path / "repo" / "metadata" / "root.json"
    updates = UpdateSettings("https://updates.example/updates", root_json)
    installer = compile_installer(app, dist, out_dir=tmp_path, fast=True, updates=updates)
    assert (
        installer.name == f"{'Montage' if app == 'client' else 'Montage-Receiver'}-0.1.0-setup.exe"
    )
    data = installer.read_bytes()
    assert data[:2] == b"MZ"  # a Windows program
    assert b"NullsoftInst" in data[: 1 << 20]  # with an NSIS payload after the stub
    folder = frozen_build.client_dir if app == "client" else frozen_build.receiver_dir
    payload = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    assert len(data) > payload  # stored whole (--fast: no compression)
    # What goes beside versions\0.1.0\: the console launcher and update\ (stored as they are).
    assert b'"%~dp0versions\\%version%\\montage-' in data
    assert root_json.read_bytes() in data
    assert b'"url": "https://updates.example/updates"' in data


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_linux_client_tarball_installs_for_one_person(
    frozen_build: FrozenBuild, tmp_path: Path
) -> None:
    tarball = make_tarball("client", frozen_build.client_dir.parent, out_dir=tmp_path, fast=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(tmp_path / "download", filter="tar")
    home = tmp_path / "home"
    env = dict(os.environ, HOME=str(home), PATH="/usr/bin:/bin")
    env.pop("XDG_DATA_HOME", None)
    script = tmp_path / "download" / "montage-client" / "install-client.sh"
    done = subprocess.run([str(script)], env=env, capture_output=True, text=True, check=True)
    assert "Montage installed" in done.stdout
    desktop = (home / ".local/share/applications/montage.desktop").read_text()
    program = home / ".local/opt/montage-client/montage-client"
    assert f"Exec={program}\n" in desktop
    assert f"Icon={program.parent}/montage.svg\n" in desktop
    helped = subprocess.run(
        [str(home / ".local/bin/montage-client-cli"), "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert helped.returncode == 0, helped.stderr
    assert "join" in helped.stdout
    subprocess.run([str(program.parent / "install-client.sh"), "--uninstall"], env=env, check=True)
    assert not (home / ".local/opt/montage-client").exists()
    assert not (home / ".local/bin/montage-client").is_symlink()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_receiver_appliance_unit_passes_systemd_check(
    frozen_build: FrozenBuild, tmp_path: Path
) -> None:
    def verify(prefix: Path, text: str) -> subprocess.CompletedProcess[str]:
        unit = tmp_path / "montage-receiver.service"
        unit.write_text(text.replace("@PREFIX@", str(prefix)))
        return subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
        )

    good = verify(frozen_build.receiver_dir, UNIT.read_text())
    assert (good.returncode, good.stderr) == (0, "")
    # The check reads what it is given: a mistake in the unit is reported.
    broken = verify(frozen_build.receiver_dir, UNIT.read_text().replace("=always", "=sometimes"))
    assert "restart specifier" in broken.stderr

    # What the unit starts: xinit with the frozen receiver as the session's
    # only program, full screen (no --windowed), again whenever it stops.
    text = UNIT.read_text().replace("@PREFIX@", str(frozen_build.receiver_dir))
    start = re.search(r"^ExecStart=(\S+) (\S+)", text, re.MULTILINE)
    assert start is not None
    assert start.group(1) == "/usr/bin/xinit"
    assert Path(start.group(2)) == frozen_build.receiver
    assert os.access(start.group(2), os.X_OK)
    assert "--windowed" not in text
    assert "Restart=always" in text and "WantedBy=graphical.target" in text


def test_macos_info_plist_asks_for_camera_and_microphone_in_words() -> None:
    plist = plistlib.loads(plistlib.dumps(freeze_rules.MACOS_INFO_PLIST))
    for key in ("NSCameraUsageDescription", "NSMicrophoneUsageDescription"):
        assert plist[key].startswith("Montage ") and plist[key].endswith(".")
    assert plist["CFBundleName"] == "Montage"


def test_windows_version_resource(tmp_path: Path) -> None:
    assert freeze_rules.windows_version_numbers("0.1.0") == (0, 1, 0, 0)
    assert freeze_rules.windows_version_numbers("1.2.3.4.5") == (1, 2, 3, 4)
    path = freeze_rules.windows_version_file("montage-client", "Montage client", tmp_path)

    # PyInstaller evaluates the file with its own classes; records stand in here.
    def record(kind: str) -> object:
        return lambda *args, **kwargs: (kind, args, kwargs)

    names = ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable")
    names += ("StringStruct", "VarFileInfo", "VarStruct")
    resource = eval(path.read_text(), {name: record(name) for name in names})
    _, _, info = resource
    assert info["ffi"][2]["filevers"] == (0, 1, 0, 0)
    strings = dict(s[1] for s in info["kids"][0][1][0][0][1][1])
    assert strings["ProductName"] == "Montage"
    assert strings["FileVersion"] == "0.1.0"
    assert strings["OriginalFilename"] == "montage-client.exe"


def test_frozen_qt_modules_are_the_ones_the_source_imports() -> None:
    """A new `import PySide6.QtX` must be added to installer/freeze_rules.py too."""

    def imported(*packages: str) -> set[str]:
        found: set[str] = set()
        for package in packages:
            for path in (ROOT / package).rglob("*.py"):
                found |= set(re.findall(r"PySide6\.(Qt\w+)", path.read_text()))
        return found

    assert imported("montage_client", "montage_core") <= set(freeze_rules.QT_MODULES["client"])
    assert imported("montage_receiver", "montage_core") <= set(freeze_rules.QT_MODULES["receiver"])


@pytest.mark.parametrize(
    ("dest", "app", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "client", True),
        ("PySide6/Qt/plugins/platforms/qwindows.dll", "receiver", True),
        ("PySide6/Qt/plugins/platforms/libqwayland.so", "client", False),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "client", False),
        ("PySide6/Qt/plugins/imageformats/libqsvg.so", "receiver", False),
        ("PySide6/Qt/plugins/multimedia/libffmpegmediaplugin.so", "client", True),
        ("PySide6/Qt/plugins/multimedia/ffmpegmediaplugin.dll", "receiver", False),
        ("PySide6/Qt/translations/qtbase_de.qm", "client", False),
        ("PySide6/Qt/lib/libQt6Core.so.6", "receiver", True),
        ("numpy/_core/_multiarray_umath.so", "client", True),
    ],
)
def test_which_qt_files_each_program_keeps(dest: str, app: str, kept: bool) -> None:
    assert freeze_rules.keep_qt_file(dest, app) is kept


def test_hosted_workflow_runs_what_this_repository_has() -> None:
    """The Windows/macOS workflow cannot run here; at least it names real things."""
    import yaml

    workflow = yaml.safe_load((ROOT / ".github/workflows/build.yml").read_text())
    job = workflow["jobs"]["build"]
    assert set(job["strategy"]["matrix"]["os"]) == {"windows-2022", "macos-14"}
    runs = "\n".join(step.get("run", "") for step in job["steps"])
    for command in (
        "./scripts/build.sh",
        "python -m installer.smoke build.json",
        "python -m installer.nsis client",
        "python -m installer.nsis receiver",
        "dmgbuild -s installer/macos/dmg_settings.py",
    ):
        assert command in runs
    named = re.findall(r"tests/\S+\.py", runs)
    assert len(named) > 10
    assert [path for path in named if not (ROOT / path).is_file()] == []
