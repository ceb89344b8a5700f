"""The timestamp strip: paint it into a frame and read it back, at any scale.

The screen workload (`bench.workload`) paints, in the top-left corner of the
shared screen and again in the bottom-right corner (so a receiver that covers
or crops an edge of the picture is caught), the wall-clock time of each paint
in milliseconds modulo 2**32.
Whoever receives the shared frames reads the stamp and subtracts it from the
current time (`latency_ms`) to get glass-to-glass latency on one machine.

The format is the contract with the reference workload
(``../shared/bench/workload.py``) and must not change: a row of STRIP_CELLS
square cells of CELL px, white = 1 and black = 0, first the GUARD pattern
1,0,1,1,0,1,0,0 and then the 32-bit stamp, most significant bit first::

    x = 0    16   32   48   64   80   96  112  128 ...                 640
        | 1  | 0  | 1  | 1  | 0  | 1  | 0  | 0  | b31 | b30 | ... | b0 |

`decode_stamp` reads a frame at the shared resolution. `find_stamps` finds
every strip in a picture at any position and at scales from 1 down to about
1/4, e.g. in a screenshot of a receiver showing several presenters in a grid.
`find_stamp_in_corners` reads the two corner strips of a screenshot of a
receiver as the reference workload's function of that name does.
Only numpy is needed here; Qt is not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BITS",
    "CELL",
    "GUARD",
    "STRIP_CELLS",
    "FoundStamp",
    "decode_stamp",
    "encode_cells",
    "find_stamp",
    "find_stamp_in_corners",
    "find_stamps",
    "latency_ms",
    "now_ms",
    "paint_corner_strips",
    "paint_strip",
]

CELL = 16  # px per cell side at the shared resolution
BITS = 32  # payload bits
GUARD = (1, 0, 1, 1, 0, 1, 0, 0)  # fixed pattern before the payload
STRIP_CELLS = len(GUARD) + BITS  # 40 cells: a 640 x 16 px strip

_STAMP_MASK = (1 << BITS) - 1
# With `near_ms`, a stamp this far before it (or this far after) is a misread.
_PLAUSIBLE_AGE_MS = 60_000
_PLAUSIBLE_AHEAD_MS = 1_000

Frame = npt.NDArray[np.uint8]

# Lengths in cells of the guard's runs, white first, but its last (2 black
# cells), which merges with any leading zero bits of the payload.
_GUARD_RUN_CELLS = (1, 1, 2, 1, 1)
# The smallest cell find_stamps looks for: 16 px shown at a quarter is 4 px.
# (Smaller, small text starts to look like strips.)
_MIN_CELL = 3.5
# Where inside a cell (fractions of its width and height) it must read the same.
_INNER = (0.3, 0.5, 0.7)
# A cell's centre pixel must be clearly black or white: a strip is grey, so
# coloured or mid-grey centres mean "not a strip" (e.g. video noise).
_DARK_MAX = 100
_LIGHT_MIN = 156
_GREY_SPREAD = 80
# Cells whose centre is not clearly black or white (blur from scaling or a
# video codec) that a strip may have; they are read by the luma threshold.
_MAX_UNCLEAR_CELLS = 3


@dataclass(frozen=True)
class FoundStamp:
    """A strip found in a picture: its top-left corner, cell size in px, and stamp."""

    x: int
    y: int
    cell: float
    stamp: int


def now_ms() -> int:
    """The clock the strip uses: wall-clock ms modulo 2**32."""
    return int(time.time() * 1000) & _STAMP_MASK


def latency_ms(stamp: int, at: int | None = None) -> int:
    """Milliseconds from the painted `stamp` to `at` (default: now), modulo 2**32."""
    return ((now_ms() if at is None else at) - stamp) & _STAMP_MASK


def encode_cells(stamp: int) -> list[int]:
    """The strip's STRIP_CELLS cells, left to right, 1 for white."""
    if not 0 <= stamp <= _STAMP_MASK:
        raise ValueError(f"stamp {stamp} does not fit in {BITS} bits")
    return [*GUARD, *((stamp >> (BITS - 1 - i)) & 1 for i in range(BITS))]


def paint_strip(frame: Frame, stamp: int, x0: int = 0, y0: int = 0) -> None:
    """Paint the strip for `stamp` into an H x W x 3 (or x 4) uint8 frame, in place.

    A fourth channel (alpha) is set opaque. Raises ValueError if the strip
    does not fit.
    """
    if frame.ndim != 3 or frame.shape[2] not in (3, 4) or frame.dtype != np.uint8:
        raise ValueError(f"need an H x W x 3 or 4 uint8 frame, not {frame.shape} {frame.dtype}")
    height, width = frame.shape[:2]
    if x0 < 0 or y0 < 0 or x0 + STRIP_CELLS * CELL > width or y0 + CELL > height:
        raise ValueError(f"a strip at ({x0}, {y0}) does not fit a {width} x {height} frame")
    row = np.repeat(np.array(encode_cells(stamp), dtype=np.uint8) * 255, CELL)
    frame[y0 : y0 + CELL, x0 : x0 + STRIP_CELLS * CELL, :3] = row[None, :, None]
    if frame.shape[2] == 4:
        frame[y0 : y0 + CELL, x0 : x0 + STRIP_CELLS * CELL, 3] = 255


def strip_corners(width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Where the workload paints its two strips in a `width` × `height` screen (x, y)."""
    return (0, 0), (width - STRIP_CELLS * CELL, height - CELL)


def paint_corner_strips(frame: Frame, stamp: int) -> None:
    """Paint the strip in the top-left and the bottom-right corners of `frame`, in place."""
    height, width = frame.shape[:2]
    for x0, y0 in strip_corners(width, height):
        paint_strip(frame, stamp, x0, y0)


def _bits_to_stamp(bits: npt.NDArray[np.bool_]) -> int:
    value = 0
    for bit in bits.tolist():
        value = (value << 1) | int(bit)
    return value


def decode_stamp(rgb: Frame, x0: int = 0, y0: int = 0) -> int | None:
    """Read the strip at (x0, y0) from a frame at the shared resolution; None if absent.

    Cells are sampled at their centres; a cell whose mean of R, G, B is above
    128 is white. `rgb` may be RGB, RGBA, BGR or BGRA (black and white do not
    care about the channel order).
    """
    if rgb.ndim != 3 or rgb.shape[0] < y0 + CELL or rgb.shape[1] < x0 + STRIP_CELLS * CELL:
        return None
    xs = x0 + np.arange(STRIP_CELLS) * CELL + CELL // 2
    samples = rgb[y0 + CELL // 2, xs, :3].astype(np.int32)
    bits = samples.sum(axis=1) > 3 * 128
    if tuple(bits[: len(GUARD)].tolist()) != GUARD:
        return None
    return _bits_to_stamp(bits[len(GUARD) :])


def _plausible(stamp: int, near_ms: int | None) -> bool:
    if near_ms is None:
        return True
    age = latency_ms(stamp, near_ms)
    return age <= _PLAUSIBLE_AGE_MS or age >= (1 << BITS) - _PLAUSIBLE_AHEAD_MS


def find_stamp_in_corners(rgb: Frame, near_ms: int | None = None) -> tuple[int | None, int | None]:
    """The stamps in the top-left and bottom-right bands of a picture (None where unreadable).

    The bands are the top and bottom eighth of the picture, the left and the
    right half, as in the reference workload: a screenshot of a receiver
    showing one presenter has each corner strip in its band unless something
    covers, crops or shrinks the picture past it. With `near_ms` (usually
    `now_ms()`) only a stamp from the minute before it (or 1 s after) counts.
    """
    height, width = rgb.shape[:2]
    bands = (rgb[: height // 8, : width // 2], rgb[height - height // 8 :, width // 2 :])
    found: list[int | None] = []
    for band in bands:
        stamps = [s.stamp for s in find_stamps(band) if _plausible(s.stamp, near_ms)]
        found.append(stamps[0] if stamps else None)
    return found[0], found[1]


def find_stamp(rgb: Frame) -> int | None:
    """The stamp of the first strip `find_stamps` finds (top to bottom), or None."""
    found = find_stamps(rgb)
    return found[0].stamp if found else None


class _Runs:
    """Runs of equal binarised pixels along every row of a picture, flattened.

    Run k starts at column `start[k]` of row `row[k]`, has `length[k]` px and
    is white if `white[k]`; runs of one row are consecutive and alternate.
    """

    def __init__(self, light: npt.NDArray[np.bool_]) -> None:
        height, width = light.shape
        starts = np.ones((height, width), dtype=np.bool_)
        np.not_equal(light[:, 1:], light[:, :-1], out=starts[:, 1:])
        flat = np.flatnonzero(starts)
        self.row = flat // width
        self.start = flat - self.row * width
        # Every row begins a run, so a run ends where the next flat run begins.
        self.length = np.diff(flat, append=height * width)
        self.white = light.reshape(-1)[flat]


def _guard_candidates(runs: _Runs) -> npt.NDArray[np.intp]:
    """Indices k of runs that may be the guard's first white cell.

    Runs k+1..k+5 must have the guard's lengths (1,1,2,1,1 cells, then 2 or
    more black cells) in one row. Run k itself may be longer than a cell: left
    of a strip can be white (another presenter's light background).
    """
    count = len(runs.length) - 6
    if count <= 0:
        return np.zeros(0, dtype=np.intp)
    ks = np.arange(count)
    length = runs.length.astype(np.float64)
    ok = runs.white[:count] & (runs.row[ks + 5] == runs.row[ks])
    cell = (length[ks + 1] + length[ks + 2] + length[ks + 3] + length[ks + 4]) / 5.0
    ok &= cell >= _MIN_CELL
    for offset, unit in enumerate((1, 2, 1, 1), start=1):
        ok &= np.abs(length[ks + offset] / np.maximum(cell, 1.0) - unit) <= 0.34 * unit + 0.2
    ok &= length[ks] >= 0.6 * cell
    ok &= length[ks + 5] >= 1.5 * cell
    return np.flatnonzero(ok)


def _clear_guards(picture: _Picture, runs: _Runs, ks: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The candidates `ks` whose guard cells have clearly black or white centres."""
    if len(ks) == 0:
        return ks
    cell = runs.length[ks[:, None] + np.arange(1, 5)].sum(axis=1) / sum(_GUARD_RUN_CELLS[1:])
    x0 = runs.start[ks + 1] - cell
    xs = np.floor(x0[:, None] + (np.arange(len(GUARD)) + 0.5) * cell[:, None]).astype(np.intp)
    xs = np.clip(xs, 0, picture.width - 1)
    samples = picture.rgb[runs.row[ks][:, None], xs].astype(np.int16)
    high, low = samples.max(axis=2), samples.min(axis=2)
    clear = ((high <= _DARK_MAX) | (low >= _LIGHT_MIN)) & (high - low <= _GREY_SPREAD)
    return ks[np.all(clear, axis=1)]


def _fit_cells(edges: npt.NDArray[np.float64], cell: float) -> tuple[float, float] | None:
    """Fit x0 + k * cell through the strip's edges, which sit on whole cells.

    `edges[0]` is the end of the guard's first cell (k = 1). Returns
    (x0, cell), or None if an edge is far from a cell boundary (not a strip).
    """
    x0 = float(edges[0]) - cell
    for _ in range(3):
        k = np.round((edges - x0) / cell)
        # Least squares for edges = x0 + k * cell.
        k_mean, e_mean = float(k.mean()), float(edges.mean())
        spread = float(((k - k_mean) ** 2).sum())
        if spread == 0.0:
            return None
        cell = float(((k - k_mean) * (edges - e_mean)).sum()) / spread
        x0 = e_mean - cell * k_mean
    k = np.round((edges - x0) / cell)
    if float(np.abs(edges - (x0 + k * cell)).max()) > max(1.0, 0.2 * cell):
        return None
    return x0, cell


class _Picture:
    def __init__(self, rgb: Frame) -> None:
        colour = rgb[..., :3]
        self.rgb = colour
        self.height, self.width = colour.shape[:2]
        self.light = colour.sum(axis=2, dtype=np.uint16) > 3 * 128

    def cell_centres(self, x0: float, cell: float) -> npt.NDArray[np.intp] | None:
        xs: npt.NDArray[np.intp] = np.floor(x0 + (np.arange(STRIP_CELLS) + 0.5) * cell).astype(
            np.intp
        )
        if xs[0] < 0 or xs[-1] >= self.width:
            return None
        return xs

    def guard_rows(self, xs: npt.NDArray[np.intp], y: int, cell: float) -> tuple[int, int]:
        """The rows around `y` (first, end) where the guard reads at columns `xs`."""
        reach = int(cell * 2) + 2
        top, bottom = max(0, y - reach), min(self.height, y + reach)
        guard = np.array(GUARD, dtype=np.bool_)
        match = np.all(self.light[top:bottom, xs[: len(GUARD)]] == guard, axis=1)
        first = last = y - top
        while first > 0 and match[first - 1]:
            first -= 1
        while last + 1 < len(match) and match[last + 1]:
            last += 1
        return top + first, top + last + 1

    def cells_are_flat(self, x0: float, cell: float, top: int, height: int) -> bool:
        """Whether every cell reads the same across its inner part (a strip's cells are flat).

        Text and pictures can match the guard along one row; their "cells" are
        not flat squares.
        """
        inner = np.array(_INNER, dtype=np.float64)
        xs = np.floor(x0 + (np.arange(STRIP_CELLS)[:, None] + inner) * cell).astype(np.intp)
        ys = np.floor(top + inner * height).astype(np.intp)
        xs = np.clip(xs, 0, self.width - 1).reshape(-1)
        ys = np.clip(ys, 0, self.height - 1)
        samples = self.light[np.ix_(ys, xs)].reshape(len(ys), STRIP_CELLS, len(_INNER))
        return bool(np.all(samples == samples[:1, :, :1]))

    def has_a_clean_edge(
        self, xs: npt.NDArray[np.intp], top: int, bottom: int, cell: float
    ) -> bool:
        """Whether the strip ends along a straight line above it or below it.

        Just outside a strip, either all its black cells end (light beyond) or
        all its white cells do (dark beyond). A glyph that matched the guard
        for a few rows has strokes running on past them on both sides. One
        side is enough: scrolling text may touch the other. The picture's
        border counts as a clean edge.
        """
        middle = self.light[(top + bottom) // 2, xs]
        gap = max(1, round(0.3 * cell))
        for y in (top - gap, bottom - 1 + gap):
            if not 0 <= y < self.height:
                return True
            beyond = self.light[y, xs]
            if np.all(beyond[~middle]) or not np.any(beyond[middle]):
                return True
        return False

    def unclear_cells(self, y: int, xs: npt.NDArray[np.intp]) -> int:
        samples = self.rgb[y, xs].astype(np.int16)
        high, low = samples.max(axis=1), samples.min(axis=1)
        clear = ((high <= _DARK_MAX) | (low >= _LIGHT_MIN)) & (high - low <= _GREY_SPREAD)
        return int(np.count_nonzero(~clear))


def _read_strip(picture: _Picture, runs: _Runs, k: int) -> FoundStamp | None:
    """Check the strip whose guard may begin at run k and read it; None if it is not one."""
    row = int(runs.row[k])
    first_edge = int(runs.start[k + 1])
    rough = float(runs.length[k + 1 : k + 5].sum()) / sum(_GUARD_RUN_CELLS[1:])
    end = k + 1
    limit = first_edge + (STRIP_CELLS - 1 + 0.3) * rough
    while end < len(runs.row) and runs.row[end] == row and runs.start[end] < limit:
        end += 1
    fitted = _fit_cells(runs.start[k + 1 : end].astype(np.float64), rough)
    if fitted is None:
        return None
    x0, cell = fitted
    if abs(cell - rough) > 0.25 * rough:
        return None
    xs = picture.cell_centres(x0, cell)
    if xs is None:
        return None
    top, bottom = picture.guard_rows(xs, row, cell)
    height = bottom - top
    if abs(height - cell) > 0.15 * cell + 1.0:  # cells are square
        return None
    if not picture.cells_are_flat(x0, cell, top, height):
        return None
    if not picture.has_a_clean_edge(xs, top, bottom, cell):
        return None
    middle = top + height // 2
    if picture.unclear_cells(middle, xs) > _MAX_UNCLEAR_CELLS:
        return None
    # Each bit by majority of three rows, so one damaged line cannot flip it.
    rows = np.array([top + height // 4, middle, top + (3 * height) // 4], dtype=np.intp)
    votes = picture.light[np.ix_(rows, xs[len(GUARD) :])].sum(axis=0)
    return FoundStamp(x=round(x0), y=top, cell=cell, stamp=_bits_to_stamp(votes >= 2))


def find_stamps(rgb: Frame) -> list[FoundStamp]:
    """Find and read every strip in a picture, at any position and scale down to ~1/4.

    `rgb` is an H x W x 3 or 4 uint8 picture, in any channel order. Rows
    are scanned for the guard's run lengths; a candidate must then have every
    black/white edge on a whole cell, be one cell tall, have flat cells with
    clearly black or white centres, and end in a straight line above or below
    (so noise, colour pictures and text give nothing).
    Strips are returned top to bottom, then left to right, once each.
    """
    if rgb.ndim != 3 or rgb.shape[0] < 3 or rgb.shape[1] < STRIP_CELLS * _MIN_CELL:
        return []
    picture = _Picture(rgb)
    runs = _Runs(picture.light)
    # Pixels of strips already found: their other rows must not count again.
    claimed = np.zeros(picture.light.shape, dtype=np.bool_)
    found: list[FoundStamp] = []
    for k in _clear_guards(picture, runs, _guard_candidates(runs)).tolist():
        if claimed[runs.row[k], runs.start[k + 1]]:
            continue
        strip = _read_strip(picture, runs, k)
        if strip is None or claimed[strip.y, max(strip.x, 0)]:
            continue
        found.append(strip)
        left, right = int(strip.x - strip.cell), int(strip.x + (STRIP_CELLS + 1) * strip.cell)
        claimed[strip.y : int(strip.y + 1.5 * strip.cell) + 3, max(left, 0) : max(right, 0)] = True
    return sorted(found, key=lambda strip: (strip.y, strip.x))
