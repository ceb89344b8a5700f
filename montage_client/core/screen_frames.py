"""Turns screen grabs into outgoing frames, doing only the work a change needs.

Runs in the capture thread, one `tick` per capture period:

1. Probe: a thin column through the middle of the screen (8 px wide, full
   height) is grabbed and compared with the last probe. That costs ~0.03 ms,
   so a large change (a new slide, scrolling, video — they cross the middle)
   is seen on the very tick it happens; anything else is found by the next
   full check (every 0.2 s when idle).
2. Check: a full grab compared with the previous one (~1.3 ms for 1080p)
   tells exactly which rows changed and how much of the screen. It runs when
   the probe saw something, and otherwise only as often as the pacer asks
   (every tick while things move; a few times a second when idle).
3. Build: when the pacer says send, only the rows that changed since the
   last frame are converted BGRA → YUV, into a kept YUV picture, and a frame
   is made from that. Screens above 1080p are scaled, so they are converted
   whole.

Why probing instead of the window system's damage reports: applications
(and our own workload) often repaint whole windows whose pixels did not
change, so damage alone cannot tell a still screen from a moving one.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np
from av import VideoFrame

from .change_pacing import ChangePacer

logger = logging.getLogger(__name__)

MAX_WIDTH, MAX_HEIGHT = 1920, 1080
PROBE_WIDTH = 8
# Rows converted beyond a changed band so its chroma edges are exact (even).
BAND_MARGIN = 4
# A full comparison younger than this is fresh enough to send from.
CHECK_FRESH = 0.02

Bgra = np.ndarray[Any, np.dtype[np.uint8]]
Region = tuple[int, int, int, int]  # left, top, width, height (monitor coordinates)


class Grabber(Protocol):
    """Something that yields BGRA pictures; used only from the capture thread."""

    def open(self) -> None: ...

    def size(self) -> tuple[int, int]: ...

    def grab(self, region: Region | None = None) -> Bgra: ...

    def select(self, index: int) -> None: ...

    def close(self) -> None: ...


def fit_size(width: int, height: int, view: tuple[int, int] | None = None) -> tuple[int, int]:
    """Largest even size within 1920×1080 (and within `view`) keeping the aspect ratio."""
    box_w, box_h = MAX_WIDTH, MAX_HEIGHT
    if view is not None:
        box_w, box_h = min(box_w, view[0]), min(box_h, view[1])
    scale = min(1.0, box_w / width, box_h / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


class ScreenFrames:
    def __init__(self, grabber: Grabber, pacer: ChangePacer) -> None:
        self.grabber = grabber
        self.pacer = pacer
        self.checks = 0  # full grabs compared (for tests and diagnostics)
        # The box the receiver shows this screen in (None: not said, full size).
        self.view: tuple[int, int] | None = None
        self.reset()

    def reset(self) -> None:
        """Start afresh (another monitor, another size)."""
        self._canvas: Bgra | None = None
        self._probe: list[Bgra] = []
        self._yuv: np.ndarray[Any, np.dtype[np.uint8]] | None = None
        self._dirty: tuple[int, int] | None = None
        self._frame: VideoFrame | None = None
        self._next_check = 0.0
        self._checked_at = float("-inf")

    def set_view(self, view: tuple[int, int] | None, now: float) -> None:
        """Send no larger than `view` from now on; the next frame goes out promptly."""
        if view == self.view:
            return
        self.view = view
        # Another output size: the kept YUV picture no longer fits, and the
        # new size should reach the wall without waiting for the screen to change.
        self._yuv = None
        self._frame = None
        if self._canvas is not None:
            self._dirty = (0, self._canvas.shape[0])
            self.pacer.observe(1.0, now)

    def tick(self, now: float) -> tuple[VideoFrame, bool] | None:
        """The frame to send now and whether to send it whole (a keyframe), or None."""
        if self._canvas is None:
            self._canvas = self.grabber.grab()
            height = self._canvas.shape[0]
            self._dirty = (0, height)
            self.pacer.observe(1.0, now)
        elif now >= self._next_check or self._probe_changed():
            self._check(now)
        refresh = self.pacer.take_refresh(now)
        if not refresh and not self.pacer.should_send(now):
            return None
        if now - self._checked_at > CHECK_FRESH:
            # About to send (a keep-alive or a slow ambient frame): look
            # first, so what goes out is the screen as it is now.
            self._check(now)
        self.pacer.sent(now)
        if self._dirty is not None or self._frame is None:
            self._frame = self._build()
        return self._frame, refresh

    # -- internals ----------------------------------------------------------
    def _probe_changed(self) -> bool:
        assert self._canvas is not None
        height = self._canvas.shape[0]
        columns = [
            self.grabber.grab((x, 0, PROBE_WIDTH, height)) for x in self._probe_xs(self._canvas)
        ]
        changed = len(columns) != len(self._probe) or any(
            not np.array_equal(new, old) for new, old in zip(columns, self._probe, strict=True)
        )
        self._probe = columns
        return changed

    @staticmethod
    def _probe_xs(canvas: Bgra) -> list[int]:
        # One column: each grab costs mss's per-request overhead, which on a
        # still screen is most of what sharing it costs (docs/performance.md).
        width = canvas.shape[1]
        return [x for x in (width // 2,) if x + PROBE_WIDTH <= width]

    def _check(self, now: float) -> None:
        assert self._canvas is not None
        self.checks += 1
        self._checked_at = now
        grabbed = self.grabber.grab()
        if grabbed.shape != self._canvas.shape:  # the screen changed size
            self.reset()
            self._canvas = grabbed
            self._dirty = (0, grabbed.shape[0])
            self.pacer.observe(1.0, now)
            return
        height = grabbed.shape[0]
        # Compare as 64-bit words (two pixels each): half the work of bytes.
        new = grabbed.reshape(height, -1).view(np.uint64)
        old = self._canvas.reshape(height, -1).view(np.uint64)
        differs = np.not_equal(new, old)
        rows = np.flatnonzero(differs.any(axis=1))
        self._canvas = grabbed
        self._probe = [grabbed[:, x : x + PROBE_WIDTH].copy() for x in self._probe_xs(grabbed)]
        if rows.size:
            top, bottom = int(rows[0]), int(rows[-1]) + 1
            if self._dirty is not None:
                top, bottom = min(top, self._dirty[0]), max(bottom, self._dirty[1])
            self._dirty = (top, bottom)
            self.pacer.observe(np.count_nonzero(differs) / differs.size, now)
        else:
            self.pacer.observe(0.0, now)
        self._next_check = now + self.pacer.check_interval(now)

    def _build(self) -> VideoFrame:
        canvas = self._canvas
        assert canvas is not None
        height, width = canvas.shape[:2]
        out_w, out_h = fit_size(width, height, self.view)
        if (out_w, out_h) != (width, height):
            # Scaled: swscale converts and scales the whole picture in one pass.
            # Its area filter averages every source pixel, so thin text lines
            # survive a reduction instead of flickering in and out.
            frame = VideoFrame.from_numpy_buffer(canvas, format="bgra")
            self._dirty = None
            return frame.reformat(width=out_w, height=out_h, format="yuv420p", interpolation="AREA")
        top, bottom = self._dirty or (0, 0)
        top, bottom = top // 2 * 2, min(height, (bottom + 1) // 2 * 2)
        if self._yuv is None:
            top, bottom = 0, height
            self._yuv = np.empty((height * 3 // 2, width), np.uint8)
        if bottom > top:
            self._convert_rows(canvas, top, bottom)
        self._dirty = None
        return VideoFrame.from_ndarray(self._yuv, format="yuv420p")

    def _convert_rows(self, canvas: Bgra, top: int, bottom: int) -> None:
        """Convert rows [top, bottom) (even bounds) into the kept YUV picture."""
        assert self._yuv is not None
        height, width = canvas.shape[:2]
        # swscale's chroma filter reaches past a chroma row's own two picture
        # rows, both ways: rows just outside a change change too, and need
        # their own neighbours to come out as a whole-picture conversion
        # would make them. So widen the band, and convert a margin beyond it.
        top, bottom = max(0, top - BAND_MARGIN), min(height, bottom + BAND_MARGIN)
        start, stop = max(0, top - BAND_MARGIN), min(height, bottom + BAND_MARGIN)
        band = VideoFrame.from_numpy_buffer(canvas[start:stop], format="bgra")
        converted = band.reformat(format="yuv420p").to_ndarray().reshape(-1)
        rows = stop - start
        band_luma, band_chroma = width * rows, width * rows // 4
        skip = top - start
        out = self._yuv.reshape(-1)
        luma, chroma = width * height, width * height // 4
        out[top * width : bottom * width] = converted[skip * width : (skip + bottom - top) * width]
        # In I420 each chroma plane row covers two picture rows: rows
        # [top, bottom) are one contiguous run of each chroma plane.
        first, last = top * width // 4, bottom * width // 4
        inner = slice(skip * width // 4, (skip + bottom - top) * width // 4)
        u_plane = converted[band_luma : band_luma + band_chroma]
        v_plane = converted[band_luma + band_chroma :]
        out[luma + first : luma + last] = u_plane[inner]
        out[luma + chroma + first : luma + chroma + last] = v_plane[inner]
