"""The frozen form of an installation: PyInstaller one-folder builds (./scripts/build.sh).

    <root>/current                   "0.2.0"
    <root>/versions/0.2.0/           dist/montage-client/ as built (a .app on macOS)
    <root>/montage-client            the launcher (launchers.py): reads current, starts it
    <root>/montage-client-cli        -> montage-client (Linux, macOS)
    <root>/montage-client-cli.cmd    Windows: the console launcher
    <root>/montage-client.exe        Windows: the window's launcher (from the NSIS installer)
    <root>/update/…                  as for every form (installation.py)

The running version's folder is the one its executable sits in (the .app
around Contents/MacOS/ on macOS); the platform its releases are published
under is its build's stamp (montage_core/version.py), the same tag
`montage-cloud admin release add` reads from the folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from montage_core.version import app_folder, is_frozen, platform_tag, running_platform

from .errors import InstallFailed
from .launchers import EXECUTABLES, launcher_files

# Set by PyInstaller's bootloader and runtime hooks for the running build: they
# point at *this* version's own files, and must not leak into another version.
_BUILD_VARIABLES = ("QT_PLUGIN_PATH", "QML2_IMPORT_PATH", "_MEIPASS2")
_SEARCH_PATHS = ("PATH", "DYLD_LIBRARY_PATH")


class FrozenForm:
    """A PyInstaller one-folder build: `versions/<v>/` holds the app folder itself."""

    def __init__(self, platform: str | None = None, *, windows: bool | None = None) -> None:
        self.platform = platform or (running_platform() if is_frozen() else platform_tag())
        self.windows = sys.platform == "win32" if windows is None else windows

    def running_folder(self) -> Path:
        return app_folder(Path(sys.executable))

    def executable(self, folder: Path, name: str) -> Path:
        """Where executable `name` lives in an app folder (or a macOS .app)."""
        if (folder / "Contents" / "MacOS").is_dir():
            folder = folder / "Contents" / "MacOS"
        return folder / (f"{name}.exe" if self.windows else name)

    def check(self, folder: Path, app: str) -> None:
        names = EXECUTABLES.get(app)
        if names is None:
            raise InstallFailed(f"{app} is not a Montage program; nothing was changed.")
        missing = [
            self.executable(folder, name).relative_to(folder).as_posix()
            for name in names
            if not self.executable(folder, name).is_file()
        ]
        if missing:
            raise InstallFailed(
                f"The release is not a complete {app} (missing {', '.join(missing)}); "
                "nothing was changed."
            )

    def command(self, folder: Path, app: str, args: list[str]) -> tuple[list[str], dict[str, str]]:
        console = EXECUTABLES[app][0]
        return [str(self.executable(folder, console)), *args], child_environment()

    def launcher(self, root: Path, app: str, args: list[str]) -> tuple[list[str], dict[str, str]]:
        # The same executable this one is (the window restarts as a window, the
        # command line as the command line).
        running = Path(sys.executable).stem if is_frozen() else ""
        name = running if running in EXECUTABLES[app] else EXECUTABLES[app][-1]
        if self.windows:
            # No exec on Windows: the updater starts the new version itself and exits.
            version = (root / "current").read_text().strip()
            program = self.executable(root / "versions" / version, name)
        else:
            program = root / name
        return [str(program), *args], child_environment()

    def write_launcher(self, root: Path, app: str) -> None:
        for file in launcher_files(app, self.windows):
            path = root / file.name
            path.unlink(missing_ok=True)
            if file.link_to is not None:
                path.symlink_to(file.link_to)
                continue
            if self.windows:
                path.write_bytes(file.text.replace("\n", "\r\n").encode())
            else:
                path.write_text(file.text)
                path.chmod(0o755)


def child_environment() -> dict[str, str]:
    """This process's environment without what PyInstaller set for this build, for
    starting another build (the new version) with its own libraries."""
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("_PYI_") or name in _BUILD_VARIABLES:
            del env[name]
    # The Linux bootloader puts the build's folder first in LD_LIBRARY_PATH and
    # keeps what was there in LD_LIBRARY_PATH_ORIG (nothing there: it was unset).
    original = env.pop("LD_LIBRARY_PATH_ORIG", None)
    if is_frozen():
        if original is None:
            env.pop("LD_LIBRARY_PATH", None)
        else:
            env["LD_LIBRARY_PATH"] = original
    own = getattr(sys, "_MEIPASS", None)
    if own:
        for variable in _SEARCH_PATHS:  # PySide6's runtime hook prepends the build's folder
            if variable in env:
                kept = [p for p in env[variable].split(os.pathsep) if p and p != own]
                env[variable] = os.pathsep.join(kept)
    # PyInstaller's documented switch: the child is a program of its own, not a
    # sub-process of this build.
    env["PYINSTALLER_RESET_ENVIRONMENT"] = "1"
    return env
