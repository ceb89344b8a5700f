"""The aiortc tracks for camera and microphone, whose source can change mid-share.

The camera and audio transceivers are negotiated with the screen's, up front,
and each keeps one of these tracks for the whole share. Switching a device on,
off or to another one only changes the track's source, so nothing is
renegotiated and the screen stream never notices.

Why not `RTCRtpSender.replaceTrack(None)`: in aiortc 1.16 a track whose
`recv` raises (a device unplugged, a track stopped while the sender waits on
it) ends the sender's RTP loop for good, and the device could never be
switched back on. These tracks never end on their own: with no source they
simply wait, and nothing is sent.
"""

from __future__ import annotations

import asyncio
import fractions
import time

import av
from aiortc import MediaStreamTrack

from .device_source import DeviceSource
from .devices import AUDIO_RATE

VIDEO_CLOCK = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)


class DeviceTrack(MediaStreamTrack):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.source: DeviceSource | None = None
        self._changed: asyncio.Future[None] | None = None
        self._seq = 0
        self._start = time.monotonic()
        # Audio timestamps run on without gaps across switches: aiortc's Opus
        # encoder buffers by timestamp and must never see one go backwards.
        self._samples = 0
        self.sent = 0

    def attach(self, source: DeviceSource | None) -> None:
        """Send from `source` from now on (None: send nothing)."""
        if source is self.source:
            return
        self.source = source
        self._seq = 0
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)

    async def recv(self) -> av.VideoFrame | av.AudioFrame:
        while True:
            source = self.source
            if source is None or source.closed:
                # Off (or the device just failed and the owner has not
                # detached it yet): wait for a new source.
                self._changed = asyncio.get_running_loop().create_future()
                await self._changed
                continue
            if self.kind == "video":
                got = await source.next_video(self._seq)
                if got is None or self.source is not source:
                    continue
                self._seq, frame = got
                frame.pts = int((time.monotonic() - self._start) * VIDEO_CLOCK)
                frame.time_base = VIDEO_TIME_BASE
                self.sent += 1
                return frame
            audio = await source.next_audio()
            if audio is None or self.source is not source:
                continue
            audio.pts = self._samples
            audio.time_base = AUDIO_TIME_BASE
            self._samples += audio.samples
            self.sent += 1
            return audio
