"""The small always-on-top bar shown while sharing: which screen, pause, stop.

It stays on top so the controls remain reachable over whatever is being
presented, and it is a Tool window so it stays out of the task bar. A dot
before the status says how the connection is doing (green, amber, red; grey
while reconnecting), with the figures in its tooltip.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from montage_client.core.change_pacing import Quality
from montage_client.core.screen_source import Monitor

from .media_controls import MediaControls

logger = logging.getLogger(__name__)


LINK_COLOURS = {"good": "#2fa84f", "fair": "#e0a106", "poor": "#d64541"}
LINK_WORDS = {
    "good": "Connection: good",
    "fair": "Connection: fair — the picture may lag or stutter",
    "poor": "Connection: poor — the room may see a frozen or late picture",
}

QUALITY_CHOICES = (
    ("Auto", Quality.AUTO),
    ("Sharp text", Quality.TEXT),
    ("Smooth motion", Quality.MOTION),
)


class SharingBar(QWidget):
    monitor_selected = Signal(int)  # Monitor.index
    quality_selected = Signal(str)  # a Quality value
    pause_toggled = Signal(bool)
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.WindowStaysOnTopHint)
        self.setWindowTitle("Montage — Sharing")
        self._current_index: int | None = None

        self.status_label = QLabel()
        font = self.status_label.font()
        font.setBold(True)
        self.status_label.setFont(font)
        self.link_mark = QLabel("●")
        self.link_mark.setAccessibleName("Connection quality")
        self.link_grade: str | None = None
        self.set_link(None)

        self.monitor_combo = QComboBox()
        self.monitor_combo.setToolTip("Which screen to share")
        self.quality_combo = QComboBox()
        self.quality_combo.setToolTip(
            "Sharp text (fewer frames), smooth motion, or automatic from what is changing"
        )
        for label, quality in QUALITY_CHOICES:
            self.quality_combo.addItem(label, quality.value)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Freeze what the room sees without leaving")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop sharing and leave the room")

        self.notice_label = QLabel()
        self.notice_label.setWordWrap(True)
        self.notice_label.hide()
        # Camera and microphone switch on and off here while sharing.
        self.media_controls = MediaControls(compact=True)

        row = QHBoxLayout()
        row.addWidget(self.link_mark)
        row.addWidget(self.status_label, 1)
        row.addWidget(self.monitor_combo)
        row.addWidget(self.quality_combo)
        row.addWidget(self.pause_button)
        row.addWidget(self.stop_button)
        layout = self._layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(row)
        layout.addWidget(self.notice_label)
        layout.addWidget(self.media_controls)

        # `activated` fires only for the person's own choice, never for
        # set_monitors filling the list.
        self.monitor_combo.activated.connect(self._on_monitor_activated)
        self.quality_combo.activated.connect(
            lambda position: self.quality_selected.emit(self.quality_combo.itemData(position))
        )
        self.pause_button.toggled.connect(self._show_paused)
        # `clicked` (unlike `toggled`) is not emitted by set_paused.
        self.pause_button.clicked.connect(self.pause_toggled)
        self.stop_button.clicked.connect(self.stop_requested)

    def set_monitors(self, monitors: list[Monitor], current: int) -> None:
        """Fill the screen list; `current` is the Monitor.index being shared."""
        self.monitor_combo.blockSignals(True)
        try:
            self.monitor_combo.clear()
            for monitor in monitors:
                self.monitor_combo.addItem(monitor.label(), monitor.index)
            position = self.monitor_combo.findData(current)
            self.monitor_combo.setCurrentIndex(position)
        finally:
            self.monitor_combo.blockSignals(False)
        self._current_index = current if position >= 0 else None
        # With one screen there is nothing to choose, but its size is still worth showing.
        self.monitor_combo.setEnabled(len(monitors) > 1)

    def set_quality(self, quality: Quality) -> None:
        """Show the mode in use (without emitting)."""
        self.quality_combo.setCurrentIndex(self.quality_combo.findData(quality.value))

    def set_status(self, text: str) -> None:
        self.status_label.setText(text)

    def set_link(self, grade: str | None, detail: str = "") -> None:
        """The connection-quality mark: "good", "fair", "poor", or None (not known now)."""
        self.link_grade = grade
        colour = LINK_COLOURS.get(grade or "", "#8a8f98")
        self.link_mark.setStyleSheet(f"color: {colour};")
        words = LINK_WORDS.get(grade or "", "Connection: not measured yet")
        self.link_mark.setToolTip(f"{words}{f' ({detail})' if detail else ''}")

    def show_notice(self, text: str) -> None:
        """Something to know while sharing goes on (the room muted you)."""
        self.notice_label.setText(text)
        self.notice_label.setVisible(bool(text))
        # Fit the height (no empty row left behind when a notice goes) but
        # never narrow the bar: "Reconnecting…" is shorter than "Sharing to
        # …", and Pause and Stop would jump away from under the pointer.
        layout = self._layout
        layout.activate()  # take the notice's row in or out of the hints now
        width = max(self.width(), self.sizeHint().width())
        if layout.hasHeightForWidth():
            height = layout.totalHeightForWidth(width)
        else:
            height = self.sizeHint().height()
        self.resize(width, height)

    def set_paused(self, paused: bool) -> None:
        self.pause_button.setChecked(paused)

    def _show_paused(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")

    def _on_monitor_activated(self, position: int) -> None:
        index = self.monitor_combo.itemData(position)
        if not isinstance(index, int) or index == self._current_index:
            return
        self._current_index = index
        self.monitor_selected.emit(index)


__all__ = ["SharingBar"]
