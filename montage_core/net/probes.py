"""Does a service answer through the tunnel, as our XMPP and TURN clients will meet it?

Each probe opens a tunnel (`open_tunnel`), puts TLS on top as slixmpp
(XEP-0368 direct TLS) and aioice (TURN over TLS) will, and says one opening
sentence of the protocol. The answer is a `Finding`: one line of netcheck.
"""

from __future__ import annotations

import asyncio
import html
import logging
import ssl
from dataclasses import dataclass

from montage_core.protocol.errors import MontageError

from .refusals import os_reason
from .routes import ProxyResolver
from .tunnel import open_tunnel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    """One line of the report; `ok` None means "not checked"."""

    ok: bool | None
    text: str

    def __str__(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[self.ok]
        return f"{mark} {self.text}"


# XEP-0368 direct TLS, then RFC 6120's opening: any XMPP server answers with its own
# stream header (or a stream error, e.g. for an unknown domain), which is all we ask.
STREAM_OPEN = (
    "<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' "
    "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
)


async def _tls_tunnel(
    name: str,
    host: str,
    port: int,
    resolver: ProxyResolver,
    seconds: float,
    tls: ssl.SSLContext | None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str] | Finding:
    """A TLS stream to host:port the way slixmpp and aioice will get one, or what failed."""
    try:
        routes = await resolver.routes_for(host, port)
        where = "through the proxy" if routes[0] is not None else "directly"
        sock = await open_tunnel(host, port, resolver, timeout=seconds)
    except MontageError as exc:
        return Finding(False, f"{name} not reachable: {exc}")
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=tls or ssl.create_default_context(), server_hostname=host
            )
    except ssl.SSLError as exc:
        sock.close()
        logger.info("%s: TLS failed: %r", name, exc)
        return Finding(False, f"{name} answered {where}, but not with a TLS certificate we trust.")
    except (TimeoutError, OSError) as exc:
        sock.close()
        return Finding(False, f"{name}: no TLS answer {where} ({os_reason(exc)}).")
    return reader, writer, where


async def xmpp_answers(
    host: str,
    port: int,
    domain: str,
    resolver: ProxyResolver,
    seconds: float,
    tls: ssl.SSLContext | None,
) -> Finding:
    name = f"XMPP {host}:{port}"
    opened = await _tls_tunnel(name, host, port, resolver, seconds, tls)
    if isinstance(opened, Finding):
        return opened
    reader, writer, where = opened
    heard = b""
    try:
        async with asyncio.timeout(seconds):
            writer.write(STREAM_OPEN.format(domain=html.escape(domain)).encode())
            while b"stream:stream" not in heard and len(heard) < 8192:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                heard += chunk
    except (TimeoutError, OSError):
        pass
    finally:
        writer.close()
    if _is_stream_header(heard):
        return Finding(True, f"{name} reachable {where}: an XMPP server answered (direct TLS).")
    return Finding(False, f"{name} answered {where} over TLS, but not as an XMPP server.")


def _is_stream_header(heard: bytes) -> bool:
    """The answer opens with a stream header: a web server that quotes our bytes back
    in an error page has "stream:stream" in it too, but not at the start."""
    text = heard.lstrip()
    if text.startswith(b"<?xml"):
        text = text.partition(b"?>")[2].lstrip()
    return text.startswith(b"<stream:stream")


async def turn_answers(
    host: str, port: int, resolver: ProxyResolver, seconds: float, tls: ssl.SSLContext | None
) -> Finding:
    """A STUN Binding request over the TLS tunnel: TURN over TLS (turns:) answers it."""
    from aioice import stun

    name = f"TURN {host}:{port}"
    opened = await _tls_tunnel(name, host, port, resolver, seconds, tls)
    if isinstance(opened, Finding):
        return opened
    reader, writer, where = opened
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    try:
        async with asyncio.timeout(seconds):
            writer.write(bytes(request))
            header = await reader.readexactly(20)
            body = await reader.readexactly(int.from_bytes(header[2:4], "big"))
        answer = stun.parse_message(header + body)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
        answer = None
    finally:
        writer.close()
    if answer is not None and answer.transaction_id == request.transaction_id:
        return Finding(True, f"{name} reachable {where}: a TURN server answered (TURN over TLS).")
    return Finding(False, f"{name} answered {where} over TLS, but not as a TURN server.")
