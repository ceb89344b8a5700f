"""The idle screen's update notice: one small line and an Install button, bottom centre.

It lives on the idle page only, so it can never cover a presenter's picture;
the page it sits on is hidden while anyone shares.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

TEXT = QColor(150, 156, 168)


class UpdateNotice(QWidget):
    """Hidden until `offer()`; emits `install_clicked` when the room presses Install."""

    install_clicked = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.label = QLabel()
        palette = self.label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, TEXT)
        self.label.setPalette(palette)
        self.button = QPushButton("Install")
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.clicked.connect(self._clicked)
        layout = QHBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(self.label)
        layout.addWidget(self.button)
        layout.addStretch(1)
        self.hide()

    def offer(self, text: str) -> None:
        self.label.setText(text)
        self.button.setEnabled(True)
        self.button.setText("Install")
        self.show()

    def _clicked(self) -> None:
        self.button.setEnabled(False)
        self.button.setText("Installing…")
        self.install_clicked.emit()
