"""Offline update files on removable drives: where udisks mounts them, or a configured folder.

udisks2 (what desktop Linux uses to mount USB drives) mounts them under
/media/<user>/<label> or /run/media/<user>/<label>; a kiosk receiver's
administrator (and the tests) can add folders. Each `*.montage-update` file
found is reported once (per name, size and time), until it changes, and only
once it has stopped changing: a file still being copied onto the drive (a
bundle is tens of megabytes; a USB stick writes a few a second) is left
alone until two scans in a row see the same size and time, so it is never
verified half-written and refused for it.
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


class BundleScanner:
    """Which update files are new since the last scans, and complete (unchanged for a scan)."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        self._seen: set[tuple[Path, int, float]] = set()
        self._last_scan: set[tuple[Path, int, float]] = set()

    def scan(self) -> list[Path]:
        """Files to report now: found unchanged by the last scan too, and not yet reported."""
        this_scan: set[tuple[Path, int, float]] = set()
        ready: list[Path] = []
        for path in find_bundles(self.folders):
            try:
                stat = path.stat()
            except OSError:
                continue
            key = (path, stat.st_size, stat.st_mtime_ns)
            this_scan.add(key)
            if key in self._last_scan and key not in self._seen:
                self._seen.add(key)
                ready.append(path)
        self._last_scan = this_scan
        return ready


async def watch_for_bundles(
    folders: list[Path], on_found: Callable[[Path], None], interval: float = SCAN_SECONDS
) -> None:
    """Report each new or changed update file in `folders`, once copied, until cancelled."""
    scanner = BundleScanner(folders)
    while True:
        # A slow or dying drive must not stall the loop: scan in a thread.
        for path in await asyncio.to_thread(scanner.scan):
            logger.info("update file found: %s", path)
            on_found(path)
        await asyncio.sleep(interval)
