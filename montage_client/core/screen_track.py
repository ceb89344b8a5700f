"""The aiortc video track that sends the screen source's newest frame."""

from __future__ import annotations

import fractions
import time

from aiortc import MediaStreamTrack
from av import VideoFrame

from montage_core.thirdparty.aiortc_codecs import install_encoders

from .screen_source import ScreenSource

VIDEO_CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)


class ScreenTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, source: ScreenSource) -> None:
        super().__init__()
        install_encoders()
        self.source = source
        self._seq = 0
        self._start = time.monotonic()

    async def recv(self) -> VideoFrame:
        # Waits for a frame newer than the last one sent: a late encoder skips
        # straight to the newest capture instead of working through a backlog.
        self._seq, frame = await self.source.next_frame(self._seq)
        # The slot's frame may be handed out again (after a pause); the pts is
        # set on the track's own reference and reflects when it was sent.
        frame.pts = int((time.monotonic() - self._start) * VIDEO_CLOCK)
        frame.time_base = TIME_BASE
        return frame
