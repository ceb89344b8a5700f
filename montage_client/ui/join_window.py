"""The small window a person uses to join a room: meeting ID, name, then maybe a PIN.

It only collects input and shows what the controller tells it; it never
connects anywhere. Two stages share one form: "join" (meeting ID + name) and,
after `ask_pin`, "pin" — where Join/Enter sends the PIN instead.
"""

from __future__ import annotations

import logging
from enum import Enum

from PySide6.QtCore import QRegularExpression, Qt, Signal
from PySide6.QtGui import QColor, QPalette, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .media_controls import MediaControls
from .update_banner import UpdateBanner

logger = logging.getLogger(__name__)

PIN_LENGTH = 4
NAME_MISSING = "Enter your name so the room knows who is sharing."
PIN_HINT = "Enter the PIN shown on the room's screen."
PIN_SHORT = f"The PIN has {PIN_LENGTH} digits."
ERROR_COLOUR = QColor(200, 40, 40)


class _Stage(Enum):
    JOIN = "join"
    PIN = "pin"


class JoinWindow(QWidget):
    join_requested = Signal(str, str)  # raw meeting ID text, name
    pin_entered = Signal(str)
    cancel_requested = Signal()
    cloud_settings_requested = Signal()
    network_settings_requested = Signal()
    nearby_room_chosen = Signal(int)  # its row in "Rooms near you"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Montage — Share your screen")
        self._stage = _Stage.JOIN
        self._busy = False

        title = QLabel("Share your screen to a meeting room")
        title_font = title.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.3)
        title_font.setBold(True)
        title.setFont(title_font)

        # An editable combo: type a new ID or pick a recent one from the list;
        # its completer also offers recent meetings while typing.
        self.meeting_combo = QComboBox()
        self.meeting_combo.setEditable(True)
        self.meeting_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.meeting_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        meeting_edit = self.meeting_combo.lineEdit()
        assert meeting_edit is not None  # editable combos always have one
        self.meeting_edit: QLineEdit = meeting_edit
        self.meeting_edit.setPlaceholderText("123 456 7890")
        completer = self.meeting_combo.completer()
        if completer is not None:
            completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Your name")
        self.name_edit.setMaxLength(64)

        self.pin_label = QLabel("PIN")
        self.pin_edit = QLineEdit()
        self.pin_edit.setPlaceholderText("1234")
        self.pin_edit.setMaxLength(PIN_LENGTH)
        self.pin_edit.setValidator(
            QRegularExpressionValidator(QRegularExpression(rf"\d{{0,{PIN_LENGTH}}}"), self.pin_edit)
        )
        self.pin_edit.setInputMethodHints(Qt.InputMethodHint.ImhDigitsOnly)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Meeting ID", self.meeting_combo)
        form.addRow("Your name", self.name_edit)
        form.addRow(self.pin_label, self.pin_edit)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        palette = self.error_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, ERROR_COLOUR)
        self.error_label.setPalette(palette)

        self.join_button = QPushButton("Join")
        self.join_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cloud_button = QPushButton("Cloud account…")
        self.cloud_button.setToolTip("Enrol this computer to join 6-digit (cloud) meetings")
        self.network_button = QPushButton("Network…")
        self.network_button.setToolTip("The proxy to reach the cloud through, and a test of it")
        buttons = QHBoxLayout()
        buttons.addWidget(self.cloud_button)
        buttons.addWidget(self.network_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.join_button)

        # Rooms announced on this network (the controller fills the list); a
        # click puts the room's meeting ID in the field above.
        self.nearby_label = QLabel("Rooms near you")
        self.nearby_list = QListWidget()
        self.nearby_list.setMaximumHeight(96)
        self.nearby_list.setToolTip("Click a room to fill in its meeting ID")
        self.nearby_label.hide()
        self.nearby_list.hide()

        layout = QVBoxLayout(self)
        self.update_banner = UpdateBanner()  # hidden until a newer version is found
        layout.addWidget(self.update_banner)
        layout.addWidget(title)
        layout.addLayout(form)
        layout.addWidget(self.nearby_label)
        layout.addWidget(self.nearby_list)
        # Camera and microphone can be chosen, previewed and switched on before joining.
        self.media_controls = MediaControls()
        layout.addWidget(self.media_controls)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        layout.addLayout(buttons)

        self.join_button.clicked.connect(self._submit)
        self.cloud_button.clicked.connect(self.cloud_settings_requested)
        self.network_button.clicked.connect(self.network_settings_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.nearby_list.itemClicked.connect(
            lambda item: self.nearby_room_chosen.emit(self.nearby_list.row(item))
        )
        for edit in (self.meeting_edit, self.name_edit, self.pin_edit):
            edit.returnPressed.connect(self._submit)

        self.setMinimumWidth(380)
        self._apply_state()
        self._set_status("")
        self._set_error("")

    # -- public API -------------------------------------------------------------

    def set_recent(self, meetings: list[str]) -> None:
        """Offer these meeting IDs (display form, newest first); keeps what is typed."""
        typed = self.meeting_edit.text()
        self.meeting_combo.blockSignals(True)
        try:
            self.meeting_combo.clear()
            self.meeting_combo.addItems(meetings)
            # Adding items selects the first one; the field should still show
            # whatever the person typed (or nothing).
            self.meeting_combo.setCurrentIndex(-1)
            self.meeting_edit.setText(typed)
        finally:
            self.meeting_combo.blockSignals(False)

    def set_name(self, name: str) -> None:
        self.name_edit.setText(name)

    def set_nearby(self, rooms: list[str]) -> None:
        """The rooms announced nearby, one line each; hidden while there are none."""
        self.nearby_list.clear()
        self.nearby_list.addItems(rooms)
        self.nearby_label.setVisible(bool(rooms))
        self.nearby_list.setVisible(bool(rooms))

    def set_meeting_id(self, text: str) -> None:
        """Fill in a meeting ID (a room chosen nearby); the name field is next."""
        if self._stage is _Stage.JOIN and not self._busy:
            self.meeting_edit.setText(text)
            self._set_error("")
            self._focus_first_empty()

    def show_progress(self, text: str) -> None:
        """Say what is happening ("Connecting…"); the form is busy meanwhile."""
        self._set_error("")
        self._set_status(text)
        self.set_busy(True)

    def show_notice(self, text: str) -> None:
        """Say how the last attempt ended when nothing went wrong; the form is free."""
        self.reset()
        self._set_status(text)

    def show_error(self, text: str) -> None:
        """The attempt is over: show why and hand the form back, keeping what was typed.

        A wrong PIN is not an error in this sense — the controller calls
        `ask_pin` for that — so the PIN stage ends here too.
        """
        self._stage = _Stage.JOIN
        self.pin_edit.clear()
        self._set_status("")
        self._set_error(text)
        self._busy = False
        self._apply_state()
        self._focus_first_empty()

    def ask_pin(self, message: str | None = None) -> None:
        """Reveal the PIN field; Join/Enter then emits `pin_entered`."""
        self._stage = _Stage.PIN
        self._busy = False
        self.pin_edit.clear()
        if message:
            self._set_status("")
            self._set_error(message)
        else:
            self._set_error("")
            self._set_status(PIN_HINT)
        self._apply_state()
        self.pin_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._apply_state()

    def reset(self) -> None:
        """Back to the start: PIN hidden and cleared, not busy; meeting ID and name kept."""
        self._stage = _Stage.JOIN
        self._busy = False
        self.pin_edit.clear()
        self._set_status("")
        self._set_error("")
        self._apply_state()

    @property
    def asking_pin(self) -> bool:
        return self._stage is _Stage.PIN

    # -- internals --------------------------------------------------------------

    def _submit(self) -> None:
        if self._busy:
            return
        if self._stage is _Stage.PIN:
            pin = self.pin_edit.text()
            # A short PIN would only burn one of the room's limited tries.
            if len(pin) != PIN_LENGTH:
                self._set_error(PIN_SHORT)
                self.pin_edit.setFocus(Qt.FocusReason.OtherFocusReason)
                return
            self._set_error("")
            self.pin_entered.emit(pin)
            return
        name = self.name_edit.text().strip()
        if not name:
            self._set_error(NAME_MISSING)
            self.name_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self._set_error("")
        self.join_requested.emit(self.meeting_edit.text(), name)

    def _apply_state(self) -> None:
        pin_stage = self._stage is _Stage.PIN
        busy = self._busy
        self.pin_label.setVisible(pin_stage)
        self.pin_edit.setVisible(pin_stage)
        # Once the room asks for a PIN the meeting and name are settled; to
        # change them the person cancels and starts over.
        self.meeting_combo.setEnabled(not busy and not pin_stage)
        self.name_edit.setEnabled(not busy and not pin_stage)
        self.pin_edit.setEnabled(not busy)
        self.join_button.setEnabled(not busy)
        self.cancel_button.setVisible(busy or pin_stage)

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))

    def _set_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _focus_first_empty(self) -> None:
        if not self.meeting_edit.text().strip():
            self.meeting_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        elif not self.name_edit.text().strip():
            self.name_edit.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.meeting_edit.setFocus(Qt.FocusReason.OtherFocusReason)


__all__ = ["JoinWindow"]
