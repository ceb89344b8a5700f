"""Cameras and microphones: which ones exist, and how PyAV opens each on this platform.

The one place that knows the per-platform device formats (v4l2 and
pulse/alsa on Linux, dshow on Windows, avfoundation on macOS) and the
defaults (a 720p30 camera, 48 kHz audio for Opus). The platform is chosen at
run time from `sys.platform`. The name `test` selects built-in synthetic
sources made with PyAV's `lavfi` inputs: a moving test pattern with a clock,
and a steady 1 kHz tone. They stand in for hardware in the tests.

Device lists come from Qt's `QMediaDevices`, which names devices the way the
operating system shows them; it is imported only when a list is wanted.
"""

from __future__ import annotations

import enum
import errno
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from montage_core.protocol.errors import DeviceUnavailable, InvalidInput

logger = logging.getLogger(__name__)

TEST_DEVICE = "test"
CAMERA_WIDTH, CAMERA_HEIGHT, CAMERA_FPS = 1280, 720, 30
# Opus runs at 48 kHz; capturing at that rate spares a resampling step.
AUDIO_RATE = 48_000
TEST_TONE_HZ = 1000


class DeviceKind(enum.StrEnum):
    CAMERA = "camera"
    MICROPHONE = "microphone"


@dataclass(frozen=True)
class Device:
    """A camera or microphone as the operating system names it."""

    kind: DeviceKind
    name: str  # as shown to people
    id: str  # the platform's identifier (a path on Linux, a name elsewhere)
    default: bool = False

    @property
    def is_test(self) -> bool:
        return self.id == TEST_DEVICE


def synthetic_device(kind: DeviceKind) -> Device:
    name = "Test pattern (built in)" if kind is DeviceKind.CAMERA else "1 kHz tone (built in)"
    return Device(kind, name, TEST_DEVICE)


@dataclass(frozen=True)
class CaptureSpec:
    """What `av.open` needs for one device; `attempts` are option sets tried in order."""

    device: Device
    file: str
    format: str
    attempts: tuple[dict[str, str], ...] = field(default_factory=lambda: ({},))
    # Devices deliver in real time; a lavfi source makes frames as fast as it
    # is asked and must be paced by the reader.
    realtime: bool = True
    width: int = CAMERA_WIDTH
    height: int = CAMERA_HEIGHT
    fps: int = CAMERA_FPS


def _platform() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    return sys.platform


def _pulse_available() -> bool:
    import av

    return "pulse" in av.formats_available


def camera_spec(
    device: Device,
    *,
    width: int = CAMERA_WIDTH,
    height: int = CAMERA_HEIGHT,
    fps: int = CAMERA_FPS,
    platform: str | None = None,
) -> CaptureSpec:
    size = f"{width}x{height}"
    if device.is_test:
        return CaptureSpec(
            device,
            f"testsrc2=size={size}:rate={fps}",
            "lavfi",
            realtime=False,
            width=width,
            height=height,
            fps=fps,
        )
    platform = platform or _platform()
    base = {"video_size": size, "framerate": str(fps)}
    if platform == "linux":
        # USB cameras reach 720p30 only with MJPEG; one without it is opened
        # again in whatever format it offers.
        attempts: tuple[dict[str, str], ...] = ({**base, "input_format": "mjpeg"}, base)
        return CaptureSpec(device, device.id, "v4l2", attempts, width=width, height=height, fps=fps)
    if platform == "windows":
        # dshow drops frames with a small real-time buffer.
        options = {**base, "rtbufsize": "64M"}
        return CaptureSpec(
            device, f"video={device.id}", "dshow", (options,), width=width, height=height, fps=fps
        )
    if platform == "macos":
        attempts = ({**base, "pixel_format": "uyvy422"}, base)
        return CaptureSpec(
            device,
            f"{device.id}:none",
            "avfoundation",
            attempts,
            width=width,
            height=height,
            fps=fps,
        )
    raise DeviceUnavailable(f"Cameras are not supported on this system ({platform}).")


def microphone_spec(device: Device, *, platform: str | None = None) -> CaptureSpec:
    if device.is_test:
        return CaptureSpec(
            device,
            f"sine=frequency={TEST_TONE_HZ}:sample_rate={AUDIO_RATE}",
            "lavfi",
            realtime=False,
        )
    platform = platform or _platform()
    options = {"sample_rate": str(AUDIO_RATE)}
    if platform == "linux":
        if _pulse_available():
            return CaptureSpec(device, device.id, "pulse", (options,))
        # Without PulseAudio support in this FFmpeg build, ALSA's "default"
        # goes through whatever sound server the desktop runs; Qt's device
        # ids are sound-server names ALSA cannot open directly.
        alsa_name = device.id if device.id.startswith(("hw:", "plughw:", "default")) else "default"
        return CaptureSpec(device, alsa_name, "alsa", (options,))
    if platform == "windows":
        return CaptureSpec(device, f"audio={device.id}", "dshow", (options,))
    if platform == "macos":
        return CaptureSpec(device, f":{device.id}", "avfoundation", (options,))
    raise DeviceUnavailable(f"Microphones are not supported on this system ({platform}).")


def spec_for(
    device: Device, *, width: int = CAMERA_WIDTH, height: int = CAMERA_HEIGHT, fps: int = CAMERA_FPS
) -> CaptureSpec:
    if device.kind is DeviceKind.CAMERA:
        return camera_spec(device, width=width, height=height, fps=fps)
    return microphone_spec(device)


# -- which devices exist --------------------------------------------------------------


def list_devices(kind: DeviceKind) -> list[Device]:
    """The devices present now, default first; empty when none (or no way to ask)."""
    try:
        return _qt_devices(kind)
    except ImportError:
        logger.info("QtMultimedia is not installed; listing %ss another way", kind.value)
    if kind is DeviceKind.CAMERA and _platform() == "linux":
        return _v4l2_devices()
    return []


def _qt_devices(kind: DeviceKind) -> list[Device]:
    from PySide6.QtMultimedia import QMediaDevices

    platform = _platform()
    devices: list[Device] = []
    if kind is DeviceKind.CAMERA:
        default_id = bytes(QMediaDevices.defaultVideoInput().id().data())
        for camera in QMediaDevices.videoInputs():
            raw = bytes(camera.id().data())
            # Linux cameras are opened by path (the id); elsewhere FFmpeg
            # wants the name the system shows.
            ident = raw.decode(errors="replace") if platform == "linux" else camera.description()
            devices.append(Device(kind, camera.description(), ident, raw == default_id))
    else:
        default_id = bytes(QMediaDevices.defaultAudioInput().id().data())
        for mic in QMediaDevices.audioInputs():
            raw = bytes(mic.id().data())
            ident = raw.decode(errors="replace") if platform == "linux" else mic.description()
            devices.append(Device(kind, mic.description(), ident, raw == default_id))
    devices.sort(key=lambda d: not d.default)
    return devices


def _v4l2_devices() -> list[Device]:
    found = []
    for node in sorted(Path("/sys/class/video4linux").glob("video*")):
        try:
            name = (node / "name").read_text().strip()
        except OSError:
            continue
        found.append(Device(DeviceKind.CAMERA, name or node.name, f"/dev/{node.name}"))
    return found


def resolve(kind: DeviceKind, text: str, present: list[Device] | None = None) -> Device:
    """The device a person named: `test`, a number from the list, a name, or a platform id.

    A name that matches nothing listed is still tried as the platform's own
    identifier (a path such as /dev/video2, or a device name the list missed);
    if it does not exist, opening it says so.
    """
    text = text.strip()
    if not text:
        raise InvalidInput(f"Name a {kind.value}: `test`, a number or a name from the list.")
    if text.lower() == TEST_DEVICE:
        return synthetic_device(kind)
    devices = list_devices(kind) if present is None else present
    if text.isdigit():
        index = int(text)
        if not 1 <= index <= len(devices):
            count = f"{len(devices)} {kind.value}{'s' if len(devices) != 1 else ''}"
            raise InvalidInput(f"There is no {kind.value} {index}; this computer has {count}.")
        return devices[index - 1]
    lowered = text.lower()
    for device in devices:
        if lowered in (device.name.lower(), device.id.lower()):
            return device
    partial = [d for d in devices if lowered in d.name.lower()]
    if len(partial) == 1:
        return partial[0]
    return Device(kind, text, text)


# -- what went wrong, in words ---------------------------------------------------------


def open_failure(device: Device, exc: BaseException) -> DeviceUnavailable:
    """The sentence for a device that would not open."""
    what = f"{device.kind.value.capitalize()} “{device.name}”"
    code = getattr(exc, "errno", None)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        text = f"{what} is not connected. Check the cable or choose another {device.kind.value}."
    elif code == errno.EBUSY:
        text = f"{what} is in use by another app. Close that app and try again."
    elif code in (errno.EACCES, errno.EPERM):
        text = (
            f"Montage may not use the {device.kind.value} “{device.name}”. "
            "Allow access in the system's privacy settings."
        )
    else:
        text = f"{what} did not start: {_detail(exc)}."
    return DeviceUnavailable(text, device.kind.value)


def capture_failure(device: Device, exc: BaseException) -> DeviceUnavailable:
    """The sentence for a device that stopped while in use (unplugged, crashed driver)."""
    what = f"{device.kind.value.capitalize()} “{device.name}”"
    return DeviceUnavailable(
        f"{what} stopped working (unplugged?): {_detail(exc)}. Your screen is still shared.",
        device.kind.value,
    )


def _detail(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).rstrip(".")
