"""The project's screen workload: a full-screen scene with the timestamp strip.

Run it on the display being shared (an Xvfb screen in the benchmark)::

    DISPLAY=:99 python -m bench.workload --scene video --fps 60

Each paint draws the scene and then, in the top-left corner and again in the
bottom-right corner, the strip of `bench.stamp` holding the wall-clock time of
that paint (the second catches a receiver that covers or crops an edge). A receiver's frames
are read with `bench.stamp.decode_stamp` / `find_stamps`; latency is now minus
the stamp. The strip is the same as the reference workload's
(``../shared/bench/workload.py``), so either workload works with either reader.

Scenes, from cheapest to hardest to encode:
  static  nothing moves but the strip (the cost of sharing an idle screen)
  slides  a new "slide" every 2 s (a typical presentation)
  scroll  a text document scrolling continuously
  video   a 960x540 region of full-motion noise and gradients (the worst case)

The window is frameless and placed over the whole primary screen with
setGeometry: bare Xvfb has no window manager to honour showFullScreen().
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bench.stamp import CELL, encode_cells, now_ms, strip_corners

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PySide6.QtGui import QPainter

SCENES = ("static", "slides", "scroll", "video")
BACKGROUND = (245, 245, 240)
SLIDE_SECONDS = 2.0
SCROLL_PX_PER_SECOND = 120.0
LINE_PX = 30
VIDEO_SIZE = (960, 540)
NOISE_BLOCK = 4  # px per noise sample: motion a codec cannot predict


@dataclass(frozen=True)
class Geometry:
    width: int
    height: int
    x: int = 0
    y: int = 0


def parse_geometry(text: str) -> Geometry:
    """Read X11-style ``WxH+X+Y`` (the offset is optional)."""
    match = re.fullmatch(r"(\d+)x(\d+)(?:\+(\d+)\+(\d+))?", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not WxH+X+Y, e.g. 1920x1080+0+0")
    width, height, x, y = (int(part) if part else 0 for part in match.groups())
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"{text!r} has an empty size")
    return Geometry(width, height, x, y)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.workload", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--scene", choices=SCENES, default="video")
    parser.add_argument("--fps", type=float, default=60.0, help="paints per second")
    parser.add_argument(
        "--seconds", type=float, default=0.0, help="quit after this long (0: never)"
    )
    parser.add_argument(
        "--geometry", type=parse_geometry, help="window WxH+X+Y (default: the primary screen)"
    )
    args = parser.parse_args(argv)
    if args.fps <= 0:
        parser.error("--fps must be positive")
    return args


def document_lines(count: int = 400, seed: int = 7) -> list[str]:
    """Text for the slides and the scrolling document; fixed, so runs compare."""
    rng = np.random.default_rng(seed)
    return [" ".join(f"word{int(n)}" for n in rng.integers(0, 9999, 12)) for _ in range(count)]


class Scene:
    """Paints one frame of a scene for time `t` (seconds since start)."""

    def __init__(self, name: str, seed: int = 7) -> None:
        self.name = name
        self.lines = document_lines(seed=seed)
        self.rng = np.random.default_rng(seed)

    def paint(self, painter: QPainter, width: int, height: int, t: float) -> None:
        from PySide6.QtGui import QColor

        painter.fillRect(0, 0, width, height, QColor(*BACKGROUND))
        if self.name == "slides":
            self._slides(painter, width, height, t)
        elif self.name == "scroll":
            self._scroll(painter, height, t)
        elif self.name == "video":
            self._video(painter, width, height, t)
        paint_strip(painter, now_ms(), width, height)

    def _slides(self, painter: QPainter, width: int, height: int, t: float) -> None:
        from PySide6.QtCore import QRect
        from PySide6.QtGui import QColor, QFont

        slide = int(t // SLIDE_SECONDS)
        title_height = height // 6
        painter.fillRect(0, 0, width, title_height, QColor.fromHsv((slide * 47) % 360, 120, 200))
        painter.setPen(QColor(20, 20, 20))
        painter.setFont(QFont("Sans", 40))
        painter.drawText(QRect(80, title_height + 40, width - 160, 80), 0, f"Slide {slide + 1}")
        painter.setFont(QFont("Sans", 22))
        for i in range(8):
            line = self.lines[(slide * 8 + i) % len(self.lines)]
            painter.drawText(80, title_height + 200 + i * 60, line)

    def _scroll(self, painter: QPainter, height: int, t: float) -> None:
        from PySide6.QtGui import QColor, QFont

        painter.setPen(QColor(20, 20, 20))
        painter.setFont(QFont("Sans", 18))
        offset = (t * SCROLL_PX_PER_SECOND) % (len(self.lines) * LINE_PX)
        first = int(offset // LINE_PX)
        for i in range(height // LINE_PX + 2):
            y = int(i * LINE_PX - offset % LINE_PX) + 40
            painter.drawText(60, y, self.lines[(first + i) % len(self.lines)])

    def _video(self, painter: QPainter, width: int, height: int, t: float) -> None:
        from PySide6.QtCore import QPointF, QRect
        from PySide6.QtGui import QColor, QImage, QLinearGradient

        video_width, video_height = min(VIDEO_SIZE[0], width), min(VIDEO_SIZE[1], height)
        area = QRect(
            (width - video_width) // 2, (height - video_height) // 2, video_width, video_height
        )
        noise = self._noise(video_width // NOISE_BLOCK, video_height // NOISE_BLOCK, t)
        image = QImage(
            noise.data, noise.shape[1], noise.shape[0], noise.strides[0], QImage.Format.Format_RGB32
        )
        painter.drawImage(area, image)
        # A sweeping translucent gradient over the noise.
        sweep = QLinearGradient(QPointF(area.left(), 0), QPointF(area.right(), 0))
        phase = (t * 0.5) % 1.0
        sweep.setColorAt(0.0, QColor.fromHsvF(phase, 0.9, 0.9, 0.6))
        sweep.setColorAt(0.5, QColor.fromHsvF((phase + 0.33) % 1.0, 0.9, 0.4, 0.2))
        sweep.setColorAt(1.0, QColor.fromHsvF((phase + 0.66) % 1.0, 0.9, 0.9, 0.6))
        painter.fillRect(area, sweep)
        # Something a codec can track: a square swinging across the screen.
        x = int(width / 2 + (width / 3) * math.sin(t))
        painter.fillRect(x - 60, height - 200, 120, 120, QColor(200, 40, 40))

    def _noise(self, columns: int, rows: int, t: float) -> np.ndarray:
        noise = self.rng.integers(0, 256, (rows, columns, 4), dtype=np.uint8)
        # A drifting tint; uint8 addition wraps modulo 256.
        noise[..., 0] //= 2
        noise[..., 0] += np.uint8(int(t * 200) % 256)
        noise[..., 3] = 255
        return noise


def paint_strip(painter: QPainter, stamp: int, width: int, height: int) -> None:
    """Paint the timestamp strip for `stamp` in the top-left and bottom-right corners."""
    from PySide6.QtGui import QColor

    white, black = QColor(255, 255, 255), QColor(0, 0, 0)
    cells = encode_cells(stamp)
    for x0, y0 in strip_corners(width, height):
        for i, bit in enumerate(cells):
            painter.fillRect(x0 + i * CELL, y0, CELL, CELL, white if bit else black)


def run(args: argparse.Namespace) -> int:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtGui import QPainter, QPaintEvent
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication(sys.argv[:1])
    scene = Scene(args.scene)
    start = time.monotonic()

    class Window(QWidget):
        def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
            painter = QPainter(self)
            try:
                scene.paint(painter, self.width(), self.height(), time.monotonic() - start)
            finally:
                painter.end()

    window = Window()
    window.setWindowTitle(f"Montage workload: {args.scene}")
    window.setWindowFlag(Qt.WindowType.FramelessWindowHint)
    window.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
    window.setCursor(Qt.CursorShape.BlankCursor)
    geometry: Geometry | None = args.geometry
    if geometry is None:
        window.setGeometry(app.primaryScreen().geometry())
    else:
        window.setGeometry(geometry.x, geometry.y, geometry.width, geometry.height)
    window.show()

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(window.update)
    timer.start(max(1, round(1000 / args.fps)))
    if args.seconds > 0:
        QTimer.singleShot(round(args.seconds * 1000), app.quit)
    return app.exec()


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
