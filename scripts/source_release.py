"""Source-tree releases, until the frozen builds replace them (docs/updates.md).

python -m scripts.source_release archive --app montage-client --version 0.2.0 --out DIR
    a release archive of this tree (montage_core and the app's package, the
    version stamped in), ready for `montage-cloud admin release add`
python -m scripts.source_release install ARCHIVE --into DIR --url URL --root-json FILE
                                         [--ca FILE]
    a first installation of that archive in DIR, with the update server and
    the keys it trusts; start it with `DIR/launch.py montage-client …`
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
from pathlib import Path

from montage_core.updates.installation import MODULES, Installation, UpdateSource

ROOT = Path(__file__).resolve().parents[1]
VERSION_LINE = re.compile(r'^__version__ = "[^"]*"$', re.MULTILINE)


def build_archive(app: str, version: str, out_dir: Path) -> Path:
    """`out_dir/<app>-<version>.tar.gz`: the packages `app` runs, at `version`."""
    packages = ["montage_core", MODULES[app]]
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{app}-{version}.tar.gz"
    with tarfile.open(out, "w:gz", compresslevel=6) as packed:
        for package in packages:
            for path in sorted((ROOT / package).rglob("*")):
                if "__pycache__" in path.parts or path.is_dir():
                    continue
                name = path.relative_to(ROOT).as_posix()
                data = path.read_bytes()
                if path.name == "__init__.py" and path.parent.name in packages:
                    text = VERSION_LINE.sub(f'__version__ = "{version}"', data.decode())
                    data = text.encode()
                _add(packed, name, data)
        manifest = {"app": app, "version": version, "platform": "source"}
        _add(packed, "montage-release.json", json.dumps(manifest).encode())
    return out


def _add(packed: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    packed.addfile(info, io.BytesIO(data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="source_release", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    archive = commands.add_parser("archive")
    archive.add_argument("--app", choices=sorted(MODULES), required=True)
    archive.add_argument("--version", required=True)
    archive.add_argument("--out", type=Path, required=True, help="directory for the archive")
    install = commands.add_parser("install")
    install.add_argument("archive", type=Path)
    install.add_argument("--into", type=Path, required=True)
    install.add_argument("--url", required=True, help="the update repository's URL")
    install.add_argument("--root-json", type=Path, required=True, help="the root.json to trust")
    install.add_argument("--ca", help="an extra CA file for the update server")
    args = parser.parse_args(argv)
    if args.command == "archive":
        print(build_archive(args.app, args.version, args.out))
        return 0
    with tarfile.open(args.archive, "r:gz") as packed:
        member = packed.extractfile("montage-release.json")
        if member is None:
            parser.error(f"{args.archive} is not a release archive (no montage-release.json)")
        app = json.loads(member.read())["app"]
    installation = Installation.create(
        args.into,
        app,
        args.archive,
        source=UpdateSource(args.url, args.ca),
        trusted_root=args.root_json.read_bytes(),
    )
    print(f"Installed {app} {installation.current_version()} in {args.into}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
