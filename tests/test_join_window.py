"""The client's join window and sharing bar."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QValidator
from pytestqt.qtbot import QtBot

from montage_client.core.screen_source import Monitor
from montage_client.ui.join_window import NAME_MISSING, PIN_HINT, JoinWindow
from montage_client.ui.sharing_bar import SharingBar

# The offscreen platform cannot resize or raise windows; on a real desktop these
# calls work, so its complaints about them are not bugs in the widgets.
pytestmark = pytest.mark.qt_log_ignore(
    r"This plugin does not support (propagateSizeHints|raise)\(\)"
)


@pytest.fixture
def join(qtbot: QtBot) -> JoinWindow:
    window = JoinWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


# -- JoinWindow ------------------------------------------------------------------


def test_initial_state(join: JoinWindow) -> None:
    assert not join.pin_edit.isVisible()
    assert not join.cancel_button.isVisible()
    assert not join.error_label.isVisible()
    assert join.join_button.isEnabled()
    assert join.join_button.text() == "Join"


def test_join_emits_meeting_id_and_name(join: JoinWindow, qtbot: QtBot) -> None:
    qtbot.keyClicks(join.meeting_edit, "123 456 7890")
    qtbot.keyClicks(join.name_edit, "Alice")
    with qtbot.waitSignal(join.join_requested, timeout=1000) as blocker:
        qtbot.mouseClick(join.join_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["123 456 7890", "Alice"]


def test_enter_in_a_field_joins(join: JoinWindow, qtbot: QtBot) -> None:
    qtbot.keyClicks(join.meeting_edit, "1234567890")
    join.set_name("Bob")
    with qtbot.waitSignal(join.join_requested, timeout=1000) as blocker:
        qtbot.keyClick(join.name_edit, Qt.Key.Key_Return)
    assert blocker.args == ["1234567890", "Bob"]
    with qtbot.waitSignal(join.join_requested, timeout=1000):
        qtbot.keyClick(join.meeting_edit, Qt.Key.Key_Return)


def test_meeting_id_is_passed_raw(join: JoinWindow, qtbot: QtBot) -> None:
    # Validating the ID is the controller's job.
    qtbot.keyClicks(join.meeting_edit, "not a number")
    join.set_name("Alice")
    with qtbot.waitSignal(join.join_requested, timeout=1000) as blocker:
        join.join_button.click()
    assert blocker.args == ["not a number", "Alice"]


def test_empty_name_shows_message_and_does_not_emit(join: JoinWindow, qtbot: QtBot) -> None:
    qtbot.keyClicks(join.meeting_edit, "123 456 7890")
    qtbot.keyClicks(join.name_edit, "   ")
    with qtbot.assertNotEmitted(join.join_requested):
        join.join_button.click()
    assert join.error_label.isVisible()
    assert join.error_label.text() == NAME_MISSING


def test_ask_pin_then_enter_emits_pin(join: JoinWindow, qtbot: QtBot) -> None:
    join.meeting_edit.setText("123 456 7890")
    join.set_name("Alice")
    join.show_progress("Connecting…")
    join.ask_pin(None)
    assert join.pin_edit.isVisible()
    assert join.pin_edit.isEnabled()
    assert join.status_label.text() == PIN_HINT
    assert not join.error_label.isVisible()
    qtbot.keyClicks(join.pin_edit, "1234")
    with (
        qtbot.assertNotEmitted(join.join_requested),
        qtbot.waitSignal(join.pin_entered, timeout=1000) as blocker,
    ):
        qtbot.keyClick(join.pin_edit, Qt.Key.Key_Enter)
    assert blocker.args == ["1234"]


def test_ask_pin_with_message(join: JoinWindow, qtbot: QtBot) -> None:
    join.ask_pin("Wrong PIN. 4 tries left.")
    assert join.error_label.isVisible()
    assert join.error_label.text() == "Wrong PIN. 4 tries left."
    assert join.pin_edit.text() == ""
    with qtbot.waitSignal(join.pin_entered, timeout=1000) as blocker:
        join.pin_edit.setText("0042")
        join.join_button.click()
    assert blocker.args == ["0042"]


def test_short_pin_is_not_sent(join: JoinWindow, qtbot: QtBot) -> None:
    join.ask_pin(None)
    qtbot.keyClicks(join.pin_edit, "12")
    with qtbot.assertNotEmitted(join.pin_entered):
        join.join_button.click()
    assert join.error_label.isVisible()


def test_pin_validator_rejects_letters(join: JoinWindow, qtbot: QtBot) -> None:
    join.ask_pin(None)
    qtbot.keyClicks(join.pin_edit, "1a2b3c45")
    assert join.pin_edit.text() == "1234"
    validator = join.pin_edit.validator()
    assert validator is not None
    # PySide6 returns (state, text, pos) here.
    result = validator.validate("12a4", 0)
    status = result[0] if isinstance(result, tuple) else result
    assert status == QValidator.State.Invalid


def test_show_error_shows_text_and_reenables(join: JoinWindow) -> None:
    join.meeting_edit.setText("123 456 7890")
    join.set_name("Alice")
    join.show_progress("Connecting…")
    assert not join.join_button.isEnabled()
    join.show_error("No room with that meeting ID answered.")
    assert join.error_label.isVisible()
    assert join.error_label.text() == "No room with that meeting ID answered."
    assert join.error_label.wordWrap()
    assert join.join_button.isEnabled()
    assert join.meeting_edit.isEnabled() and join.name_edit.isEnabled()
    assert not join.cancel_button.isVisible()
    # What was typed stays.
    assert join.meeting_edit.text() == "123 456 7890"
    assert join.name_edit.text() == "Alice"


def test_busy_disables_join_and_cancel_emits(join: JoinWindow, qtbot: QtBot) -> None:
    join.set_busy(True)
    assert not join.join_button.isEnabled()
    assert not join.meeting_edit.isEnabled()
    assert not join.name_edit.isEnabled()
    assert join.cancel_button.isVisible()
    with qtbot.waitSignal(join.cancel_requested, timeout=1000):
        qtbot.mouseClick(join.cancel_button, Qt.MouseButton.LeftButton)
    join.set_busy(False)
    assert join.join_button.isEnabled()
    assert not join.cancel_button.isVisible()


def test_enter_while_busy_does_nothing(join: JoinWindow, qtbot: QtBot) -> None:
    join.set_name("Alice")
    join.show_progress("Connecting…")
    assert join.status_label.text() == "Connecting…"
    with qtbot.assertNotEmitted(join.join_requested):
        join.join_button.click()
        join.name_edit.returnPressed.emit()


def test_reset_keeps_meeting_and_name(join: JoinWindow) -> None:
    join.meeting_edit.setText("123 456 7890")
    join.set_name("Alice")
    join.ask_pin("Wrong PIN.")
    join.pin_edit.setText("99")
    join.set_busy(True)
    join.reset()
    assert not join.pin_edit.isVisible()
    assert join.pin_edit.text() == ""
    assert join.join_button.isEnabled()
    assert not join.error_label.isVisible()
    assert not join.cancel_button.isVisible()
    assert join.meeting_edit.text() == "123 456 7890"
    assert join.name_edit.text() == "Alice"


def test_recent_meetings_are_offered(join: JoinWindow, qtbot: QtBot) -> None:
    qtbot.keyClicks(join.meeting_edit, "555")
    join.set_recent(["123 456 7890", "987 654 3210"])
    combo = join.meeting_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["123 456 7890", "987 654 3210"]
    # Filling the list does not overwrite what was typed.
    assert join.meeting_edit.text() == "555"
    completer = join.meeting_edit.completer()
    assert completer is not None
    model = completer.model()
    offered = [model.index(i, 0).data() for i in range(model.rowCount())]
    assert "987 654 3210" in offered
    combo.setCurrentIndex(1)
    assert join.meeting_edit.text() == "987 654 3210"


# -- SharingBar ------------------------------------------------------------------

MONITORS = [Monitor(1, 1920, 1080, 0, 0), Monitor(2, 2560, 1440, 1920, 0)]


@pytest.fixture
def bar(qtbot: QtBot) -> SharingBar:
    widget = SharingBar()
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_sharing_bar_is_always_on_top(bar: SharingBar) -> None:
    assert bar.windowFlags() & Qt.WindowType.WindowStaysOnTopHint


def test_set_monitors_fills_without_emitting(bar: SharingBar, qtbot: QtBot) -> None:
    with qtbot.assertNotEmitted(bar.monitor_selected):
        bar.set_monitors(MONITORS, 2)
    combo = bar.monitor_combo
    assert [combo.itemText(i) for i in range(combo.count())] == [m.label() for m in MONITORS]
    assert combo.currentText() == MONITORS[1].label()
    assert combo.isEnabled()
    bar.set_monitors(MONITORS[:1], 1)
    assert not combo.isEnabled()


def test_user_selection_emits_monitor_index(bar: SharingBar, qtbot: QtBot) -> None:
    bar.set_monitors(MONITORS, 1)
    with qtbot.waitSignal(bar.monitor_selected, timeout=1000) as blocker:
        qtbot.keyClick(bar.monitor_combo, Qt.Key.Key_Down)
    assert blocker.args == [2]
    # Choosing the screen already shared is not a change.
    with qtbot.assertNotEmitted(bar.monitor_selected):
        bar.monitor_combo.activated.emit(1)


def test_pause_toggles_text_and_emits(bar: SharingBar, qtbot: QtBot) -> None:
    assert bar.pause_button.text() == "Pause"
    with qtbot.waitSignal(bar.pause_toggled, timeout=1000) as blocker:
        qtbot.mouseClick(bar.pause_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [True]
    assert bar.pause_button.text() == "Resume"
    with qtbot.waitSignal(bar.pause_toggled, timeout=1000) as blocker:
        qtbot.mouseClick(bar.pause_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [False]
    assert bar.pause_button.text() == "Pause"


def test_set_paused_does_not_emit(bar: SharingBar, qtbot: QtBot) -> None:
    with qtbot.assertNotEmitted(bar.pause_toggled):
        bar.set_paused(True)
    assert bar.pause_button.isChecked()
    assert bar.pause_button.text() == "Resume"
    with qtbot.assertNotEmitted(bar.pause_toggled):
        bar.set_paused(False)
    assert bar.pause_button.text() == "Pause"


def test_stop_emits(bar: SharingBar, qtbot: QtBot) -> None:
    assert bar.stop_button.text() == "Stop"
    with qtbot.waitSignal(bar.stop_requested, timeout=1000):
        qtbot.mouseClick(bar.stop_button, Qt.MouseButton.LeftButton)


def test_set_status(bar: SharingBar) -> None:
    bar.set_status("Sharing to Boardroom 3 (Local)")
    assert bar.status_label.text() == "Sharing to Boardroom 3 (Local)"


def test_a_notice_never_moves_the_buttons(bar: SharingBar, qtbot: QtBot) -> None:
    bar.set_status("Sharing to Boardroom 3 (Local)")
    bar.show_notice("")
    qtbot.wait(10)
    width, stop_x = bar.width(), bar.stop_button.mapToGlobal(bar.stop_button.rect().topLeft()).x()
    # Reconnecting: a shorter status and a notice row.
    bar.set_status("Reconnecting…")
    bar.show_notice("Lost the connection to the receiver.")
    qtbot.wait(10)
    assert bar.width() == width
    assert bar.stop_button.mapToGlobal(bar.stop_button.rect().topLeft()).x() == stop_x
    grown = bar.height()
    bar.set_status("Sharing to Boardroom 3 (Local)")
    bar.show_notice("")
    qtbot.wait(10)
    assert bar.width() == width and bar.height() < grown  # the notice's row is gone


def test_the_connection_mark_shows_the_grade_and_its_figures(bar: SharingBar) -> None:
    assert bar.link_grade is None and "not measured" in bar.link_mark.toolTip()
    bar.set_link("good", "0.2 % lost, 12 ms round trip")
    assert bar.link_grade == "good"
    assert bar.link_mark.toolTip() == "Connection: good (0.2 % lost, 12 ms round trip)"
    colours = set()
    for grade in ("good", "fair", "poor", None):
        bar.set_link(grade)
        colours.add(bar.link_mark.styleSheet())
    assert len(colours) == 4  # each state its own colour
