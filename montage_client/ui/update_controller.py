"""The client window and updates: the banner in, `UpdateWatch` out.

Checks start with the window and repeat daily, only while no share is being
set up or shown (the share controller's task), through the saved proxy. A
find becomes the join window's banner; Install downloads and verifies in a
worker thread, shows progress, and restarts into the new version (the same
arguments), or shows why not while this version keeps running.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable

from PySide6.QtCore import QObject

from montage_core.protocol.errors import MontageError
from montage_core.updates.watch import UpdateOffer, UpdateWatch

from .update_banner import UpdateBanner

logger = logging.getLogger(__name__)


class UpdateController(QObject):
    def __init__(
        self,
        watch: UpdateWatch,
        banner: UpdateBanner,
        *,
        before_restart: Callable[[], None],
        restart: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.watch = watch
        self.banner = banner
        self.before_restart = before_restart
        # Tests replace the exec; a person's window becomes the new version.
        self.restart = restart or (lambda: watch.restart(sys.argv[1:]))
        self.offer: UpdateOffer | None = None
        self.installing: asyncio.Task[None] | None = None
        banner.install_clicked.connect(self._on_install)

    def start(self) -> None:
        self.watch.on_offer = self._offered  # finds go to the banner from now on
        self.watch.start()

    def close(self) -> None:
        self.watch.stop()
        if self.installing is not None:
            self.installing.cancel()

    def _offered(self, offer: UpdateOffer) -> None:
        self.offer = offer
        self.banner.offer(offer.version, offer.release.notes)

    def _on_install(self) -> None:
        if self.offer is not None and self.installing is None:
            self.installing = asyncio.ensure_future(self._install(self.offer))

    async def _install(self, offer: UpdateOffer) -> None:
        loop = asyncio.get_running_loop()

        def progress(received: int, total: int) -> None:  # on the download's thread
            percent = min(100, received * 100 // max(total, 1))
            loop.call_soon_threadsafe(
                self.banner.show_progress, f"Downloading Montage {offer.version}… {percent} %"
            )

        self.banner.show_progress(f"Downloading Montage {offer.version}…")
        try:
            await self.watch.install(offer, progress)
        except MontageError as exc:
            self.banner.show_failure(str(exc))
            return
        except Exception as exc:  # the window must still say why, in words
            logger.exception("update failed")
            self.banner.show_failure(f"The update failed: {exc}")
            return
        finally:
            self.installing = None
        self.banner.show_progress(f"Montage {offer.version} is installed; restarting…")
        self.before_restart()
        self.restart()
