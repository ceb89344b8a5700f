"""The full-screen meeting-room display: join details when idle, a grid of shares otherwise.

Threading rule: every widget here lives on the GUI thread. Turning a decoded
frame into pixels (swscale: scaling + colour conversion) runs in a small
thread pool; the GUI thread only polls the futures on its timer tick, wraps
the finished array in a QImage and paints it. Only the newest frame of each
presenter is converted — frames that arrive while a conversion is running are
skipped, so a slow receiver shows fewer frames instead of falling behind.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QLabel,
    QLayout,
    QPushButton,
    QSizePolicy,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from montage_receiver.ui.update_notice import UpdateNotice

if TYPE_CHECKING:
    # Only for the annotation: importing presenter at runtime would pull in
    # aiortc, and the widgets must stay free of networking code.
    from montage_receiver.presenter import Presenter

logger = logging.getLogger(__name__)

RgbArray = np.ndarray[Any, np.dtype[np.uint8]]

BACKGROUND = QColor(16, 18, 22)
FOREGROUND = QColor(236, 238, 242)
MUTED = QColor(150, 156, 168)
ACCENT = QColor(110, 180, 255)

REFRESH_HZ = 60
# The presenter's camera: a picture-in-picture inset this share of the tile's width.
CAMERA_INSET_SHARE = 0.26
MUTED_COLOUR = QColor(230, 70, 70)
MAX_SHORTCUT_TILES = 4
HINT = "Open Montage on your computer and enter this meeting ID."


def fit_size(frame_w: int, frame_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The frame scaled to fit the box, aspect kept; even sides (swscale likes them), ≥ 2."""
    if frame_w <= 0 or frame_h <= 0 or box_w <= 0 or box_h <= 0:
        return 2, 2
    scale = min(box_w / frame_w, box_h / frame_h)
    return max(2, int(frame_w * scale) // 2 * 2), max(2, int(frame_h * scale) // 2 * 2)


def grid_rects(count: int, area: QRect) -> list[QRect]:
    """Cells for `count` tiles: 1 → whole area, 2 → side by side, 3–4 → 2×2, then 3×N.

    An incomplete last row is centred so three tiles look deliberate rather
    than like a missing fourth.
    """
    if count <= 0:
        return []
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    rects: list[QRect] = []
    for i in range(count):
        row, col = divmod(i, cols)
        in_row = min(cols, count - row * cols)
        # Integer edges computed from the cell index, so neighbours share an
        # edge exactly: no gaps, no overlaps, whatever the rounding.
        offset = (cols - in_row) * area.width() / (2 * cols)
        x0 = area.x() + round(offset + col * area.width() / cols)
        x1 = area.x() + round(offset + (col + 1) * area.width() / cols)
        y0 = area.y() + round(row * area.height() / rows)
        y1 = area.y() + round((row + 1) * area.height() / rows)
        rects.append(QRect(x0, y0, x1 - x0, y1 - y0))
    return rects


def _convert(frame: Any, width: int, height: int) -> RgbArray:
    """Runs in the pool: scale + convert in one swscale call (releases the GIL)."""
    array: RgbArray = frame.to_ndarray(format="rgb24", width=width, height=height)
    # PyAV hands back rows padded to its alignment; QImage needs one
    # contiguous buffer, and copying here keeps that cost off the GUI thread.
    return np.ascontiguousarray(array)


def _pixel_font(base: QFont, px: int, bold: bool = False) -> QFont:
    font = QFont(base)
    font.setPixelSize(max(8, px))
    font.setBold(bold)
    return font


def _set_text_colour(widget: QWidget, colour: QColor) -> None:
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.WindowText, colour)
    widget.setPalette(palette)


class _Conversion:
    """Newest-frame-only conversion of one picture (screen or camera) through the pool."""

    def __init__(self) -> None:
        self.image: QImage | None = None
        # The QImage borrows this array's memory; it must live as long as the image.
        self.array: RgbArray | None = None
        self.image_seq = -1
        self.painted_seq = -1
        self._requested: tuple[int, tuple[int, int]] = (-1, (0, 0))
        self._future: Future[RgbArray] | None = None
        self._future_seq = -1

    def poll(self, pool: ThreadPoolExecutor, frame: Any, seq: int, size: tuple[int, int]) -> bool:
        """Collect a finished conversion; start one for a newer frame. True if the image changed."""
        changed = False
        future = self._future
        if future is not None:
            if not future.done():
                return False
            self._future = None
            try:
                array = future.result()
            except Exception:
                logger.exception("converting a frame failed")
            else:
                height, width = array.shape[:2]
                self.image = QImage(
                    array.data, width, height, array.strides[0], QImage.Format.Format_RGB888
                )
                self.array = array
                self.image_seq = self._future_seq
                changed = True
        if frame is None or (seq, size) == self._requested:
            return changed
        self._requested = (seq, size)
        self._future_seq = seq
        self._future = pool.submit(_convert, frame, size[0], size[1])
        return changed

    def clear(self) -> None:
        self.discard()
        self.image = None
        self.array = None
        self._requested = (-1, (0, 0))

    def discard(self) -> None:
        if self._future is not None:
            self._future.cancel()
            self._future = None


def _paint_mic_off(painter: QPainter, box: QRect) -> None:
    """A microphone with a red stroke through it, drawn to fit `box`."""
    painter.save()
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = box.width(), box.height()
        pen = painter.pen()
        pen.setColor(FOREGROUND)
        pen.setWidthF(max(1.5, h * 0.08))
        painter.setPen(pen)
        body = QRect(box.x() + round(w * 0.35), box.y(), round(w * 0.3), round(h * 0.6))
        painter.drawRoundedRect(body, body.width() / 2, body.width() / 2)
        cx = box.x() + w // 2
        painter.drawLine(cx, box.y() + round(h * 0.78), cx, box.bottom())
        painter.drawArc(
            QRect(
                box.x() + round(w * 0.2), box.y() + round(h * 0.2), round(w * 0.6), round(h * 0.6)
            ),
            180 * 16,
            180 * 16,
        )
        pen.setColor(MUTED_COLOUR)
        pen.setWidthF(max(2.0, h * 0.11))
        painter.setPen(pen)
        painter.drawLine(box.topLeft(), box.bottomRight())
    finally:
        painter.restore()


class _Tile(QWidget):
    """One presenter: newest frame letterboxed on black, camera inset, name bar, pause, Stop."""

    def __init__(
        self,
        presenter: Presenter,
        on_stop: Callable[[int], None],
        parent: QWidget,
        on_mute: Callable[[int, bool], None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.presenter = presenter
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._image: QImage | None = None
        # The QImage borrows this array's memory; it must live as long as the image.
        self._array: RgbArray | None = None
        self._image_seq = -1
        self._painted_seq = -1
        self._requested_seq = -1
        self._requested_size = (0, 0)
        self._future: Future[RgbArray] | None = None
        self._future_seq = -1
        self.frames_painted = 0

        self.stop_button = QPushButton("Stop sharing", self)
        self.stop_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.stop_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stop_button.setStyleSheet(
            "QPushButton { background: rgba(190, 40, 40, 210); color: white;"
            " border: none; border-radius: 6px; padding: 4px 12px; }"
            "QPushButton:hover { background: rgba(220, 50, 50, 240); }"
            "QPushButton:pressed { background: rgba(150, 30, 30, 255); }"
        )
        self.stop_button.clicked.connect(lambda: on_stop(self.presenter.id))
        self.camera = _Conversion()
        self.camera_frames_painted = 0

        # Only shown while the presenter's microphone is live (or the room has
        # silenced it): a screen-only share has nothing to mute.
        self.mute_button = QPushButton("Mute", self)
        self.mute_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.mute_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.mute_button.setStyleSheet(
            "QPushButton { background: rgba(40, 44, 52, 210); color: white;"
            " border: none; border-radius: 6px; padding: 4px 12px; }"
            "QPushButton:hover { background: rgba(70, 76, 88, 240); }"
        )
        self.mute_button.clicked.connect(
            lambda: (
                on_mute(self.presenter.id, not self.presenter.muted_by_room)
                if on_mute is not None
                else None
            )
        )
        self._shortcut_number: int | None = None
        self.set_presenter(presenter)

    def set_presenter(self, presenter: Presenter) -> None:
        self.presenter = presenter
        self._update_tooltip()
        muted = presenter.muted_by_room
        self.mute_button.setText("Unmute" if muted else "Mute")
        self.mute_button.setToolTip(
            f"Let the room hear {presenter.name} again"
            if muted
            else f"Silence {presenter.name}'s microphone"
        )
        self.mute_button.setVisible(presenter.microphone_on or muted)
        self._place_buttons()
        if not presenter.camera_on:
            self.camera.clear()
        self.update()

    @property
    def shows_muted_mark(self) -> bool:
        return not self.presenter.microphone_on or self.presenter.muted_by_room

    def camera_rect(self) -> QRect | None:
        """Where the camera inset is drawn (None while there is none)."""
        image = self.camera.image
        if image is None or not self.presenter.camera_on:
            return None
        width = max(2, round(self.width() * CAMERA_INSET_SHARE))
        height = max(2, round(width * image.height() / max(1, image.width())))
        margin = max(6, round(self.height() * 0.015))
        bottom = self.height() - self._name_bar_height() - margin
        return QRect(self.width() - width - margin, bottom - height, width, height)

    def set_shortcut_number(self, number: int | None) -> None:
        self._shortcut_number = number
        self._update_tooltip()

    def _update_tooltip(self) -> None:
        number = self._shortcut_number
        keys = f" (Ctrl+{number})" if number is not None else ""
        self.stop_button.setToolTip(f"Stop {self.presenter.name}'s sharing{keys}")

    # -- frames ---------------------------------------------------------------

    def refresh(self, pool: ThreadPoolExecutor) -> None:
        """Timer tick: collect a finished conversion, start one for a newer frame."""
        self._refresh_camera(pool)
        future = self._future
        if future is not None:
            if not future.done():
                return
            self._future = None
            try:
                array = future.result()
            except Exception:
                logger.exception("converting a frame from %s failed", self.presenter.name)
            else:
                self._show(array, self._future_seq)

        frame = self.presenter.latest
        if frame is None:
            return
        size = self._target_size(frame)
        if self.presenter.seq == self._requested_seq and size == self._requested_size:
            return
        self._requested_seq = self.presenter.seq
        self._requested_size = size
        self._future_seq = self.presenter.seq
        self._future = pool.submit(_convert, frame, size[0], size[1])

    def _refresh_camera(self, pool: ThreadPoolExecutor) -> None:
        p = self.presenter
        frame = p.camera_latest if p.camera_on else None
        size = (2, 2)
        if frame is not None:
            ratio = self.devicePixelRatioF()
            box = round(self.width() * CAMERA_INSET_SHARE * ratio)
            size = fit_size(int(frame.width), int(frame.height), box, box)
        if self.camera.poll(pool, frame, p.camera_seq, size):
            self.update()

    def _target_size(self, frame: Any) -> tuple[int, int]:
        ratio = self.devicePixelRatioF()
        return fit_size(
            int(frame.width),
            int(frame.height),
            round(self.width() * ratio),
            round(self.height() * ratio),
        )

    def _show(self, array: RgbArray, seq: int) -> None:
        height, width = array.shape[:2]
        image = QImage(array.data, width, height, array.strides[0], QImage.Format.Format_RGB888)
        image.setDevicePixelRatio(self.devicePixelRatioF())
        self._array = array
        self._image = image
        self._image_seq = seq
        self.update()

    def discard(self) -> None:
        # The pool may still be converting; nobody will collect the result.
        if self._future is not None:
            self._future.cancel()
            self._future = None
        self.camera.discard()

    # -- drawing --------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        h = self.height()
        font = _pixel_font(self.font(), round(min(30, max(14, h * 0.034))))
        self.stop_button.setFont(font)
        self.mute_button.setFont(font)
        self._place_buttons()

    def _place_buttons(self) -> None:
        margin = max(8, round(self.height() * 0.015))
        self.stop_button.adjustSize()
        self.mute_button.adjustSize()
        self.stop_button.move(self.width() - self.stop_button.width() - margin, margin)
        self.mute_button.move(self.stop_button.x() - self.mute_button.width() - margin, margin)

    def _name_bar_height(self) -> int:
        return max(24, round(self.height() * 0.06))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), Qt.GlobalColor.black)
            image = self._image
            if image is not None:
                ratio = image.devicePixelRatio()
                w, h = fit_size(image.width(), image.height(), self.width(), self.height())
                # Usually the image already has the tile's size; after a resize
                # it is drawn scaled once until the next conversion arrives.
                exact = abs(image.width() / ratio - w) <= 2 and abs(image.height() / ratio - h) <= 2
                if exact:
                    w, h = round(image.width() / ratio), round(image.height() / ratio)
                target = QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h)
                painter.drawImage(target, image)
                if self._image_seq != self._painted_seq:
                    self._painted_seq = self._image_seq
                    self.frames_painted += 1
                    self.presenter.count_painted(time.monotonic())
            else:
                painter.setPen(MUTED)
                painter.setFont(_pixel_font(self.font(), round(self.height() * 0.04)))
                painter.drawText(
                    self.rect(),
                    Qt.AlignmentFlag.AlignCenter,
                    f"Waiting for {self.presenter.name}'s screen…",
                )

            if self.presenter.share_state == "paused":
                self._paint_paused(painter)
            self._paint_camera(painter)
            self._paint_name_bar(painter)
            # A hairline keeps neighbouring black tiles visibly separate.
            painter.setPen(QColor(60, 64, 72))
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        finally:
            painter.end()

    def _paint_camera(self, painter: QPainter) -> None:
        rect = self.camera_rect()
        image = self.camera.image
        if rect is None or image is None:
            return
        painter.fillRect(rect.adjusted(-2, -2, 2, 2), QColor(0, 0, 0, 200))
        painter.drawImage(rect, image)
        if self.camera.image_seq != self.camera.painted_seq:
            self.camera.painted_seq = self.camera.image_seq
            self.camera_frames_painted += 1

    def _paint_paused(self, painter: QPainter) -> None:
        painter.fillRect(self.rect(), QColor(0, 0, 0, 160))
        painter.setPen(FOREGROUND)
        painter.setFont(_pixel_font(self.font(), round(self.height() * 0.09), bold=True))
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Paused")

    def _paint_name_bar(self, painter: QPainter) -> None:
        bar_h = self._name_bar_height()
        bar = QRect(0, self.height() - bar_h, self.width(), bar_h)
        painter.fillRect(bar, QColor(0, 0, 0, 170))
        font = _pixel_font(self.font(), round(bar_h * 0.55), bold=True)
        painter.setFont(font)
        painter.setPen(FOREGROUND)
        pad = round(bar_h * 0.4)
        text_rect = bar.adjusted(pad, 0, -pad, 0)
        if self.shows_muted_mark:
            icon = round(bar_h * 0.6)
            _paint_mic_off(
                painter,
                QRect(bar.right() - pad - icon, bar.y() + (bar_h - icon) // 2, icon, icon),
            )
            text_rect.setRight(text_rect.right() - icon - pad)
        name = QFontMetrics(font).elidedText(
            self.presenter.name, Qt.TextElideMode.ElideRight, text_rect.width()
        )
        painter.drawText(
            text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name
        )


class _IdlePage(QWidget):
    """Join details, big enough to read from the back of the room."""

    def __init__(self, room: str, meeting_id: str, pin: str | None, parent: QWidget) -> None:
        super().__init__(parent)
        self.room_label = QLabel(room)
        self.id_caption = QLabel("Meeting ID")
        self.id_label = QLabel(meeting_id)
        self.pin_caption: QLabel | None = None
        self.pin_label: QLabel | None = None
        self.hint_label = QLabel(HINT)

        layout = QVBoxLayout(self)
        layout.addStretch(3)
        # (label, share of the window height, bold): re-applied on every resize.
        self._sizes: list[tuple[QLabel, float, bool]] = []
        # (label, share of the window height, bold, colour, stretch after it)
        rows: list[tuple[QLabel, float, bool, QColor, int]] = [
            (self.room_label, 0.06, True, FOREGROUND, 4),
            (self.id_caption, 0.035, False, MUTED, 0),
            (self.id_label, 0.15, True, FOREGROUND, 3),
        ]
        if pin is not None:
            self.pin_caption = QLabel("PIN")
            self.pin_label = QLabel(pin)
            rows += [
                (self.pin_caption, 0.035, False, MUTED, 0),
                (self.pin_label, 0.11, True, ACCENT, 3),
            ]
        rows.append((self.hint_label, 0.034, False, MUTED, 0))
        for label, share, bold, colour, stretch_after in rows:
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            _set_text_colour(label, colour)
            layout.addWidget(label)
            if stretch_after:
                layout.addStretch(stretch_after)
            self._sizes.append((label, share, bold))
        layout.addStretch(3)
        self.update_notice = UpdateNotice(self)  # hidden until an update is offered
        layout.addWidget(self.update_notice)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.fit_text()

    def fit_text(self) -> None:
        """Size each line's font to the page (after a resize or a new meeting ID)."""
        max_width = self.width() * 0.92
        for label, share, bold in self._sizes:
            font = _pixel_font(self.font(), round(self.height() * share), bold)
            # A narrow window must not clip the digits: shrink to fit the width.
            text_width = QFontMetrics(font).horizontalAdvance(label.text())
            if text_width > max_width > 0:
                font.setPixelSize(max(8, int(font.pixelSize() * max_width / text_width)))
            label.setFont(font)


class _GridArea(QWidget):
    """Lays the tiles out; the tiles paint themselves."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.tiles: list[_Tile] = []

    def relayout(self) -> None:
        for tile, rect in zip(self.tiles, grid_rects(len(self.tiles), self.rect()), strict=True):
            tile.setGeometry(rect)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.relayout()


class ReceiverWindow(QWidget):
    """The room display. Emits `stop_requested(presenter_id)`; the owner does the stopping."""

    stop_requested = Signal(int)
    mute_requested = Signal(int, bool)  # presenter id, mute (True) or let be heard (False)
    update_install_requested = Signal()

    def __init__(self, room: str, meeting_id: str, pin: str | None) -> None:
        super().__init__()
        self.setWindowTitle(f"Montage — {room}")
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, BACKGROUND)
        palette.setColor(QPalette.ColorRole.WindowText, FOREGROUND)
        self.setPalette(palette)

        self.room = room
        self.meeting_id = meeting_id
        self.pin = pin

        self.idle_page = _IdlePage(room, meeting_id, pin, self)
        self.idle_page.update_notice.install_clicked.connect(self.update_install_requested)
        self.sharing_page = QWidget(self)
        self.strip_label = QLabel(self._join_text())
        self.strip_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.strip_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        _set_text_colour(self.strip_label, FOREGROUND)
        self.grid = _GridArea(self.sharing_page)
        sharing_layout = QVBoxLayout(self.sharing_page)
        sharing_layout.setContentsMargins(0, 0, 0, 0)
        sharing_layout.setSpacing(0)
        sharing_layout.addWidget(self.strip_label)
        sharing_layout.addWidget(self.grid, 1)

        self._stack = QStackedLayout(self)
        self._stack.setContentsMargins(0, 0, 0, 0)
        # The fonts follow the window size, so the layout must not turn their
        # size hints back into a minimum window size (a feedback loop, and a
        # platform warning on every change).
        self._stack.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self._stack.addWidget(self.idle_page)
        self._stack.addWidget(self.sharing_page)

        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="frame-convert")
        self._shut_down = False
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(1000 // REFRESH_HZ)
        self._timer.timeout.connect(self._refresh)

        for number in range(1, MAX_SHORTCUT_TILES + 1):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda n=number: self._stop_tile(n))

    def show_update_notice(self, text: str) -> None:
        """A small line on the idle page ("Montage 0.2.0 is available") with Install."""
        self.idle_page.update_notice.offer(text)

    # -- presenters -----------------------------------------------------------

    @property
    def tiles(self) -> list[_Tile]:
        return list(self.grid.tiles)

    def presenter_ids(self) -> list[int]:
        """Presenter ids in grid order (the order Ctrl+1…4 use)."""
        return [tile.presenter.id for tile in self.grid.tiles]

    def _join_text(self) -> str:
        pin = self.pin
        return f"Meeting ID {self.meeting_id}" + (f" · PIN {pin}" if pin is not None else "")

    def set_meeting_id(self, meeting_id: str) -> None:
        """Show another meeting ID (the cloud one ended: the local one is shown now)."""
        self.meeting_id = meeting_id
        self.idle_page.id_label.setText(meeting_id)
        self.strip_label.setText(self._join_text())
        self.idle_page.fit_text()

    def add_presenter(self, p: Presenter) -> None:
        if self._tile(p.id) is not None:
            self.update_presenter(p)
            return
        tile = _Tile(p, self.stop_requested.emit, self.grid, self.mute_requested.emit)
        self.grid.tiles.append(tile)
        tile.show()
        self._tiles_changed()

    def remove_presenter(self, presenter_id: int) -> None:
        tile = self._tile(presenter_id)
        if tile is None:
            logger.debug("remove_presenter: no tile for %d", presenter_id)
            return
        self.grid.tiles.remove(tile)
        tile.discard()
        tile.hide()
        tile.deleteLater()
        self._tiles_changed()

    def update_presenter(self, p: Presenter) -> None:
        tile = self._tile(p.id)
        if tile is None:
            logger.debug("update_presenter: no tile for %d", p.id)
            return
        tile.set_presenter(p)

    def frames_painted(self, presenter_id: int) -> int:
        tile = self._tile(presenter_id)
        return tile.frames_painted if tile is not None else 0

    def shutdown(self) -> None:
        """Stop refreshing and let the conversion threads go. Safe to call twice."""
        if self._shut_down:
            return
        self._shut_down = True
        self._timer.stop()
        for tile in self.grid.tiles:
            tile.discard()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- internals ------------------------------------------------------------

    def _tile(self, presenter_id: int) -> _Tile | None:
        for tile in self.grid.tiles:
            if tile.presenter.id == presenter_id:
                return tile
        return None

    def _tiles_changed(self) -> None:
        sharing = bool(self.grid.tiles)
        self._stack.setCurrentWidget(self.sharing_page if sharing else self.idle_page)
        for number, tile in enumerate(self.grid.tiles, start=1):
            tile.set_shortcut_number(number if number <= MAX_SHORTCUT_TILES else None)
        self.grid.relayout()
        # The timer only runs while there is something to show: an idle
        # room display should cost nothing.
        if sharing and not self._shut_down:
            self._timer.start()
        else:
            self._timer.stop()

    def _stop_tile(self, number: int) -> None:
        if 1 <= number <= len(self.grid.tiles):
            self.stop_requested.emit(self.grid.tiles[number - 1].presenter.id)

    def _refresh(self) -> None:
        for tile in self.grid.tiles:
            tile.refresh(self._pool)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        h = self.height()
        strip_px = max(14, round(h * 0.03))
        self.strip_label.setFont(_pixel_font(self.font(), strip_px))
        self.strip_label.setFixedHeight(round(strip_px * 1.9))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.shutdown()
        super().closeEvent(event)


__all__ = ["ReceiverWindow", "fit_size", "grid_rects"]
