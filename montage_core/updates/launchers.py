"""The launchers of a frozen installation: the stable way in that shortcuts point at.

An installation keeps each version in its own folder (versions/<v>/) and
names the one to run in `current`; what a shortcut, a menu entry, a link in
~/.local/bin or the appliance's systemd unit starts is a launcher at the
top, which reads `current` and starts that version's executable. No Python
is needed for that, so the launchers are small native scripts:

- Linux and macOS: one POSIX shell script per program name (montage-client,
  montage-receiver); montage-client-cli is a link to montage-client. The
  script runs the executable of the name it was started by.
- Windows: a `.cmd` per console program, for terminals and scripts
  (montage-client-cli.cmd, montage-receiver.cmd); the window's shortcut starts
  montage-client.exe at the top, a tiny program compiled by NSIS from
  installer/windows/launcher.nsi (a `.cmd` would flash a console window).

The installers write these same files (installer/tarball.py,
installer/windows/montage.nsi via installer/nsis.py); `Installation.create`
writes them through `FrozenForm.write_launcher`.
"""

from __future__ import annotations

from dataclasses import dataclass

# The executables in each program's app folder: the console one first (it
# answers --version on stdout everywhere, also on Windows, where a windowed
# program has no stdout).
EXECUTABLES = {
    "montage-client": ("montage-client-cli", "montage-client"),
    "montage-receiver": ("montage-receiver",),
}

POSIX_LAUNCHER = """#!/bin/sh
# Starts the version of this Montage program that the file `current` beside
# this script names (versions/<version>/). An update changes `current`, never
# this script; shortcuts, menu entries and links point here (docs/updates.md).
self=$(readlink -f -- "$0" 2>/dev/null) || self=$0
root=$(dirname -- "$self")
version=$(cat -- "$root/current" 2>/dev/null)
if [ -z "$version" ]; then
  echo "montage: $root/current is missing; install Montage again." >&2
  exit 2
fi
folder="$root/versions/$version"
# A macOS .app keeps its executables in Contents/MacOS.
[ -d "$folder/Contents/MacOS" ] && folder="$folder/Contents/MacOS"
program="$folder/$(basename -- "$0")"
[ -x "$program" ] || program="$folder/$(basename -- "$self")"
exec "$program" "$@"
"""

WINDOWS_LAUNCHER = """@echo off
rem Starts the version of {exe} that the file "current" beside this script
rem names (versions\\<version>\\). An update changes "current", never this file.
setlocal
set "version="
for /f "usebackq delims=" %%v in ("%~dp0current") do if not defined version set "version=%%v"
if not defined version (
  echo montage: %~dp0current is missing; install Montage again. 1>&2
  exit /b 2
)
"%~dp0versions\\%version%\\{exe}.exe" %*
exit /b %errorlevel%
"""


@dataclass(frozen=True)
class LauncherFile:
    """One file at the top of an installation: a script, or a link to another launcher."""

    name: str
    text: str = ""
    link_to: str | None = None


def launcher_files(app: str, windows: bool) -> list[LauncherFile]:
    """What goes at the top of an installation of `app` so that it can be started."""
    console, *others = EXECUTABLES[app]
    if windows:
        # The windowed client's montage-client.exe comes from the NSIS installer.
        return [LauncherFile(f"{console}.cmd", WINDOWS_LAUNCHER.format(exe=console))]
    main = others[0] if others else console
    files = [LauncherFile(main, POSIX_LAUNCHER)]
    files += [LauncherFile(name, link_to=main) for name in EXECUTABLES[app] if name != main]
    return files
