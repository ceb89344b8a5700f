"""The last line of ./scripts/build.sh: where the frozen programs are, and how big.

    python -m installer.build_report dist
    {"client": "dist/montage-client/montage-client-cli", "client_gui": "...", "receiver": "...",
     "client_mb": N, "receiver_mb": N, "version": "0.1.0", "platform": "linux-x86_64"}

Sizes are the folders on disk (the installers compress them further).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from montage_core.version import read_stamp

EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""


def folder_mb(folder: Path) -> float:
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    return round(total / 1_000_000, 1)


def report(dist: Path) -> dict[str, object]:
    client_dir, receiver_dir = dist / "montage-client", dist / "montage-receiver"
    paths = {
        "client": client_dir / f"montage-client-cli{EXE_SUFFIX}",
        "client_gui": client_dir / f"montage-client{EXE_SUFFIX}",
        "receiver": receiver_dir / f"montage-receiver{EXE_SUFFIX}",
    }
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise SystemExit(f"build: the build did not make {', '.join(missing)}")
    stamp = read_stamp(client_dir)
    if stamp is None:
        raise SystemExit(f"build: {client_dir} has no stamp (pyinstaller.spec writes it last)")
    return {
        **{key: str(path.absolute()) for key, path in paths.items()},
        "client_mb": folder_mb(client_dir),
        "receiver_mb": folder_mb(receiver_dir),
        "version": stamp.version,
        "platform": stamp.platform,
    }


def main(argv: list[str]) -> int:
    dist = Path(argv[1] if len(argv) > 1 else "dist")
    print(json.dumps(report(dist)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
