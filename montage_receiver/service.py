"""The receiver's network side: signalling (TLS WebSocket or XMPP) and aiortc media.

An adapter around `PresenterSession`: it moves frames between the transport
and the state machine, and does what the events ask (answer an offer, tear a
presenter down). It knows nothing about windows; listeners get plain events.

Presenters on the LAN connect to the WebSocket server started here; cloud
presenters' messages arrive through `accept_signal` (fed by
`montage_receiver.cloud_link`), each conversation with its own reply
transport. Both run the same `PresenterSession`.

A presenter whose connection is lost but who may come back (docs/protocol.md
§18) keeps its tile, marked as reconnecting, and its peer connection, for
as long as its client said it would try: media that still flows is still
shown. When it comes back, a new connection takes the tile over and, if the
old peer connection still works and the client offers it again, the media
too — nothing is renegotiated and no frame is lost to the switch.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import WSMsgType, web
from aiortc import RTCPeerConnection, RTCSessionDescription

from montage_core.protocol import messages as m
from montage_core.protocol.events import (
    OfferVerified,
    PinFailed,
    PresenterDetached,
    PresenterJoined,
    PresenterLeft,
    ReceiverEvent,
    ShareStateChanged,
)
from montage_core.protocol.pin_auth import dtls_fingerprints
from montage_core.rtc.peer import LOCAL_ONLY, IceSettings, make_peer_connection
from montage_core.thirdparty.aiortc_remb import LAN_START_BITRATE

from .guarded_listener import GuardedListener, StrangerLimits
from .presenter import Presenter
from .presenter_session import PresenterSession, Room, SessionState

logger = logging.getLogger(__name__)

# Heartbeats find a vanished laptop (Wi-Fi gone) in about this many seconds.
HEARTBEAT_SECONDS = 5.0
# aiohttp drops frames beyond this outright; frames between MAX_MESSAGE_BYTES
# and this get a proper `too_large` error from the protocol layer.
TRANSPORT_MAX_BYTES = 4 * m.MAX_MESSAGE_BYTES
# A connection that has not said hello this long after its WebSocket upgrade
# is dropped (the listener's StrangerLimits also counts from the TCP accept).
HELLO_TIMEOUT = 10.0
# A connection must be sharing by then: time enough to read the PIN off the
# wall and type it a few times, not to hold a presenter slot open forever.
SETUP_TIMEOUT = 180.0


@dataclass(frozen=True)
class PresenterAdded:
    presenter: Presenter


@dataclass(frozen=True)
class PresenterRemoved:
    presenter: Presenter
    reason: str


@dataclass(frozen=True)
class PresenterChanged:
    presenter: Presenter


@dataclass(frozen=True)
class PinRejected:
    source: str
    tries_left: int
    locked_for: float | None


@dataclass(frozen=True)
class CloudMeetingEnded:
    """The cloud meeting is gone (device suspended, cloud lost); the local ID is shown now."""

    reason: str


ServiceEvent = (
    PresenterAdded | PresenterRemoved | PresenterChanged | PinRejected | CloudMeetingEnded
)
Listener = Callable[[ServiceEvent], None]


class SignalTransport(Protocol):
    """Where one conversation's replies go: a WebSocket, or a cloud (XMPP) peer."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str) -> None: ...

    async def close(self) -> Any: ...


class CloudPeer:
    """The reply side of one conversation arriving through the cloud.

    `send` delivers one message to the presenter; closing it (the room
    stopped them, the meeting closed, media failed) ends the conversation
    in the service as a closed WebSocket would.
    """

    def __init__(self, send: Callable[[str], Awaitable[None]]) -> None:
        self._send = send
        self._closed = False
        self.on_close: Callable[[], None] | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    async def send_str(self, data: str) -> None:
        if self._closed:
            return
        try:
            await self._send(data)
        except ConnectionError as exc:
            # The presenter is gone (offline, or the cloud refused): the
            # conversation is over, as when a WebSocket drops.
            logger.info("cannot reach the presenter: %s", exc)
            await self.close()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.on_close is not None:
                self.on_close()


class _Connection:
    """Glue for one conversation: its session, peer connection and presenter.

    After a loss it may be *held*: no conversation, but the presenter (tile)
    and the peer connection are kept until the presenter resumes on a new
    connection (which takes them over) or the hold expires.
    """

    def __init__(
        self,
        service: ReceiverService,
        ws: SignalTransport,
        source: str,
        ice: IceSettings = LOCAL_ONLY,
        *,
        guest: bool = False,
    ) -> None:
        self.service = service
        self.ws = ws
        self.ice = ice
        self.session = PresenterSession(service.room, source, guest=guest)
        self.pc: RTCPeerConnection | None = None
        self.presenter: Presenter | None = None
        self.media_tasks: list[asyncio.Task[None]] = []
        self.deadlines: list[asyncio.TimerHandle] = []
        self.lock = asyncio.Lock()
        self.held: str | None = None  # the ticket this connection's share is held under
        self._resumed = False

    async def flush(self) -> None:
        for message in self.session.messages_to_send():
            if not self.ws.closed:
                await self.ws.send_str(m.serialize(message))

    async def handle(self, events: list[ReceiverEvent]) -> None:
        await self.flush()
        for event in events:
            if isinstance(event, OfferVerified):
                await self._answer(event)
            elif isinstance(event, PresenterJoined):
                assert self.presenter is not None
                ticket = self.session.ticket
                if ticket is not None:
                    self.service.tickets[ticket.id] = self
                if self._resumed:
                    self.presenter.reconnecting = False
                    self.service.emit(PresenterChanged(self.presenter))
                else:
                    self.service.emit(PresenterAdded(self.presenter))
            elif isinstance(event, ShareStateChanged) and self.presenter is not None:
                self.presenter.share_state = event.state
                self.presenter.set_media_state(event.camera, event.microphone)
                self.service.emit(PresenterChanged(self.presenter))
            elif isinstance(event, PinFailed):
                self.service.emit(PinRejected(event.source, event.tries_left, event.locked_for))
            elif isinstance(event, PresenterDetached):
                self._hold(event)
            elif isinstance(event, PresenterLeft):
                await self.teardown(event.reason)

    def _hold(self, event: PresenterDetached) -> None:
        self.held = event.ticket
        self.service.tickets[event.ticket] = self
        if self.presenter is not None:
            self.presenter.reconnecting = True
            self.service.emit(PresenterChanged(self.presenter))
        self.service.schedule_expiry()
        logger.info(
            "connection from %s lost; holding its share for %.0f s",
            self.session.source,
            event.hold,
        )

    async def _answer(self, event: OfferVerified) -> None:
        if event.resumes is not None and await self._take_over(event.resumes, event.sdp):
            return
        pc = self.pc = make_peer_connection(self.ice)
        if self.session.guest:
            # A browser: Chromium heeds a receiver's estimate only in its first
            # seconds, so tell it at once what the LAN can carry.
            pc.remb_start = LAN_START_BITRATE
        presenter = self.presenter
        if presenter is None:
            presenter = self.presenter = Presenter(
                id=next(self.service.ids),
                name=event.name,
                source=self.session.source,
                guest=self.session.guest,
            )

        @pc.on("track")
        def on_track(track: Any) -> None:
            # The client's m-lines come in a fixed order (docs/protocol.md):
            # the first video is the screen, the second the camera.
            videos = [t for t in pc.getTransceivers() if t.kind == "video"]
            index = next((i for i, t in enumerate(videos) if t.receiver.track is track), 0)
            if track.kind == "video":
                if index == 0:
                    receiver = videos[0].receiver
                    presenter.attach_link(receiver)
                    self.media_tasks.append(
                        asyncio.ensure_future(presenter.watch_link(pc, receiver))
                    )
                    consume = presenter.consume
                else:
                    consume = presenter.consume_camera
            elif track.kind == "audio":
                consume = presenter.consume_audio
            else:
                return
            self.media_tasks.append(asyncio.ensure_future(consume(track)))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "failed":
                await self.service.media_failed(pc)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(event.sdp, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc raises plain exceptions for bad SDP
            logger.warning("cannot answer %s: %s", event.name, exc)
            await self.handle(self.session.answer_failed(str(exc)))
            return
        await self.handle(self.session.send_answer(pc.localDescription.sdp))

    async def _take_over(self, ticket: str, sdp: str) -> bool:
        """Take the tile (and the media, if it still works) of the share `ticket` names.

        Returns True when the old peer connection goes on (answered already);
        False when a new one must be made for this offer.
        """
        old = self.service.tickets.pop(ticket, None)
        if old is None or old is self:
            return False
        self._resumed = True
        self.presenter, old.presenter = old.presenter, None
        old.held = None
        if not old.ws.closed:
            await old.ws.close()  # a dead connection its heartbeat has not buried yet
        pc, old.pc = old.pc, None
        tasks, old.media_tasks = old.media_tasks, []
        if self.presenter is not None:
            self.presenter.reconnects += 1
        if pc is not None and _same_media(pc, sdp):
            logger.info("%s is back: same media session", self.session.source)
            self.pc, self.media_tasks = pc, tasks
            await self.handle(self.session.send_answer(pc.localDescription.sdp))
            return True
        logger.info("%s is back: new media session", self.session.source)
        for task in tasks:
            task.cancel()
        if pc is not None:
            await pc.close()
        return False

    async def teardown(self, reason: str) -> None:
        if self.held is not None:
            return  # kept for its presenter's return (or until the hold expires)
        for task in self.media_tasks:
            task.cancel()
        if self.pc is not None:
            pc, self.pc = self.pc, None
            await pc.close()
        if self.presenter is not None:
            presenter, self.presenter = self.presenter, None
            self.service.emit(PresenterRemoved(presenter, reason))
        for ticket, conn in list(self.service.tickets.items()):
            if conn is self:
                del self.service.tickets[ticket]
        self.service.forget(self)
        logger.info("connection from %s closed: %s", self.session.source, reason)

    async def release(self, reason: str) -> None:
        """The hold is over (expired, or the room stopped this presenter): free the tile."""
        self.held = None
        await self.teardown(reason)


def _same_media(pc: RTCPeerConnection, offer: str) -> bool:
    """Whether `offer` is the one this (still working) peer connection was made for."""
    remote = pc.remoteDescription
    if pc.connectionState != "connected" or remote is None:
        return False
    try:
        return dtls_fingerprints(remote.sdp) == dtls_fingerprints(offer)
    except ValueError:
        return False


class ReceiverService:
    def __init__(
        self,
        room: Room,
        *,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext,
        limits: StrangerLimits | None = None,
    ) -> None:
        self.room = room
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.ids = itertools.count(1)
        self._listeners: list[Listener] = []
        self._connections: set[_Connection] = set()
        self._runner: web.AppRunner | None = None
        self.limits = limits or StrangerLimits()
        self.listener: GuardedListener | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        # Conversations arriving through the cloud, by the key their carrier gives.
        self._cloud: dict[Any, _Connection] = {}
        # The ICE settings (TURN server) while in a cloud meeting; set by the cloud link.
        self.cloud_ice: IceSettings = LOCAL_ONLY
        # Shares that may be resumed, by ticket: attached or held.
        self.tickets: dict[str, _Connection] = {}
        self._expiry: asyncio.TimerHandle | None = None

    # -- public API ---------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def busy(self) -> bool:
        """Someone is joining or presenting (updates wait for this to be False)."""
        return bool(self._connections) or bool(self._cloud)

    @property
    def presenters(self) -> list[Presenter]:
        return [c.presenter for c in self._connections if c.presenter is not None]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(m.SIGNAL_PATH, self._handle_ws)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        assert self._runner.server is not None
        # Our own listener instead of aiohttp's site: it limits strangers (see its module).
        self.listener = GuardedListener(self._runner.server, self.ssl_context, self.limits)
        try:
            self.port = await self.listener.start(self.host, self.port)
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise

    async def stop_presenter(self, presenter_id: int) -> bool:
        """The room stops one presenter; their client is told so (when it is back, if away)."""
        for conn in list(self._connections):
            if conn.presenter is not None and conn.presenter.id == presenter_id:
                if conn.held is not None:
                    self.room.stop_held(conn.held)
                    await conn.release("stopped by the room")
                    return True
                await conn.handle(conn.session.stop_by_room())
                await conn.ws.close()
                return True
        return False

    async def set_muted(self, presenter_id: int, muted: bool) -> bool:
        """The room mutes or unmutes one presenter's sound.

        Muting silences them here at once and, if their client understands it,
        also turns their microphone off there (so they see they are muted).
        Unmuting only lifts the silence here: turning a microphone on is the
        presenter's own decision.
        """
        for conn in list(self._connections):
            presenter = conn.presenter
            if presenter is not None and presenter.id == presenter_id:
                presenter.muted_by_room = muted
                if muted and conn.session.mute_by_room():
                    await conn.flush()
                self.emit(PresenterChanged(presenter))
                return True
        return False

    async def show_in(self, presenter_id: int, width: int, height: int) -> bool:
        """The wall shows this presenter in a `width` × `height` box (device pixels).

        A client that understands it then sends its screen no larger than
        that: four tiles decode four small pictures, not four full-size ones.
        """
        for conn in list(self._connections):
            presenter = conn.presenter
            if presenter is not None and presenter.id == presenter_id:
                if conn.session.show_in(width, height):
                    await conn.flush()
                return True
        return False

    async def close(self) -> None:
        """Close the meeting: every client is told, then everything stops."""
        if self._expiry is not None:
            self._expiry.cancel()
        for conn in list(self._connections):
            if conn.held is not None:
                await conn.release("meeting closed")
                continue
            await conn.handle(conn.session.close_meeting())
            await conn.ws.close()
        # Cloud conversations end in background tasks: let them finish.
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.listener is not None:
            await self.listener.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def accept_signal(
        self,
        key: Any,
        source: str,
        text: str,
        reply: Callable[[str], Awaitable[None]],
        *,
        guest: bool = False,
    ) -> None:
        """One message of a conversation that arrives through the cloud.

        `key` tells conversations apart (sender and conversation ID);
        `source` is who is counted for PIN lockout (the sender's bare JID);
        `reply` sends a message back to that conversation. A `guest` (the
        cloud's guest bridge speaking for a browser) is counted as one of
        the meeting's guests instead.
        """
        loop = asyncio.get_running_loop()
        conn = self._cloud.get(key)
        if conn is None:
            peer = CloudPeer(reply)
            conn = _Connection(self, peer, source, self.cloud_ice, guest=guest)
            self._cloud[key] = conn
            self._connections.add(conn)
            peer.on_close = lambda: self._background(self._end_cloud(key, conn))
            setup_deadline = loop.call_later(SETUP_TIMEOUT, self._drop_unless_sharing, conn)
            conn.deadlines = [setup_deadline]
        # Messages of one conversation arrive as separate tasks; the lock
        # (first come, first served) keeps them in order, as a socket would.
        async with conn.lock:
            if conn.ws.closed:
                return
            try:
                await conn.handle(conn.session.receive(text, loop.time()))
            except Exception:
                logger.exception("conversation with %s failed", source)
                await conn.ws.close()
                return
            if conn.session.closed:
                await conn.ws.close()

    def keep(self, task: asyncio.Future[Any]) -> None:
        """Hold a reference to a background task until it ends (the loop holds them weakly)."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def end_cloud_conversations(self, which: Callable[[Any], bool]) -> None:
        """End the cloud conversations whose key `which` selects: their presenter's
        device went offline (quit, suspended, removed), so their share is not held."""
        now = asyncio.get_running_loop().time()
        for key, conn in list(self._cloud.items()):
            if which(key):
                await conn.handle(conn.session.peer_gone(now))
                await conn.ws.close()

    async def _end_cloud(self, key: Any, conn: _Connection) -> None:
        if self._cloud.get(key) is not conn:
            return
        del self._cloud[key]
        for deadline in conn.deadlines:
            deadline.cancel()
        await conn.handle(conn.session.connection_lost(asyncio.get_running_loop().time()))
        await conn.teardown("connection closed")

    def forget(self, conn: _Connection) -> None:
        self._connections.discard(conn)

    async def media_failed(self, pc: RTCPeerConnection) -> None:
        """A peer connection failed (ICE consent lost): its conversation is lost too.

        Its presenter may come back (with a new peer connection); a held share
        just keeps waiting.
        """
        for conn in list(self._connections):
            if conn.pc is pc and not conn.session.closed:
                loop = asyncio.get_running_loop()
                await conn.handle(conn.session.connection_lost(loop.time()))
                await conn.ws.close()

    def schedule_expiry(self) -> None:
        """Free held tiles when their time is up (one timer, for the earliest)."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        due = self.room.next_expiry()
        if due is not None:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_at(due, lambda: self._background(self._expire()))

    async def _expire(self) -> None:
        self._expiry = None
        for ticket in self.room.expire(asyncio.get_running_loop().time()):
            conn = self.tickets.pop(ticket.id, None)
            if conn is not None:
                await conn.release(f"connection lost (not back within {ticket.hold:.0f} s)")
        self.schedule_expiry()

    def emit(self, event: ServiceEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("listener failed on %s", event)

    # -- internals ----------------------------------------------------------
    async def _handle_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=TRANSPORT_MAX_BYTES)
        await ws.prepare(request)
        # In a cloud meeting a LAN presenter gets the relay too: the LAN may
        # carry TCP but not UDP between the two (firewalled VLANs).
        conn = _Connection(self, ws, request.remote or "unknown", self.cloud_ice)
        self._connections.add(conn)
        loop = asyncio.get_running_loop()
        hello_deadline = loop.call_later(
            HELLO_TIMEOUT, self._drop_unless, conn, SessionState.AWAITING_HELLO
        )
        setup_deadline = loop.call_later(SETUP_TIMEOUT, self._drop_unless_sharing, conn)
        try:
            async for msg in ws:
                hello_deadline.cancel()
                if msg.type is WSMsgType.TEXT:
                    events = conn.session.receive(msg.data, loop.time())
                elif msg.type is WSMsgType.BINARY:
                    events = conn.session.receive(b"\xff", loop.time())  # never valid JSON
                else:
                    break
                if conn.session.state not in (SessionState.AWAITING_HELLO, SessionState.CLOSED):
                    # A presenter now, not a stranger: the PIN step has its own limits.
                    self._admit(request)
                await conn.handle(events)
                if conn.session.closed:
                    break
        except Exception:
            logger.exception("connection from %s failed", conn.session.source)
        finally:
            hello_deadline.cancel()
            setup_deadline.cancel()
            await conn.handle(conn.session.connection_lost(loop.time()))
            await conn.teardown("connection closed")
            if not ws.closed:
                await ws.close()
        return ws

    def _admit(self, request: web.Request) -> None:
        if self.listener is not None:
            self.listener.admit(request.transport)

    def _drop_unless(self, conn: _Connection, state: SessionState) -> None:
        if conn.session.state is state:
            logger.info("dropping %s: still %s", conn.session.source, state.value)
            self._background(conn.ws.close())

    def _drop_unless_sharing(self, conn: _Connection) -> None:
        if conn.session.state not in (SessionState.SHARING, SessionState.CLOSED):
            logger.info("dropping %s: not sharing after %.0f s", conn.session.source, SETUP_TIMEOUT)
            self._background(conn.ws.close())

    def _background(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.keep(asyncio.ensure_future(coro))
