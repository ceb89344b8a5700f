"""The full-screen meeting-room display: join details when idle, a grid of shares otherwise.

Nothing covers a presenter's picture. A lone presenter gets the whole
window (pixel for pixel when their screen has the window's size); the join
details and their name go into the letterbox bands when there are any, and
otherwise float over the picture for a few seconds after each join and fade
away. In a grid every tile keeps a caption row under its picture for the
name and the buttons. The Stop button never sits on a picture: with a lone,
full-screen presenter the controls appear when someone moves the pointer,
and the picture makes room for them until it rests again.

Threading rule: every widget here lives on the GUI thread. Turning a decoded
frame into pixels (swscale: colour conversion and scaling to the exact size
it is painted at, in one pass) runs in a small thread pool; the GUI thread
only polls the futures on its timer tick, wraps the finished picture in a
QImage (no copy) and blits it. A whole-number enlargement (1080p on a 4K
wall) is the one case left to the paint: repeating pixels there is cheaper
than converting four times as many. Only the newest frame of each presenter is
converted — frames that arrive while a conversion is running are skipped, so
a slow receiver shows fewer frames instead of falling behind.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QEasingCurve,
    QEvent,
    QObject,
    QPropertyAnimation,
    QRect,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QShortcut,
)
from PySide6.QtWidgets import (
    QGraphicsOpacityEffect,
    QLabel,
    QLayout,
    QPushButton,
    QSizePolicy,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from montage_receiver.ui.frame_diff import Rect, changed_rects
from montage_receiver.ui.update_notice import UpdateNotice

if TYPE_CHECKING:
    # Only for the annotation: importing presenter at runtime would pull in
    # aiortc, and the widgets must stay free of networking code.
    from montage_receiver.presenter import Presenter

logger = logging.getLogger(__name__)

BACKGROUND = QColor(16, 18, 22)
FOREGROUND = QColor(236, 238, 242)
MUTED = QColor(150, 156, 168)
ACCENT = QColor(110, 180, 255)
CAPTION_BACKGROUND = QColor(28, 31, 37)

REFRESH_HZ = 60
# Over the last picture of a presenter whose connection was lost and who may come back.
RECONNECTING = "Reconnecting…"
# The presenter's camera: a picture-in-picture inset this share of the picture's width.
CAMERA_INSET_SHARE = 0.26
MUTED_COLOUR = QColor(230, 70, 70)
MAX_SHORTCUT_TILES = 4
HINT = "Open Montage on your computer and enter this meeting ID."
# Join details floating over a full-screen picture stay this long after a join, then fade.
JOIN_CARD_SECONDS = 8.0
FADE_MS = 800
# The controls of a full-screen presenter stay this long after the pointer last moved.
CONTROLS_SECONDS = 4.0
# Tell presenters their new box once the layout has settled (a resize sends many events).
VIEW_SETTLE_MS = 300


def fit_size(frame_w: int, frame_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The frame scaled to fit the box, aspect kept; even sides (swscale likes them), ≥ 2.

    A frame that already fits the box exactly keeps its size: 1:1 stays 1:1.
    """
    if frame_w <= 0 or frame_h <= 0 or box_w <= 0 or box_h <= 0:
        return 2, 2
    scale = min(box_w / frame_w, box_h / frame_h)
    if scale == 1.0:
        return frame_w, frame_h
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


def tile_layout(
    width: int, height: int, frame: tuple[int, int] | None, caption: int, reserve: bool
) -> tuple[QRect, QRect | None]:
    """Where a tile of `width` × `height` puts its picture and its caption row (or None).

    With `reserve` the picture fits above a caption row of `caption` px and
    the two are centred together; without it the picture uses the whole
    tile, and the caption goes into the band under it if it fits there (else
    there is none). Either way the caption never overlaps the picture.
    """
    if frame is None:
        if reserve:
            return QRect(0, 0, width, height - caption), QRect(0, height - caption, width, caption)
        return QRect(0, 0, width, height), None
    if reserve:
        pic_w, pic_h = fit_size(frame[0], frame[1], width, max(2, height - caption))
        top = max(0, (height - pic_h - caption) // 2)
        picture = QRect((width - pic_w) // 2, top, pic_w, pic_h)
        return picture, QRect(0, top + pic_h, width, caption)
    pic_w, pic_h = fit_size(frame[0], frame[1], width, height)
    picture = QRect((width - pic_w) // 2, (height - pic_h) // 2, pic_w, pic_h)
    below = height - (picture.y() + pic_h)
    if below >= caption:
        return picture, QRect(0, picture.y() + pic_h, width, caption)
    return picture, None


def _interpolation(src: tuple[int, int], dst: tuple[int, int]) -> str:
    """swscale's filter for a change of size: the cheapest that looks right."""
    if dst[0] < src[0] or dst[1] < src[1]:
        return "AREA"  # averages every source pixel: thin text lines survive
    return "BILINEAR"


def _convert(frame: Any, width: int, height: int, previous: Any) -> tuple[Any, list[Rect] | None]:
    """Runs in the pool: colour conversion and scaling in one swscale pass (no GIL).

    BGRA in memory is Qt's RGB32 on little-endian machines, the backing
    store's own format: painting it is a copy, not a conversion. Also says
    which parts changed since `previous` (the frame shown now; None: all).
    """
    changed = changed_rects(frame, previous)
    src = (int(frame.width), int(frame.height))
    if src == (width, height):
        return frame.reformat(format="bgra"), changed
    interpolation = _interpolation(src, (width, height))
    converted = frame.reformat(
        format="bgra", width=width, height=height, interpolation=interpolation
    )
    return converted, changed


def _on_picture(rect: Rect, frame: Any, picture: QRect) -> QRect:
    """A rectangle of the frame (frame pixels) on the painted picture, with a margin.

    The margin covers the scaler's reach: a changed source pixel also
    changes its neighbours in a scaled picture.
    """
    x, y, w, h = rect
    sx = picture.width() / max(1, int(frame.width))
    sy = picture.height() / max(1, int(frame.height))
    margin = 2 + math.ceil(max(sx, sy))
    left, top = picture.x() + math.floor(x * sx) - margin, picture.y() + math.floor(y * sy) - margin
    right = picture.x() + math.ceil((x + w) * sx) + margin
    bottom = picture.y() + math.ceil((y + h) * sy) + margin
    return QRect(left, top, right - left, bottom - top).intersected(picture)


def _bands(outer: QRect, inner: QRect) -> list[QRect]:
    """`outer` less `inner` (which lies inside it), as up to four rectangles."""
    top, bottom = inner.y(), inner.y() + inner.height()
    rects = [
        QRect(outer.x(), outer.y(), outer.width(), top - outer.y()),
        QRect(outer.x(), bottom, outer.width(), outer.y() + outer.height() - bottom),
        QRect(outer.x(), top, inner.x() - outer.x(), inner.height()),
        QRect(
            inner.x() + inner.width(),
            top,
            outer.x() + outer.width() - inner.x() - inner.width(),
            inner.height(),
        ),
    ]
    return [r for r in rects if r.width() > 0 and r.height() > 0]


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
        # The QImage borrows this frame's memory; it must live as long as the image.
        self.frame: Any = None
        # The decoded frame `image` shows, and what changed from the one before
        # (frame pixels; None: everything, e.g. the first or a resized one).
        self.source: Any = None
        self.changed: list[Rect] | None = None
        self.image_seq = -1
        self.painted_seq = -1
        self._requested: tuple[int, tuple[int, int]] = (-1, (0, 0))
        self._future: Future[tuple[Any, list[Rect] | None]] | None = None
        self._future_seq = -1
        self._future_source: Any = None

    def poll(self, pool: ThreadPoolExecutor, frame: Any, seq: int, size: tuple[int, int]) -> bool:
        """Collect a finished conversion; start one for a newer frame. True if the image changed."""
        changed = False
        future = self._future
        if future is not None:
            if not future.done():
                return False
            self._future = None
            try:
                converted, rects = future.result()
            except Exception:
                logger.exception("converting a frame failed")
            else:
                plane = converted.planes[0]
                self.image = QImage(
                    plane,
                    converted.width,
                    converted.height,
                    plane.line_size,
                    QImage.Format.Format_RGB32,
                )
                self.frame = converted
                self.source = self._future_source
                self.changed = rects
                self.image_seq = self._future_seq
                changed = True
        if frame is None or (seq, size) == self._requested:
            return changed
        # Compared with the frame on screen only if it is shown at the same size.
        previous = self.source if size == self._requested[1] else None
        self._requested = (seq, size)
        self._future_seq = seq
        self._future_source = frame
        self._future = pool.submit(_convert, frame, size[0], size[1], previous)
        return changed

    def clear(self) -> None:
        self.discard()
        self.image = None
        self.frame = None
        self.source = None
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
    """One presenter: the newest frame on black, a caption row (name, Mute, Stop), camera inset."""

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
        self.setMouseTracking(True)
        self.screen_picture = _Conversion()
        self.camera = _Conversion()
        self.frames_painted = 0
        self.camera_frames_painted = 0
        # Set by the window: whether the tile keeps a caption row under its
        # picture (a grid, or a lone presenter while the pointer moves), and
        # how tall the row is.
        self.reserve_caption = False
        self.caption_height = 32

        button_font_css = "border: none; border-radius: 6px; padding: 2px 12px;"
        self.stop_button = QPushButton("Stop sharing", self)
        self.stop_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.stop_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stop_button.setStyleSheet(
            f"QPushButton {{ background: rgb(190, 40, 40); color: white; {button_font_css} }}"
            "QPushButton:hover { background: rgb(220, 50, 50); }"
            "QPushButton:pressed { background: rgb(150, 30, 30); }"
        )
        self.stop_button.clicked.connect(lambda: on_stop(self.presenter.id))

        # Only shown while the presenter's microphone is live (or the room has
        # silenced it): a screen-only share has nothing to mute.
        self.mute_button = QPushButton("Mute", self)
        self.mute_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.mute_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.mute_button.setStyleSheet(
            f"QPushButton {{ background: rgb(60, 66, 78); color: white; {button_font_css} }}"
            "QPushButton:hover { background: rgb(80, 88, 102); }"
        )
        self.mute_button.clicked.connect(
            lambda: (
                on_mute(self.presenter.id, not self.presenter.muted_by_room)
                if on_mute is not None
                else None
            )
        )
        self._shortcut_number: int | None = None
        self._laid_out: tuple[QRect, QRect | None] | None = None
        # Told when the picture or caption moves (the first frame, another
        # size): the window may then find a free band for the join details.
        self.on_layout_changed: Callable[[], None] | None = None
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
        self._place_buttons()
        if not presenter.camera_on:
            self.camera.clear()
        self.update()

    @property
    def shows_muted_mark(self) -> bool:
        return not self.presenter.microphone_on or self.presenter.muted_by_room

    @property
    def wants_mute_button(self) -> bool:
        return self.presenter.microphone_on or self.presenter.muted_by_room

    # -- geometry -------------------------------------------------------------

    def frame_size(self) -> tuple[int, int] | None:
        """The size of the newest picture (None before the first frame)."""
        p = self.presenter
        if p.latest is None or p.width <= 0 or p.height <= 0:
            return None
        return p.width, p.height

    def layout_rects(self) -> tuple[QRect, QRect | None]:
        """(picture, caption row or None) in tile coordinates."""
        return tile_layout(
            self.width(),
            self.height(),
            self.frame_size(),
            self.caption_height,
            self.reserve_caption,
        )

    def picture_rect(self) -> QRect:
        return self.layout_rects()[0]

    def caption_rect(self) -> QRect | None:
        return self.layout_rects()[1]

    def view_size(self, grid: bool) -> tuple[int, int]:
        """The box (device pixels) the picture is shown in: what the presenter should send.

        A lone presenter's box is the whole tile: the controls that appear
        while the pointer moves shrink the picture only for a moment.
        """
        ratio = self.devicePixelRatioF()
        height = self.height() - (self.caption_height if grid else 0)
        return max(2, round(self.width() * ratio)), max(2, round(height * ratio))

    def camera_rect(self) -> QRect | None:
        """Where the camera inset is drawn: the picture's bottom-right corner (None if off)."""
        image = self.camera.image
        if image is None or not self.presenter.camera_on:
            return None
        picture = self.picture_rect()
        width = max(2, round(picture.width() * CAMERA_INSET_SHARE))
        height = max(2, round(width * image.height() / max(1, image.width())))
        margin = max(6, round(picture.height() * 0.015))
        return QRect(
            picture.right() + 1 - width - margin,
            picture.bottom() + 1 - height - margin,
            width,
            height,
        )

    def set_shortcut_number(self, number: int | None) -> None:
        self._shortcut_number = number
        self._update_tooltip()

    def _update_tooltip(self) -> None:
        number = self._shortcut_number
        keys = f" (Ctrl+{number})" if number is not None else ""
        self.stop_button.setToolTip(f"Stop {self.presenter.name}'s sharing{keys}")

    # -- frames ---------------------------------------------------------------

    def refresh(self, pool: ThreadPoolExecutor) -> None:
        """Timer tick: collect finished conversions, start them for newer frames."""
        self._relayout_if_moved()
        p = self.presenter
        frame = p.camera_latest if p.camera_on else None
        size = (2, 2)
        if frame is not None:
            ratio = self.devicePixelRatioF()
            box = round(self.picture_rect().width() * CAMERA_INSET_SHARE * ratio)
            size = fit_size(int(frame.width), int(frame.height), box, box)
        if self.camera.poll(pool, frame, p.camera_seq, size):
            inset = self.camera_rect()
            if inset is not None:
                self.update(inset)

        frame = p.latest
        size = self._target_size(frame) if frame is not None else (2, 2)
        conversion = self.screen_picture
        if conversion.poll(pool, frame, p.seq, size):
            # Repaint only what changed in the picture: on a 4K wall, most of
            # a shared screen stands still while a video or a cursor moves.
            picture = self.picture_rect()
            if conversion.changed is None or conversion.source is None:
                self.update(picture)
            else:
                for rect in conversion.changed:
                    self.update(_on_picture(rect, conversion.source, picture))

    def _target_size(self, frame: Any) -> tuple[int, int]:
        """The size to convert `frame` to: the picture's own, but for whole-number enlargements.

        A 1080p screen on a 4K wall is converted at 1080p and enlarged by
        the paint, repeating each pixel: Qt's nearest-neighbour blit of 4K
        costs less than swscale writing four times the pixels and a copy of
        them (measured: 3.6 ms against 7.8 + 2.6 ms), and it stays sharp.
        """
        # The picture rectangle already has the frame's aspect: convert
        # straight to its size, so painting is a blit.
        ratio = self.devicePixelRatioF()
        picture = self.picture_rect()
        width, height = round(picture.width() * ratio), round(picture.height() * ratio)
        frame_w, frame_h = int(frame.width), int(frame.height)
        if width > frame_w and width * frame_h == height * frame_w and width % frame_w == 0:
            return frame_w, frame_h
        return max(2, width), max(2, height)

    def _relayout_if_moved(self) -> None:
        rects = self.layout_rects()
        if rects != self._laid_out:
            self._laid_out = rects
            self._place_buttons()
            self.update()
            if self.on_layout_changed is not None:
                self.on_layout_changed()

    def discard(self) -> None:
        # The pool may still be converting; nobody will collect the result.
        self.screen_picture.discard()
        self.camera.discard()

    # -- drawing --------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._relayout_if_moved()

    def _place_buttons(self) -> None:
        caption = self.caption_rect()
        if caption is None:
            self.stop_button.hide()
            self.mute_button.hide()
            return
        font = _pixel_font(self.font(), round(caption.height() * 0.5))
        pad = max(4, round(caption.height() * 0.12))
        for button in (self.stop_button, self.mute_button):
            button.setFont(font)
            button.adjustSize()
            button.setFixedHeight(caption.height() - 2 * pad)
        stop_x = caption.right() + 1 - pad - self.stop_button.width()
        self.stop_button.move(stop_x, caption.y() + pad)
        self.stop_button.show()
        self.mute_button.move(stop_x - pad - self.mute_button.width(), caption.y() + pad)
        self.mute_button.setVisible(self.wants_mute_button)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        try:
            picture, caption = self.layout_rects()
            image = self.screen_picture.image
            # Black only where the picture is not: at 4K every pixel written
            # twice is 33 MB a frame.
            for band in _bands(self.rect(), picture):
                painter.fillRect(band, Qt.GlobalColor.black)
            if image is not None:
                if image.size() == picture.size():
                    # The usual case: converted at the picture's size; a copy.
                    painter.drawImage(picture.topLeft(), image)
                else:
                    # A whole-number enlargement (nearest neighbour: no smoothing
                    # hint is set), or the old size just after a resize.
                    painter.drawImage(picture, image)
                if self.screen_picture.image_seq != self.screen_picture.painted_seq:
                    self.screen_picture.painted_seq = self.screen_picture.image_seq
                    self.frames_painted += 1
                    self.presenter.count_painted(time.monotonic())
            else:
                painter.fillRect(picture, Qt.GlobalColor.black)
                painter.setPen(MUTED)
                painter.setFont(_pixel_font(self.font(), round(self.height() * 0.04)))
                painter.drawText(
                    picture,
                    Qt.AlignmentFlag.AlignCenter,
                    f"Waiting for {self.presenter.name}'s screen…",
                )

            if self.presenter.reconnecting:
                # Their last picture stays, dimmed: they are coming back (protocol §18).
                self._paint_overlay(painter, picture, RECONNECTING)
            elif self.presenter.share_state == "paused":
                self._paint_overlay(painter, picture, "Paused")
            self._paint_camera(painter)
            if caption is not None:
                self._paint_caption(painter, caption)
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

    def _paint_overlay(self, painter: QPainter, picture: QRect, text: str) -> None:
        painter.fillRect(picture, QColor(0, 0, 0, 160))
        painter.setPen(FOREGROUND)
        painter.setFont(_pixel_font(self.font(), round(picture.height() * 0.09), bold=True))
        painter.drawText(picture, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_caption(self, painter: QPainter, bar: QRect) -> None:
        painter.fillRect(bar, CAPTION_BACKGROUND)
        bar_h = bar.height()
        font = _pixel_font(self.font(), round(bar_h * 0.55), bold=True)
        painter.setFont(font)
        painter.setPen(FOREGROUND)
        pad = round(bar_h * 0.4)
        text_rect = bar.adjusted(pad, 0, -pad, 0)
        buttons = [b for b in (self.mute_button, self.stop_button) if b.isVisible()]
        if buttons:
            text_rect.setRight(min(b.x() for b in buttons) - pad)
        if self.shows_muted_mark:
            icon = round(bar_h * 0.6)
            _paint_mic_off(
                painter,
                QRect(text_rect.right() - icon, bar.y() + (bar_h - icon) // 2, icon, icon),
            )
            text_rect.setRight(text_rect.right() - icon - pad)
        name = QFontMetrics(font).elidedText(
            self.presenter.label, Qt.TextElideMode.ElideRight, max(0, text_rect.width())
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
    """Lays the tiles out over the whole window; the tiles paint themselves."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.tiles: list[_Tile] = []
        self.setMouseTracking(True)
        self.show_controls = False  # a lone presenter's controls, while the pointer moves

    @property
    def is_grid(self) -> bool:
        return len(self.tiles) > 1

    def caption_height(self) -> int:
        window = self.window()
        return max(24, round(window.height() * 0.04))

    def relayout(self) -> None:
        caption = self.caption_height()
        reserve = self.is_grid or self.show_controls
        for tile, rect in zip(self.tiles, grid_rects(len(self.tiles), self.rect()), strict=True):
            tile.caption_height = caption
            tile.reserve_caption = reserve
            tile.setGeometry(rect)
            tile._relayout_if_moved()

    def occupied(self) -> list[QRect]:
        """The pictures and caption rows of every tile, in this widget's coordinates."""
        rects: list[QRect] = []
        for tile in self.tiles:
            picture, caption = tile.layout_rects()
            rects.append(picture.translated(tile.pos()))
            if caption is not None:
                rects.append(caption.translated(tile.pos()))
        return rects

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.relayout()


class _JoinCard(QLabel):
    """The meeting ID and PIN while people share: in a free band, or floating for a while.

    Where a band of the window shows no picture (above two side-by-side
    screens, say), the card sits there for good. Where every band is
    taken (a lone full-screen presenter, four tiles), it floats over the
    top of the wall for JOIN_CARD_SECONDS after someone joins, then fades.
    """

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        _set_text_colour(self, FOREGROUND)
        self.floating = False
        self._effect = QGraphicsOpacityEffect(self)
        self._effect.setOpacity(1.0)
        self.setGraphicsEffect(self._effect)
        self._fade = QPropertyAnimation(self._effect, b"opacity", self)
        self._fade.setDuration(FADE_MS)
        self._fade.setEasingCurve(QEasingCurve.Type.InOutQuad)
        self._fade.finished.connect(self._faded)
        self._linger = QTimer(self)
        self._linger.setSingleShot(True)
        self._linger.timeout.connect(self.fade_out)

    def place(self, rect: QRect, floating: bool) -> None:
        self.floating = floating
        self.setStyleSheet(
            "QLabel { background: rgba(0, 0, 0, 190); border-radius: 10px; padding: 6px 24px; }"
            if floating
            else "QLabel { background: transparent; }"
        )
        self.setFont(_pixel_font(self.font(), round(rect.height() * 0.5)))
        if floating:
            width = min(rect.width(), self.sizeHint().width())
            rect = QRect(rect.x() + (rect.width() - width) // 2, rect.y(), width, rect.height())
        self.setGeometry(rect)
        self.raise_()

    def announce(self) -> None:
        """Someone joined: show the card (again); a floating one fades after a while."""
        self._fade.stop()
        self._effect.setOpacity(1.0)
        self.show()
        if self.floating:
            self._linger.start(round(JOIN_CARD_SECONDS * 1000))
        else:
            self._linger.stop()

    def settle(self) -> None:
        """The layout changed: a card in a band stays; a floating one keeps its countdown."""
        if not self.floating:
            self._linger.stop()
            self._fade.stop()
            self._effect.setOpacity(1.0)
            self.show()
        elif not self._linger.isActive() and self._fade.state() != QPropertyAnimation.State.Running:
            self.hide()

    def fade_out(self) -> None:
        self._fade.setStartValue(self._effect.opacity())
        self._fade.setEndValue(0.0)
        self._fade.start()

    def _faded(self) -> None:
        if self._effect.opacity() <= 0.01:
            self.hide()


class ReceiverWindow(QWidget):
    """The room display. Emits `stop_requested(presenter_id)`; the owner does the stopping.

    Also emits `view_changed(presenter_id, width, height)` when a presenter's
    picture gets a new box (device pixels): the owner asks their client to
    send no larger.
    """

    stop_requested = Signal(int)
    mute_requested = Signal(int, bool)  # presenter id, mute (True) or let be heard (False)
    update_install_requested = Signal()
    view_changed = Signal(int, int, int)  # presenter id, width, height

    def __init__(self, room: str, meeting_id: str, pin: str | None) -> None:
        super().__init__()
        self.setWindowTitle(f"Montage — {room}")
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, BACKGROUND)
        palette.setColor(QPalette.ColorRole.WindowText, FOREGROUND)
        self.setPalette(palette)
        self.setMouseTracking(True)

        self.room = room
        self.meeting_id = meeting_id
        self.pin = pin

        self.idle_page = _IdlePage(room, meeting_id, pin, self)
        self.idle_page.update_notice.install_clicked.connect(self.update_install_requested)
        self.sharing_page = QWidget(self)
        self.sharing_page.setMouseTracking(True)
        self.grid = _GridArea(self.sharing_page)
        sharing_layout = QVBoxLayout(self.sharing_page)
        sharing_layout.setContentsMargins(0, 0, 0, 0)
        sharing_layout.setSpacing(0)
        sharing_layout.addWidget(self.grid, 1)
        self.join_card = _JoinCard(self.sharing_page)
        self.join_card.hide()

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
        self._controls_timer = QTimer(self)
        self._controls_timer.setSingleShot(True)
        self._controls_timer.timeout.connect(self._hide_controls)
        self._view_timer = QTimer(self)
        self._view_timer.setSingleShot(True)
        self._view_timer.setInterval(VIEW_SETTLE_MS)
        self._view_timer.timeout.connect(self._send_views)
        self._views: dict[int, tuple[int, int]] = {}
        # The pointer moving anywhere over the wall (children included).
        self._pointer_watch = _PointerWatch(self._pointer_moved, self)

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

    def join_text(self) -> str:
        pin = self.pin
        return f"Meeting ID {self.meeting_id}" + (f" · PIN {pin}" if pin is not None else "")

    def set_meeting_id(self, meeting_id: str) -> None:
        """Show another meeting ID (the cloud one ended: the local one is shown now)."""
        self.meeting_id = meeting_id
        self.idle_page.id_label.setText(meeting_id)
        self.idle_page.fit_text()
        self._place_join_card(announce=True)

    def add_presenter(self, p: Presenter) -> None:
        if self._tile(p.id) is not None:
            self.update_presenter(p)
            return
        tile = _Tile(p, self.stop_requested.emit, self.grid, self.mute_requested.emit)
        tile.installEventFilter(self._pointer_watch)
        tile.on_layout_changed = lambda: self._place_join_card(announce=False)
        self.grid.tiles.append(tile)
        tile.show()
        self._tiles_changed()
        self._place_join_card(announce=True)

    def remove_presenter(self, presenter_id: int) -> None:
        tile = self._tile(presenter_id)
        if tile is None:
            logger.debug("remove_presenter: no tile for %d", presenter_id)
            return
        self.grid.tiles.remove(tile)
        self._views.pop(presenter_id, None)
        tile.discard()
        tile.hide()
        tile.deleteLater()
        self._tiles_changed()
        self._place_join_card(announce=False)

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
        self._controls_timer.stop()
        self._view_timer.stop()
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
        self._view_timer.start()
        # The timer only runs while there is something to show: an idle
        # room display should cost nothing.
        if sharing and not self._shut_down:
            self._timer.start()
        else:
            self._timer.stop()

    def _place_join_card(self, announce: bool) -> None:
        """Put the join details where they hide no picture, or float them for a while."""
        card = self.join_card
        card.setText(self.join_text())
        if not self.grid.tiles:
            card.hide()
            return
        height = max(24, round(self.height() * 0.05))
        width = self.width()
        taken = self.grid.occupied()
        for band in (QRect(0, 0, width, height), QRect(0, self.height() - height, width, height)):
            if not any(band.intersects(rect) for rect in taken):
                card.place(band, floating=False)
                card.settle()
                return
        # Floating over a lone full-screen picture, the card also names who
        # shares: their caption has no room.
        tiles = self.grid.tiles
        if len(tiles) == 1 and tiles[0].caption_rect() is None:
            card.setText(f"{tiles[0].presenter.label}  ·  {self.join_text()}")
        margin = max(8, round(self.height() * 0.02))
        card.place(QRect(margin, margin, width - 2 * margin, round(height * 1.2)), floating=True)
        if announce:
            card.announce()
        else:
            card.settle()

    def _send_views(self) -> None:
        grid = self.grid.is_grid
        for tile in self.grid.tiles:
            view = tile.view_size(grid)
            if self._views.get(tile.presenter.id) != view:
                self._views[tile.presenter.id] = view
                self.view_changed.emit(tile.presenter.id, view[0], view[1])

    def _pointer_moved(self) -> None:
        """Someone at the wall moves the pointer: show a lone presenter's controls."""
        if not self.grid.tiles or self.grid.is_grid:
            return
        self._controls_timer.start(round(CONTROLS_SECONDS * 1000))
        if not self.grid.show_controls:
            self.grid.show_controls = True
            self.grid.relayout()
            self._place_join_card(announce=False)

    def _hide_controls(self) -> None:
        if any(b.underMouse() for t in self.grid.tiles for b in (t.stop_button, t.mute_button)):
            self._controls_timer.start(round(CONTROLS_SECONDS * 1000))
            return
        self.grid.show_controls = False
        self.grid.relayout()
        self._place_join_card(announce=False)

    def _stop_tile(self, number: int) -> None:
        if 1 <= number <= len(self.grid.tiles):
            self.stop_requested.emit(self.grid.tiles[number - 1].presenter.id)

    def _refresh(self) -> None:
        for tile in self.grid.tiles:
            tile.refresh(self._pool)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        self._pointer_moved()
        super().mouseMoveEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self.grid.relayout()
        self._place_join_card(announce=False)
        self._view_timer.start()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.shutdown()
        super().closeEvent(event)


class _PointerWatch(QObject):
    """Tells the window when the pointer moves over a tile (tiles track the pointer)."""

    def __init__(self, moved: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._moved = moved

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if event.type() == QEvent.Type.MouseMove:
            self._moved()
        return False


__all__ = ["ReceiverWindow", "fit_size", "grid_rects", "tile_layout"]
