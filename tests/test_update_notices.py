"""When and where updates are offered: checks at start and each interval, never while busy;
the receiver's idle page only, never over a presenter's picture; the README's exit codes;
an update file on a drive is offered once, and only once it has been copied in full."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from montage_core.updates.errors import (
    BadSignature,
    ExpiredMetadata,
    HashMismatch,
    NoNetwork,
    ProxyRefusedUpdate,
    Rollback,
    UpdateError,
)
from montage_core.updates.removable import BundleScanner, watch_for_bundles
from montage_core.updates.schedule import check_periodically
from montage_receiver.ui.window import ReceiverWindow
from tests.test_receiver_window import make_presenter


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[ReceiverWindow]:
    win = ReceiverWindow("Boardroom 3", "123 456 7890", "1234")
    qtbot.addWidget(win)
    win.resize(1280, 720)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


def test_the_receiver_offers_an_update_on_its_idle_screen_only(
    window: ReceiverWindow, qtbot: QtBot
) -> None:
    notice = window.idle_page.update_notice
    assert not notice.isVisible()
    window.show_update_notice("Montage 0.2.0 is available.")
    assert notice.isVisible() and notice.label.text() == "Montage 0.2.0 is available."
    # Small and at the bottom: the join details stay the page's subject.
    assert notice.geometry().top() > window.idle_page.pin_label.geometry().bottom()  # type: ignore[union-attr]
    assert notice.height() < window.height() * 0.1

    window.add_presenter(make_presenter(1, "Ada", (200, 30, 30)))
    assert not notice.isVisible()  # the presenter's picture has the whole screen
    window.remove_presenter(1)
    assert notice.isVisible()

    with qtbot.waitSignal(window.update_install_requested):
        qtbot.mouseClick(notice.button, Qt.MouseButton.LeftButton)
    assert notice.button.text() == "Installing…" and not notice.button.isEnabled()


@pytest.mark.parametrize(
    ("refusal", "words"),
    [
        (BadSignature, "not signed by the release keys"),
        (Rollback, "a rollback"),
        (ExpiredMetadata, "expired release information"),
        (HashMismatch, "the file does not match its signed size and fingerprint"),
        (NoNetwork, "the update server cannot be reached or the download stopped"),
        (ProxyRefusedUpdate, "the proxy refused"),
    ],
)
def test_each_update_refusal_exits_with_the_code_the_readme_gives_it(
    refusal: type[UpdateError], words: str
) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    paragraph = " ".join(readme[readme.index("Refusals leave the installed") :].split())
    after = paragraph.split(f"**{refusal.exit_code}**", 1)[1]
    assert after.split("**", 1)[0].strip().startswith(words)


def test_checks_run_at_start_and_again_each_interval_but_never_while_busy() -> None:
    """schedule.py with a short interval: the daily rule, sped up."""
    busy = True
    checks: list[float] = []
    found: list[str] = []

    async def check() -> str | None:
        checks.append(asyncio.get_running_loop().time())
        return "0.2.0" if len(checks) == 2 else None

    async def scenario() -> None:
        nonlocal busy
        task = asyncio.ensure_future(
            check_periodically(check, found.append, lambda: busy, interval=0.2, poll=0.02)
        )
        await asyncio.sleep(0.3)
        assert checks == []  # a share is being set up: no check yet
        busy = False
        await asyncio.sleep(0.1)
        assert len(checks) == 1  # at once when idle ...
        busy = True
        await asyncio.sleep(0.4)
        assert len(checks) == 1  # ... and the next one waits for idle again
        busy = False
        await asyncio.sleep(0.1)
        task.cancel()
        assert len(checks) == 2 and found == ["0.2.0"]

    asyncio.run(scenario())


def test_a_file_still_being_copied_is_left_alone_until_it_stops_changing(tmp_path: Path) -> None:
    drive = tmp_path / "usb"
    (drive / "updates").mkdir(parents=True)
    bundle = drive / "updates" / "montage-receiver.montage-update"
    scanner = BundleScanner([drive])
    with bundle.open("wb") as copying:
        for _ in range(3):  # the copy goes on between scans: never reported
            copying.write(b"x" * 1000)
            copying.flush()
            assert scanner.scan() == []
    assert scanner.scan() == [bundle]  # unchanged since the last scan: complete
    assert scanner.scan() == []  # reported once
    bundle.write_bytes(b"y" * 10)  # replaced by another file
    assert scanner.scan() == []
    assert scanner.scan() == [bundle]


def test_the_drive_watch_reports_a_copied_file_once(tmp_path: Path) -> None:
    (tmp_path / "drive").mkdir()
    bundle = tmp_path / "drive" / "r.montage-update"
    bundle.write_bytes(b"z" * 100)
    found: list[Path] = []

    async def scenario() -> None:
        watching = asyncio.ensure_future(watch_for_bundles([tmp_path], found.append, 0.02))
        for _ in range(100):
            await asyncio.sleep(0.02)
        watching.cancel()

    asyncio.run(scenario())
    assert found == [bundle]
