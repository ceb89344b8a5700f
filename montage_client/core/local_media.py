"""The person's camera and microphone: which are on, switched from the loop thread.

Lives beside a share rather than inside it, so the camera can be previewed
before joining and the same opened device feeds both the preview and the
share (a camera cannot usually be opened twice). Listeners hear every change,
including a device that failed on its own (unplugged), with the sentence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from montage_core.protocol.errors import DeviceUnavailable

from .device_source import DeviceSource
from .devices import (
    CAMERA_FPS,
    CAMERA_HEIGHT,
    CAMERA_WIDTH,
    CaptureSpec,
    Device,
    DeviceKind,
    spec_for,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaChange:
    """A device went on or off; `problem` says why when it went off by itself."""

    kind: DeviceKind
    device: Device | None
    problem: DeviceUnavailable | None = None


MediaListener = Callable[[MediaChange], None]


class LocalMedia:
    def __init__(
        self,
        *,
        camera_size: tuple[int, int] = (CAMERA_WIDTH, CAMERA_HEIGHT),
        camera_fps: int = CAMERA_FPS,
        spec_factory: Callable[..., CaptureSpec] = spec_for,
    ) -> None:
        self.camera_size = camera_size
        self.camera_fps = camera_fps
        # How a device is opened (devices.spec_for); tests give synthetic
        # sources that misbehave the way hardware does.
        self.spec_factory = spec_factory
        self.sources: dict[DeviceKind, DeviceSource | None] = {
            DeviceKind.CAMERA: None,
            DeviceKind.MICROPHONE: None,
        }
        self._listeners: list[MediaListener] = []
        # One switch at a time per device: a fast on/off/on must not open two.
        self._locks = {kind: asyncio.Lock() for kind in DeviceKind}

    @property
    def camera(self) -> DeviceSource | None:
        return self.sources[DeviceKind.CAMERA]

    @property
    def microphone(self) -> DeviceSource | None:
        return self.sources[DeviceKind.MICROPHONE]

    def subscribe(self, listener: MediaListener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: MediaListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def switch(self, kind: DeviceKind, device: Device | None) -> None:
        """Turn `kind` on with `device`, or off with None. Raises DeviceUnavailable.

        Switching to another device closes the current one first: most
        cameras cannot be open twice, and the person asked for the new one.
        """
        async with self._locks[kind]:
            current = self.sources[kind]
            if current is not None and device is not None and current.device == device:
                return
            if current is not None:
                self._close(kind)
            if device is None:
                return
            width, height = self.camera_size
            spec = self.spec_factory(device, width=width, height=height, fps=self.camera_fps)
            try:
                source = await DeviceSource.open(spec, self._on_failure)
            except DeviceUnavailable as exc:
                self._emit(MediaChange(kind, None, exc))
                raise
            self.sources[kind] = source
            self._emit(MediaChange(kind, device))

    def turn_off(self, kind: DeviceKind) -> None:
        """Off at once (closing never waits for the device)."""
        if self.sources[kind] is not None:
            self._close(kind)

    def close(self) -> None:
        for kind in DeviceKind:
            self.turn_off(kind)

    def _close(self, kind: DeviceKind) -> None:
        source = self.sources[kind]
        self.sources[kind] = None
        if source is not None:
            source.close()
        self._emit(MediaChange(kind, None))

    def _on_failure(self, source: DeviceSource, error: DeviceUnavailable) -> None:
        if self.sources[source.kind] is source:
            self.sources[source.kind] = None
            self._emit(MediaChange(source.kind, None, error))

    def _emit(self, change: MediaChange) -> None:
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                logger.exception("media listener failed on %s", change)
