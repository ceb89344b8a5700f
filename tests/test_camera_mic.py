"""Camera and microphone in a share, on loopback: real capture code, real aiortc, real receiver.

The only stand-ins are the devices themselves: PyAV's `lavfi` test pattern
and 1 kHz tone (what `--camera test` / `--mic test` select), and the
synthetic screen.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from montage_client.core.devices import CaptureSpec, Device, DeviceKind, spec_for, synthetic_device
from montage_client.core.local_media import LocalMedia, MediaChange
from montage_client.core.share_client import ROOM_MUTED, Notice
from montage_core.protocol.errors import DeviceUnavailable
from montage_receiver.presenter import Presenter
from montage_receiver.ui.audio_output import pcm_bytes
from tests.synthetic_screen import StampGrabber
from tests.test_local_share import Presenting, frames_reach, meeting, presenter_named, run

pytestmark = pytest.mark.timeout(120)
CAMERA = synthetic_device(DeviceKind.CAMERA)
MIC = synthetic_device(DeviceKind.MICROPHONE)
CAMERA_SIZE = (640, 360)


class BusyScreen(StampGrabber):
    """A screen that changes all over on every grab (a video playing, say).

    The screen is then sent at the full rate whatever the sender's pacing
    policy, so a stall caused by the camera or microphone would show.
    """

    def grab(self, *args: Any, **kw: Any) -> Any:
        frame = super().grab(*args, **kw)
        if self.grabs % 2:
            frame[..., :3] = 255 - frame[..., :3]
        return frame


async def _note_screen_frames(p: Presenter, arrivals: list[float]) -> None:
    seen = p.frames
    while True:
        if p.frames != seen:
            seen = p.frames
            arrivals.append(time.monotonic())
        await asyncio.sleep(0.005)


async def until(condition: Any, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@asynccontextmanager
async def presenting(
    tmp_path: Path, media: LocalMedia
) -> AsyncIterator[tuple[Presenting, Presenter]]:
    async with meeting(tmp_path, pin=None) as mt:
        ann = Presenting(mt, "Ann", pin=None, media=media, grabber=BusyScreen())
        await ann.sharing()
        p = await presenter_named(mt, "Ann")
        await frames_reach(p, 5)
        try:
            yield ann, p
        finally:
            media.close()
            ann.client.request_stop()
            assert await ann.outcome() is None


def dominant_frequency(samples: np.ndarray[Any, Any], rate: int = 48_000) -> float:
    window = samples * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(window))
    spectrum[0] = 0
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def test_camera_and_tone_arrive_and_stop_when_switched_off(tmp_path: Path) -> None:
    async def scenario() -> None:
        media = LocalMedia(camera_size=CAMERA_SIZE)
        async with presenting(tmp_path, media) as (_ann, p):
            heard: list[Any] = []
            p.audio_listeners.append(lambda _p, frame: heard.append(frame.to_ndarray()))
            await media.switch(DeviceKind.CAMERA, CAMERA)
            await media.switch(DeviceKind.MICROPHONE, MIC)
            await until(lambda: p.camera_on and p.microphone_on, "camera and microphone on")
            await until(lambda: p.camera_frames >= 15, "camera frames")
            await until(lambda: len(heard) >= 50, "a second of sound")
            assert (p.camera_width, p.camera_height) == CAMERA_SIZE
            assert p.camera_latest is not None and p.camera_latest.width == CAMERA_SIZE[0]
            # s16 interleaved stereo: take the left channel of the latest second.
            pcm = np.concatenate([a.reshape(-1, 2)[:, 0] for a in heard[-50:]]).astype(np.float64)
            assert abs(dominant_frequency(pcm) - 1000) < 5
            # lavfi's sine peaks at 1/8 of full scale (RMS 0.088), upmixed to
            # stereo at -3 dB: RMS 0.0625.
            assert abs(p.audio_rms - 0.0625) < 0.01
            snapshot = p.snapshot(time.monotonic())
            assert snapshot["camera"] and snapshot["microphone"]
            assert snapshot["camera_frames"] >= 15 and snapshot["audio_frames"] >= 50
            # The screen's fields are unchanged.
            assert (snapshot["width"], snapshot["height"]) == (640, 360)

            media.turn_off(DeviceKind.CAMERA)
            media.turn_off(DeviceKind.MICROPHONE)
            await until(lambda: not p.camera_on and not p.microphone_on, "both off at the receiver")
            assert p.camera_latest is None and p.audio_rms == 0
            await asyncio.sleep(0.5)  # frames already on the wire
            camera_frames, audio_frames, screen = p.camera_frames, p.audio_frames, p.frames
            await asyncio.sleep(1.0)
            assert (p.camera_frames, p.audio_frames) == (camera_frames, audio_frames)
            assert p.frames > screen + 5  # the screen goes on

    run(scenario())


def test_toggling_twenty_times_never_stalls_the_screen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)

    async def scenario() -> None:
        media = LocalMedia(camera_size=(320, 240))
        async with presenting(tmp_path, media) as (_ann, p):
            arrivals = [time.monotonic()]
            watching = asyncio.ensure_future(_note_screen_frames(p, arrivals))
            for i in range(20):
                on = i % 2 == 0
                await media.switch(DeviceKind.CAMERA, CAMERA if on else None)
                await media.switch(DeviceKind.MICROPHONE, MIC if on else None)
                await asyncio.sleep(0.25)
            watching.cancel()
            arrivals.append(time.monotonic())
            # The screen runs at 30 fps throughout (largest gap here: 40-45 ms
            # on a quiet machine). A gap over 500 ms is what the receiver's
            # stats call a freeze: toggling devices must never cause one.
            gaps = sorted(b - a for a, b in itertools.pairwise(arrivals))
            assert len(arrivals) > 20 * 0.25 * 30 / 2, len(arrivals)
            assert gaps[-1] < 0.5, [round(g, 3) for g in gaps[-5:]]
            # It still works after all that.
            await media.switch(DeviceKind.CAMERA, CAMERA)
            await media.switch(DeviceKind.MICROPHONE, MIC)
            camera, audio = p.camera_frames, p.audio_frames
            await until(
                lambda: p.camera_frames > camera + 5 and p.audio_frames > audio + 10,
                "camera and sound after the toggling",
            )
        problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert problems == []

    run(scenario())


def test_missing_camera_is_explained_and_the_screen_goes_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        media = LocalMedia()
        async with presenting(tmp_path, media) as (ann, p):
            missing = Device(DeviceKind.CAMERA, "/dev/video99", "/dev/video99")
            with pytest.raises(DeviceUnavailable) as caught:
                await media.switch(DeviceKind.CAMERA, missing)
            assert str(caught.value) == (
                "Camera “/dev/video99” is not connected. Check the cable or choose another camera."
            )
            assert media.camera is None
            before = p.frames
            await frames_reach(p, before + 15)
            assert not p.camera_on and p.share_state == "sharing"
            assert not ann.task.done()

    run(scenario())


def test_room_mutes_the_microphone(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path, pin=None) as mt:
            media = LocalMedia()
            ann = Presenting(mt, "Ann", pin=None, media=media)
            await media.switch(DeviceKind.MICROPHONE, MIC)
            await ann.sharing()
            p = await presenter_named(mt, "Ann")
            await until(lambda: p.microphone_on and p.audio_frames > 10, "sound")
            assert await mt.service.set_muted(p.id, True)
            await until(lambda: media.microphone is None, "the client's microphone off")
            await until(lambda: not p.microphone_on, "the receiver told")
            assert Notice(ROOM_MUTED) in ann.updates
            # The presenter turns it on again: heard again.
            await media.switch(DeviceKind.MICROPHONE, MIC)
            await until(lambda: p.microphone_on and not p.muted_by_room, "unmuted by the presenter")
            media.close()
            ann.client.request_stop()
            assert await ann.outcome() is None

    run(scenario())


def test_camera_unplugged_mid_share_is_survived(tmp_path: Path) -> None:
    """A camera that stops delivering (as an unplugged one does) is switched off with a sentence."""

    def short_lived(device: Device, **size: Any) -> CaptureSpec:
        spec = spec_for(device, **size)
        if device.kind is DeviceKind.CAMERA:
            # One second of pictures, then the stream ends as if the cable were pulled.
            return replace(spec, file=spec.file + ":duration=1")
        return spec

    async def scenario() -> None:
        media = LocalMedia(camera_size=(320, 240), spec_factory=short_lived)
        changes: list[MediaChange] = []
        media.subscribe(changes.append)
        async with presenting(tmp_path, media) as (ann, p):
            await media.switch(DeviceKind.CAMERA, CAMERA)
            await until(lambda: p.camera_on and p.camera_frames > 5, "the camera at the receiver")
            await until(lambda: media.camera is None, "the camera to fail", timeout=5)
            problem = changes[-1].problem
            assert problem is not None and problem.kind == "camera"
            assert str(problem).startswith("Camera “Test pattern (built in)” stopped working")
            assert Notice(str(problem)) in ann.updates
            await until(lambda: not p.camera_on, "the receiver told the camera is off")
            screen = p.frames
            await frames_reach(p, screen + 15)
            # Plugged back in: it works again on the same negotiated track.
            await media.switch(DeviceKind.CAMERA, CAMERA)
            camera = p.camera_frames
            await until(lambda: p.camera_on and p.camera_frames > camera + 5, "the camera again")

    run(scenario())


class _Tone:
    """Decoded frames as aiortc's receiver hands them over: 20 ms of s16 stereo, then the end."""

    kind = "audio"

    def __init__(self, frames: int) -> None:
        self.left = frames

    async def recv(self) -> Any:
        from aiortc.mediastreams import MediaStreamError

        if not self.left:
            raise MediaStreamError
        self.left -= 1
        t = np.arange(960) / 48_000
        tone = (np.sin(2 * np.pi * 1000 * t) * 8192).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(tone, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = 48_000
        return frame


def test_room_muted_sound_is_measured_but_not_played() -> None:
    played: list[bytes] = []
    p = Presenter(1, "Ann", "local")
    p.audio_listeners.append(lambda _p, frame: played.append(pcm_bytes(frame)))
    p.set_media_state(camera=False, microphone=True)  # the presenter switched it on

    asyncio.run(p.consume_audio(_Tone(10)))
    assert p.audio_frames == 10 and len(played) == 10
    assert len(played[0]) == 960 * 2 * 2  # 20 ms, stereo, 16 bit: what the sink is given
    p.muted_by_room = True
    asyncio.run(p.consume_audio(_Tone(10)))
    assert p.audio_frames == 20 and len(played) == 10
    assert abs(p.audio_rms - 0.25 / np.sqrt(2)) < 0.01  # still measured: a quarter-scale sine


def test_sound_in_flight_after_the_microphone_goes_off_is_not_live() -> None:
    played: list[bytes] = []
    p = Presenter(1, "Ann", "local")
    p.audio_listeners.append(lambda _p, frame: played.append(pcm_bytes(frame)))
    p.set_media_state(camera=False, microphone=True)
    asyncio.run(p.consume_audio(_Tone(5)))
    p.set_media_state(camera=False, microphone=False)
    asyncio.run(p.consume_audio(_Tone(5)))  # packets already on the wire
    assert p.audio_frames == 10  # counted
    assert len(played) == 5 and p.audio_rms == 0  # neither played nor measured
