"""The guest bridge's XMPP side: one session, as `guests@<domain>`, for every guest.

A browser guest cannot hold an XMPP account; the cloud relays its protocol
messages instead (docs/protocol.md §17). Each guest's share is one
conversation of this session with the receiver, carried exactly as a
device's are (`urn:montage:signal:1` IQs, §15.2), so the receiver runs the
same state machine and only learns from the sender's bare JID that the
presenter is a guest.

The account is the cloud's own. Its password is derived from the XMPP admin
password (`bridge_password`), so every API process of one deployment logs
in with the same one; the bridge creates the account when it is missing and
logs in again, after 1, 2, 4, … 30 s, whenever the session drops.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
import ssl
from dataclasses import dataclass, field
from typing import Any

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

from montage_cloud.xmpp_admin import XmppAdmin
from montage_core.guests import GUEST_BRIDGE_USER
from montage_core.signal_stanza import CONVERSATION, MAX_TEXT, refuse
from montage_core.xmpp_session import XmppError, XmppLoginFailed, close_session, open_session

logger = logging.getLogger(__name__)

# How long the receiver's server may take to acknowledge one message.
SEND_TIMEOUT = 10.0
# Seconds between attempts to log in again after the session dropped.
RECONNECT_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def bridge_password(admin_password: str) -> str:
    """The bridge account's password: the same in every process that shares the admin's."""
    digest = hmac.new(admin_password.encode(), b"montage/guest-bridge", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


@dataclass
class BridgeLogin:
    """Where the bridge logs in, and who can create its account."""

    domain: str
    host: str
    port: int
    password: str = field(repr=False)
    ssl_context: ssl.SSLContext = field(repr=False)
    admin: XmppAdmin | None = field(default=None, repr=False)
    login_timeout: float = 10.0

    @property
    def jid(self) -> str:
        return f"{GUEST_BRIDGE_USER}@{self.domain}"


class Conversation:
    """One guest's conversation with one receiver."""

    def __init__(self, bridge: GuestBridge, receiver_jid: str) -> None:
        self.bridge = bridge
        self.receiver_jid = receiver_jid
        self.id = secrets.token_urlsafe(12)
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.ended = False

    async def send(self, text: str) -> None:
        """Deliver one message to the receiver; ConnectionError if it cannot be."""
        if self.ended:
            raise ConnectionError("the conversation has ended")
        await self.bridge.send(self, text)

    async def receive(self) -> str | None:
        """The receiver's next message, or None once the conversation has ended."""
        return await self._inbox.get()

    def deliver(self, text: str) -> None:
        if not self.ended:
            self._inbox.put_nowait(text)

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self._inbox.put_nowait(None)
            self.bridge.forget(self)


class GuestBridge:
    def __init__(self, login: BridgeLogin) -> None:
        self.login = login
        self.resource = f"bridge-{secrets.token_hex(6)}"
        self._client: ClientXMPP | None = None
        self._conversations: dict[tuple[str, str], Conversation] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._account_made = False
        self.connected_event = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._client is not None and self.connected_event.is_set()

    @property
    def jid(self) -> str | None:
        return str(self._client.boundjid.full) if self._client is not None else None

    def start(self) -> None:
        """Log in in the background (and again whenever the session drops)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._stay_connected())

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for conversation in list(self._conversations.values()):
            conversation.end()
        client, self._client = self._client, None
        self.connected_event.clear()
        if client is not None:
            await close_session(client)
            sender = getattr(client, "_run_out_filters", None)
            if sender is not None and not sender.done():
                sender.cancel()  # as XmppSignalling.close: slixmpp leaves it to the GC
                with contextlib.suppress(asyncio.CancelledError):
                    await sender

    def open(self, receiver_jid: str) -> Conversation:
        """A new conversation with the receiver at `receiver_jid` (its full JID)."""
        conversation = Conversation(self, receiver_jid)
        self._conversations[(receiver_jid, conversation.id)] = conversation
        if self._client is not None:
            # Directed presence: when this session ends, the server tells the
            # receiver, which then ends every conversation it had with us.
            self._client.send_presence(pto=receiver_jid)
        return conversation

    def forget(self, conversation: Conversation) -> None:
        self._conversations.pop((conversation.receiver_jid, conversation.id), None)

    async def send(self, conversation: Conversation, text: str) -> None:
        client = self._client
        if client is None or not self.connected_event.is_set():
            raise ConnectionError("the cloud's messaging session is down")
        iq: Any = client.make_iq_set(ito=conversation.receiver_jid)
        iq["montage_signal"]["conversation"] = conversation.id
        iq["montage_signal"]["json"] = text
        try:
            await iq.send(timeout=SEND_TIMEOUT)
        except IqError as exc:
            raise ConnectionError(
                f"the receiver did not take the message: {exc.condition}"
            ) from None
        except IqTimeout:
            raise ConnectionError("the receiver did not acknowledge the message") from None

    # -- internals ------------------------------------------------------------
    async def _stay_connected(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                client = await self._log_in()
            except (XmppError, OSError) as exc:
                delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
                attempt += 1
                logger.warning("guest bridge: cannot log in (%s); again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                continue
            attempt = 0
            lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def on_lost(_event: object, lost: asyncio.Future[None] = lost) -> None:
                if not lost.done():
                    lost.set_result(None)

            client.add_event_handler("disconnected", on_lost)
            self._client = client
            self.connected_event.set()
            logger.info("guest bridge connected as %s", client.boundjid.full)
            await lost
            self.connected_event.clear()
            self._client = None
            logger.warning("guest bridge: XMPP session lost")
            # Their receivers were told by the server (directed presence).
            for conversation in list(self._conversations.values()):
                conversation.end()
            await asyncio.sleep(RECONNECT_DELAYS[0])

    async def _log_in(self) -> ClientXMPP:
        login = self.login
        full = f"{login.jid}/{self.resource}"

        async def session() -> ClientXMPP:
            return await open_session(
                full,
                login.password,
                host=login.host,
                port=login.port,
                ssl_context=login.ssl_context,
                login_timeout=login.login_timeout,
            )

        if login.admin is not None and not self._account_made:
            # A new deployment has no bridge account yet; on an existing one
            # this is refused, and the login below decides.
            with contextlib.suppress(Exception):
                await login.admin.create_account(GUEST_BRIDGE_USER, login.password)
            self._account_made = True
        try:
            client = await session()
        except XmppLoginFailed:
            if login.admin is None:
                raise
            # It exists with another password (the admin password changed):
            # take it back. Other processes log in again with the new one.
            logger.info("guest bridge: replacing the account %s", login.jid)
            await login.admin.delete_account(GUEST_BRIDGE_USER)
            await login.admin.create_account(GUEST_BRIDGE_USER, login.password)
            client = await session()
        client.register_handler(
            Callback("guest signal", StanzaPath("iq@type=set/montage_signal"), self._on_iq)
        )
        client.send_presence()
        return client

    def _on_iq(self, iq: Any) -> None:
        sender = str(iq["from"].full)
        conversation_id = str(iq["montage_signal"]["conversation"])
        text = iq["montage_signal"]["json"]
        conversation = self._conversations.get((sender, conversation_id))
        if (
            conversation is None
            or not CONVERSATION.fullmatch(conversation_id)
            or len(text) > MAX_TEXT
        ):
            # The guest has gone (or never was): the receiver ends its side.
            refuse(iq, "cancel", "item-not-found")
            return
        iq.reply(clear=True).send()
        conversation.deliver(text)
