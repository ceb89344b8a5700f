"""Where updates are shown: the receiver's idle page only, never over a presenter's picture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

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
