"""Camera and microphone controls: on/off toggles, device pickers, a live camera preview.

Only draws and reports what the person did; the controller opens and closes
devices and hands the preview pictures in (already scaled by the capture
thread, so showing one is wrapping an array in a QImage).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

logger = logging.getLogger(__name__)

RgbArray = np.ndarray[Any, np.dtype[np.uint8]]
PREVIEW_SIZE = (240, 135)
ERROR_COLOUR = QColor(200, 40, 40)


class CameraPreview(QWidget):
    """The newest preview picture, letterboxed; a hint when the camera is off."""

    def __init__(self, parent: QWidget | None = None, size: tuple[int, int] = PREVIEW_SIZE) -> None:
        super().__init__(parent)
        self.setFixedSize(QSize(*size))
        self._image: QImage | None = None
        self._array: RgbArray | None = None  # the QImage borrows its memory
        self.frames_shown = 0

    def show_frame(self, array: RgbArray) -> None:
        height, width = array.shape[:2]
        self._array = array
        self._image = QImage(
            array.data, width, height, array.strides[0], QImage.Format.Format_RGB888
        )
        self.frames_shown += 1
        self.update()

    def clear(self) -> None:
        self._image = None
        self._array = None
        self.update()

    @property
    def showing(self) -> bool:
        return self._image is not None

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), QColor(20, 22, 26))
            image = self._image
            if image is None:
                painter.setPen(QColor(150, 156, 168))
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Camera off")
                return
            scale = min(self.width() / image.width(), self.height() / image.height())
            w, h = round(image.width() * scale), round(image.height() * scale)
            painter.drawImage(QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h), image)
        finally:
            painter.end()


class MediaControls(QWidget):
    camera_toggled = Signal(bool)
    microphone_toggled = Signal(bool)
    camera_chosen = Signal(int)  # position in the list given to set_cameras
    microphone_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, compact: bool = False) -> None:
        super().__init__(parent)
        self.camera_button = QPushButton("Camera")
        self.camera_button.setCheckable(True)
        self.camera_button.setToolTip("Share your camera too")
        self.microphone_button = QPushButton("Microphone")
        self.microphone_button.setCheckable(True)
        self.microphone_button.setToolTip("Let the room hear you")
        self.camera_combo = QComboBox()
        self.camera_combo.setToolTip("Which camera")
        self.microphone_combo = QComboBox()
        self.microphone_combo.setToolTip("Which microphone")
        for combo in (self.camera_combo, self.microphone_combo):
            combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(12)
        self.preview = CameraPreview(size=(160, 90) if compact else PREVIEW_SIZE)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        palette = self.message_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, ERROR_COLOUR)
        self.message_label.setPalette(palette)
        self.message_label.hide()

        pickers = QGridLayout()
        pickers.setContentsMargins(0, 0, 0, 0)
        pickers.addWidget(self.camera_button, 0, 0)
        pickers.addWidget(self.camera_combo, 0, 1)
        pickers.addWidget(self.microphone_button, 1, 0)
        pickers.addWidget(self.microphone_combo, 1, 1)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addLayout(pickers, 1)
        row.addWidget(self.preview)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.message_label)

        # `clicked` and `activated` are the person's own actions; the
        # controller's set_on / set_* never echo back as requests.
        self.camera_button.clicked.connect(self.camera_toggled)
        self.microphone_button.clicked.connect(self.microphone_toggled)
        self.camera_combo.activated.connect(self.camera_chosen)
        self.microphone_combo.activated.connect(self.microphone_chosen)
        self.camera_button.toggled.connect(lambda on: self._label(self.camera_button, "Camera", on))
        self.microphone_button.toggled.connect(
            lambda on: self._label(self.microphone_button, "Microphone", on)
        )
        self._label(self.camera_button, "Camera", False)
        self._label(self.microphone_button, "Microphone", False)

    # -- from the controller -------------------------------------------------------

    def set_cameras(self, names: list[str], current: int = 0) -> None:
        self._fill(self.camera_combo, self.camera_button, names, current, "No camera found")

    def set_microphones(self, names: list[str], current: int = 0) -> None:
        self._fill(
            self.microphone_combo, self.microphone_button, names, current, "No microphone found"
        )

    def set_camera_on(self, on: bool) -> None:
        self.camera_button.setChecked(on)
        if not on:
            self.preview.clear()

    def set_microphone_on(self, on: bool) -> None:
        self.microphone_button.setChecked(on)

    def show_problem(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    # -- internals -------------------------------------------------------------------

    def _fill(
        self, combo: QComboBox, button: QPushButton, names: list[str], current: int, empty: str
    ) -> None:
        combo.blockSignals(True)
        try:
            combo.clear()
            combo.addItems(names or [empty])
            combo.setCurrentIndex(min(max(0, current), max(0, len(names) - 1)))
        finally:
            combo.blockSignals(False)
        combo.setEnabled(bool(names))
        # A device that is on stays switchable off even if the list emptied.
        button.setEnabled(bool(names) or button.isChecked())

    @staticmethod
    def _label(button: QPushButton, what: str, on: bool) -> None:
        button.setText(f"{what} on" if on else f"{what} off")


__all__ = ["CameraPreview", "MediaControls"]
