"""Signalling over XMPP: the same protocol messages, carried in a registered IQ namespace.

slixmpp has no Jingle, and Montage needs none: each protocol message (the
JSON text of `messages.serialize`) rides as the text of one

    <iq type="set" to="receiver full JID" id="…">
      <signal xmlns="urn:montage:signal:1" conversation="…">{"type":"hello",…}</signal>
    </iq>

answered by an empty `<iq type="result"/>` (docs/protocol.md §15). The
`conversation` attribute, chosen by the client for each share, tells two
shares from one device apart. Both sides log in with SASL SCRAM over direct
TLS (XEP-0368) through `montage_cloud.prosody_admin.open_session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Callable
from typing import Any

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from montage_core.net import (
    ProxyMode,
    ProxyProblem,
    ProxyResolver,
    ProxySettings,
    as_resolver,
    open_tunnel,
)
from montage_core.net.errors import PacUnavailable
from montage_core.protocol.errors import CloudUnavailable, MontageError, NotEnrolled
from montage_core.signal_channel import PATH_CLOUD, SignalChannel
from montage_core.signal_stanza import (  # also registers <signal/> on Iq
    CONVERSATION,
    MAX_TEXT,
    refuse,
)
from montage_core.xmpp_session import (
    XmppLoginFailed,
    XmppUnreachable,
    close_session,
    open_session,
)

from .account import CloudAccount
from .api import revoked

logger = logging.getLogger(__name__)

# How long the other side's server may take to acknowledge one message.
SEND_TIMEOUT = 10.0
LOGIN_TIMEOUT = 10.0


# (sender's full JID, conversation, JSON text)
SignalHandler = Callable[[str, str, str], None]


class XmppSignalling:
    """One device's XMPP session, sending and receiving Montage signalling."""

    def __init__(self, client: ClientXMPP) -> None:
        self._client = client
        self._handlers: list[SignalHandler] = []
        self._on_disconnect: list[Callable[[], None]] = []
        self._on_peer_gone: list[Callable[[str], None]] = []
        self.disconnected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        client.register_handler(
            Callback("montage signal", StanzaPath("iq@type=set/montage_signal"), self._on_iq)
        )
        client.add_event_handler("disconnected", self._lost)
        client.add_event_handler("presence_unavailable", self._unavailable)

    @classmethod
    async def open(
        cls,
        account: CloudAccount,
        *,
        login_timeout: float = LOGIN_TIMEOUT,
        proxy: ProxySettings | ProxyResolver | None = None,
        resource: str | None = None,
    ) -> XmppSignalling:
        """Log in as the enrolled device; DeviceRevoked if its account is disabled.

        With a `proxy`, the TCP connection is a tunnel through it (TLS end to
        end inside); a proxy's refusal is raised as its own sentence.
        `resource` asks for that full JID (a receiver logging in again keeps the
        address its cloud meeting names); by default the server picks one.
        """
        password = await asyncio.to_thread(account.xmpp_password)  # the keyring may block
        open_socket = None
        resolver = as_resolver(proxy)
        if await _through_proxy(resolver, account):

            async def open_socket(host: str, port: int) -> socket.socket:
                # Shorter than the login's own limit, so a silent proxy is named as such.
                return await open_tunnel(host, port, resolver, timeout=login_timeout * 0.7)

        try:
            client = await open_session(
                f"{account.jid}/{resource}" if resource else account.jid,
                password,
                host=account.xmpp_host,
                port=account.xmpp_port,
                ssl_context=account.tls(),
                login_timeout=login_timeout,
                open_socket=open_socket,
            )
        except XmppLoginFailed as exc:
            if exc.condition == "account-disabled":
                raise revoked("suspended") from None
            raise NotEnrolled(
                "The Montage cloud's messaging service refused this device's credentials "
                f"({exc.condition}). Enrol it again with a token from your administrator."
            ) from None
        except XmppUnreachable as exc:
            if isinstance(exc.__cause__, ProxyProblem | PacUnavailable):
                raise exc.__cause__ from None  # names the proxy and what it refused
            raise CloudUnavailable(
                f"Cannot reach the Montage cloud's messaging service at "
                f"{account.xmpp_host}:{account.xmpp_port}: {exc}"
            ) from exc
        signalling = cls(client)
        # Available presence: some servers route stanzas to a full JID only then.
        client.send_presence()
        return signalling

    @property
    def jid(self) -> str:
        """This session's full JID (what a receiver registers for its meeting)."""
        return str(self._client.boundjid.full)

    @property
    def connected(self) -> bool:
        return not self.disconnected.done()

    def on_signal(self, handler: SignalHandler) -> None:
        self._handlers.append(handler)

    def remove_handler(self, handler: SignalHandler) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    def on_disconnect(self, callback: Callable[[], None]) -> None:
        self._on_disconnect.append(callback)

    def on_peer_gone(self, callback: Callable[[str], None]) -> None:
        """`callback(full_jid)` when a peer that sent us directed presence goes offline."""
        self._on_peer_gone.append(callback)

    def announce_to(self, peer: str) -> None:
        """Directed presence (RFC 6121 §4.6): the server tells `peer` when we go offline."""
        if self.connected:
            self._client.send_presence(pto=peer)

    async def send(self, to: str, conversation: str, text: str) -> None:
        """Deliver one message; ConnectionError if it cannot be (peer gone, we are offline)."""
        if not self.connected:
            raise ConnectionError("the XMPP session has ended")
        iq: Any = self._client.make_iq_set(ito=to)
        iq["montage_signal"]["conversation"] = conversation
        iq["montage_signal"]["json"] = text
        try:
            await iq.send(timeout=SEND_TIMEOUT)
        except IqError as exc:
            raise ConnectionError(f"{to} did not take the message: {exc.condition}") from None
        except IqTimeout:
            raise ConnectionError(f"{to} did not acknowledge within {SEND_TIMEOUT:.0f} s") from None

    async def close(self) -> None:
        if self.connected:
            await close_session(self._client)
        # slixmpp 1.17 cancels its send loop only when the client object is
        # garbage-collected, possibly after the event loop has gone ("Task was
        # destroyed but it is pending"); end it while the loop still runs.
        sender = getattr(self._client, "_run_out_filters", None)
        if sender is not None and not sender.done():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    # -- internals ------------------------------------------------------------
    def _on_iq(self, iq: Any) -> None:
        conversation = str(iq["montage_signal"]["conversation"])
        text = iq["montage_signal"]["json"]
        if not CONVERSATION.fullmatch(conversation) or len(text) > MAX_TEXT:
            refuse(iq, "modify", "bad-request")
            return
        iq.reply(clear=True).send()
        sender = str(iq["from"].full)
        for handler in list(self._handlers):
            handler(sender, conversation, text)

    def _unavailable(self, presence: Any) -> None:
        gone = str(presence["from"].full)
        for callback in list(self._on_peer_gone):
            callback(gone)

    def _lost(self, _event: object) -> None:
        if not self.disconnected.done():
            self.disconnected.set_result(None)
            logger.info("XMPP session ended")
            for callback in list(self._on_disconnect):
                callback()


async def _through_proxy(resolver: ProxyResolver, account: CloudAccount) -> bool:
    """Whether any route to the XMPP service is a proxy (else slixmpp connects itself)."""
    if resolver.settings.mode is ProxyMode.NONE:
        return False
    try:
        routes = await resolver.routes_for(account.xmpp_host, account.xmpp_port)
    except MontageError:
        return True  # open_tunnel will say what is wrong with the proxy settings
    return any(route is not None for route in routes)


class XmppChannel(SignalChannel):
    """The client's conversation with one receiver through the cloud."""

    path = PATH_CLOUD

    def __init__(
        self, signalling: XmppSignalling, receiver_jid: str, fingerprint: str, where: str
    ) -> None:
        self._signalling = signalling
        self._peer = receiver_jid
        self.conversation = secrets.token_urlsafe(12)
        self.where = where
        self.receiver_fingerprint = fingerprint
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        signalling.on_signal(self._deliver)
        signalling.on_disconnect(self._closed)
        signalling.on_peer_gone(self._peer_gone)
        # So the receiver hears at once if this device drops off the cloud.
        signalling.announce_to(receiver_jid)
        if not signalling.connected:
            self._closed()

    async def send(self, text: str) -> None:
        try:
            await self._signalling.send(self._peer, self.conversation, text)
        except ConnectionError as exc:
            logger.info("signalling to %s failed: %s", self._peer, exc)
            self._closed()

    async def receive(self) -> str | None:
        return await self._inbox.get()

    async def close(self) -> None:
        self._signalling.remove_handler(self._deliver)

    def _deliver(self, sender: str, conversation: str, text: str) -> None:
        # Only the receiver we asked, in this conversation, may speak in it.
        if sender == self._peer and conversation == self.conversation:
            self._inbox.put_nowait(text)

    def _peer_gone(self, jid: str) -> None:
        if jid == self._peer:
            logger.info("the receiver %s went offline", jid)
            self._closed()

    def _closed(self) -> None:
        self._inbox.put_nowait(None)
