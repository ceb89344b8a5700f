"""Compile the Windows installer of the client or the receiver with makensis.

    python -m installer.nsis client [--dist dist] [--fast]
    -> dist/Montage-0.1.0-setup.exe (client), dist/Montage-Receiver-0.1.0-setup.exe

makensis runs on Windows and on Linux (Debian's `nsis`), so the script is
compiled in every CI run here, with the Linux build standing in for the
Windows one (`--fast`: stored, not compressed — the output is not shipped).
The hosted workflow (.github/workflows/build.yml) compiles it over the real
Windows build.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from installer.freeze_rules import ROOT, version, windows_version_numbers

SCRIPT = ROOT / "installer" / "windows" / "montage.nsi"
PRODUCTS = {
    "client": ("montage-client", "Montage"),
    "receiver": ("montage-receiver", "Montage-Receiver"),
}


class InstallerError(RuntimeError):
    pass


def compile_installer(
    app: str, dist: Path, *, out_dir: Path | None = None, fast: bool = False
) -> Path:
    """Run makensis for `app` over `dist/<its folder>`; the installer's path (in `out_dir`)."""
    folder, product = PRODUCTS[app]
    payload = (dist / folder).resolve()
    if not payload.is_dir():
        raise InstallerError(f"{payload} is missing: run ./scripts/build.sh first")
    makensis = shutil.which("makensis")
    if makensis is None:
        raise InstallerError(
            "makensis is not installed (Debian: nsis; Windows: choco install nsis)"
        )
    text = version()
    out = ((out_dir or dist) / f"{product}-{text}-setup.exe").resolve()
    defines = {
        "APP": app,
        "PAYLOAD": str(payload),
        "VERSION": text,
        "VERSION4": ".".join(map(str, windows_version_numbers(text))),
        "OUTFILE": str(out),
    }
    if fast:
        defines["FAST"] = "1"
    # makensis takes options as -X on Linux and /X on Windows; both accept -.
    command = [makensis, "-V2", *(f"-D{k}={v}" for k, v in defines.items()), str(SCRIPT)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise InstallerError(f"makensis failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m installer.nsis", description=__doc__)
    parser.add_argument("app", choices=sorted(PRODUCTS))
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--fast", action="store_true", help="store without compression (CI)")
    args = parser.parse_args(argv)
    try:
        print(compile_installer(args.app, args.dist, fast=args.fast))
    except InstallerError as exc:
        print(f"installer: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
