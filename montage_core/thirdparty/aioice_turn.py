"""TURN over TLS through the proxy: aioice's TURN connection, made on a tunnelled socket.

Written against aioice 0.13 (checked on import). Private names used:
`aioice.turn.create_turn_endpoint` (replaced), `TurnClientTcpProtocol`,
`TurnTransport` and `TurnTransport._connect`.

aioice has no proxy support: `aioice.turn.create_turn_endpoint` connects to
the TURN server itself with `loop.create_connection(host, port, ssl=…)`.
`install()` puts our version in its place (aioice's ICE code looks it up in
that module on every call). Ours does what aioice's does — written against
aioice 0.13, whose TCP branch it repeats — except that, while a
`TurnRoute` is active in the calling context (`TunedPeerConnection` sets
one around candidate gathering), the TCP connection is an `open_tunnel`
socket with TLS on top. Without a route it calls aioice's own function.

UDP cannot cross an HTTP proxy, so a TURN server reached over UDP while a
route is active is refused here rather than tried and left to time out.
aioice swallows errors while gathering; `TurnRoute.problems` keeps them so
the share can say why no relay was found.
"""

from __future__ import annotations

from . import require

require("aioice")

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aioice.turn
from aioice.turn import TurnClientTcpProtocol, TurnTransport

from montage_core.net.errors import ConnectFailed
from montage_core.net.routes import ProxyResolver
from montage_core.net.tunnel import open_tunnel
from montage_core.protocol.errors import MontageError

logger = logging.getLogger(__name__)

# aioice gives up gathering after 5 s; the tunnel must be open well before.
TUNNEL_TIMEOUT = 3.5

_P = TypeVar("_P", bound=asyncio.DatagramProtocol)


@dataclass
class TurnRoute:
    """How TURN connections made in this context reach their server."""

    resolver: ProxyResolver
    problems: list[MontageError] = field(default_factory=list)


_route: ContextVar[TurnRoute | None] = ContextVar("montage_turn_route", default=None)
_aioice_create_turn_endpoint = aioice.turn.create_turn_endpoint


@contextlib.contextmanager
def turn_route(route: TurnRoute | None) -> Iterator[None]:
    """TURN connections opened inside (and in tasks started inside) take `route`."""
    token = _route.set(route)
    try:
        yield
    finally:
        _route.reset(token)


def install() -> None:
    """Make aioice open its TURN connections through `create_turn_endpoint` below."""
    aioice.turn.create_turn_endpoint = create_turn_endpoint


async def create_turn_endpoint(
    protocol_factory: Callable[[], _P],
    server_addr: tuple[str, int],
    username: str | None,
    password: str | None,
    lifetime: int = aioice.turn.DEFAULT_ALLOCATION_LIFETIME,
    channel_refresh_time: int = aioice.turn.DEFAULT_CHANNEL_REFRESH_TIME,
    ssl: Any = None,
    transport: str = "udp",
) -> tuple[TurnTransport, _P]:
    route = _route.get()
    if route is None:
        result: tuple[TurnTransport, _P] = await _aioice_create_turn_endpoint(
            protocol_factory,
            server_addr,
            username,
            password,
            lifetime=lifetime,
            channel_refresh_time=channel_refresh_time,
            ssl=ssl,
            transport=transport,
        )
        return result
    host, port = server_addr
    try:
        if transport != "tcp":
            raise ConnectFailed(
                f"The TURN server {host}:{port} is offered over UDP only, which cannot "
                "go through a proxy."
            )
        sock = await open_tunnel(host, port, route.resolver, timeout=TUNNEL_TIMEOUT)
    except MontageError as exc:
        logger.info("no TURN relay through the proxy: %s", exc)
        route.problems.append(exc)
        raise
    loop = asyncio.get_running_loop()
    try:
        inner_transport, inner_protocol = await loop.create_connection(
            lambda: TurnClientTcpProtocol(
                server_addr,
                username=username,
                password=password,
                lifetime=lifetime,
                channel_refresh_time=channel_refresh_time,
            ),
            sock=sock,
            ssl=ssl or None,
            server_hostname=host if ssl else None,
        )
    except BaseException:
        sock.close()
        raise
    try:
        protocol = protocol_factory()
        turn_transport = TurnTransport(inner_protocol)
        await turn_transport._connect(protocol)  # as aioice's own function does
    except BaseException:
        inner_transport.close()
        raise
    logger.info("TURN relay %s:%s allocated through the proxy", host, port)
    return turn_transport, protocol
