"""One person presenting: their media, newest frame and figures."""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc.mediastreams import MediaStreamError

from montage_core.rtc.link_quality import FreezeCounter, LinkMeter
from montage_core.thirdparty.aiortc_ice import ice_round_trip
from montage_core.thirdparty.aiortc_jitter import MarkerJitterBuffer, jitter_buffer_of
from montage_core.thirdparty.aiortc_repair import repeat_nacks
from montage_core.thirdparty.aiortc_stats import media_counts

logger = logging.getLogger(__name__)

# How often the link's figures (loss, round trip, bitrate) are read.
LINK_POLL = 1.0
VIDEO_CLOCK = 90_000

# The audio level is the RMS over this many 20 ms frames (half a second).
LEVEL_FRAMES = 25
AudioListener = Callable[["Presenter", Any], None]


def frame_mean_square(frame: Any) -> float:
    """Mean square of one s16 audio frame, full scale = 1.0."""
    samples = frame.to_ndarray().astype(np.float32) / 32768.0
    return float(np.mean(samples * samples)) if samples.size else 0.0


@dataclass
class FrameRate:
    """Frames per second over the last `window` seconds."""

    window: float = 2.0
    _times: collections.deque[float] = field(default_factory=collections.deque)

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float) -> float:
        self._trim(now)
        return len(self._times) / self.window

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()


@dataclass(eq=False)
class Presenter:
    id: int
    name: str
    source: str
    # Shares from the browser page through the cloud, with no device of its own.
    guest: bool = False
    share_state: str = "sharing"
    frames: int = 0
    width: int = 0
    height: int = 0
    # The newest decoded frame (av.VideoFrame) and a counter that changes with
    # it: painters convert only the newest and skip everything in between.
    latest: Any = None
    seq: int = 0
    joined_at: float = field(default_factory=time.monotonic)
    first_frame_at: float | None = None
    fps: FrameRate = field(default_factory=FrameRate)
    # Frames that reached the glass, counted by whoever paints them (the
    # window). None while nothing paints (headless): the stats then say
    # "not known" rather than 0.
    painted_fps: FrameRate | None = None
    frames_painted: int = 0
    # Called with each decoded frame on arrival (the benchmark's probe reads
    # the timestamp strip here); must be quick, it runs on the event loop.
    on_frame: Callable[[Any], None] | None = None
    # Camera: as the screen, newest frame only. `camera_on` is what the
    # presenter says; frames still in flight after "off" are not shown.
    camera_on: bool = False
    camera_frames: int = 0
    camera_width: int = 0
    camera_height: int = 0
    camera_latest: Any = None
    camera_seq: int = 0
    # Microphone: counted, measured and handed to whoever plays it.
    microphone_on: bool = False
    muted_by_room: bool = False
    audio_frames: int = 0
    audio_levels: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=LEVEL_FRAMES)
    )
    audio_listeners: list[AudioListener] = field(default_factory=list)
    # The link (docs/protocol.md §11): the connection is gone and the
    # presenter may come back (`reconnecting`), how often they did.
    reconnecting: bool = False
    reconnects: int = 0
    keyframes: int = 0
    link: LinkMeter = field(default_factory=LinkMeter)
    freeze: FreezeCounter = field(default_factory=FreezeCounter)
    _receiver: Any = None
    _jitter: MarkerJitterBuffer | None = None
    _losses_seen: int = 0

    @property
    def label(self) -> str:
        """The name the room shows: guests are marked as such."""
        return f"{self.name} (guest)" if self.guest else self.name

    @property
    def audio_rms(self) -> float:
        levels = self.audio_levels
        return math.sqrt(sum(levels) / len(levels)) if levels else 0.0

    def set_media_state(self, camera: bool, microphone: bool) -> None:
        self.camera_on = camera
        if not camera:
            self.camera_latest = None
        if microphone and not self.microphone_on:
            # The presenter turned the microphone on themselves: they want to
            # be heard, whatever the room muted before.
            self.muted_by_room = False
        self.microphone_on = microphone
        if not microphone:
            self.audio_levels.clear()

    def count_painted(self, now: float) -> None:
        """A new frame of this presenter's screen was painted (called by the window)."""
        if self.painted_fps is None:
            self.painted_fps = FrameRate()
        self.painted_fps.tick(now)
        self.frames_painted += 1

    def snapshot(self, now: float) -> dict[str, Any]:
        painted = self.painted_fps
        return {
            "id": self.id,
            "name": self.name,
            "frames": self.frames,
            "fps": round(self.fps.rate(now), 1),
            "width": self.width,
            "height": self.height,
            "state": self.share_state,
            "first_frame_ms": None
            if self.first_frame_at is None
            else round((self.first_frame_at - self.joined_at) * 1000),
            "camera": self.camera_on,
            "camera_frames": self.camera_frames,
            "camera_width": self.camera_width,
            "camera_height": self.camera_height,
            "microphone": self.microphone_on,
            "muted_by_room": self.muted_by_room,
            "audio_frames": self.audio_frames,
            "audio_rms": round(self.audio_rms, 4),
            "painted_fps": None if painted is None else round(painted.rate(now), 1),
            "frames_painted": None if painted is None else self.frames_painted,
            "guest": self.guest,
            **self.link_snapshot(),
        }

    def link_snapshot(self) -> dict[str, Any]:
        loss, rtt, bitrate = self.link.loss_pct, self.link.rtt_ms, self.link.bitrate_kbps
        return {
            "loss_pct": None if loss is None else round(loss, 1),
            "rtt_ms": None if rtt is None else round(rtt),
            "bitrate_kbps": None if bitrate is None else round(bitrate),
            "keyframes": self.keyframes,
            "freezes": self.freeze.freezes,
            "reconnects": self.reconnects,
            "reconnecting": self.reconnecting,
        }

    def attach_link(self, receiver: Any) -> None:
        """The screen's RTP receiver: its jitter buffer tells losses it could not repair.

        Read at the first frame: the buffer is swapped for ours only after the
        track is announced (`TunedPeerConnection.setRemoteDescription`).
        """
        self._receiver, self._jitter = receiver, None

    async def watch_link(self, pc: Any, receiver: Any) -> None:
        """Read the link's counters every `LINK_POLL` seconds while the share lasts,
        and meanwhile ask again for lost packets (`repeat_nacks`)."""
        repeating = asyncio.ensure_future(repeat_nacks(receiver, lambda: ice_round_trip(pc)))
        try:
            await self._poll_link(pc, receiver)
        finally:
            repeating.cancel()

    async def _poll_link(self, pc: Any, receiver: Any) -> None:
        while True:
            # The screen's own stream: its retransmissions come on another SSRC.
            received, lost = media_counts(receiver) or (0, 0)
            bytes_ = 0
            for stats in (await receiver.getStats()).values():
                if stats.type == "transport":  # everything this presenter sends
                    bytes_ = stats.bytesReceived
            self.link.add(time.monotonic(), received, lost, bytes_, ice_round_trip(pc))
            await asyncio.sleep(LINK_POLL)

    async def consume(self, track: Any) -> None:
        """Take decoded frames as fast as aiortc yields them; keep the newest.

        aiortc decodes every frame in its own thread (H264 needs them all as
        references); this loop only stores a reference, so it never falls
        behind and the queue in front of it stays empty.
        """
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if self.first_frame_at is None:
                    self.first_frame_at = now
                    logger.info(
                        "first frame from %s after %.0f ms",
                        self.name,
                        (now - self.joined_at) * 1000,
                    )
                self.latest = frame
                self.seq += 1
                self.frames += 1
                self.width, self.height = frame.width, frame.height
                self.fps.tick(now)
                self._count_link(now, frame)
                if self.on_frame is not None:
                    self.on_frame(frame)
        except MediaStreamError:
            pass
        except asyncio.CancelledError:
            raise

    def _count_link(self, now: float, frame: Any) -> None:
        self.keyframes += bool(frame.key_frame)
        lost = False
        if self._jitter is None and self._receiver is not None:
            self._jitter = jitter_buffer_of(self._receiver)
            self._losses_seen = self._jitter.counts.losses if self._jitter is not None else 0
        if self._jitter is not None:
            losses = self._jitter.counts.losses
            lost, self._losses_seen = losses != self._losses_seen, losses
        sent = None if frame.pts is None else frame.pts / VIDEO_CLOCK
        self.freeze.shown(now, sent, lost)

    async def consume_camera(self, track: Any) -> None:
        """The camera's decoded frames: keep the newest, count them."""
        try:
            while True:
                frame = await track.recv()
                self.camera_frames += 1
                self.camera_width, self.camera_height = frame.width, frame.height
                if self.camera_on:
                    self.camera_latest = frame
                    self.camera_seq += 1
        except MediaStreamError:
            pass

    async def consume_audio(self, track: Any) -> None:
        """The microphone's decoded 20 ms frames: count, measure, hand to the players."""
        try:
            while True:
                frame = await track.recv()
                self.audio_frames += 1
                if not self.microphone_on:
                    # In flight when the presenter switched off: not live sound.
                    continue
                self.audio_levels.append(frame_mean_square(frame))
                if self.muted_by_room:
                    continue
                for listener in list(self.audio_listeners):
                    try:
                        listener(self, frame)
                    except Exception:
                        logger.exception("audio listener failed for %s", self.name)
        except MediaStreamError:
            pass
