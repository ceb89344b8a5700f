"""Finding rooms near you: listening for receivers' `_montage._tcp` announcements (mDNS).

python-zeroconf runs its own threads: the browser hears announcements and
withdrawals, and the room's details (its TXT record, address and port) are
asked for there too. Only the finished list crosses to the caller's asyncio
loop (under qasync, the window's thread), with `call_soon_threadsafe`.
What an announcement may hold is read by `montage_core/protocol/discovery.py`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable

from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

from montage_core.protocol.discovery import SERVICE_TYPE, RoomAnnouncement, read_announcement

logger = logging.getLogger(__name__)

# How long to wait for a room's details once its name was heard (ms, zeroconf's unit).
RESOLVE_TIMEOUT_MS = 3000

RoomsListener = Callable[[list[RoomAnnouncement]], None]


class RoomFinder:
    """Keeps the list of rooms announced on this computer's networks, sorted by name."""

    def __init__(self, on_change: RoomsListener, *, interfaces: list[str] | None = None) -> None:
        self._on_change = on_change
        self._interfaces = interfaces
        self._rooms: dict[str, RoomAnnouncement] = {}  # by service name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._zeroconf: Zeroconf | None = None
        self._browser: ServiceBrowser | None = None

    async def start(self) -> None:
        """Start listening (opening the sockets runs in a worker thread)."""
        self._loop = asyncio.get_running_loop()
        try:
            self._zeroconf, self._browser = await asyncio.to_thread(self._open)
        except OSError as exc:  # no multicast-capable network: nothing to list
            logger.warning("cannot look for rooms nearby: %s", exc)

    async def close(self) -> None:
        zeroconf, browser = self._zeroconf, self._browser
        self._zeroconf = self._browser = None
        self._loop = None
        if zeroconf is not None:

            def stop() -> None:
                if browser is not None:
                    browser.cancel()
                zeroconf.close()

            await asyncio.to_thread(stop)

    @property
    def rooms(self) -> list[RoomAnnouncement]:
        with self._lock:
            return sorted(self._rooms.values(), key=lambda room: (room.name.lower(), room.host))

    # -- zeroconf's threads -------------------------------------------------------
    def _open(self) -> tuple[Zeroconf, ServiceBrowser]:
        if self._interfaces is None:
            zeroconf = Zeroconf(ip_version=IPVersion.V4Only)
        else:
            zeroconf = Zeroconf(interfaces=list(self._interfaces), ip_version=IPVersion.V4Only)
        browser = ServiceBrowser(zeroconf, SERVICE_TYPE, handlers=[self._on_service])
        return zeroconf, browser

    def _on_service(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            with self._lock:
                changed = self._rooms.pop(name, None) is not None
        else:  # Added or Updated: ask for its details (this thread may wait; no one else does)
            info = zeroconf.get_service_info(service_type, name, timeout=RESOLVE_TIMEOUT_MS)
            room = None
            if info is not None and info.port is not None:
                addresses = info.addresses_by_version(IPVersion.V4Only)
                host = socket.inet_ntoa(addresses[0]) if addresses else ""
                room = read_announcement(info.properties, host, info.port) if host else None
            with self._lock:
                if room is None:
                    changed = self._rooms.pop(name, None) is not None
                else:
                    changed = self._rooms.get(name) != room
                    self._rooms[name] = room
        loop = self._loop
        if changed and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._tell)

    def _tell(self) -> None:
        if self._loop is not None:  # not after close()
            self._on_change(self.rooms)
