"""The receiver's TLS listener, with limits on strangers.

Anyone on the network can open connections to a meeting-room display. A
connection costs the receiver a socket, a TLS session and aiohttp's request
state, so one that never says anything must not be held, and one address
must not be able to hold many:

- every connection must finish its TLS handshake, its WebSocket upgrade and
  its `hello` within `setup_timeout` (10 s) of being accepted, or it is
  closed; the service calls `admit()` once `hello` has arrived;
- one source address may have at most `max_setup_per_source` connections in
  that set-up phase at once; more are refused as they are accepted, before
  any TLS work is spent on them.

TLS is started here, on the accepted TCP connection (`loop.start_tls`), so
both limits apply from the first byte, including to connections that never
send a ClientHello. After the handshake the connection is handed to
aiohttp's protocol as if aiohttp had accepted it itself.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StrangerLimits:
    # Time from accept to a `hello`: a laptop on the LAN needs well under a second.
    setup_timeout: float = 10.0
    # Connections one address may have in set-up at once. A presenter needs
    # one (a retry two); an office behind one NAT address rarely more than a few.
    max_setup_per_source: int = 8


class GuardedListener:
    """Accepts TCP, applies `StrangerLimits`, runs TLS, hands over to `make_protocol()`."""

    def __init__(
        self,
        make_protocol: Callable[[], asyncio.BaseProtocol],
        ssl_context: ssl.SSLContext,
        limits: StrangerLimits,
    ) -> None:
        self.make_protocol = make_protocol
        self.ssl_context = ssl_context
        self.limits = limits
        self._in_setup: dict[str, set[_Guard]] = {}
        self._by_transport: dict[asyncio.BaseTransport, _Guard] = {}
        self._server: asyncio.Server | None = None
        self.refused = 0  # connections refused at once (a source over its limit)
        self.timed_out = 0  # connections closed for not saying hello in time

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0: any free port); return the port."""
        loop = asyncio.get_running_loop()
        sock = socket.create_server((host, port))  # SO_REUSEADDR: a restart rebinds at once
        self._server = await loop.create_server(lambda: _Guard(self), sock=sock, backlog=128)
        return int(sock.getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for guards in list(self._in_setup.values()):
            for guard in list(guards):
                guard.abort("the receiver is closing")

    def admit(self, transport: asyncio.BaseTransport | None) -> None:
        """The connection on `transport` said hello: no longer a stranger."""
        guard = self._by_transport.get(transport) if transport is not None else None
        if guard is not None:
            guard.admitted()

    def in_setup(self, source: str) -> int:
        return len(self._in_setup.get(source, ()))

    # -- for _Guard ----------------------------------------------------------
    def _enter(self, guard: _Guard) -> bool:
        guards = self._in_setup.setdefault(guard.source, set())
        # Handed-over connections that closed before their hello leave no callback here.
        for gone in [g for g in guards if g.closing()]:
            gone.admitted()
        if len(guards) >= self.limits.max_setup_per_source:
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                logger.warning(
                    "refusing connections from %s: %d already setting up (%d refused so far)",
                    guard.source,
                    len(guards),
                    self.refused,
                )
            return False
        guards.add(guard)
        return True

    def _leave(self, guard: _Guard) -> None:
        guards = self._in_setup.get(guard.source)
        if guards is not None:
            guards.discard(guard)
            if not guards:
                del self._in_setup[guard.source]
        if guard.tls_transport is not None:
            self._by_transport.pop(guard.tls_transport, None)


class _Guard(asyncio.Protocol):
    """One accepted connection until it is admitted, closed, or times out."""

    def __init__(self, listener: GuardedListener) -> None:
        self.listener = listener
        self.source = "unknown"
        self.raw: asyncio.Transport | None = None
        self.tls_transport: asyncio.Transport | None = None
        self.inner: asyncio.BaseProtocol | None = None
        self.pending: list[bytes] = []
        self.deadline: asyncio.TimerHandle | None = None
        self.handshake: asyncio.Task[None] | None = None
        self.done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.raw = transport
        peer = transport.get_extra_info("peername")
        self.source = str(peer[0]) if peer else "unknown"
        if not self.listener._enter(self):
            self.done = True
            transport.abort()
            return
        loop = asyncio.get_running_loop()
        limits = self.listener.limits
        self.deadline = loop.call_later(limits.setup_timeout, self._timed_out)
        self.handshake = asyncio.ensure_future(self._start_tls(loop))

    async def _start_tls(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.raw is not None
        try:
            tls = await loop.start_tls(
                self.raw,
                self,
                self.listener.ssl_context,
                server_side=True,
                ssl_handshake_timeout=self.listener.limits.setup_timeout,
            )
        except Exception as exc:  # any failed handshake: aborted, timed out, not TLS
            logger.debug("TLS with %s failed: %r", self.source, exc)
            self._finish()
            return
        if self.done or tls is None:
            if tls is not None:
                tls.abort()
            return
        self.tls_transport = tls
        self.listener._by_transport[tls] = self
        # From here aiohttp owns the connection; data read meanwhile goes first.
        inner = self.inner = self.listener.make_protocol()
        tls.set_protocol(inner)
        inner.connection_made(tls)
        if isinstance(inner, asyncio.Protocol):
            for data in self.pending:
                inner.data_received(data)
        self.pending.clear()

    # Data that arrives between the handshake and the hand-over.
    def data_received(self, data: bytes) -> None:
        if self.inner is not None and isinstance(self.inner, asyncio.Protocol):
            self.inner.data_received(data)
        else:
            self.pending.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()

    def closing(self) -> bool:
        transport = self.tls_transport or self.raw
        return transport is None or transport.is_closing()

    def admitted(self) -> None:
        self._finish()

    def abort(self, why: str) -> None:
        logger.info("closing the connection from %s: %s", self.source, why)
        transport = self.tls_transport or self.raw
        self._finish()
        if transport is not None:
            transport.abort()

    def _timed_out(self) -> None:
        self.deadline = None
        if self.done:
            return
        self.listener.timed_out += 1
        self.abort(f"no hello within {self.listener.limits.setup_timeout:.0f} s")

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None
        handshake = self.handshake
        if (
            handshake is not None
            and not handshake.done()
            and handshake is not asyncio.current_task()
        ):
            handshake.cancel()
        self.listener._leave(self)
