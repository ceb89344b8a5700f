"""A stand-in for a physical screen: frames with the timestamp strip painted in.

Everything after the grabber (conversion, encoding, the network, decoding) is
the real code; only the pixels are made up, as a camera would be faked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.stamp import now_ms, paint_strip
from montage_core.protocol.errors import InvalidInput


class StampGrabber:
    """BGRA frames with a live timestamp strip; several 'monitors' of given sizes."""

    def __init__(
        self,
        sizes: tuple[tuple[int, int], ...] = ((640, 360),),
        monitor: int = 1,
        busy: bool = False,
    ):
        self.sizes = sizes
        self.monitor = monitor
        self.busy = busy  # a large area changes on every grab (video, scrolling)
        self.grabs = 0

    def open(self) -> None:
        self.select(self.monitor)

    def select(self, index: int) -> None:
        if not 1 <= index <= len(self.sizes):
            raise InvalidInput(f"There is no screen {index}; this computer has {len(self.sizes)}.")
        self.monitor = index

    def size(self) -> tuple[int, int]:
        return self.sizes[self.monitor - 1]

    def grab(
        self, region: tuple[int, int, int, int] | None = None
    ) -> np.ndarray[Any, np.dtype[np.uint8]]:
        width, height = self.size()
        frame = np.full((height, width, 4), 90, dtype=np.uint8)
        # Some motion across the middle, so every probe and check sees change.
        x = (self.grabs * 8) % max(1, width - 64)
        frame[height // 2 : height // 2 + 64, :, :3] = (40, 40, 200)
        frame[height // 2 : height // 2 + 64, x : x + 64, :3] = (200, 200, 40)
        if self.busy:
            frame[height // 4 : height * 3 // 4, :, 1] = (self.grabs * 7) % 256
        paint_strip(frame, now_ms())
        self.grabs += 1
        if region is None:
            return frame
        left, top, w, h = region
        return np.ascontiguousarray(frame[top : top + h, left : left + w])

    def close(self) -> None:
        pass
