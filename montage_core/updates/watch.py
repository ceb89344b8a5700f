"""What a running client or receiver does about updates, for its window or its log.

`UpdateWatch` checks on start and daily (online) and, for a receiver, watches
drives for update files; each verified find becomes an `UpdateOffer` handed
to the program, which shows it (the client's banner, the receiver's idle
notice) and calls `install` when a person says so (or at once for a receiver
with --auto-update). Everything slow runs in worker threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from montage_core.net import ProxySettings
from montage_core.protocol.errors import MontageError

from .client import AvailableRelease
from .installation import Installation
from .removable import watch_for_bundles
from .schedule import DAY, check_periodically, until_idle
from .updater import AppUpdater, Progress

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateOffer:
    """A verified newer release: from the update server, or in a file (`bundle`)."""

    release: AvailableRelease
    bundle: Path | None = None

    @property
    def version(self) -> str:
        return self.release.version

    @property
    def headline(self) -> str:
        return f"Montage {self.version} is available"


class UpdateWatch:
    def __init__(
        self,
        updater: AppUpdater,
        on_offer: Callable[[UpdateOffer], None],
        busy: Callable[[], bool],
        *,
        bundle_folders: list[Path] | None = None,
        interval: float = DAY,
    ) -> None:
        self.updater = updater
        # Who is told of a verified find; a window sets it once its widgets exist.
        self.on_offer = on_offer
        self.busy = busy
        self.bundle_folders = bundle_folders or []
        self.interval = interval
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def for_running(
        cls,
        app: str,
        installed: str,
        proxy: ProxySettings | None,
        on_offer: Callable[[UpdateOffer], None],
        busy: Callable[[], bool],
        *,
        bundle_folders: list[Path] | None = None,
        interval: float = DAY,
    ) -> UpdateWatch | None:
        """The watch for this program, or None when it was not installed with updates."""
        try:
            installation = Installation.running(app)
        except MontageError as exc:
            logger.info("no update checks: %s", exc)
            return None
        updater = AppUpdater(installation, installed, proxy)
        return cls(updater, on_offer, busy, bundle_folders=bundle_folders, interval=interval)

    def start(self) -> None:
        self._tasks.append(
            asyncio.ensure_future(
                check_periodically(self._check, self._offer, self.busy, interval=self.interval)
            )
        )
        if self.bundle_folders:
            self._tasks.append(
                asyncio.ensure_future(watch_for_bundles(self.bundle_folders, self._found_file))
            )

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    async def install(self, offer: UpdateOffer, progress: Progress | None = None) -> str:
        """Download (or read), verify and install `offer` once idle; then call `restart`."""
        await until_idle(self.busy)
        if offer.bundle is not None:
            return await asyncio.to_thread(self.updater.install_bundle, offer.bundle)
        return await asyncio.to_thread(self.updater.install, offer.release, progress)

    def restart(self, args: list[str]) -> None:
        self.updater.restart(args)

    async def _check(self) -> UpdateOffer | None:
        release = await asyncio.to_thread(self.updater.check)
        return UpdateOffer(release) if release is not None else None

    def _offer(self, offer: UpdateOffer) -> None:
        self.on_offer(offer)

    def _found_file(self, path: Path) -> None:
        async def verify() -> None:
            try:
                release = await asyncio.to_thread(self.updater.check_bundle, path)
            except MontageError as exc:
                # Shown in the log only: a stranger's USB stick is no business of the room.
                logger.warning("update file %s refused: %s", path, exc)
                return
            self.on_offer(UpdateOffer(release, bundle=path))

        self._tasks.append(asyncio.ensure_future(verify()))
