"""A connected TCP socket to host:port through whatever proxy the settings choose.

XMPP (slixmpp) and TURN over TLS (aioice) take the result as `sock=` of
`loop.create_connection`, with TLS on top; the proxy only ever sees the
TLS bytes. HTTP proxies get a CONNECT with Basic authentication, SOCKS5 ones
a username/password handshake, both done by python-socks.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from typing import TypeVar

from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
from python_socks.async_.asyncio import Proxy

from .errors import ConnectFailed, PacUnavailable, ProxyProblem, ProxyUnreachable
from .refusals import os_reason, refusal, timed_out, unreachable
from .routes import ProxyResolver, Route, as_resolver, route_name
from .settings import ProxyEndpoint, ProxySettings

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0

P = TypeVar("P", bound=asyncio.BaseProtocol)


async def open_tunnel(
    host: str,
    port: int,
    settings: ProxySettings | ProxyResolver,
    *,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109  # bounds more than one await
) -> socket.socket:
    """A non-blocking socket connected (through the proxy, if any) to host:port.

    All routes together get `timeout` seconds. A proxy that cannot be reached
    gives way to the next route the PAC file lists; one that refuses (wrong
    password, destination not allowed) ends the attempt with its sentence.
    """
    resolver = as_resolver(settings)
    destination = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        routes = await asyncio.wait_for(resolver.routes_for(host, port), timeout)
    except TimeoutError:  # a slow PAC file or WPAD look-up
        raise PacUnavailable(
            f"The proxy settings gave no route to {destination} within {timeout:g} seconds."
        ) from None
    last: Exception | None = None
    for route in routes:
        left = deadline - loop.time()
        if left <= 0:
            break
        try:
            sock = await _through(route, host, port, destination, left, timeout)
        except (ProxyUnreachable, ConnectFailed) as exc:
            logger.info("route %s to %s failed: %s", route_name(route), destination, exc)
            last = exc
            continue
        logger.debug("connected to %s via %s", destination, route_name(route))
        return sock
    if last is not None:
        raise last
    raise ConnectFailed(f"No route to {destination} within {timeout:g} seconds.")


async def connect_through(
    protocol_factory: Callable[[], P],
    host: str,
    port: int,
    settings: ProxySettings | ProxyResolver,
    *,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109  # the tunnel, then the TLS handshake
) -> tuple[asyncio.Transport, P]:
    """`loop.create_connection` through the proxy: the hand-over for libraries that make
    their own connections (slixmpp, aioice's TURN over TLS). TLS, if any, is end to end."""
    sock = await open_tunnel(host, port, settings, timeout=timeout)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            transport, protocol = await loop.create_connection(
                protocol_factory,
                sock=sock,
                ssl=tls,
                server_hostname=(server_hostname or host) if tls is not None else None,
            )
    except BaseException:
        sock.close()
        raise
    return transport, protocol


async def _through(
    route: Route, host: str, port: int, destination: str, seconds: float, said: float
) -> socket.socket:
    """Connect within `seconds`; `said` is the whole timeout, for the sentence."""
    if route is None:
        return await _direct(host, port, destination, seconds, said)
    return await _proxied(route, host, port, destination, seconds, said)


async def _direct(
    host: str, port: int, destination: str, seconds: float, said: float
) -> socket.socket:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(seconds):
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            error: OSError | None = None
            for family, kind, proto, _name, address in infos:
                sock = socket.socket(family, kind, proto)
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, address)
                except OSError as exc:
                    sock.close()
                    error = exc
                    continue
                except BaseException:
                    sock.close()
                    raise
                return sock
            raise error or OSError(f"{host} has no address")
    except TimeoutError:
        raise ConnectFailed(f"No connection to {destination} within {said:g} seconds.") from None
    except OSError as exc:
        raise ConnectFailed(f"Could not connect to {destination} ({os_reason(exc)}).") from None


async def _proxied(
    proxy: ProxyEndpoint, host: str, port: int, destination: str, seconds: float, said: float
) -> socket.socket:
    password = proxy.secret()
    # A user without a password is sent as no credentials at all: the proxy's
    # 407 / "no acceptable method" then becomes "no password was found".
    user = proxy.user if password is not None else None
    kind = ProxyType.HTTP if proxy.scheme == "http" else ProxyType.SOCKS5
    client = Proxy(kind, proxy.host, proxy.port, user, password, rdns=True)
    try:
        return await client.connect(host, port, timeout=seconds)
    except ProxyTimeoutError:
        raise timed_out(proxy, said, destination) from None
    except ProxyConnectionError as exc:
        # python-socks keeps the OS's reason on the cause ("Connection refused").
        raise unreachable(proxy, os_reason(exc.__cause__)) from None
    except ProxyError as exc:
        problem: ProxyProblem = refusal(
            proxy, str(exc), exc.error_code, destination, password is not None
        )
        logger.info("%s refused %s: %s", proxy, destination, exc)
        raise problem from None
