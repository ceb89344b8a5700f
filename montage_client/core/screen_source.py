"""Screen capture in its own thread, handing over only the newest frame.

Threading rule (the one place it is written down): the capture thread owns
the grabber (mss instances are bound to the thread that made them) and does
the BGRA → YUV conversion, so the asyncio loop — which is also the GUI thread
under qasync — only ever takes a finished frame. The hand-over is a slot, not
a queue: a consumer that is late skips to the newest frame, so latency cannot
build up.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from av import VideoFrame

from montage_core.protocol.errors import InvalidInput

from .change_pacing import ChangePacer, Quality
from .screen_frames import Bgra, Grabber, Region, ScreenFrames
from .screen_permission import require_screen_capture

__all__ = ["Grabber", "Monitor", "ScreenGrabber", "ScreenSource", "list_monitors"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Monitor:
    index: int  # 1-based, as mss numbers them
    width: int
    height: int
    left: int
    top: int

    def label(self) -> str:
        return f"Screen {self.index} ({self.width}×{self.height})"


class ScreenGrabber:
    """mss on one monitor (1-based index; mss's 0 is all monitors together)."""

    def __init__(self, monitor: int = 1, display: str | None = None) -> None:
        self.monitor = monitor
        self.display = display
        self._mss: Any = None

    def open(self) -> None:
        import mss

        # macOS: without the person's consent mss would grab only the wallpaper.
        require_screen_capture()
        self._mss = mss.MSS(display=self.display) if self.display else mss.MSS()
        self.select(self.monitor)

    def select(self, index: int) -> None:
        count = len(self._mss.monitors) - 1
        if not 1 <= index <= count:
            raise InvalidInput(f"There is no screen {index}; this computer has {count}.")
        self.monitor = index

    def size(self) -> tuple[int, int]:
        monitor = self._mss.monitors[self.monitor]
        return monitor["width"], monitor["height"]

    def grab(self, region: Region | None = None) -> Bgra:
        monitor = self._mss.monitors[self.monitor]
        if region is not None:
            left, top, width, height = region
            monitor = {
                "left": monitor["left"] + left,
                "top": monitor["top"] + top,
                "width": width,
                "height": height,
            }
        shot = self._mss.grab(monitor)
        return np.frombuffer(shot.raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)

    def close(self) -> None:
        if self._mss is not None:
            mss_instance, self._mss = self._mss, None
            try:
                mss_instance.close()
            except Exception as exc:  # the display went first (logout, unplug)
                logger.debug("closing the screen grabber: %s", exc)


def list_monitors(display: str | None = None) -> list[Monitor]:
    import mss

    with mss.MSS(display=display) if display else mss.MSS() as sct:
        return [
            Monitor(i, m["width"], m["height"], m["left"], m["top"])
            for i, m in enumerate(sct.monitors)
            if i > 0
        ]


class ScreenSource:
    """Runs a grabber at `fps` in a thread; `next_frame` gives the newest."""

    def __init__(
        self,
        grabber: Grabber,
        fps: float = 30.0,
        on_error: Callable[[Exception], None] | None = None,
        quality: Quality = Quality.AUTO,
    ) -> None:
        self.grabber = grabber
        self.fps = fps
        self.on_error = on_error
        self.pacer = ChangePacer(quality, fps)
        self._pending_quality: Quality | None = None
        self.frames = ScreenFrames(grabber, self.pacer)
        self.frames_captured = 0
        self.error: Exception | None = None
        self._lock = threading.Lock()
        self._frame: VideoFrame | None = None
        self._seq = 0
        self._running = False
        self._paused = threading.Event()
        self._pending_monitor: int | None = None
        self._pending_view: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self._first_frame = threading.Event()
        self._published_at = float("-inf")

    async def start(self) -> None:
        """Start capturing; raises whatever opening the grabber raised."""
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="screen-capture", daemon=True)
        self._thread.start()
        # Wait for the first picture too: a screen that cannot be grabbed
        # should fail here, before anyone is asked for a PIN.
        await asyncio.to_thread(self._first_frame.wait, 10)
        if self.error is not None:
            raise self.error
        if not self._first_frame.is_set():
            raise TimeoutError("the screen gave no picture within 10 seconds")

    def stop(self) -> None:
        self._running = False
        self._paused.clear()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def pause(self, paused: bool) -> None:
        if paused:
            self._paused.set()
        else:
            self._paused.clear()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def set_quality(self, quality: Quality) -> None:
        """Sharp text, smooth motion, or automatic; takes effect at the next capture."""
        self._pending_quality = quality

    def select_monitor(self, index: int) -> None:
        """Switch monitors live; takes effect at the next capture."""
        self._pending_monitor = index

    def show_in(self, width: int, height: int) -> None:
        """The receiver shows this screen in a `width` × `height` box: send no larger.

        Takes effect at the next capture; a box as large as the screen (a
        lone presenter) gives the full size back.
        """
        self._pending_view = (width, height)

    def send_again(self) -> None:
        """Hand the newest picture out once more, now: the receiver asked for a keyframe.

        Called on the loop. A screen that is moving sends its next picture
        within a frame interval anyway; a still one would otherwise answer only
        at its next keep-alive, up to a second later. The picture is a copy
        (`ScreenFrames` makes each one anew), so handing it out twice is safe.
        """
        with self._lock:
            frame = self._frame
            recent = time.monotonic() - self._published_at < 1 / self.fps
        if frame is not None and not recent:
            self._publish(frame)

    @property
    def size(self) -> tuple[int, int]:
        frame = self._frame
        return (frame.width, frame.height) if frame is not None else (0, 0)

    async def next_frame(self, after: int) -> tuple[int, VideoFrame]:
        """The newest frame newer than sequence number `after`."""
        while True:
            with self._lock:
                if self._seq > after and self._frame is not None:
                    return self._seq, self._frame
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
            await waiter

    # -- capture thread -----------------------------------------------------
    def _run(self) -> None:
        try:
            self.grabber.open()
        except Exception as exc:
            self.error = exc
            self._first_frame.set()
            return
        deadline = time.monotonic()
        try:
            while self._running:
                if self._pending_monitor is not None:
                    index, self._pending_monitor = self._pending_monitor, None
                    try:
                        self.grabber.select(index)
                        self.frames.reset()
                    except InvalidInput as exc:
                        logger.warning("cannot switch monitor: %s", exc)
                if self._pending_view is not None:
                    view, self._pending_view = self._pending_view, None
                    self.frames.set_view(view, time.monotonic())
                if self._pending_quality is not None:
                    # Applied here so the pacer is only ever touched by this thread.
                    quality, self._pending_quality = self._pending_quality, None
                    self.pacer.set_quality(quality)
                if not self._paused.is_set():
                    outgoing = self.frames.tick(time.monotonic())
                    if outgoing is not None:
                        frame, refresh = outgoing
                        # Tells our encoder how to treat this picture (aiortc_tuning).
                        hints = self.pacer.hints
                        frame.opaque = replace(hints, refresh=True) if refresh else hints
                        self._publish(frame)
                # Full rate while things move, slower probing while they do not.
                deadline += self.pacer.tick_interval(time.monotonic())
                delay = deadline - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    # Running late: start the next period now, do not catch up.
                    deadline = time.monotonic()
        except Exception as exc:
            logger.exception("screen capture stopped")
            self.error = exc
            self._first_frame.set()
            loop = self._loop
            if self.on_error is not None and loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self.on_error, exc)
        finally:
            self.grabber.close()

    def _publish(self, frame: VideoFrame) -> None:
        with self._lock:
            self._frame = frame
            self._published_at = time.monotonic()
            self._seq += 1
            self.frames_captured += 1
            waiters, self._waiters = self._waiters, []
        self._first_frame.set()
        loop = self._loop
        if waiters and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(_wake, waiters)


def _wake(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
