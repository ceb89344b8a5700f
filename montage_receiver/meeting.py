"""A running meeting: the room, its ID and PIN, and the service answering it.

With a cloud enrolment the meeting also gets a 6-digit cloud ID (see
`cloud_link`); if the cloud cannot be reached, or `force_local` is set, the
10-digit local ID is shown instead and `cloud_error` says why.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from dataclasses import dataclass, field

from montage_core.cloud.account import CloudAccount
from montage_core.protocol.errors import MontageError
from montage_core.protocol.meeting_id import CloudMeetingId, MeetingId

from . import certificate
from .addressing import advertised_address
from .advertising import RoomAdvertiser
from .cloud_link import CloudLink
from .config import ReceiverConfig
from .presenter_session import Room
from .service import CloudMeetingEnded, ReceiverService

logger = logging.getLogger(__name__)


class CannotListen(MontageError):
    """The receiver could not open its port."""


# How long the cloud may take to give a meeting before the local ID is shown.
CLOUD_START_TIMEOUT = 20.0


@dataclass
class Meeting:
    meeting_id: MeetingId
    room: Room
    service: ReceiverService
    cloud: CloudLink | None = None
    cloud_meeting_id: CloudMeetingId | None = None
    cloud_error: str | None = None  # why a cloud-enrolled receiver shows the local ID
    advertiser: RoomAdvertiser | None = None  # the room's mDNS announcement, unless turned off
    _announcing: set[asyncio.Task[None]] = field(default_factory=set)
    _announced: bool = False

    @property
    def pin(self) -> str | None:
        return self.room.pin

    @property
    def port(self) -> int:
        return self.service.port

    @property
    def path(self) -> str:
        """ "cloud" when presenters join with the 6-digit ID, else "local"."""
        return "cloud" if self.cloud_meeting_id is not None else "local"

    def display_id(self) -> str:
        """The ID to show on the wall: the cloud one when there is one."""
        shown = self.cloud_meeting_id or self.meeting_id
        return shown.display()

    def cloud_ended(self, reason: str) -> None:
        """The cloud meeting is gone: show the local ID from now on, and say why."""
        self.cloud_meeting_id = None
        self.cloud_error = reason
        self.service.emit(CloudMeetingEnded(reason))
        self.announce()

    def announce(self) -> None:
        """Announce the room (again) with the ID now on the wall, in the background."""
        if self.advertiser is None:
            return
        advertiser, shown = self.advertiser, self.cloud_meeting_id or self.meeting_id
        # The advertiser's lock keeps a start and the updates after it in order.
        coro = advertiser.update(shown) if self._announced else advertiser.start(shown)
        self._announced = True
        task = asyncio.ensure_future(coro)
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)

    async def close(self) -> None:
        """Tell every presenter, stop serving, and end the cloud meeting."""
        if self.advertiser is not None:
            if self._announcing:
                await asyncio.wait(list(self._announcing))
            await self.advertiser.close()
        await self.service.close()
        if self.cloud is not None:
            await self.cloud.close()


async def open_meeting(
    config: ReceiverConfig,
    cloud: CloudAccount | None = None,
    *,
    advertise: list[str] | None = None,
) -> Meeting:
    """Start serving; with `cloud` (and not `config.force_local`) also open a cloud meeting.

    `advertise` overrides the LAN endpoints given to the cloud ("host:port"),
    for receivers behind address translation (and tests).
    """
    address = advertised_address(config.bind)
    meeting_id = MeetingId.from_address(address)
    cert = certificate.load_or_create(config.data_dir)
    room = Room(
        name=config.name,
        pin=config.pin,
        tls_fingerprint=cert.fingerprint,
        max_presenters=config.max_presenters,
    )
    service = ReceiverService(
        room,
        host=config.bind,
        port=config.port,
        ssl_context=cert.server_context(),
        limits=config.limits,
    )
    try:
        await service.start()
    except OSError as exc:
        hint = ""
        if exc.errno == errno.EACCES and config.port < 1024:
            hint = " Ports below 1024 need administrator rights; choose another with --port."
        elif exc.errno == errno.EADDRINUSE:
            hint = " Another program (or another receiver) is using it."
        raise CannotListen(
            f"Cannot listen on {config.bind}:{config.port}: {exc.strerror}.{hint}"
        ) from exc
    logger.info("meeting %s open on %s:%s", meeting_id.display(), address, service.port)
    meeting = Meeting(meeting_id, room, service)
    if cloud is not None and config.force_local:
        meeting.cloud_error = "local meetings forced"
        logger.info("cloud meetings are off (force local): showing the local meeting ID")
    elif cloud is not None:
        try:
            # Reads the device secret: a keyring that lost it is a reason to fall back too.
            link = CloudLink(
                cloud,
                service,
                endpoints=advertise or [f"{address}:{service.port}"],
                fingerprint=cert.fingerprint,
                proxy=config.proxy,
            )
            digits = await asyncio.wait_for(link.start(), CLOUD_START_TIMEOUT)
        except (MontageError, TimeoutError) as exc:
            reason = str(exc) or "the cloud did not answer in time"
            meeting.cloud_error = reason
            logger.warning("no cloud meeting, showing the local meeting ID instead: %s", reason)
        else:
            meeting.cloud = link
            meeting.cloud_meeting_id = CloudMeetingId(digits)
            link.on_ended = meeting.cloud_ended
    if config.advertise:
        meeting.advertiser = RoomAdvertiser(
            config.name, str(address), service.port, room.pin is not None
        )
        meeting.announce()
    return meeting
