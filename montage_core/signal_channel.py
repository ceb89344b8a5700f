"""How protocol messages travel between client and receiver: the signalling channel.

`ShareClient` holds one `SignalChannel` per share and neither knows nor cares
what carries it: a TLS WebSocket straight to the receiver (local meetings,
and the LAN path of a cloud meeting) or XMPP through the cloud
(`montage_core.cloud.xmpp_signal`). Every channel carries the same JSON
texts (`messages.serialize`/`parse`), one message per unit, in order.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import ssl

import aiohttp

from montage_core.protocol import messages as m
from montage_core.protocol.errors import ReceiverUnreachable
from montage_core.protocol.pin_auth import certificate_fingerprint

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
HEARTBEAT_SECONDS = 5.0

# What the person is told about the path of their share.
PATH_LOCAL = "Local"  # signalling and media straight over the LAN
PATH_CLOUD = "Cloud"  # signalling through the cloud, media direct
PATH_RELAYED = "Relayed"  # media through the cloud's TURN relay
PATH_RELAYED_PROXY = "Relayed via proxy"  # ... reached through the proxy (TURN over TLS)


class SignalChannel(abc.ABC):
    """One conversation with one receiver.

    `path` is what the person is told ("Local" for a direct LAN connection,
    "Cloud" when signalling goes through the cloud); `where` names the
    receiver in sentences; `receiver_fingerprint` is the receiver's TLS
    certificate fingerprint that the PIN exchange binds (docs/protocol.md §6).
    """

    path: str
    where: str
    receiver_fingerprint: str

    @abc.abstractmethod
    async def send(self, text: str) -> None:
        """Send one message; a channel that has closed drops it quietly."""

    @abc.abstractmethod
    async def receive(self) -> str | None:
        """The next message from the receiver, or None once the channel has closed."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the channel (idempotent)."""


def client_tls() -> ssl.SSLContext:
    # Receivers have self-signed certificates; the certificate is verified by
    # binding its fingerprint into the PIN exchange, not by a CA.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class WebSocketChannel(SignalChannel):
    """A TLS WebSocket to the receiver (docs/protocol.md §1)."""

    path = PATH_LOCAL

    def __init__(
        self,
        http: aiohttp.ClientSession,
        ws: aiohttp.ClientWebSocketResponse,
        address: str,
        fingerprint: str,
    ) -> None:
        self._http = http
        self._ws = ws
        self.where = f"the receiver at {address}"
        self.receiver_fingerprint = fingerprint

    async def send(self, text: str) -> None:
        with contextlib.suppress(ConnectionError):
            await self._ws.send_str(text)

    async def receive(self) -> str | None:
        msg = await self._ws.receive()
        if msg.type is aiohttp.WSMsgType.TEXT:
            return str(msg.data)
        # Anything else (close, error, a binary frame) ends the conversation.
        return None

    async def close(self) -> None:
        try:
            await self._ws.close()
        finally:
            await self._http.close()


async def connect_websocket(
    host: str, port: int, *, connect_timeout: float = CONNECT_TIMEOUT
) -> WebSocketChannel:
    """Open the TLS WebSocket to a receiver; ReceiverUnreachable with a sentence if not."""
    address = f"{host}:{port}"
    where = f"the receiver at {address}"
    http = aiohttp.ClientSession()
    try:
        ws = await _ws_connect(http, address, where, connect_timeout)
    except BaseException:
        await http.close()
        raise
    ssl_object = ws.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    if not der:
        await ws.close()
        await http.close()
        raise ReceiverUnreachable(f"The receiver at {address} sent no certificate.")
    return WebSocketChannel(http, ws, address, certificate_fingerprint(der))


async def _ws_connect(
    http: aiohttp.ClientSession, address: str, where: str, within: float
) -> aiohttp.ClientWebSocketResponse:
    url = f"wss://{address}{m.SIGNAL_PATH}"
    try:
        return await asyncio.wait_for(
            http.ws_connect(
                url,
                ssl=client_tls(),
                heartbeat=HEARTBEAT_SECONDS,
                max_msg_size=4 * m.MAX_MESSAGE_BYTES,
                autoping=True,
            ),
            within,
        )
    except TimeoutError as exc:
        seconds = f"{within:.0f} seconds" if within >= 2 else f"{within:.1f} seconds"
        raise ReceiverUnreachable(
            f"No answer from {where} within {seconds}. Check the "
            "meeting ID and that this computer is on the room's network."
        ) from exc
    except aiohttp.WSServerHandshakeError as exc:
        raise ReceiverUnreachable(
            f"Something answered at {address} but it is not a Montage receiver (HTTP {exc.status})."
        ) from exc
    except aiohttp.ClientConnectorError as exc:
        code = exc.os_error.errno
        reason = os.strerror(code) if code else str(exc.os_error)
        raise ReceiverUnreachable(
            f"Could not connect to {where}: {reason}. Check the meeting ID and that the "
            "receiver is running."
        ) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise ReceiverUnreachable(f"Could not connect to {where}: {exc}.") from exc
