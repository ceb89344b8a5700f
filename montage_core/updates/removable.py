"""Offline update files on removable drives: where udisks mounts them, or a configured folder.

udisks2 (what desktop Linux uses to mount USB drives) mounts them under
/media/<user>/<label> or /run/media/<user>/<label>; a kiosk receiver's
administrator (and the tests) can add folders. Each `*.montage-update` file
found is reported once (per name, size and time), until it changes.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from .bundle import BUNDLE_SUFFIX

logger = logging.getLogger(__name__)

SCAN_SECONDS = 2.0


def udisks_mount_roots() -> list[Path]:
    user = getpass.getuser()
    return [Path("/media") / user, Path("/run/media") / user]


def find_bundles(folders: Iterable[Path]) -> list[Path]:
    """Update files in each folder, in its drives (one level down) and their top folders."""
    found: list[Path] = []
    for folder in folders:
        for pattern in (f"*{BUNDLE_SUFFIX}", f"*/*{BUNDLE_SUFFIX}", f"*/*/*{BUNDLE_SUFFIX}"):
            try:
                found += sorted(p for p in folder.glob(pattern) if p.is_file())
            except OSError:  # a drive pulled out mid-scan
                continue
    return found


async def watch_for_bundles(
    folders: list[Path], on_found: Callable[[Path], None], interval: float = SCAN_SECONDS
) -> None:
    """Report each new or changed update file in `folders` until cancelled."""
    seen: set[tuple[Path, int, float]] = set()
    while True:
        # A slow or dying drive must not stall the loop: scan in a thread.
        for path in await asyncio.to_thread(find_bundles, folders):
            try:
                stat = path.stat()
            except OSError:
                continue
            key = (path, stat.st_size, stat.st_mtime)
            if key not in seen:
                seen.add(key)
                logger.info("update file found: %s", path)
                on_found(path)
        await asyncio.sleep(interval)
