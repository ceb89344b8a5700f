"""One opened camera or microphone, read by PyAV in its own thread.

Threading: `av.open` (which can take a while, or hang on a sick driver) runs
in a worker thread, and so does decoding and conversion: camera frames are
converted to yuv420p at most the camera size, microphone frames resampled to
48 kHz stereo s16 in 20 ms pieces (what aiortc's Opus encoder takes). Frames
cross to the event loop with `call_soon_threadsafe` only.

Hand-over: the camera keeps only its newest frame (a slot with a sequence
number, read by the share and by the preview alike), so a late reader skips
ahead instead of falling behind. The microphone keeps a short FIFO (audio must
not skip), dropping the oldest beyond half a second so latency cannot build up.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import av
import numpy as np

from montage_core.protocol.errors import DeviceUnavailable

from .devices import AUDIO_RATE, CaptureSpec, DeviceKind, capture_failure, open_failure

logger = logging.getLogger(__name__)

AUDIO_FRAME_SAMPLES = 960  # 20 ms at 48 kHz
MAX_AUDIO_BACKLOG = 25  # frames: half a second
# Errors after which trying other options on the same device is pointless.
_FINAL_ERRNOS = (errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EBUSY, errno.EACCES, errno.EPERM)

RgbArray = np.ndarray[Any, np.dtype[np.uint8]]


def _open_container(spec: CaptureSpec) -> Any:
    """Runs in a worker thread: the first option set the device accepts."""
    last: BaseException | None = None
    for options in spec.attempts:
        try:
            container = av.open(spec.file, format=spec.format, options=options, timeout=5)
        except (av.FFmpegError, OSError) as exc:
            last = exc
            logger.debug("opening %s with %s failed: %s", spec.file, options, exc)
            if getattr(exc, "errno", None) in _FINAL_ERRNOS:
                break
            continue
        streams = (
            container.streams.video
            if spec.device.kind is DeviceKind.CAMERA
            else container.streams.audio
        )
        if not streams:
            container.close()
            last = OSError(
                f"it delivers no {'video' if spec.device.kind is DeviceKind.CAMERA else 'sound'}"
            )
            continue
        return container
    assert last is not None
    raise open_failure(spec.device, last)


def fit_within(width: int, height: int, max_w: int, max_h: int) -> tuple[int, int]:
    """Scale down (never up) to fit, aspect kept, even sides."""
    scale = min(1.0, max_w / width, max_h / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


class DeviceSource:
    """A running device. Create with `await DeviceSource.open(spec, on_failure)`."""

    def __init__(
        self,
        spec: CaptureSpec,
        container: Any,
        loop: asyncio.AbstractEventLoop,
        on_failure: Callable[[DeviceSource, DeviceUnavailable], None],
    ) -> None:
        self.spec = spec
        self.device = spec.device
        self.kind = spec.device.kind
        self._container = container
        self._loop = loop
        self._on_failure = on_failure
        self._quit = threading.Event()
        self.closed = False
        self.frames = 0  # delivered to the loop
        # Camera slot.
        self.seq = 0
        self.latest: av.VideoFrame | None = None
        # Set by a preview: the capture thread also makes an RGB picture this big.
        self.preview_size: tuple[int, int] | None = None
        self.preview: RgbArray | None = None
        self.preview_seq = 0
        # Microphone FIFO.
        self._audio: collections.deque[av.AudioFrame] = collections.deque(maxlen=MAX_AUDIO_BACKLOG)
        self._waiters: list[asyncio.Future[None]] = []
        self._thread = threading.Thread(
            target=self._run, name=f"{self.kind.value}-capture", daemon=True
        )

    @classmethod
    async def open(
        cls, spec: CaptureSpec, on_failure: Callable[[DeviceSource, DeviceUnavailable], None]
    ) -> DeviceSource:
        """Open and start the device; raises DeviceUnavailable saying why it cannot."""
        container = await asyncio.to_thread(_open_container, spec)
        source = cls(spec, container, asyncio.get_running_loop(), on_failure)
        source._thread.start()
        logger.info("%s %r started", source.kind.value, source.device.name)
        return source

    # -- loop side -------------------------------------------------------------------

    async def next_video(self, after: int) -> tuple[int, av.VideoFrame] | None:
        """The newest camera frame with a sequence number above `after`; None once closed."""
        while not self.closed:
            if self.seq > after and self.latest is not None:
                return self.seq, self.latest
            await self._wait()
        return None

    async def next_audio(self) -> av.AudioFrame | None:
        """The next 20 ms of sound, in order; None once closed."""
        while not self.closed:
            if self._audio:
                return self._audio.popleft()
            await self._wait()
        return None

    def close(self) -> None:
        """Stop reading. Returns at once: the capture thread closes the device itself."""
        if self.closed:
            return
        self.closed = True
        self._quit.set()
        self._wake()
        logger.info("%s %r stopped", self.kind.value, self.device.name)

    async def _wait(self) -> None:
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _publish_video(self, frame: av.VideoFrame, preview: RgbArray | None) -> None:
        if self.closed:
            return
        self.latest = frame
        self.seq += 1
        self.frames += 1
        if preview is not None:
            self.preview = preview
            self.preview_seq = self.seq
        self._wake()

    def _publish_audio(self, frame: av.AudioFrame) -> None:
        if self.closed:
            return
        self._audio.append(frame)
        self.frames += 1
        self._wake()

    def _failed(self, error: DeviceUnavailable) -> None:
        if self.closed:
            return
        logger.warning("%s", error)
        self.close()
        self._on_failure(self, error)

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is gone: nobody is listening any more
            self._quit.set()

    # -- capture thread --------------------------------------------------------------

    def _run(self) -> None:
        container = self._container
        spec = self.spec
        camera = self.kind is DeviceKind.CAMERA
        stream = container.streams.video[0] if camera else container.streams.audio[0]
        resampler = (
            None
            if camera
            else av.AudioResampler(
                format="s16", layout="stereo", rate=AUDIO_RATE, frame_size=AUDIO_FRAME_SAMPLES
            )
        )
        started = time.monotonic()
        error: BaseException | None = None
        try:
            while not self._quit.is_set():
                try:
                    frame = next(container.decode(stream))
                except av.error.BlockingIOError:
                    # Some drivers have nothing yet rather than blocking.
                    time.sleep(0.005)
                    continue
                except StopIteration:
                    error = OSError("it stopped sending")
                    break
                if not spec.realtime and frame.time is not None:
                    # A synthetic source runs as fast as it is read: pace it.
                    delay = started + float(frame.time) - time.monotonic()
                    if delay > 0 and self._quit.wait(delay):
                        break
                if camera:
                    self._deliver_video(frame)
                else:
                    assert resampler is not None
                    for piece in resampler.resample(frame):
                        self._to_loop(self._publish_audio, piece)
        except Exception as exc:  # PyAV raises many kinds; every one ends this device
            error = exc
        finally:
            container.close()
        if error is not None and not self._quit.is_set():
            self._to_loop(self._failed, capture_failure(self.device, error))

    def _deliver_video(self, frame: av.VideoFrame) -> None:
        width, height = fit_within(frame.width, frame.height, self.spec.width, self.spec.height)
        if (frame.width, frame.height, frame.format.name) != (width, height, "yuv420p"):
            frame = frame.reformat(width, height, "yuv420p")
        preview = None
        size = self.preview_size
        if size is not None:
            pw, ph = fit_within(width, height, *size)
            # Contiguous rows: the GUI wraps this array in a QImage as it is.
            preview = np.ascontiguousarray(frame.to_ndarray(format="rgb24", width=pw, height=ph))
        self._to_loop(self._publish_video, frame, preview)
