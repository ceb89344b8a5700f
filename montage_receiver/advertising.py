"""Announcing the room on its network: DNS-SD over mDNS (`_montage._tcp`), with python-zeroconf.

Clients on the same link list the room under "Rooms near you" and fill in
its meeting ID with one click. What the TXT record holds, and when the
meeting ID may be in it, is decided in `montage_core/protocol/discovery.py`;
this module only puts it on the network and keeps it current (a new ID when
the cloud meeting ends). zeroconf runs its own thread; registering, which
waits out mDNS's probing, runs in a worker thread so the receiver's loop
(its window's thread) never waits for it.

Advertising is best effort: a network that will not carry multicast is
logged, and the room still works by typed ID. An administrator turns it off
with `advertise = false` (or `--no-advertise`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

from zeroconf import IPVersion, ServiceInfo, Zeroconf

from montage_core.protocol.discovery import SERVICE_TYPE, txt_record
from montage_core.protocol.meeting_id import CloudMeetingId, MeetingId

logger = logging.getLogger(__name__)

# DNS labels are at most 63 bytes; the instance name is the room's name.
_MAX_LABEL_BYTES = 63


class RoomAdvertiser:
    """One room's announcement on the interface that holds `address`."""

    def __init__(self, name: str, address: str, port: int, pin_required: bool) -> None:
        self.name = name
        self.address = address
        self.port = port
        self.pin_required = pin_required
        self._zeroconf: Zeroconf | None = None
        self._info: ServiceInfo | None = None
        self._lock = asyncio.Lock()  # start, update and close one at a time

    async def start(self, meeting_id: MeetingId | CloudMeetingId) -> None:
        if ipaddress.ip_address(self.address).is_loopback:
            logger.info("not announcing the room: %s is a loopback address", self.address)
            return
        async with self._lock:
            try:
                self._info = self._service(meeting_id)
                self._zeroconf = await asyncio.to_thread(self._open)
                await asyncio.to_thread(
                    self._zeroconf.register_service, self._info, allow_name_change=True
                )
            except (OSError, RuntimeError, ValueError) as exc:  # no multicast here, a bad name
                logger.warning("cannot announce the room on %s: %s", self.address, exc)
                await self._close_now()
                return
            logger.info(
                "announcing %r on %s (%s)", self._info.name, self.address, self._info.properties
            )

    async def update(self, meeting_id: MeetingId | CloudMeetingId) -> None:
        """The ID on the wall changed: announce the new one (or none, per the rule)."""
        async with self._lock:
            if self._zeroconf is None or self._info is None:
                return
            # The name zeroconf settled on (after a clash) stays.
            info = self._service(meeting_id, self._info.name)
            try:
                await asyncio.to_thread(self._zeroconf.update_service, info)
            except (OSError, RuntimeError) as exc:
                logger.warning("cannot update the room's announcement: %s", exc)
                return
            self._info = info

    async def close(self) -> None:
        async with self._lock:
            await self._close_now()

    async def _close_now(self) -> None:
        zeroconf, info = self._zeroconf, self._info
        self._zeroconf = None
        if zeroconf is None:
            return
        # Saying goodbye lets clients drop the room at once instead of after its TTL.
        if info is not None:
            try:
                await asyncio.to_thread(zeroconf.unregister_service, info)
            except (OSError, RuntimeError) as exc:
                logger.info("cannot withdraw the room's announcement: %s", exc)
        await asyncio.to_thread(zeroconf.close)

    def _open(self) -> Zeroconf:
        return Zeroconf(interfaces=[self.address], ip_version=IPVersion.V4Only)

    def _service(
        self, meeting_id: MeetingId | CloudMeetingId, name: str | None = None
    ) -> ServiceInfo:
        instance = _label(self.name)
        return ServiceInfo(
            SERVICE_TYPE,
            name or f"{instance}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(self.address)],
            port=self.port,
            properties=txt_record(self.name, meeting_id, self.pin_required),
            server=f"montage-{self.address.replace('.', '-')}.local.",
        )


def _label(name: str) -> str:
    """The room's name cut to a DNS label's 63 bytes without splitting a character."""
    # A dot would split the instance name into labels.
    encoded = name.replace(".", " ").encode("utf-8")[:_MAX_LABEL_BYTES]
    return encoded.decode("utf-8", errors="ignore").strip() or "Montage room"
