"""End to end under Xvfb, checked the way a person would check it.

The receiver runs as its own program with its full-screen window on one
virtual display; the screen workload runs on another; the client's windows
are driven like a person (type the ID, the name, the PIN, click Join). The
test passes only when a screenshot of the receiver's display shows the
workload's two timestamp strips (top-left and bottom-right of the shared
screen) with a recent stamp — and, with a second presenter, four at once.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from bench.xvfb import Xvfb, workload_on
from montage_client.core.screen_source import ScreenGrabber, list_monitors
from montage_client.settings import ClientSettings
from montage_client.ui.controller import ClientController
from montage_client.ui.join_window import JoinWindow
from montage_client.ui.sharing_bar import SharingBar
from tests.screens import recent_stamps

pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.slow,
    pytest.mark.timeout(240),
    # The camera/microphone lists ask Qt's media backend, which says so when a
    # machine (like this one) has no sound server: a limit of the machine.
    pytest.mark.qt_log_ignore("PulseAudioService", "pipewire", extend=True),
]
PIN = "2468"


@pytest.fixture(scope="module")
def presenter_screen() -> Iterator[Xvfb]:
    """A laptop's screen: the workload painting its strip on an Xvfb display."""
    with Xvfb(1280, 720) as screen, workload_on(screen, "slides"):
        yield screen


class ReceiverProcess:
    """`montage-receiver` with its window on its own display."""

    def __init__(self, display: Xvfb, data_dir: Path) -> None:
        self.records: list[dict[str, Any]] = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "montage_receiver",
                "--status-json",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--pin",
                PIN,
                "--name",
                "E2E Room",
                "--data-dir",
                str(data_dir),
            ],
            env=display.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.ready = json.loads(self.proc.stdout.readline())
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.records.append(json.loads(line))

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


async def until(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(condition) if callable(condition) else condition
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_person_shares_screen_and_receiver_shows_it(
    qapp: QApplication,
    presenter_screen: Xvfb,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MONTAGE_CONFIG_DIR", str(tmp_path / "client-config"))
    with Xvfb(1920, 1080) as room_display:
        receiver = ReceiverProcess(room_display, tmp_path / "receiver")
        second: subprocess.Popen[str] | None = None
        try:
            meeting_id = receiver.ready["meeting_id"]
            assert receiver.ready["pin"] == PIN
            join_window, bar = JoinWindow(), SharingBar()
            controller = ClientController(
                join_window,
                bar,
                ClientSettings.load(),
                port=receiver.ready["port"],
                grabber_factory=lambda n: ScreenGrabber(monitor=n, display=presenter_screen.name),
                monitor_lister=lambda: list_monitors(presenter_screen.name),
            )
            join_window.show()
            loop = qasync.QEventLoop(qapp)
            asyncio.set_event_loop(loop)

            async def person() -> None:
                nonlocal second
                # Before anyone shares, the room's screen shows no strip.
                assert recent_stamps(room_display) == []
                spaced = f"{meeting_id[:3]} {meeting_id[3:6]} {meeting_id[6:]}"
                QTest.keyClicks(join_window.meeting_edit, spaced)
                join_window.name_edit.clear()
                QTest.keyClicks(join_window.name_edit, "Ada Lovelace")
                QTest.mouseClick(join_window.join_button, Qt.MouseButton.LeftButton)
                await until(lambda: join_window.pin_edit.isVisible(), 15, "the PIN field")
                QTest.keyClicks(join_window.pin_edit, PIN)
                QTest.mouseClick(join_window.join_button, Qt.MouseButton.LeftButton)
                await until(lambda: bar.isVisible(), 15, "the sharing bar")
                assert not join_window.isVisible()
                assert "E2E Room" in bar.status_label.text()

                # What a person in the room sees: the laptop's screen, live.
                stamps = await until(
                    lambda: recent_stamps(room_display),
                    20,
                    "the shared screen on the receiver's display",
                )
                # The screen's two corner strips, nothing covering either.
                assert len(stamps) == 2

                # A second presenter joins from the command line.
                second = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "montage_client",
                        "--port",
                        str(receiver.ready["port"]),
                        "join",
                        meeting_id,
                        "--pin",
                        PIN,
                        "--name",
                        "Grace Hopper",
                        "--seconds",
                        "60",
                    ],
                    env=dict(presenter_screen.env(), MONTAGE_CONFIG_DIR=str(tmp_path / "c2")),
                    stderr=subprocess.PIPE,
                    text=True,
                )
                both = await until(
                    lambda: len(recent_stamps(room_display)) >= 4 and recent_stamps(room_display),
                    30,
                    "two presenters at once",
                )
                # The top-left strips of the two screens sit in separate tiles.
                top = min(s.y for s in both)
                xs = sorted(s.x for s in both if s.y <= top + 4)
                assert len(xs) == 2 and xs[1] - xs[0] > 400, f"strips in separate tiles? {both}"
                names = {r["name"] for r in receiver.records if r["event"] == "presenter_joined"}
                assert {"Ada Lovelace", "Grace Hopper"} <= names

                # Ada stops from the sharing bar; the room is left with Grace.
                QTest.mouseClick(bar.stop_button, Qt.MouseButton.LeftButton)
                await until(lambda: join_window.isVisible(), 15, "the join window again")
                assert not bar.isVisible()
                assert "stopped sharing" in join_window.status_label.text()
                await until(
                    lambda: len(recent_stamps(room_display)) == 2,
                    15,
                    "one presenter left on screen",
                )
                assert ClientSettings.load().name == "Ada Lovelace"
                assert ClientSettings.load().recent_meetings == [meeting_id]

                # Someone in the room presses Ctrl+1 on the receiver's keyboard
                # (real X input events): Grace's share is stopped and told so.
                subprocess.run(
                    ["xdotool", "mousemove", "960", "540", "key", "ctrl+1"],
                    env=room_display.env(),
                    check=True,
                )
                _, grace_err = await asyncio.to_thread(second.communicate, timeout=15)
                assert second.returncode == 1
                assert grace_err.strip().splitlines()[-1].endswith("The room stopped your share.")
                await until(
                    lambda: recent_stamps(room_display) == [],
                    15,
                    "the receiver back to its idle screen",
                )

            with loop:
                try:
                    loop.run_until_complete(asyncio.wait_for(person(), 180))
                finally:
                    # Whatever happened, end the share before the displays go.
                    controller.stop()
                    if controller.task is not None:
                        loop.run_until_complete(asyncio.wait([controller.task], timeout=15))
        finally:
            if second is not None:
                second.terminate()
                second.wait(15)
            err = receiver.stop()
            assert "Traceback" not in err, err
