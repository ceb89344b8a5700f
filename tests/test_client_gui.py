"""The client's windows driven like a person, against a real receiver on loopback.

The receiver is the real service (TLS, SPAKE2, aiortc) in this process; the
only stand-in is the screen (a synthetic picture). Widgets run offscreen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from montage_client.core.change_pacing import Quality
from montage_client.core.devices import Device, DeviceKind, synthetic_device
from montage_client.core.local_media import LocalMedia
from montage_client.core.screen_source import Monitor
from montage_client.settings import ClientSettings
from montage_client.ui.controller import ClientController
from montage_client.ui.join_window import JoinWindow
from montage_client.ui.sharing_bar import SharingBar
from montage_core.protocol.meeting_id import MeetingId
from montage_receiver.config import ReceiverConfig
from montage_receiver.meeting import Meeting, open_meeting
from tests.synthetic_screen import StampGrabber

pytestmark = pytest.mark.timeout(120)
PIN = "8642"
SIZES = ((640, 360), (800, 600))
# The machine's "devices": the built-in synthetic ones and a camera that is not there.
MISSING_CAMERA = Device(DeviceKind.CAMERA, "Missing camera", "/dev/video99")


def fake_devices(kind: DeviceKind) -> list[Device]:
    present = [synthetic_device(kind)]
    return [*present, MISSING_CAMERA] if kind is DeviceKind.CAMERA else present


class Person:
    """The client's windows, and what a person does with them."""

    def __init__(self, port: int, config_dir: Path) -> None:
        self.join, self.bar = JoinWindow(), SharingBar()
        self.controller = ClientController(
            self.join,
            self.bar,
            ClientSettings.load(config_dir / "client.json"),
            port=port,
            grabber_factory=lambda n: StampGrabber(SIZES, monitor=n),
            monitor_lister=lambda: [Monitor(i + 1, w, h, 0, 0) for i, (w, h) in enumerate(SIZES)],
            device_lister=fake_devices,
            media=LocalMedia(camera_size=(320, 240)),
        )
        self.join.show()

    def type_meeting(self, text: str, name: str = "Ada") -> None:
        self.join.meeting_edit.clear()
        QTest.keyClicks(self.join.meeting_edit, text)
        self.join.name_edit.clear()
        QTest.keyClicks(self.join.name_edit, name)
        QTest.mouseClick(self.join.join_button, Qt.MouseButton.LeftButton)

    def type_pin(self, pin: str) -> None:
        QTest.keyClicks(self.join.pin_edit, pin)
        QTest.keyClick(self.join.pin_edit, Qt.Key.Key_Return)


async def until(condition: Callable[[], Any], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def in_the_window(
    qapp: QApplication,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    scenario: Callable[[Person], Coroutine[Any, Any, None]],
    timeout: float = 120,
) -> None:
    """Run `scenario` with a person at the client's windows, on a qasync loop."""
    monkeypatch.setenv("MONTAGE_CONFIG_DIR", str(config_dir))
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)

    async def main() -> None:
        person = Person(0, config_dir)
        try:
            await scenario(person)
        finally:
            person.controller.close()
            person.join.close()
            person.bar.close()

    with loop:
        loop.run_until_complete(asyncio.wait_for(main(), timeout))


def drive(
    qapp: QApplication,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scenario: Callable[[Meeting, Person], Coroutine[Any, Any, None]],
    pin: str | None = PIN,
) -> None:
    monkeypatch.setenv("MONTAGE_CONFIG_DIR", str(tmp_path / "config"))
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)

    async def main() -> None:
        config = ReceiverConfig(
            name="GUI Room", bind="127.0.0.1", port=0, pin=pin, data_dir=tmp_path / "rx"
        )
        meeting = await open_meeting(config)
        person = Person(meeting.port, tmp_path / "config")
        try:
            await scenario(meeting, person)
        finally:
            person.controller.close()
            await meeting.service.close()
            person.join.close()
            person.bar.close()

    with loop:
        loop.run_until_complete(asyncio.wait_for(main(), 90))


def test_bad_meeting_ids_are_explained_in_the_window(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(meeting: Meeting, person: Person) -> None:
        for typed, says in [
            ("12345", "10 digits"),
            ("12345abcde", "only digits"),
            ("9999999999", "not a valid local meeting ID"),
        ]:
            person.type_meeting(typed)
            assert says in person.join.error_label.text()
            assert person.join.join_button.isEnabled()  # still usable
        assert person.controller.task is None

    drive(qapp, tmp_path, monkeypatch, scenario)


def test_wrong_pin_then_right_pin_then_room_stops_the_share(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(meeting: Meeting, person: Person) -> None:
        person.type_meeting(meeting.meeting_id.display().replace(" ", "-"))
        await until(lambda: person.join.asking_pin, "the PIN prompt")
        person.type_pin("1111")
        await until(
            lambda: "Wrong PIN. 4 tries left" in person.join.error_label.text(),
            "the wrong-PIN message",
        )
        assert person.join.asking_pin and person.join.pin_edit.text() == ""
        person.type_pin(PIN)
        await until(lambda: person.bar.isVisible(), "the sharing bar")
        assert person.bar.status_label.text() == "Sharing to GUI Room (Local)"
        await until(lambda: person.bar.monitor_combo.count() == 2, "the monitor list")
        (presenter,) = meeting.service.presenters
        assert presenter.name == "Ada"
        await until(lambda: presenter.frames > 5, "frames at the receiver")

        # Switch monitor live, from the bar.
        person.bar.monitor_combo.setCurrentIndex(1)
        person.bar.monitor_combo.activated.emit(1)
        await until(
            lambda: (presenter.width, presenter.height) == SIZES[1],
            "the second screen at the receiver",
        )
        # Sharp text, chosen in the bar, reaches the capture live.
        assert person.bar.quality_combo.currentData() == "auto"
        text = person.bar.quality_combo.findData("text")
        person.bar.quality_combo.setCurrentIndex(text)
        person.bar.quality_combo.activated.emit(text)
        client = person.controller.client
        assert client is not None
        await until(lambda: client.source.pacer.quality is Quality.TEXT, "text mode")
        assert client.source.pacer.full_fps <= 15
        # Pause from the bar.
        QTest.mouseClick(person.bar.pause_button, Qt.MouseButton.LeftButton)
        await until(lambda: presenter.share_state == "paused", "paused at the receiver")
        assert person.bar.status_label.text().startswith("Paused")

        await meeting.service.stop_presenter(presenter.id)
        await until(lambda: person.join.isVisible(), "the join window again")
        assert person.join.error_label.text() == "The room stopped your share."
        assert not person.bar.isVisible()
        assert person.join.join_button.isEnabled()
        saved = ClientSettings.load()
        assert saved.name == "Ada" and saved.recent_meetings == [str(meeting.meeting_id)]

    drive(qapp, tmp_path, monkeypatch, scenario)


def test_cancel_while_asked_for_the_pin(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(meeting: Meeting, person: Person) -> None:
        person.type_meeting(str(meeting.meeting_id))
        await until(lambda: person.join.asking_pin, "the PIN prompt")
        QTest.mouseClick(person.join.cancel_button, Qt.MouseButton.LeftButton)
        await until(
            lambda: person.controller.task is not None and person.controller.task.done(),
            "the attempt to end",
        )
        assert not person.join.asking_pin
        assert person.join.status_label.text() == "Cancelled."
        assert person.join.join_button.isEnabled()
        await until(
            lambda: not meeting.service.presenters and not meeting.service._connections,
            "the receiver to forget the attempt",
        )

    drive(qapp, tmp_path, monkeypatch, scenario)


def test_stop_from_the_bar_and_unreachable_receiver(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(meeting: Meeting, person: Person) -> None:
        person.type_meeting(str(meeting.meeting_id))
        await until(lambda: person.bar.isVisible(), "the sharing bar")
        QTest.mouseClick(person.bar.stop_button, Qt.MouseButton.LeftButton)
        await until(lambda: person.join.isVisible(), "the join window again")
        assert person.join.status_label.text() == "You stopped sharing."
        assert person.join.join_button.isEnabled()
        # Now the room goes away and the person tries again.
        await meeting.service.close()
        person.type_meeting(str(MeetingId.from_address("127.0.0.1")))
        await until(lambda: person.join.error_label.text(), "an error")
        assert f"127.0.0.1:{meeting.port}" in person.join.error_label.text()
        assert person.join.join_button.isEnabled()

    drive(qapp, tmp_path, monkeypatch, scenario, pin=None)


def click(button: Any) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def pick(combo: Any, index: int) -> None:
    # What choosing an entry from the drop-down does (popups do not open offscreen).
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_camera_preview_and_a_missing_camera_before_joining(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(meeting: Meeting, person: Person) -> None:
        controls = person.join.media_controls
        names = [controls.camera_combo.itemText(i) for i in range(controls.camera_combo.count())]
        assert names == ["Test pattern (built in)", "Missing camera"]
        assert controls.microphone_combo.currentText() == "1 kHz tone (built in)"
        assert controls.camera_button.text() == "Camera off"

        click(controls.camera_button)
        await until(lambda: controls.preview.frames_shown >= 3, "the camera preview")
        assert controls.camera_button.isChecked() and controls.camera_button.text() == "Camera on"

        pick(controls.camera_combo, 1)
        await until(lambda: controls.message_label.isVisible(), "the camera problem")
        assert controls.message_label.text() == (
            "Camera “Missing camera” is not connected. Check the cable or choose another camera."
        )
        assert not controls.camera_button.isChecked() and not controls.preview.showing
        assert person.controller.media.camera is None

        pick(controls.camera_combo, 0)
        click(controls.camera_button)
        await until(lambda: controls.preview.showing, "the preview again")
        assert not controls.message_label.isVisible()

    drive(qapp, tmp_path, monkeypatch, scenario, pin=None)


def test_camera_and_microphone_switched_during_a_share(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(meeting: Meeting, person: Person) -> None:
        click(person.join.media_controls.camera_button)
        await until(lambda: person.controller.media.camera is not None, "the camera on")
        person.type_meeting(str(meeting.meeting_id))
        await until(lambda: person.bar.isVisible(), "the sharing bar")
        (presenter,) = meeting.service.presenters
        bar = person.bar.media_controls
        assert bar.camera_button.isChecked() and not bar.microphone_button.isChecked()
        await until(lambda: presenter.camera_frames > 5, "camera frames at the receiver")
        await until(lambda: bar.preview.frames_shown >= 3, "the preview in the bar")
        assert (presenter.camera_width, presenter.camera_height) == (320, 240)

        click(bar.microphone_button)
        await until(lambda: presenter.microphone_on, "the microphone at the receiver")
        await until(lambda: presenter.audio_frames > 20, "sound at the receiver")
        click(bar.camera_button)
        await until(lambda: not presenter.camera_on, "the camera off at the receiver")
        assert not bar.preview.showing and bar.camera_button.text() == "Camera off"
        screen = presenter.frames
        await until(lambda: presenter.frames > screen + 10, "the screen going on")

        await meeting.service.set_muted(presenter.id, True)
        await until(lambda: not bar.microphone_button.isChecked(), "the microphone off")
        assert "turned your microphone off" in person.bar.notice_label.text()
        assert not presenter.microphone_on

        click(person.bar.stop_button)
        await until(lambda: person.join.isVisible(), "the join window again")
        # The devices are the person's, not the share's: still switchable afterwards.
        assert person.join.media_controls.camera_button.isEnabled()

    drive(qapp, tmp_path, monkeypatch, scenario, pin=None)
