"""Compile the Windows installer of the client or the receiver with makensis.

    python -m installer.nsis client [--dist dist] [--fast]
        [--updates-url URL --updates-root root.json [--updates-ca ca.pem]]
    -> dist/Montage-0.1.0-setup.exe (client), dist/Montage-Receiver-0.1.0-setup.exe

The installer lays the build out as an installation that updates itself
(installer/layout.py; the version is the build's stamp): the client's
launcher montage-client.exe is compiled first from installer/windows/launcher.nsi,
the console launcher (.cmd) is written from montage_core/updates/launchers.py.

makensis runs on Windows and on Linux (Debian's `nsis`), so the scripts are
compiled in every CI run here, with the Linux build standing in for the
Windows one (`--fast`: stored, not compressed — the output is not shipped).
The hosted workflow (.github/workflows/build.yml) compiles them over the real
Windows build.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from installer import layout
from installer.freeze_rules import ROOT, windows_version_numbers

SCRIPT = ROOT / "installer" / "windows" / "montage.nsi"
LAUNCHER_SCRIPT = ROOT / "installer" / "windows" / "launcher.nsi"


class InstallerError(RuntimeError):
    pass


def compile_installer(
    app: str,
    dist: Path,
    *,
    out_dir: Path | None = None,
    fast: bool = False,
    updates: layout.UpdateSettings | None = None,
) -> Path:
    """Run makensis for `app` over `dist/<its folder>`; the installer's path (in `out_dir`)."""
    makensis = shutil.which("makensis")
    if makensis is None:
        raise InstallerError(
            "makensis is not installed (Debian: nsis; Windows: choco install nsis)"
        )
    try:
        folder, product, payload = layout.built_folder(app, dist)
        first = layout.first_installation(folder, payload, updates, windows=True)
    except layout.LayoutError as exc:
        raise InstallerError(str(exc)) from None
    out = ((out_dir or dist) / f"{product}-{first.version}-setup.exe").resolve()
    version4 = ".".join(map(str, windows_version_numbers(first.version)))
    with tempfile.TemporaryDirectory(prefix="montage-nsis-") as scratch:
        work = Path(scratch)
        (console,) = first.launchers  # Windows: one .cmd per program
        (work / console.name).write_bytes(console.text.replace("\n", "\r\n").encode())
        defines = {
            "APP": app,
            "PAYLOAD": str(payload),
            "VERSION": first.version,
            "VERSION4": version4,
            "OUTFILE": str(out),
            "CONSOLE_LAUNCHER": str(work / console.name),
        }
        if app == "client":
            stub = work / "montage-client.exe"
            _makensis(
                makensis,
                LAUNCHER_SCRIPT,
                {"EXE": "montage-client.exe", "OUTFILE": str(stub), "VERSION4": version4},
            )
            defines["LAUNCHER"] = str(stub)
        if first.updates:
            (work / "update").mkdir()
            for name, data in first.updates.items():
                (work / "update" / name).write_bytes(data)
            defines["UPDATES"] = str(work / "update")
        if fast:
            defines["FAST"] = "1"
        _makensis(makensis, SCRIPT, defines)
    return out


def _makensis(makensis: str, script: Path, defines: dict[str, str]) -> None:
    # makensis takes options as -X on Linux and /X on Windows; both accept -.
    command = [makensis, "-V2", *(f"-D{k}={v}" for k, v in defines.items()), str(script)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallerError(
            f"makensis failed on {script.name}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m installer.nsis", description=__doc__)
    parser.add_argument("app", choices=sorted(layout.PRODUCTS))
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--fast", action="store_true", help="store without compression (CI)")
    layout.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        updates = layout.from_arguments(parser, args)
        print(compile_installer(args.app, args.dist, fast=args.fast, updates=updates))
    except InstallerError as exc:
        print(f"installer: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
