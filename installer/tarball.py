"""The Linux downloads: an installation of the frozen folder in a tarball, with its script.

    python -m installer.tarball client   -> dist/Montage-0.1.0-linux-x86_64.tar.xz
    python -m installer.tarball receiver -> dist/Montage-Receiver-0.1.0-linux-x86_64.tar.xz
        [--updates-url URL --updates-root root.json [--updates-ca ca.pem]] [--dist DIR] [--fast]

The tarball's top folder is already an installation that can update itself,
laid out as `Installation.create` does (installer/layout.py): `current`,
`versions/<v>/` (the frozen folder), the launchers, and `update/` when
given. The client's also holds install-client.sh (per user: ~/.local/opt,
~/.local/bin, a menu entry), montage.desktop and the icon; the receiver's
holds install-receiver-appliance.sh and the systemd unit
(deploy/receiver-appliance/). The version is the build's stamp. Why a
tarball and not an AppImage: docs/packaging.md. `--fast` writes an
uncompressed .tar (the tests' case).
"""

from __future__ import annotations

import argparse
import io
import platform
import sys
import tarfile
import time
from pathlib import Path

from installer import layout
from installer.freeze_rules import ROOT

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


def make_tarball(
    app: str,
    dist: Path,
    *,
    out_dir: Path | None = None,
    fast: bool = False,
    updates: layout.UpdateSettings | None = None,
) -> Path:
    folder, product, payload = layout.built_folder(app, dist)
    first = layout.first_installation(folder, payload, updates)
    suffix = ".tar" if fast else ".tar.xz"
    out = (out_dir or dist) / f"{product}-{first.version}-linux-{platform.machine()}{suffix}"
    with tarfile.open(out, "w" if fast else "w:xz") as tar:
        # Symbolic links stay links (montage-client-cli, PyInstaller's own in _internal/).
        tar.add(payload, arcname=f"{folder}/{first.version_folder}")
        name, data = first.current
        _add_bytes(tar, f"{folder}/{name}", data, 0o644)
        for launcher in first.launchers:
            if launcher.link_to is not None:
                link = tarfile.TarInfo(f"{folder}/{launcher.name}")
                link.type, link.linkname, link.mode = tarfile.SYMTYPE, launcher.link_to, 0o777
                tar.addfile(link)
            else:
                _add_bytes(tar, f"{folder}/{launcher.name}", launcher.text.encode(), 0o755)
        for name, data in first.updates.items():
            _add_bytes(tar, f"{folder}/update/{name}", data, 0o644)
        for extra in EXTRAS[app]:
            tar.add(extra, arcname=f"{folder}/{extra.name}")
    return out


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m installer.tarball", description=__doc__)
    parser.add_argument("app", choices=sorted(layout.PRODUCTS))
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--fast", action="store_true", help="no compression (tests)")
    layout.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        updates = layout.from_arguments(parser, args)
        print(make_tarball(args.app, args.dist, fast=args.fast, updates=updates))
    except layout.LayoutError as exc:
        print(f"installer: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
