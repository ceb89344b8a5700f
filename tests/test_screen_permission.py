"""macOS screen-recording consent, decided on fake CoreGraphics answers (runs on Linux).

What must never happen: a share that starts while macOS withholds the
permission, sending the room an empty desktop. What must happen instead:
Montage is put in the Screen Recording list, the right System Settings pane
opens, and the person reads what to do — in the window and on the command line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from montage_client.core import screen_permission
from montage_client.core.screen_permission import (
    SETTINGS_URL,
    CaptureAccess,
    Decision,
    ScreenRecordingNotAllowed,
    capture_decision,
    require_screen_capture,
)
from montage_client.core.screen_source import ScreenGrabber, ScreenSource


class FakeCoreGraphics:
    def __init__(self, allowed: bool, has_request: bool = True) -> None:
        self.allowed = allowed
        self.preflights = 0
        self.requests = 0
        self.has_request = has_request

    def preflight(self) -> bool:
        self.preflights += 1
        return self.allowed

    def request(self) -> bool:
        self.requests += 1
        return False  # macOS only lists the app; the person switches it on

    def access(self) -> CaptureAccess:
        return CaptureAccess(self.preflight, self.request if self.has_request else None)


class SettingsOpener:
    def __init__(self, works: bool = True) -> None:
        self.opened: list[str] = []
        self.works = works

    def __call__(self, url: str) -> bool:
        self.opened.append(url)
        return self.works


@pytest.mark.parametrize(
    ("platform", "access", "decision"),
    [
        ("darwin", CaptureAccess(lambda: True, None), Decision.SHARE),
        ("darwin", CaptureAccess(lambda: False, lambda: False), Decision.ASK),
        # macOS before 10.15: no such function, and no such permission.
        ("darwin", CaptureAccess(None, None), Decision.SHARE),
        # CoreGraphics could not be loaded at all: capture will tell.
        ("darwin", None, Decision.SHARE),
        ("linux", CaptureAccess(lambda: False, None), Decision.SHARE),
        ("win32", CaptureAccess(lambda: False, None), Decision.SHARE),
    ],
)
def test_decision(platform: str, access: CaptureAccess | None, decision: Decision) -> None:
    assert capture_decision(platform, access) is decision


def test_allowed_share_asks_nothing_more() -> None:
    graphics, opener = FakeCoreGraphics(allowed=True), SettingsOpener()
    require_screen_capture("darwin", graphics.access(), opener)
    assert (graphics.preflights, graphics.requests, opener.opened) == (1, 0, [])


def test_refused_share_lists_montage_opens_the_pane_and_says_what_to_do() -> None:
    graphics, opener = FakeCoreGraphics(allowed=False), SettingsOpener()
    with pytest.raises(ScreenRecordingNotAllowed) as refused:
        require_screen_capture("darwin", graphics.access(), opener)
    assert graphics.requests == 1
    assert opener.opened == [SETTINGS_URL]
    assert "Privacy_ScreenCapture" in SETTINGS_URL
    sentence = str(refused.value)
    assert "Screen Recording" in sentence
    assert "opened for you" in sentence
    assert "quit Montage and open it again" in sentence
    assert refused.value.exit_code == 1


def test_when_the_pane_cannot_open_the_sentence_says_where_to_go() -> None:
    graphics, opener = FakeCoreGraphics(allowed=False, has_request=False), SettingsOpener(False)
    with pytest.raises(ScreenRecordingNotAllowed) as refused:
        require_screen_capture("darwin", graphics.access(), opener)
    assert "Open System Settings › Privacy & Security › Screen Recording" in str(refused.value)
    assert "opened for you" not in str(refused.value)


def test_other_systems_never_ask_core_graphics() -> None:
    def must_not_load() -> None:
        raise AssertionError("CoreGraphics asked on Linux")

    require_screen_capture("linux", None, lambda url: must_not_load() or False)


def test_share_does_not_start_without_the_permission(monkeypatch: pytest.MonkeyPatch) -> None:
    """The capture path itself refuses before its first picture: nothing reaches a receiver."""
    graphics, opener = FakeCoreGraphics(allowed=False), SettingsOpener()
    grabbed: list[Any] = []

    class WallpaperOnly:  # what mss gives on macOS without the permission
        monitors: ClassVar = [{}, {"left": 0, "top": 0, "width": 64, "height": 32}]

        def grab(self, monitor: dict[str, int]) -> Any:
            grabbed.append(monitor)
            raise AssertionError("captured without the permission")

        def close(self) -> None:
            pass

    import mss

    monkeypatch.setattr(mss, "MSS", lambda *a, **k: WallpaperOnly())
    monkeypatch.setattr(screen_permission.sys, "platform", "darwin")
    monkeypatch.setattr(screen_permission, "core_graphics_access", graphics.access)
    monkeypatch.setattr(screen_permission, "open_system_settings", opener)

    source = ScreenSource(ScreenGrabber(monitor=1), fps=10)
    with pytest.raises(ScreenRecordingNotAllowed):
        asyncio.run(source.start())
    source.stop()
    assert grabbed == []
    assert opener.opened == [SETTINGS_URL]

    # Once allowed (after the restart the sentence asks for), the same path captures.
    graphics.allowed = True
    blank = np.zeros((32, 64, 4), np.uint8)

    class Allowed(WallpaperOnly):
        def grab(self, monitor: dict[str, int]) -> Any:
            grabbed.append(monitor)
            return type("Shot", (), {"raw": blank.tobytes(), "width": 64, "height": 32})()

    monkeypatch.setattr(mss, "MSS", lambda *a, **k: Allowed())
    source = ScreenSource(ScreenGrabber(monitor=1), fps=10)
    asyncio.run(source.start())
    source.stop()
    assert grabbed and source.size == (64, 32)


def test_the_window_says_what_to_do_and_the_room_sees_nothing(
    qapp: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person presses Join on a Mac that withholds screen recording: the join
    window shows the sentence, the pane is opened, no presenter reaches the room."""
    from montage_client.settings import ClientSettings
    from montage_client.ui.controller import ClientController
    from montage_client.ui.join_window import JoinWindow
    from montage_client.ui.sharing_bar import SharingBar
    from montage_receiver.meeting import Meeting
    from tests.test_client_gui import Person, drive, until

    graphics, opener = FakeCoreGraphics(allowed=False), SettingsOpener()
    import mss

    class Desktop:
        monitors: ClassVar = [{}, {"left": 0, "top": 0, "width": 64, "height": 32}]

        def grab(self, monitor: dict[str, int]) -> Any:
            raise AssertionError("captured without the permission")

        def close(self) -> None:
            pass

    monkeypatch.setattr(mss, "MSS", lambda *a, **k: Desktop())
    monkeypatch.setattr(screen_permission.sys, "platform", "darwin")
    monkeypatch.setattr(screen_permission, "core_graphics_access", graphics.access)
    monkeypatch.setattr(screen_permission, "open_system_settings", opener)

    async def scenario(meeting: Meeting, _person: Person) -> None:
        join, bar = JoinWindow(), SharingBar()
        controller = ClientController(
            join,
            bar,
            ClientSettings.load(tmp_path / "mac.json"),
            port=meeting.port,
            grabber_factory=lambda n: ScreenGrabber(monitor=n),
            monitor_lister=lambda: [],
        )
        join.show()
        try:
            join.meeting_edit.setText(str(meeting.meeting_id))
            join.name_edit.setText("Ada")
            join.join_button.click()
            await until(lambda: "Screen Recording" in join.error_label.text(), "the sentence")
            assert "quit Montage and open it again" in join.error_label.text()
            assert join.join_button.isEnabled() and not bar.isVisible()
            assert opener.opened == [SETTINGS_URL]
            assert meeting.service.presenters == []
        finally:
            controller.close()
            join.close()
            bar.close()

    drive(qapp, tmp_path, monkeypatch, scenario)
