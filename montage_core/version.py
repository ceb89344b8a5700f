"""Which Montage this is: the version and platform a frozen build was stamped with,
or the source tree's.

The version is written down in one place, `__version__` in
montage_core/__init__.py (pyproject.toml reads it from there). A frozen build
(./scripts/build.sh, which takes `--version`) carries a stamp instead, its
`montage-release.json` — {"app", "version", "platform"} — at the top of the
app folder (inside a macOS .app: Contents/Resources/), written by
pyinstaller.spec. The stamp is what `--version` says, what the updater
compares and which platform's releases it asks for, and what
`montage-cloud admin release add` checks a folder against: a build is never
published under another number. Source-form releases (scripts/source_release.py)
rewrite `__version__` itself.
"""

from __future__ import annotations

import functools
import json
import platform as host
import sys
from dataclasses import dataclass
from pathlib import Path

from montage_core import __version__

STAMP = "montage-release.json"
SOURCE_PLATFORM = "source"  # the platform tag of the source-tree form


@dataclass(frozen=True)
class Stamp:
    app: str | None
    version: str | None
    platform: str | None


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def platform_tag() -> str:
    """This machine's tag for frozen builds: linux-x86_64, windows-amd64, macos-arm64."""
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    return f"{system}-{host.machine().lower()}"


def app_folder(executable: Path) -> Path:
    """The folder a frozen program is (the unit an update replaces): the one its
    executable sits in, or on macOS the .app bundle around Contents/MacOS/."""
    folder = executable.parent
    if folder.name == "MacOS" and folder.parent.name == "Contents":
        return folder.parent.parent
    return folder


def stamp_file(folder: Path) -> Path:
    """Where a build's stamp lives in its app folder (a .app keeps it in Resources,
    as code signing wants nothing but Contents/ at the top)."""
    if (folder / "Contents" / "MacOS").is_dir():
        return folder / "Contents" / "Resources" / STAMP
    return folder / STAMP


def read_stamp(folder: Path) -> Stamp | None:
    """The stamp of the build in `folder`, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(stamp_file(folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) and value else None

    return Stamp(text("app"), text("version"), text("platform"))


@functools.cache
def _running_stamp() -> Stamp | None:
    if not is_frozen():
        return None
    return read_stamp(app_folder(Path(sys.executable)))


def running_version() -> str:
    """The version of the running program: its build's stamp, else the source's."""
    stamp = _running_stamp()
    return (stamp.version if stamp else None) or __version__


def running_platform() -> str:
    """The platform tag the running program's releases are published under."""
    if not is_frozen():
        return SOURCE_PLATFORM
    stamp = _running_stamp()
    return (stamp.platform if stamp else None) or platform_tag()
