"""Device naming, per-platform capture specs and the sentences for devices that fail."""

from __future__ import annotations

import errno
import os

import pytest

from montage_client.core.devices import (
    Device,
    DeviceKind,
    camera_spec,
    capture_failure,
    microphone_spec,
    open_failure,
    resolve,
    synthetic_device,
)
from montage_core.protocol.errors import DeviceUnavailable, InvalidInput

CAM = DeviceKind.CAMERA
MIC = DeviceKind.MICROPHONE
PRESENT = [
    Device(CAM, "Integrated Camera", "/dev/video0", default=True),
    Device(CAM, "Logitech BRIO", "/dev/video2"),
]


def test_camera_specs_per_platform() -> None:
    linux = camera_spec(PRESENT[0], platform="linux")
    assert (linux.file, linux.format) == ("/dev/video0", "v4l2")
    # MJPEG first (USB cameras need it for 720p30), then whatever the camera offers.
    assert linux.attempts[0]["input_format"] == "mjpeg" and "input_format" not in linux.attempts[1]
    assert linux.attempts[1] == {"video_size": "1280x720", "framerate": "30"}
    windows = camera_spec(Device(CAM, "Integrated Camera", "Integrated Camera"), platform="windows")
    assert (windows.file, windows.format) == ("video=Integrated Camera", "dshow")
    mac = camera_spec(Device(CAM, "FaceTime HD Camera", "FaceTime HD Camera"), platform="macos")
    assert (mac.file, mac.format) == ("FaceTime HD Camera:none", "avfoundation")
    with pytest.raises(DeviceUnavailable):
        camera_spec(PRESENT[0], platform="plan9")


def test_microphone_specs_per_platform() -> None:
    windows = microphone_spec(
        Device(MIC, "Microphone Array", "Microphone Array"), platform="windows"
    )
    assert (windows.file, windows.format) == ("audio=Microphone Array", "dshow")
    assert windows.attempts == ({"sample_rate": "48000"},)
    mac = microphone_spec(Device(MIC, "MacBook Microphone", "MacBook Microphone"), platform="macos")
    assert (mac.file, mac.format) == (":MacBook Microphone", "avfoundation")
    linux = microphone_spec(Device(MIC, "Built-in", "alsa_input.pci-0000"), platform="linux")
    assert linux.format in ("pulse", "alsa")


def test_test_sources_are_paced_lavfi() -> None:
    camera = camera_spec(synthetic_device(CAM), width=320, height=240, fps=15)
    assert (camera.format, camera.file, camera.realtime) == (
        "lavfi",
        "testsrc2=size=320x240:rate=15",
        False,
    )
    tone = microphone_spec(synthetic_device(MIC))
    assert tone.file == "sine=frequency=1000:sample_rate=48000" and not tone.realtime


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2", PRESENT[1]),
        ("logitech brio", PRESENT[1]),
        ("BRIO", PRESENT[1]),
        ("/dev/video0", PRESENT[0]),
        ("test", synthetic_device(CAM)),
        (" TEST ", synthetic_device(CAM)),
        # Not listed: tried as the platform's own name when opened.
        ("/dev/video7", Device(CAM, "/dev/video7", "/dev/video7")),
    ],
)
def test_resolve_what_a_person_typed(typed: str, expected: Device) -> None:
    assert resolve(CAM, typed, PRESENT) == expected


@pytest.mark.parametrize(
    ("typed", "says"), [("3", "There is no camera 3; this computer has 2 cameras."), ("", "Name a")]
)
def test_resolve_refuses_what_cannot_be_right(typed: str, says: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve(CAM, typed, PRESENT)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("code", "sentence"),
    [
        (
            errno.ENOENT,
            "Camera “Logitech BRIO” is not connected. Check the cable or choose another camera.",
        ),
        (errno.ENODEV, "Camera “Logitech BRIO” is not connected."),
        (
            errno.EBUSY,
            "Camera “Logitech BRIO” is in use by another app. Close that app and try again.",
        ),
        (errno.EACCES, "Montage may not use the camera “Logitech BRIO”. Allow access"),
        (errno.EIO, "Camera “Logitech BRIO” did not start: Input/output error."),
    ],
)
def test_open_failures_say_what_is_wrong(code: int, sentence: str) -> None:
    error = open_failure(PRESENT[1], OSError(code, os.strerror(code)))
    assert isinstance(error, DeviceUnavailable) and error.kind == "camera"
    assert str(error).startswith(sentence)


def test_failure_mid_share_says_the_screen_goes_on() -> None:
    error = capture_failure(
        Device(MIC, "USB Headset", "hw:2"), OSError(errno.ENODEV, "No such device")
    )
    assert error.kind == "microphone"
    assert str(error) == (
        "Microphone “USB Headset” stopped working (unplugged?): No such device. "
        "Your screen is still shared."
    )
