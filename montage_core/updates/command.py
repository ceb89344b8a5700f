"""The `update` sub-command of montage-client and montage-receiver.

    update --check        print the newest version, or that this one is up to date (exit 0)
    update --install      download, verify, install, restart into it (it prints its version)
    update --from FILE    the same from an offline update file (a USB drive)

Refusals exit with their own code (errors.py, README "Updates").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from montage_core.net import ProxySettings

from .client import AvailableRelease
from .installation import Installation
from .updater import AppUpdater, Progress


def add_update_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """The `update` parser (the caller adds its own --proxy option if it has none above)."""
    update = commands.add_parser("update", help="check for, or install, a newer signed version")
    what = update.add_mutually_exclusive_group(required=True)
    what.add_argument("--check", action="store_true", help="say whether a newer version exists")
    what.add_argument("--install", action="store_true", help="install the newest version")
    what.add_argument(
        "--from",
        dest="bundle",
        type=Path,
        metavar="FILE",
        help="install from an offline update file (*.montage-update)",
    )
    return update


def run_update_command(
    args: argparse.Namespace, *, app: str, installed: str, proxy: ProxySettings
) -> int:
    """Run `update`; a refusal propagates as its MontageError (the caller prints it)."""
    updater = AppUpdater(Installation.running(app), installed, proxy)
    if args.check:
        found = updater.check()
        print(describe(found, installed))
        return 0
    if args.bundle is not None:
        version = updater.install_bundle(args.bundle)
    else:
        release = updater.check()
        if release is None:
            print(describe(None, installed))
            return 0
        print(f"Downloading Montage {release.version}…", file=sys.stderr, flush=True)
        version = updater.install(release, _progress_printer())
    print(f"Installed Montage {version}; starting it.", file=sys.stderr, flush=True)
    updater.restart(["--version"])
    return 0  # not reached: restart replaces this process


def describe(release: AvailableRelease | None, installed: str) -> str:
    if release is None:
        return f"Montage {installed} is up to date."
    notes = f"\n{release.notes.strip()}" if release.notes.strip() else ""
    return f"Montage {release.version} is available (this is {installed}).{notes}"


def _progress_printer() -> Progress:
    shown = -1

    def show(received: int, total: int) -> None:
        nonlocal shown
        percent = min(100, received * 100 // max(total, 1))
        if percent // 10 != shown // 10:  # a line every 10 %: scripts read it too
            shown = percent
            print(f"Downloaded {percent} %", file=sys.stderr, flush=True)

    return show
