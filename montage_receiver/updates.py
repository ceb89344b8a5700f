"""The receiver and updates: a notice on the idle screen, or --auto-update when idle.

Online checks run at start and daily; removable drives are watched for
update files (udisks' mount folders and any --updates-from folder). A
verified offer is announced (a `update_available` status line, or a log
line) and shown on the idle page; with --auto-update it is installed as soon
as nobody is presenting or joining, then the receiver restarts into the new
version with the same arguments.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from montage_core.net import ProxySettings
from montage_core.protocol.errors import MontageError
from montage_core.updates.removable import udisks_mount_roots
from montage_core.updates.watch import UpdateOffer, UpdateWatch

from . import __version__
from .meeting import Meeting

logger = logging.getLogger(__name__)

APP = "montage-receiver"


@dataclass(frozen=True)
class UpdateOptions:
    auto_update: bool = False
    folders: list[Path] = field(default_factory=list)  # besides udisks' mount folders
    proxy: ProxySettings = field(default_factory=ProxySettings)
    status_json: bool = False


class ReceiverUpdates:
    """`show` puts an offer on the idle page (None without a window); `request_restart`
    ends the receiver's run so that `restart()` can start the new version."""

    def __init__(
        self,
        options: UpdateOptions,
        meeting: Meeting,
        *,
        show: Callable[[UpdateOffer], None] | None,
        request_restart: Callable[[], None],
    ) -> None:
        self.options = options
        self.show = show
        self.request_restart = request_restart
        self.offer: UpdateOffer | None = None
        self.restart_pending = False
        self._installing = False
        self._task: asyncio.Future[None] | None = None  # the install under way
        self.watch = UpdateWatch.for_running(
            APP,
            __version__,
            options.proxy,
            self._offered,
            busy=lambda: meeting.service.busy,
            bundle_folders=[*udisks_mount_roots(), *options.folders],
        )

    def start(self) -> None:
        if self.watch is not None:
            self.watch.start()

    def stop(self) -> None:
        if self.watch is not None:
            self.watch.stop()

    def install_offered(self) -> None:
        """The person pressed Install on the idle page."""
        if self.offer is not None:
            self._task = asyncio.ensure_future(self.install(self.offer))

    async def install(self, offer: UpdateOffer) -> None:
        if self.watch is None or self._installing:
            return
        self._installing = True
        try:
            version = await self.watch.install(offer)
        except MontageError as exc:
            self._announce({"event": "update_failed", "reason": str(exc)}, str(exc))
            return
        finally:
            self._installing = False
        self._announce(
            {"event": "update_installed", "version": version},
            f"Installed Montage {version}; restarting into it.",
        )
        self.restart_pending = True
        self.request_restart()

    def restart(self) -> None:
        """After the meeting has closed: replace this process with the new version."""
        if self.watch is not None:
            self.watch.restart(sys.argv[1:])

    def _offered(self, offer: UpdateOffer) -> None:
        if self.offer is not None and self.offer.version == offer.version:
            return  # the daily check found it again
        self.offer = offer
        source = "file" if offer.bundle is not None else "online"
        where = f" ({offer.bundle})" if offer.bundle is not None else ""
        self._announce(
            {"event": "update_available", "version": offer.version, "source": source},
            f"{offer.headline}{where}.",
        )
        if self.show is not None:
            self.show(offer)
        if self.options.auto_update:
            self._task = asyncio.ensure_future(self.install(offer))

    def _announce(self, record: dict[str, str], sentence: str) -> None:
        if self.options.status_json:
            print(json.dumps(record), flush=True)
        else:
            print(sentence, file=sys.stderr, flush=True)
