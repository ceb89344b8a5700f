"""The presenter's network side: signalling over a `SignalChannel`, media over aiortc.

An adapter around `ClientSession` (one per conversation) and `Reconnection`
(the policy across them). Everything that happens — frames from the
receiver, the person's Stop, a PIN typed, the media path failing, an attempt
to reconnect finishing — arrives in one inbox as a typed event
(`share_inbox`) and is handled, one handler per kind, in order on the event
loop. Progress goes out through `on_update` as plain dataclasses; the GUI
and the CLI each render them their own way.

When the connection is lost while sharing (docs/protocol.md §18), the share
keeps its media session and its place: it says "Reconnecting…", opens a new
conversation with backoff for up to `reconnect_seconds`, proves the PIN it
already proved (kept in memory for this share only) and the receiver's
resume ticket, and goes on — with the same media when the receiver kept it,
with a new peer connection otherwise. A share stopped by the room, a closed
meeting, a revoked device or a changed PIN is never reconnected.

The channel is a TLS WebSocket straight to the receiver for a local meeting;
a cloud meeting (`montage_client.core.cloud_join`) hands in its own opener, which
may return an XMPP channel, and the ICE settings with its TURN server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from montage_core.protocol import messages as m
from montage_core.protocol.client_session import ClientSession, ClientState, ResumeTicket
from montage_core.protocol.errors import (
    ConnectionLost,
    InvalidInput,
    MontageError,
    ShareEnded,
)
from montage_core.protocol.events import (
    AnswerReceived,
    ClientEvent,
    MuteRequested,
    PinNeeded,
    SessionEnded,
    ViewRequested,
    Welcomed,
)
from montage_core.protocol.meeting_id import CloudMeetingId, MeetingId
from montage_core.protocol.reconnect import DEFAULT_WINDOW, Reconnection, transient
from montage_core.rtc.link_quality import Grade
from montage_core.rtc.peer import LOCAL_ONLY, IceSettings
from montage_core.signal_channel import (
    PATH_CLOUD,
    PATH_LOCAL,
    PATH_RELAYED,
    PATH_RELAYED_PROXY,
    SignalChannel,
    connect_websocket,
)

from .change_pacing import Quality
from .devices import DeviceKind
from .local_media import LocalMedia, MediaChange
from .screen_source import Grabber, ScreenSource
from .share_inbox import (
    CaptureStopped,
    ChannelClosed,
    ChannelFailed,
    ChannelOpened,
    DevicesChanged,
    EndRequested,
    InboxEvent,
    MediaStateChanged,
    MessageArrived,
    Paused,
    PinTyped,
    PinUnavailable,
    ReplyOverdue,
    Resized,
    RetryDue,
    StopRequested,
)
from .share_media import ShareMedia

logger = logging.getLogger(__name__)

__all__ = [
    "PATH_CLOUD",
    "PATH_LOCAL",
    "PATH_RELAYED",
    "PATH_RELAYED_PROXY",
    "ROOM_MUTED",
    "CaptureFailed",
    "ChannelOpener",
    "LinkQuality",
    "Notice",
    "PinProvider",
    "PinWanted",
    "Progress",
    "Reconnecting",
    "ShareClient",
    "Sharing",
    "Update",
]

# How long the receiver may take to answer a protocol step (not the person).
REPLY_TIMEOUT = 10.0
# Reconnecting, a connection attempt gives up this soon (and the next one starts):
# a SYN lost while the link was down is not retried by TCP for seconds.
RECONNECT_TIMEOUT = 3.0
# How often the link's figures are read for the quality mark.
QUALITY_POLL = 2.0
_AWAITING_RECEIVER = (ClientState.HELLO_SENT, ClientState.PAKE_SENT, ClientState.OFFER_SENT)


class CaptureFailed(MontageError):
    """The screen could not be captured."""


@dataclass(frozen=True)
class Progress:
    text: str


@dataclass(frozen=True)
class Sharing:
    room: str
    path: str  # PATH_LOCAL, PATH_CLOUD, PATH_RELAYED or PATH_RELAYED_PROXY
    width: int
    height: int


@dataclass(frozen=True)
class PinWanted:
    tries_left: int | None
    message: str | None


@dataclass(frozen=True)
class Notice:
    """Something the person should know while the share goes on (a camera failed, muted)."""

    text: str


@dataclass(frozen=True)
class Reconnecting:
    """The connection was lost; the share is trying to get it back by itself."""

    reason: str


@dataclass(frozen=True)
class LinkQuality:
    """How the link is doing (the sharing bar's mark): from the receiver's reports."""

    grade: Grade
    loss_pct: float | None
    rtt_ms: float | None


Update = Progress | Sharing | PinWanted | Notice | Reconnecting | LinkQuality
ROOM_MUTED = "The room turned your microphone off. Turn it on again to be heard."
RECONNECTING = "Reconnecting…"
PinProvider = Callable[[PinWanted], Awaitable[str]]
ChannelOpener = Callable[[], Awaitable[SignalChannel]]


class _Stopped(Exception):
    """The share ended because the person asked; not an error."""


class ShareClient:
    def __init__(
        self,
        meeting: MeetingId | CloudMeetingId,
        name: str,
        grabber: Grabber,
        pin_provider: PinProvider,
        *,
        port: int = m.DEFAULT_PORT,
        fps: float = 30.0,
        quality: Quality = Quality.AUTO,
        on_update: Callable[[Update], None] | None = None,
        media: LocalMedia | None = None,
        open_channel: ChannelOpener | None = None,
        ice: IceSettings = LOCAL_ONLY,
        reconnect_seconds: float = DEFAULT_WINDOW,
    ) -> None:
        """`open_channel` and `ice` are for cloud meetings; a local one needs neither.

        `reconnect_seconds`: how long a lost share keeps trying to come back
        (0: it ends at once, saying why).
        """
        self.meeting = meeting
        self.name = name
        self.port = port
        self.source = ScreenSource(
            grabber,
            fps=fps,
            on_error=lambda exc: self._post(CaptureStopped(exc)),
            quality=quality,
        )
        self._pin_provider = pin_provider
        self._on_update = on_update or (lambda update: None)
        self._inbox: asyncio.Queue[InboxEvent] = asyncio.Queue()
        self.session: ClientSession | None = None
        self.room: str | None = None
        # Camera and microphone are optional; without a LocalMedia their
        # tracks are still negotiated and simply never send.
        self.media = media
        self.ice = ice
        self._open_channel = open_channel
        if open_channel is None and not isinstance(meeting, MeetingId):
            raise ValueError("a cloud meeting needs its own channel opener")
        self.path: str | None = None  # once sharing: one of the PATH_ constants
        self.reconnection = Reconnection(reconnect_seconds)
        self._handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            StopRequested: self._on_stop,
            EndRequested: self._on_end,
            PinTyped: self._on_pin,
            PinUnavailable: self._on_pin_unavailable,
            Paused: self._on_paused,
            Resized: self._on_resized,
            CaptureStopped: self._on_capture_stopped,
            DevicesChanged: self._on_devices,
            ChannelOpened: self._on_channel_opened,
            ChannelFailed: self._on_channel_failed,
            MessageArrived: self._on_message,
            ChannelClosed: self._on_channel_closed,
            MediaStateChanged: self._on_media_state,
            ReplyOverdue: self._on_reply_overdue,
            RetryDue: self._on_retry_due,
        }
        self._session_handlers: dict[type, Callable[[Any], Awaitable[None]]] = {
            Welcomed: self._on_welcomed,
            PinNeeded: self._on_pin_needed,
            AnswerReceived: self._on_answer,
            MuteRequested: self._on_mute,
            ViewRequested: self._on_view,
            SessionEnded: self._on_session_ended,
        }
        # One conversation at a time, one media session at a time.
        self._channel: SignalChannel | None = None
        self._reader: asyncio.Task[None] | None = None
        self._share_media: ShareMedia | None = None
        self._reusing = False  # this conversation offers the media session again
        self._attempt = 0
        self._retry_token = 0
        self._retry: asyncio.TimerHandle | None = None
        self._reply_timer: asyncio.TimerHandle | None = None
        self._pin_task: asyncio.Task[None] | None = None
        self._quality_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        # What a reconnection needs, for this share only (never written anywhere).
        self._ticket: ResumeTicket | None = None
        self._proven_pin: str | None = None
        self._shared = False  # reached the receiver's answer at least once

    @property
    def address(self) -> str:
        """The receiver's LAN address for a local meeting (a cloud meeting has none fixed)."""
        if isinstance(self.meeting, MeetingId):
            return f"{self.meeting.address()}:{self.port}"
        return f"meeting {self.meeting.display()}"

    # -- calls from the person (any time, from the loop thread) -------------
    def request_stop(self) -> None:
        self._post(StopRequested())

    def pause(self, paused: bool) -> None:
        self._post(Paused(paused))

    def set_quality(self, quality: Quality) -> None:
        self.source.set_quality(quality)

    def select_monitor(self, index: int) -> None:
        self.source.select_monitor(index)
        self._post(Resized())

    def end_with(self, error: MontageError) -> None:
        """End the share now because of `error` (e.g. the cloud revoked this device)."""
        self._post(EndRequested(error))

    def notify(self, text: str) -> None:
        """Tell the person something while the share goes on (from the cloud route)."""
        self._on_update(Notice(text))

    def _post(self, event: InboxEvent) -> None:
        self._inbox.put_nowait(event)

    # -- the share ------------------------------------------------------------
    async def run(self) -> None:
        """Share until stopped. Raises a MontageError saying why it ended otherwise."""
        if isinstance(self.meeting, MeetingId):
            self._on_update(Progress(f"Connecting to the room at {self.meeting.address()}…"))
        else:
            self._on_update(Progress(f"Connecting to meeting {self.meeting.display()}…"))
        try:
            await self.source.start()
        except MontageError:
            raise
        except Exception as exc:
            raise CaptureFailed(f"Cannot capture the screen: {exc}") from exc
        if self.media is not None:
            self.media.subscribe(self._on_media_change)
        try:
            self._start_attempt()
            while True:
                event = await self._inbox.get()
                await self._handlers[type(event)](event)
        except _Stopped:
            return
        finally:
            await self._finish()

    async def _finish(self) -> None:
        if self.media is not None:
            self.media.unsubscribe(self._on_media_change)
        for timer in (self._retry, self._reply_timer):
            if timer is not None:
                timer.cancel()
        for task in (self._pin_task, self._quality_task, *self._background):
            if task is not None:
                task.cancel()
        await self._close_channel()
        if self._share_media is not None:
            media, self._share_media = self._share_media, None
            await media.close()
        await asyncio.to_thread(self.source.stop)

    def _on_media_change(self, change: MediaChange) -> None:
        self._post(DevicesChanged(change))

    # -- opening a conversation ----------------------------------------------
    def _start_attempt(self) -> None:
        self._attempt += 1
        attempt = self._attempt
        task = asyncio.ensure_future(self._open(attempt))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _open(self, attempt: int) -> None:
        try:
            channel = await self._connect()
        except (MontageError, OSError, TimeoutError) as exc:
            self._post(ChannelFailed(attempt, exc))
        else:
            self._post(ChannelOpened(attempt, channel))

    async def _connect(self) -> SignalChannel:
        if self._open_channel is not None:
            return await self._open_channel()
        assert isinstance(self.meeting, MeetingId)
        if self.reconnection.lost_now:
            return await connect_websocket(
                str(self.meeting.address()), self.port, connect_timeout=RECONNECT_TIMEOUT
            )
        return await connect_websocket(str(self.meeting.address()), self.port)

    async def _on_channel_opened(self, event: ChannelOpened) -> None:
        if event.attempt != self._attempt or self._channel is not None:
            await event.channel.close()  # an attempt given up on meanwhile
            return
        channel = self._channel = event.channel
        self._reader = asyncio.ensure_future(self._read(channel))
        rejoin = self._shared
        session = self.session = ClientSession(
            self.name,
            channel.receiver_fingerprint,
            hold=round(self.reconnection.window),
            rejoin=rejoin,
            ticket=self._ticket,
            pin=self._proven_pin,
        )
        session.start()
        await self._flush()
        self._arm_reply_timer()
        if not rejoin:
            # The offer is made while the receiver answers hello and the person
            # types the PIN: it depends on neither.
            self._share_media = self._new_media()
            session.set_offer(await self._share_media.offer())
            await self._flush()
        # Rejoining, the offer waits for `welcome`: whether the receiver still
        # holds the share decides between the media session we have and a new one.

    async def _on_channel_failed(self, event: ChannelFailed) -> None:
        if event.attempt != self._attempt:
            return
        await self._lose(event.error)

    def _new_media(self) -> ShareMedia:
        return ShareMedia(
            self.source,
            self.ice,
            lambda media, state: self._post(MediaStateChanged(media, state)),
            self.media,
        )

    async def _read(self, channel: SignalChannel) -> None:
        while (text := await channel.receive()) is not None:
            self._post(MessageArrived(channel, text))
        self._post(ChannelClosed(channel))

    async def _flush(self) -> None:
        if self.session is None or self._channel is None:
            return
        for message in self.session.messages_to_send():
            await self._channel.send(m.serialize(message))

    def _arm_reply_timer(self) -> None:
        """Time the receiver's silence (not the person's typing) from now."""
        if self._reply_timer is not None:
            self._reply_timer.cancel()
            self._reply_timer = None
        channel, session = self._channel, self.session
        if channel is not None and session is not None and session.state in _AWAITING_RECEIVER:
            loop = asyncio.get_running_loop()
            self._reply_timer = loop.call_later(REPLY_TIMEOUT, self._post, ReplyOverdue(channel))

    # -- the conversation ----------------------------------------------------
    async def _on_message(self, event: MessageArrived) -> None:
        if event.channel is not self._channel or self.session is None:
            return
        state = self.session.state
        await self._handle_session(self.session.receive(event.text))
        await self._flush()
        if self.session is not None and self.session.state is not state:
            self._arm_reply_timer()

    async def _handle_session(self, events: list[ClientEvent]) -> None:
        for session_event in events:
            await self._session_handlers[type(session_event)](session_event)

    async def _on_welcomed(self, event: Welcomed) -> None:
        self.room = event.room
        if not self._shared:
            if not event.pin_required:
                self._on_update(Progress("Starting the share…"))
            return
        assert self.session is not None
        media = self._share_media
        self._reusing = event.resume and media is not None and media.working
        if self._reusing:
            assert media is not None
            self.session.set_offer(media.offered)  # the receiver keeps its side too
            return
        # The receiver restarted, or the media session failed: a new one.
        if media is not None:
            self._share_media = None
            await media.close()
        self._share_media = self._new_media()
        self.session.set_offer(await self._share_media.offer())

    async def _on_pin_needed(self, event: PinNeeded) -> None:
        if self._pin_task is not None:
            self._pin_task.cancel()
        self._pin_task = asyncio.ensure_future(self._ask_pin(event))

    async def _on_answer(self, event: AnswerReceived) -> None:
        session, media = self.session, self._share_media
        assert session is not None and media is not None
        if self._reusing and not media.answers(event.sdp):
            # The receiver could not keep its side after all: start clean, now.
            logger.info("the receiver answered with a new media session; making one too")
            self._reusing = False
            await self._share_media_closed()
            await self._lose(ConnectionLost("The receiver started a new media session."))
            return
        if not self._reusing:
            await media.accept(event.sdp)
        self._ticket = session.ticket
        self._proven_pin = session.proven_pin
        self._shared = True
        self._send_share_state()
        if media.connected:
            self._now_sharing()

    async def _share_media_closed(self) -> None:
        media, self._share_media = self._share_media, None
        if media is not None:
            await media.close()

    async def _on_mute(self, event: MuteRequested) -> None:
        if self.media is not None and self.media.microphone is not None:
            # The change comes back through on_media and tells the receiver
            # the microphone is off.
            self.media.turn_off(DeviceKind.MICROPHONE)
            self._on_update(Notice(ROOM_MUTED))

    async def _on_view(self, event: ViewRequested) -> None:
        # The room shows this share in a box this size: send no larger.
        self.source.show_in(event.width, event.height)

    async def _on_session_ended(self, event: SessionEnded) -> None:
        if event.error is None:
            raise _Stopped
        await self._lose(event.error)

    async def _on_channel_closed(self, event: ChannelClosed) -> None:
        if event.channel is not self._channel or self.session is None:
            return
        await self._handle_session(self.session.connection_lost())

    async def _on_reply_overdue(self, event: ReplyOverdue) -> None:
        if event.channel is not self._channel or self.session is None:
            return
        if self.session.state not in _AWAITING_RECEIVER:
            return
        where = event.channel.where
        if self._shared:
            await self._lose(ConnectionLost(f"{_capital(where)} stopped answering."))
        else:
            await self._lose(ShareEnded(f"{_capital(where)} stopped answering."))

    # -- media ------------------------------------------------------------------
    async def _on_media_state(self, event: MediaStateChanged) -> None:
        if event.media is not self._share_media:
            return  # an old session closing
        if event.state == "connected":
            if self.session is not None and self.session.state is ClientState.SHARING:
                self._now_sharing()
        elif event.state == "failed":
            failure = event.media.failure(shared=self._shared)
            await self._share_media_closed()
            if self._shared:
                # Lost, not refused: the share goes on with a new media session.
                await self._lose(ConnectionLost(str(failure)))
            else:
                await self._lose(failure)

    def _now_sharing(self) -> None:
        """Media flows on a conversation that has been answered: tell the person."""
        media, channel = self._share_media, self._channel
        assert media is not None and channel is not None
        resumed = self.reconnection.lost_now
        if self.path is not None and not resumed:
            return
        if resumed:
            self.reconnection.resumed()
        # Only now is the path known: ICE has selected its pair.
        self.path = media.path(channel)
        width, height = self.source.size
        self._on_update(Sharing(self.room or "", self.path, width, height))
        if self._quality_task is None:
            self._quality_task = asyncio.ensure_future(self._watch_quality())

    async def _watch_quality(self) -> None:
        while True:
            await asyncio.sleep(QUALITY_POLL)
            media = self._share_media
            if media is None or self.reconnection.lost_now:
                continue
            try:
                mark, loss, rtt = await media.quality()
            except Exception as exc:  # a closing peer connection: next time
                logger.debug("no link figures: %s", exc)
                continue
            self._on_update(LinkQuality(mark, loss, rtt))

    # -- losing and getting back ---------------------------------------------
    async def _lose(self, error: BaseException) -> None:
        """This conversation is over because of `error`: try again, or end with it."""
        await self._close_channel()
        if not (self._shared and self.reconnection.enabled and transient(error)):
            if isinstance(error, MontageError):
                raise error
            raise ShareEnded(f"Lost the connection to the receiver ({error}).") from error
        loop = asyncio.get_running_loop()
        first = not self.reconnection.lost_now
        self.reconnection.lost(loop.time())
        if first:
            logger.info("share lost (%s); reconnecting", error)
            self._on_update(Reconnecting(str(error)))
        else:
            logger.info("reconnection attempt failed: %s", error)
        when = self.reconnection.next_try(loop.time())
        if when is None:
            raise self.reconnection.give_up(self._where()) from error
        self._retry_token += 1
        self._retry = loop.call_at(when, self._post, RetryDue(self._retry_token))

    async def _on_retry_due(self, event: RetryDue) -> None:
        if event.token == self._retry_token and self._channel is None:
            self._start_attempt()

    async def _close_channel(self) -> None:
        if self._reply_timer is not None:
            self._reply_timer.cancel()
            self._reply_timer = None
        if self._pin_task is not None:
            self._pin_task.cancel()
            self._pin_task = None
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        self.session = None
        channel, self._channel = self._channel, None
        if channel is not None:
            try:
                await channel.close()
            except Exception as exc:  # the connection is gone anyway
                logger.debug("closing the channel: %s", exc)

    def _where(self) -> str:
        if isinstance(self.meeting, MeetingId):
            return f"the receiver at {self.address}"
        return f"the receiver of meeting {self.meeting.display()}"

    # -- from the person and the devices --------------------------------------
    async def _on_stop(self, event: StopRequested) -> None:
        if self.session is not None:
            self.session.leave("stopped")
            await self._flush()
        raise _Stopped

    async def _on_end(self, event: EndRequested) -> None:
        if self.session is not None:
            # Tell the receiver, as a Stop would; the reason is ours.
            self.session.leave("stopped")
            await self._flush()
        raise event.error

    async def _on_pin(self, event: PinTyped) -> None:
        if self.session is None:
            return
        try:
            self.session.submit_pin(event.pin)
        except InvalidInput as exc:
            self._pin_task = asyncio.ensure_future(self._ask_pin(PinNeeded(message=str(exc))))
            return
        except RuntimeError:
            return  # not asked for (any more)
        self._on_update(Progress("Checking PIN…"))
        await self._flush()
        self._arm_reply_timer()

    async def _on_pin_unavailable(self, event: PinUnavailable) -> None:
        raise event.error

    async def _on_paused(self, event: Paused) -> None:
        self.source.pause(event.paused)
        await self._send_share_state_now()

    async def _on_resized(self, event: Resized) -> None:
        await self._send_share_state_now()

    async def _on_capture_stopped(self, event: CaptureStopped) -> None:
        raise CaptureFailed(f"Screen capture stopped: {event.error}")

    async def _on_devices(self, event: DevicesChanged) -> None:
        if self._share_media is not None:
            self._share_media.attach(self.media)
        await self._send_share_state_now()
        if event.change.problem is not None:
            self._on_update(Notice(str(event.change.problem)))

    async def _send_share_state_now(self) -> None:
        self._send_share_state()
        await self._flush()

    def _send_share_state(self) -> None:
        if self.session is None:
            return
        media = self._share_media
        width, height = self.source.size
        self.session.set_share_state(
            "paused" if self.source.paused else "sharing",
            width,
            height,
            camera=media is not None and media.camera_track.source is not None,
            microphone=media is not None and media.audio_track.source is not None,
        )

    async def _ask_pin(self, event: PinNeeded) -> None:
        try:
            pin = await self._pin_provider(PinWanted(event.tries_left, event.message))
        except MontageError as exc:
            self._post(PinUnavailable(exc))
        else:
            self._post(PinTyped(pin))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
