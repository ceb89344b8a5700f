"""The presenter's network side: signalling over a `SignalChannel`, media over aiortc.

An adapter around `ClientSession`. Everything that happens — frames from the
receiver, the person's Stop, a PIN typed, the media path failing — arrives in
one inbox and is handled in order on the event loop, so the protocol state
machine never sees two things at once. Progress goes out through `on_update`
as plain dataclasses; the GUI and the CLI each render them their own way.

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

from aiortc import RTCPeerConnection, RTCSessionDescription

from montage_core.protocol import messages as m
from montage_core.protocol.client_session import ClientSession, ClientState
from montage_core.protocol.errors import (
    InvalidInput,
    MontageError,
    ShareEnded,
)
from montage_core.protocol.events import (
    AnswerReceived,
    MuteRequested,
    PinNeeded,
    SessionEnded,
    ViewRequested,
    Welcomed,
)
from montage_core.protocol.meeting_id import CloudMeetingId, MeetingId
from montage_core.rtc.peer import (
    LOCAL_ONLY,
    IceSettings,
    make_peer_connection,
    prefer_audio_codecs,
    prefer_screen_codecs,
)
from montage_core.signal_channel import (
    PATH_CLOUD,
    PATH_LOCAL,
    PATH_RELAYED,
    PATH_RELAYED_PROXY,
    SignalChannel,
    connect_websocket,
)
from montage_core.thirdparty.aiortc_ice import TunedPeerConnection, uses_relay
from montage_core.thirdparty.aiortc_repair import on_keyframe_request

from .change_pacing import Quality
from .device_track import DeviceTrack
from .devices import DeviceKind
from .local_media import LocalMedia, MediaChange
from .screen_source import Grabber, ScreenSource
from .screen_track import ScreenTrack

logger = logging.getLogger(__name__)

__all__ = [
    "PATH_CLOUD",
    "PATH_LOCAL",
    "PATH_RELAYED",
    "PATH_RELAYED_PROXY",
    "ROOM_MUTED",
    "CaptureFailed",
    "ChannelOpener",
    "Notice",
    "PinProvider",
    "PinWanted",
    "Progress",
    "ShareClient",
    "Sharing",
    "Update",
]

# How long the receiver may take to answer a protocol step (not the person).
REPLY_TIMEOUT = 10.0
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


Update = Progress | Sharing | PinWanted | Notice
ROOM_MUTED = "The room turned your microphone off. Turn it on again to be heard."
PinProvider = Callable[[PinWanted], Awaitable[str]]
ChannelOpener = Callable[[], Awaitable[SignalChannel]]


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
    ) -> None:
        """`open_channel` and `ice` are for cloud meetings; a local one needs neither."""
        self.meeting = meeting
        self.name = name
        self.port = port
        self.source = ScreenSource(
            grabber,
            fps=fps,
            on_error=lambda exc: self._inbox.put_nowait(("capture_failed", exc)),
            quality=quality,
        )
        self._pin_provider = pin_provider
        self._on_update = on_update or (lambda update: None)
        self._inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.session: ClientSession | None = None
        self.room: str | None = None
        # Camera and microphone are optional; without a LocalMedia their
        # tracks are still negotiated and simply never send.
        self.media = media
        self.camera_track = DeviceTrack("video")
        self.audio_track = DeviceTrack("audio")
        self.ice = ice
        self._open_channel = open_channel
        if open_channel is None and not isinstance(meeting, MeetingId):
            raise ValueError("a cloud meeting needs its own channel opener")
        self.path: str | None = None  # once sharing: one of the PATH_ constants

    @property
    def address(self) -> str:
        """The receiver's LAN address for a local meeting (a cloud meeting has none fixed)."""
        if isinstance(self.meeting, MeetingId):
            return f"{self.meeting.address()}:{self.port}"
        return f"meeting {self.meeting.display()}"

    # -- calls from the person (any time, from the loop thread) -------------
    def request_stop(self) -> None:
        self._inbox.put_nowait(("stop", None))

    def pause(self, paused: bool) -> None:
        self._inbox.put_nowait(("pause", paused))

    def set_quality(self, quality: Quality) -> None:
        self.source.set_quality(quality)

    def select_monitor(self, index: int) -> None:
        self.source.select_monitor(index)
        self._inbox.put_nowait(("resized", None))

    def end_with(self, error: MontageError) -> None:
        """End the share now because of `error` (e.g. the cloud revoked this device)."""
        self._inbox.put_nowait(("fail", error))

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
        try:
            channel = await self._connect()
            try:
                await self._converse(channel)
            finally:
                await channel.close()
        finally:
            await asyncio.to_thread(self.source.stop)

    async def _connect(self) -> SignalChannel:
        if self._open_channel is not None:
            return await self._open_channel()
        assert isinstance(self.meeting, MeetingId)
        return await connect_websocket(str(self.meeting.address()), self.port)

    async def _converse(self, channel: SignalChannel) -> None:
        session = self.session = ClientSession(self.name, channel.receiver_fingerprint)
        loop = asyncio.get_running_loop()
        pc = make_peer_connection(self.ice)
        reader = asyncio.ensure_future(self._read(channel))
        pin_task: asyncio.Task[None] | None = None

        def on_media(change: MediaChange) -> None:
            self._inbox.put_nowait(("media", change))

        if self.media is not None:
            self.media.subscribe(on_media)
            self._attach_media()
        try:
            # The order of the m-lines is part of the protocol: screen video,
            # camera video, then audio. All three are negotiated now, so turning
            # the camera or microphone on later changes no SDP.
            transceiver = pc.addTransceiver(ScreenTrack(self.source), direction="sendonly")
            prefer_screen_codecs(transceiver)
            on_keyframe_request(transceiver.sender, self.source.send_again)
            camera = pc.addTransceiver(self.camera_track, direction="sendonly")
            prefer_screen_codecs(camera)  # a camera is video like any other: same codec order
            audio = pc.addTransceiver(self.audio_track, direction="sendonly")
            prefer_audio_codecs(audio)

            @pc.on("connectionstatechange")
            def on_state() -> None:
                if pc.connectionState == "failed":
                    self._inbox.put_nowait(("media_failed", None))
                elif pc.connectionState == "connected":
                    self._inbox.put_nowait(("connected", None))

            session.start()
            await self._flush(channel)
            # The offer is made while the receiver answers hello and the person
            # types the PIN: it does not depend on either.
            await pc.setLocalDescription(await pc.createOffer())
            if not _offers_candidates(pc):
                # Nothing to offer (behind a proxy: no relay through it). ICE would
                # wait for ever on an empty check list; say why now.
                raise self._media_failure(pc)
            session.set_offer(pc.localDescription.sdp)
            await self._flush(channel)
            deadline: float | None = None
            while True:
                # Only the receiver's silence is timed (not the person's typing),
                # and other events meanwhile do not restart the clock.
                if session.state in _AWAITING_RECEIVER:
                    deadline = deadline or loop.time() + REPLY_TIMEOUT
                else:
                    deadline = None
                try:
                    kind, value = await asyncio.wait_for(
                        self._inbox.get(), None if deadline is None else deadline - loop.time()
                    )
                except TimeoutError as exc:
                    raise ShareEnded(f"{_capital(channel.where)} stopped answering.") from exc
                if kind == "stop":
                    session.leave("stopped")
                    await self._flush(channel)
                    return
                if kind == "pin":
                    try:
                        session.submit_pin(value)
                    except InvalidInput as exc:
                        pin_task = asyncio.ensure_future(self._ask_pin(PinNeeded(message=str(exc))))
                        continue
                    self._on_update(Progress("Checking PIN…"))
                elif kind in ("pin_error", "fail"):
                    if kind == "fail":
                        # Tell the receiver, as a Stop would; the reason is ours.
                        session.leave("stopped")
                        await self._flush(channel)
                    raise value
                elif kind == "pause":
                    self.source.pause(value)
                    self._send_share_state(session)
                elif kind == "resized":
                    self._send_share_state(session)
                elif kind == "capture_failed":
                    raise CaptureFailed(f"Screen capture stopped: {value}")
                elif kind == "media_failed":
                    raise self._media_failure(pc)
                elif kind == "connected":
                    if self.path is None and session.state is ClientState.SHARING:
                        # Only now is the path known: ICE has selected its pair.
                        self.path = self._media_path(pc, channel)
                        width, height = self.source.size
                        self._on_update(Sharing(self.room or "", self.path, width, height))
                elif kind == "media":
                    self._attach_media()
                    self._send_share_state(session)
                    if value.problem is not None:
                        self._on_update(Notice(str(value.problem)))
                elif kind == "frame":
                    for event in session.receive(value):
                        if isinstance(event, Welcomed):
                            self.room = event.room
                            if not event.pin_required:
                                self._on_update(Progress("Starting the share…"))
                        elif isinstance(event, PinNeeded):
                            pin_task = asyncio.ensure_future(self._ask_pin(event))
                        elif isinstance(event, AnswerReceived):
                            await pc.setRemoteDescription(
                                RTCSessionDescription(event.sdp, "answer")
                            )
                            self._send_share_state(session)
                            if pc.connectionState == "connected":
                                self._inbox.put_nowait(("connected", None))
                        elif isinstance(event, MuteRequested):
                            if self.media is not None and self.media.microphone is not None:
                                # The change comes back through on_media and
                                # tells the receiver the microphone is off.
                                self.media.turn_off(DeviceKind.MICROPHONE)
                                self._on_update(Notice(ROOM_MUTED))
                        elif isinstance(event, ViewRequested):
                            self.source.show_in(event.width, event.height)
                        elif isinstance(event, SessionEnded):
                            if event.error is not None:
                                raise event.error
                            return
                elif kind == "closed":
                    for event in session.connection_lost():
                        if isinstance(event, SessionEnded) and event.error is not None:
                            raise event.error
                    return
                await self._flush(channel)
        finally:
            reader.cancel()
            if pin_task is not None:
                pin_task.cancel()
            if self.media is not None:
                self.media.unsubscribe(on_media)
            self.camera_track.attach(None)
            self.audio_track.attach(None)
            await pc.close()

    def _media_path(self, pc: TunedPeerConnection, channel: SignalChannel) -> str:
        if not uses_relay(pc):
            return channel.path
        return PATH_RELAYED_PROXY if self.ice.proxy is not None else PATH_RELAYED

    def _media_failure(self, pc: TunedPeerConnection) -> ShareEnded:
        if self.path is not None:
            return ShareEnded("Lost the media connection to the receiver.")
        # Never connected. aioice hides why it found no relay; the proxy route kept it.
        problems = pc.turn_route.problems if pc.turn_route is not None else []
        if problems:
            return ShareEnded(
                f"No media path to the receiver: the cloud's relay could not be reached "
                f"through the proxy. {problems[-1]}"
            )
        if not _offers_candidates(pc):
            return ShareEnded(
                "No media path to the receiver could be found: this computer has no network "
                "address to send media from."
            )
        return ShareEnded("No media path to the receiver could be found.")

    def _attach_media(self) -> None:
        media = self.media
        self.camera_track.attach(media.camera if media is not None else None)
        self.audio_track.attach(media.microphone if media is not None else None)

    def _send_share_state(self, session: ClientSession) -> None:
        width, height = self.source.size
        session.set_share_state(
            "paused" if self.source.paused else "sharing",
            width,
            height,
            camera=self.camera_track.source is not None,
            microphone=self.audio_track.source is not None,
        )

    async def _ask_pin(self, event: PinNeeded) -> None:
        try:
            pin = await self._pin_provider(PinWanted(event.tries_left, event.message))
        except MontageError as exc:
            self._inbox.put_nowait(("pin_error", exc))
        else:
            self._inbox.put_nowait(("pin", pin))

    async def _read(self, channel: SignalChannel) -> None:
        while (text := await channel.receive()) is not None:
            self._inbox.put_nowait(("frame", text))
        self._inbox.put_nowait(("closed", None))

    async def _flush(self, channel: SignalChannel) -> None:
        assert self.session is not None
        for message in self.session.messages_to_send():
            await channel.send(m.serialize(message))


def _offers_candidates(pc: RTCPeerConnection) -> bool:
    """Whether gathering found anything to offer (host, server-reflexive or relay)."""
    description = pc.localDescription
    return description is not None and "a=candidate:" in description.sdp


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
