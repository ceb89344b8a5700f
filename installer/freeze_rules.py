"""What goes into the frozen client and receiver, and what is left out (read by pyinstaller.spec).

PyInstaller's Qt hooks collect every plugin and translation a Qt module *may*
load, and everything those plugins link against. Most of it is never loaded by
Montage: the apps use QtCore, QtGui, QtWidgets and QtMultimedia, show text
only (no image files, no icons from disk, no QML), speak English only, and on
Linux draw through X11 (xcb) — the same platform plugin the tests use under
Xvfb. Each rule below says why a piece is kept or dropped; docs/packaging.md
has the measured sizes. A dropped piece that turns out to be needed shows up
in the frozen smoke tests (tests/frozen/), which start the real programs, and
in their check that every bundled library finds what it links against.
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent

# The PySide6 modules each app imports (tests/test_freeze_rules.py checks this
# against the source tree). QtNetwork is not imported by Montage, but
# PySide6.QtMultimedia imports it when it loads.
QT_MODULES = {
    "client": ("QtCore", "QtGui", "QtWidgets", "QtMultimedia", "QtNetwork"),
    "receiver": ("QtCore", "QtGui", "QtWidgets", "QtMultimedia", "QtNetwork"),
}

# Never in a frozen program: the server, test and benchmark code, and tools.
EXCLUDED_EVERYWHERE = (
    "montage_cloud",
    "psycopg",
    "psycopg_pool",
    "psycopg_binary",
    "pytest",
    "_pytest",
    "pytestqt",
    "schemathesis",
    "hypothesis",
    "bench",
    "tests",
    "mypy",
    "ruff",
    "tkinter",
    "setuptools",
    "pip",
    "PyInstaller",
    "IPython",
    # Optional imports of libraries we use, for features we do not: slixmpp's
    # coloured debug output, numpy's test runner, Fortran bridge and config
    # printer, dukpy's npm installer.
    "pygments",
    "numpy.testing",
    "numpy.f2py",
    "yaml",
    "doctest",
    "pdb",
    "dukpy.install",
)
EXCLUDED = {
    # The laptop app never runs the room display (and vice versa).
    "client": (*EXCLUDED_EVERYWHERE, "montage_receiver"),
    "receiver": (*EXCLUDED_EVERYWHERE, "montage_client", "mss"),
}

# The montage_core.thirdparty patches read these distributions' versions at
# import (importlib.metadata), so their dist-info must travel with the code.
METADATA = ("aiortc", "aioice", "slixmpp")


@dataclass(frozen=True)
class PluginRule:
    """Which plugins of one Qt plugin type to keep (file stems without lib/.so/.dll)."""

    keep: frozenset[str] | None  # None: every plugin of this type
    why: str


# Plugin types not listed here are dropped (image formats, icon engines, TLS
# backends, network information, Wayland, eglfs/linuxfb, evdev input, ...).
PLUGINS: dict[str, PluginRule] = {
    "platforms": PluginRule(
        frozenset({"qxcb", "qoffscreen", "qminimal", "qwindows", "qcocoa"}),
        "X11 on Linux (Wayland desktops run it through XWayland, as mss captures X11), "
        "the native platform on Windows and macOS, offscreen/minimal for headless runs",
    ),
    "xcbglintegrations": PluginRule(None, "Qt on X11 asks for one at start"),
    "platforminputcontexts": PluginRule(
        frozenset({"composeplatforminputcontextplugin", "ibusplatforminputcontextplugin"}),
        "dead keys and input methods when typing a name",
    ),
    "styles": PluginRule(None, "the native look on Windows and macOS"),
    "permissions": PluginRule(
        None, "macOS: Qt Multimedia's camera and microphone permission checks (a few KB)"
    ),
}
# The camera/microphone lists (QMediaDevices) come from Qt's FFmpeg media
# plugin. Only the client lists devices; the receiver plays sound through
# QAudioSink, which lives in libQt6Multimedia itself. Without the plugin the
# receiver also sheds Qt's own FFmpeg, QtQuick, QtQml and QtOpenGL, which that
# plugin links against.
MEDIA_PLUGIN_APPS = frozenset({"client"})


# ./scripts/build.sh --version V passes V to pyinstaller.spec in this variable.
VERSION_VARIABLE = "MONTAGE_VERSION"
_VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")  # as montage_core/updates


def source_version() -> str:
    """`__version__` in montage_core/__init__.py: the one place the version is written."""
    tree = ast.parse((ROOT / "montage_core" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise ValueError("montage_core/__init__.py names no __version__")


def version() -> str:
    """The version a build is made as: `--version` of ./scripts/build.sh, else the source's."""
    text = os.environ.get(VERSION_VARIABLE) or source_version()
    if not _VERSION.match(text):
        raise ValueError(f"{text!r} is not a release version (three numbers, such as 0.2.0)")
    return text


def stamp(folder: Path, app: str, text: str, platform: str) -> Path:
    """Write a build's stamp (montage_core/version.py reads it at run time): in the app
    folder, or in Contents/Resources of a macOS .app. Written after PyInstaller has
    made the folder, so that another version reuses all of PyInstaller's work."""
    from montage_core.version import stamp_file

    path = stamp_file(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(path.name + ".new")
    data = {"app": app, "version": text, "platform": platform}
    fresh.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(fresh, path)
    return path


def built_version(folder: Path) -> str:
    """The version the build in `folder` was stamped with (what its installer is named)."""
    from montage_core.version import read_stamp

    found = read_stamp(folder)
    if found is None or found.version is None:
        raise ValueError(f"{folder} has no build stamp: build it with ./scripts/build.sh")
    return found.version


def keep_qt_file(dest: str, app: str) -> bool:
    """Whether a file PyInstaller collected (its path inside the bundle) stays in `app`."""
    parts = PurePosixPath(dest.replace("\\", "/")).parts
    if len(parts) < 3 or parts[0] != "PySide6" or parts[1] != "Qt":
        return True
    area = parts[2]
    if area == "translations":
        return False  # the apps' text is English only
    if area == "plugins" and len(parts) >= 5:
        kind, stem = parts[3], _stem(parts[-1])
        if kind == "multimedia":
            return app in MEDIA_PLUGIN_APPS
        rule = PLUGINS.get(kind)
        return rule is not None and (rule.keep is None or stem in rule.keep)
    return True


# pyinstaller.spec names the app being analysed here; the Qt hooks in
# installer/pyinstaller_hooks/ read it (PyInstaller runs hooks in its own process).
APP_VARIABLE = "MONTAGE_FREEZE_APP"

Collected = list[tuple[str, str]]


def qt_hook(hook_file: str) -> tuple[list[str], Collected, Collected]:
    """PyInstaller's collection for one PySide6 module, less what the app does not use.

    Filtering here, before PyInstaller follows each library's links, also keeps
    out what only the dropped plugins link against (GTK for the GTK theme
    plugin, QtQuick and Qt's FFmpeg for the receiver's unused media plugin).
    """
    from PyInstaller.utils.hooks.qt import add_qt6_dependencies

    app = os.environ[APP_VARIABLE]
    hidden, binaries, datas = add_qt6_dependencies(hook_file)

    def keep(entry: tuple[str, str]) -> bool:
        source, folder = entry
        return keep_qt_file(f"{folder}/{Path(source).name}", app)

    wanted = {f"PySide6.{name}" for name in QT_MODULES[app]}
    hidden = [name for name in hidden if not name.startswith("PySide6.Qt") or name in wanted]
    return hidden, [b for b in binaries if keep(b)], [d for d in datas if keep(d)]


def _stem(filename: str) -> str:
    stem = filename.split(".")[0]
    return stem[3:] if stem.startswith("lib") else stem


def unused_pyside_modules(app: str, available: list[str]) -> list[str]:
    """The PySide6 Python modules (e.g. 'PySide6.QtQuick') that `app` does not import."""
    used = set(QT_MODULES[app])
    return [f"PySide6.{name}" for name in available if name.startswith("Qt") and name not in used]


# macOS: the client's Info.plist (BUNDLE merges these into what it writes).
# The camera and microphone prompts show these sentences; screen recording has
# no such key — macOS asks for it in System Settings (montage_client/core/
# screen_permission.py tells the person how).
MACOS_INFO_PLIST: dict[str, object] = {
    "CFBundleName": "Montage",
    "CFBundleDisplayName": "Montage",
    "NSCameraUsageDescription": (
        "Montage shows your camera in the meeting room when you turn it on."
    ),
    "NSMicrophoneUsageDescription": (
        "Montage plays your microphone in the meeting room when you turn it on."
    ),
    "NSHighResolutionCapable": True,
    "LSMinimumSystemVersion": "11.0",
}


def windows_version_numbers(text: str) -> tuple[int, int, int, int]:
    """'0.1.0' -> (0, 1, 0, 0): the four numbers a Windows version resource holds."""
    numbers = [int(part) for part in re.findall(r"\d+", text)[:4]]
    return (*numbers, 0, 0, 0, 0)[:4]  # type: ignore[return-value]


def windows_version_file(program: str, description: str, folder: Path) -> Path:
    """The version resource of a Windows executable (Properties > Details), as the
    text file PyInstaller's EXE(version=...) reads (PyInstaller's own classes
    for it import Windows-only modules, so the text is written here)."""
    text = version()
    numbers = windows_version_numbers(text)
    strings = {
        "CompanyName": "Montage contributors",
        "FileDescription": description,
        "FileVersion": text,
        "InternalName": program,
        "LegalCopyright": "Apache-2.0",
        "OriginalFilename": f"{program}.exe",
        "ProductName": "Montage",
        "ProductVersion": text,
    }
    table = ",\n".join(f"          StringStruct({k!r}, {v!r})" for k, v in strings.items())
    resource = f"""VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={numbers},
    prodvers={numbers},
    mask=0x3f,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0)
  ),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
{table}
      ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{program}-version.txt"
    path.write_text(resource, encoding="utf-8")
    return path


def strip_symbols(folder: Path) -> tuple[int, int]:
    """Linux: drop symbol tables and debug information from the bundled libraries.

    Returns (bytes before, bytes after). Not PyInstaller's `strip=True`: strip
    rewrites the ELF layout, and libraries that patchelf has already rewritten
    (auditwheel's vendored `<package>.libs/`, Qt's own FFmpeg) come out with
    load segments the dynamic loader refuses ("ELF load command address/offset
    not page-aligned"). So each library is stripped into a copy, and the copy
    replaces it only when its load segments are still aligned. The executables
    are left alone: their Python archive is appended after the ELF image.
    """
    import shutil
    import subprocess
    import tempfile

    before = after = 0
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "stripped"
        for path in sorted((folder / "_internal").rglob("*")):
            if path.is_symlink() or not path.is_file() or not re.search(r"\.so(\.|$)", path.name):
                continue
            size = path.stat().st_size
            before += size
            done = subprocess.run(
                ["strip", "--strip-unneeded", "-o", str(copy), str(path)], capture_output=True
            )
            if (
                done.returncode == 0
                and copy.stat().st_size < size
                and not misaligned_segments(copy)
            ):
                shutil.copymode(path, copy)
                shutil.move(copy, path)
            after += path.stat().st_size
    return before, after


_PT_LOAD = 1


def misaligned_segments(path: Path) -> list[tuple[int, int, int]]:
    """(offset, address, alignment) of each ELF64 load segment the loader would refuse."""
    import struct

    with path.open("rb") as file:
        header = file.read(64)
        if header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
            return []  # not a little-endian ELF64 file: nothing this check knows
        (table,) = struct.unpack_from("<Q", header, 0x20)
        entry_size, count = struct.unpack_from("<HH", header, 0x36)
        file.seek(table)
        entries = file.read(entry_size * count)
    bad = []
    for index in range(count):
        kind, _flags, offset, address = struct.unpack_from("<IIQQ", entries, index * entry_size)
        (align,) = struct.unpack_from("<Q", entries, index * entry_size + 48)
        if kind == _PT_LOAD and align > 1 and (offset - address) % align:
            bad.append((offset, address, align))
    return bad
