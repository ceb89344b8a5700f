"""One person presenting: their media, newest frame and figures."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc.mediastreams import MediaStreamError

logger = logging.getLogger(__name__)


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
    # Called with each decoded frame on arrival (the benchmark's probe reads
    # the timestamp strip here); must be quick, it runs on the event loop.
    on_frame: Callable[[Any], None] | None = None

    def snapshot(self, now: float) -> dict[str, Any]:
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
        }

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
                if self.on_frame is not None:
                    self.on_frame(frame)
        except MediaStreamError:
            pass
        except asyncio.CancelledError:
            raise
