"""Thousands of paints in one process.

PySide6 6.12.0 on Python 3.11 dies with "none_dealloc: deallocating None"
after a few thousand QPainter.fillRect/setPen calls (a reference-count bug in
the bindings), which is why PySide6 is pinned below 6.12. These tests do that
much painting so a PySide6 upgrade that brings the bug back fails here rather
than on a meeting-room screen hours into a presentation.
"""

from __future__ import annotations

import sys

import av
import numpy as np
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from pytestqt.qtbot import QtBot

from montage_receiver.presenter import Presenter
from montage_receiver.ui.window import ReceiverWindow

RED = QColor(220, 30, 40)
BLUE = QColor(20, 60, 230)
FRAME_COLOUR = (40, 180, 220)


def test_qpainter_fillrect_setpen_drawtext_20000_times(qtbot: QtBot) -> None:
    image = QImage(64, 64, QImage.Format.Format_RGB32)
    font = QFont()
    font.setPixelSize(10)
    painter = QPainter(image)
    try:
        painter.setFont(font)
        for i in range(20_000):
            painter.fillRect(QRect(0, 0, 64, 64), RED if i % 2 else BLUE)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(QRect(0, 40, 64, 24), Qt.AlignmentFlag.AlignLeft, str(i))
    finally:
        painter.end()

    # The last iteration (19 999, odd) filled red; the text sits at the bottom only.
    top = image.pixelColor(QPoint(32, 10))
    assert (top.red(), top.green(), top.blue()) == (RED.red(), RED.green(), RED.blue())
    text_row = [image.pixelColor(QPoint(x, y)) for y in range(40, 64) for x in range(64)]
    assert any(c.lightness() > 200 for c in text_row)
    # Reaching this line at all is most of the test: the crash kills the process.
    assert sys.getrefcount(None) > 0


def test_receiver_window_repaints_2000_times(qtbot: QtBot) -> None:
    window = ReceiverWindow("Stress", "123 456 7890", "1234")
    qtbot.addWidget(window)
    window.resize(640, 360)
    window.show()
    qtbot.waitExposed(window)

    presenter = Presenter(1, "Alice", "local")
    array = np.empty((180, 320, 3), np.uint8)
    array[:] = FRAME_COLOUR
    presenter.latest = av.VideoFrame.from_ndarray(array, format="rgb24")
    presenter.seq = 1
    window.add_presenter(presenter)
    window.add_presenter(Presenter(2, "Bob", "local", share_state="paused"))
    try:
        qtbot.waitUntil(lambda: window.frames_painted(1) > 0)
        for _ in range(2_000):
            window.repaint()
        # Only one distinct frame was ever shown, however often it was painted.
        assert window.frames_painted(1) == 1

        image = window.grab().toImage()
        tile = window.tiles[0].geometry().translated(window.grid.pos())
        pixel = image.pixelColor(tile.center())
        assert (pixel.red(), pixel.green(), pixel.blue()) == FRAME_COLOUR
    finally:
        window.shutdown()
