"""A running meeting: the room, its ID and PIN, and the service answering it."""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass

from montage_client.protocol.errors import MontageError
from montage_client.protocol.meeting_id import MeetingId

from . import certificate
from .addressing import advertised_address
from .config import ReceiverConfig
from .presenter_session import Room
from .service import ReceiverService

logger = logging.getLogger(__name__)


class CannotListen(MontageError):
    """The receiver could not open its port."""


@dataclass
class Meeting:
    meeting_id: MeetingId
    room: Room
    service: ReceiverService

    @property
    def pin(self) -> str | None:
        return self.room.pin

    @property
    def port(self) -> int:
        return self.service.port


async def open_meeting(config: ReceiverConfig) -> Meeting:
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
        room, host=config.bind, port=config.port, ssl_context=cert.server_context()
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
    return Meeting(meeting_id, room, service)
