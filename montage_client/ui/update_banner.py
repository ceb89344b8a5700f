"""The join window's update banner: "Montage 0.2.0 is available — Install", and the notes.

It only shows what it is told and reports the click; `UpdateController`
does the checking and installing.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

BANNER_COLOUR = QColor(226, 238, 252)
TEXT_COLOUR = QColor(20, 40, 70)
ERROR_COLOUR = QColor(170, 30, 30)


class UpdateBanner(QFrame):
    """Hidden until `offer()`; emits `install_clicked`."""

    install_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, BANNER_COLOUR)
        palette.setColor(QPalette.ColorRole.WindowText, TEXT_COLOUR)
        self.setPalette(palette)

        self.headline = QLabel()
        font = self.headline.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.headline.setFont(font)
        self.install_button = QPushButton("Install")
        self.install_button.clicked.connect(self._clicked)
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(self.headline, 1)
        row.addWidget(self.install_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.notes)
        layout.addWidget(self.status)
        self.hide()

    def offer(self, version: str, notes: str) -> None:
        self.headline.setText(f"Montage {version} is available —")
        self.notes.setText(notes.strip())
        self.notes.setVisible(bool(notes.strip()))
        self._say("", failed=False)
        self.install_button.setEnabled(True)
        self.show()

    def show_progress(self, text: str) -> None:
        self.install_button.setEnabled(False)
        self._say(text, failed=False)

    def show_failure(self, text: str) -> None:
        """The install did not happen (the sentence says why); Install can be tried again."""
        self.install_button.setEnabled(True)
        self._say(text, failed=True)

    def _say(self, text: str, *, failed: bool) -> None:
        palette = self.status.palette()
        palette.setColor(QPalette.ColorRole.WindowText, ERROR_COLOUR if failed else TEXT_COLOUR)
        self.status.setPalette(palette)
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _clicked(self) -> None:
        self.install_button.setEnabled(False)
        self.install_clicked.emit()
