"""The Linux downloads: the frozen folder in a tarball, with its installer script.

    python -m installer.tarball client   -> dist/Montage-0.1.0-linux-x86_64.tar.xz
    python -m installer.tarball receiver -> dist/Montage-Receiver-0.1.0-linux-x86_64.tar.xz

The client's tarball holds montage-client/ with install-client.sh (per user:
~/.local/opt, ~/.local/bin, a menu entry) and montage.desktop; the
receiver's holds montage-receiver/ with install-receiver-appliance.sh and the
systemd unit (deploy/receiver-appliance/). Why a tarball and not an AppImage:
docs/packaging.md. `--fast` writes an uncompressed .tar (the tests' case).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tarfile
from pathlib import Path

from installer.freeze_rules import ROOT, version

EXTRAS = {
    "client": [
        ROOT / "installer" / "linux" / "install-client.sh",
        ROOT / "installer" / "linux" / "montage.desktop",
        ROOT / "resources" / "montage.svg",
    ],
    "receiver": [
        ROOT / "installer" / "linux" / "install-receiver-appliance.sh",
        ROOT / "deploy" / "receiver-appliance" / "montage-receiver.service",
        ROOT / "deploy" / "receiver-appliance" / "README-appliance.md",
    ],
}
NAMES = {
    "client": ("montage-client", "Montage"),
    "receiver": ("montage-receiver", "Montage-Receiver"),
}


def make_tarball(app: str, dist: Path, *, out_dir: Path | None = None, fast: bool = False) -> Path:
    folder, product = NAMES[app]
    payload = dist / folder
    if not payload.is_dir():
        raise SystemExit(f"{payload} is missing: run ./scripts/build.sh first")
    suffix = ".tar" if fast else ".tar.xz"
    out = (out_dir or dist) / f"{product}-{version()}-linux-{platform.machine()}{suffix}"
    with tarfile.open(out, "w" if fast else "w:xz") as tar:
        tar.add(payload, arcname=folder)  # symlinks stay links (montage-client-cli)
        for extra in EXTRAS[app]:
            tar.add(extra, arcname=f"{folder}/{extra.name}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m installer.tarball", description=__doc__)
    parser.add_argument("app", choices=sorted(NAMES))
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--fast", action="store_true", help="no compression (tests)")
    args = parser.parse_args(argv)
    print(make_tarball(args.app, args.dist, fast=args.fast))
    return 0


if __name__ == "__main__":
    sys.exit(main())
