"""The timestamp strip: painting, reading at native scale, and finding it scaled."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from bench.stamp import (
    BITS,
    CELL,
    GUARD,
    STRIP_CELLS,
    FoundStamp,
    decode_stamp,
    encode_cells,
    find_stamp,
    find_stamp_in_corners,
    find_stamps,
    latency_ms,
    now_ms,
    paint_corner_strips,
    paint_strip,
)

# For the tests that paint the workload's scenes with Qt (pytest-qt's qapp).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

Frame = npt.NDArray[np.uint8]
SCENE_BACKGROUND = (245, 245, 240)  # the workloads' light background


def screen(
    width: int = 1920, height: int = 1080, colour: tuple[int, ...] = SCENE_BACKGROUND
) -> Frame:
    frame = np.empty((height, width, len(colour)), dtype=np.uint8)
    frame[...] = colour
    return frame


def resize_nearest(frame: Frame, scale: float) -> Frame:
    height, width = frame.shape[:2]
    ys = (np.arange(int(height * scale)) / scale).astype(np.intp)
    xs = (np.arange(int(width * scale)) / scale).astype(np.intp)
    return frame[ys[:, None], xs[None, :]]


def resize_area(frame: Frame, scale: float) -> Frame:
    """Average each output pixel's box of input pixels (what a good downscaler does)."""
    height, width = frame.shape[:2]
    ys = (np.arange(int(height * scale) + 1) / scale).astype(np.intp)
    xs = (np.arange(int(width * scale) + 1) / scale).astype(np.intp)
    area = np.diff(ys)[:, None, None] * np.diff(xs)[None, :, None]
    assert area.max() * 255 < 1 << 16  # sums fit uint16 (scales down to 1/16)
    sums = np.add.reduceat(frame[: ys[-1], : xs[-1]].astype(np.uint16), ys[:-1], axis=0)
    sums = np.add.reduceat(sums, xs[:-1], axis=1)
    resized: Frame = ((sums + area // 2) // area).astype(np.uint8)
    return resized


RESIZERS: dict[str, Callable[[Frame, float], Frame]] = {
    "nearest": resize_nearest,
    "area": resize_area,
}

STAMPS = [0, 1, 0x80000000, 0xFFFFFFFF, 0x5A5A5A5A, 0x0F0F0F0F, 1_234_567_890]


def test_encode_cells_layout() -> None:
    cells = encode_cells(0x80000001)
    assert len(cells) == STRIP_CELLS == len(GUARD) + BITS == 40
    assert cells[:8] == [1, 0, 1, 1, 0, 1, 0, 0]
    assert cells[8:] == [1] + [0] * 30 + [1]


@pytest.mark.parametrize("stamp", [-1, 1 << 32])
def test_encode_cells_rejects_stamps_outside_32_bits(stamp: int) -> None:
    with pytest.raises(ValueError):
        encode_cells(stamp)


def test_paint_strip_pixels() -> None:
    frame = screen(700, 40)
    paint_strip(frame, 0x80000000, x0=20, y0=10)
    assert frame[10:26, 20:36].min() == 255  # guard cell 0 is white
    assert frame[10:26, 36:52].max() == 0  # guard cell 1 is black
    assert frame[10:26, 20 + 8 * CELL : 20 + 9 * CELL].min() == 255  # MSB of the stamp
    assert frame[10:26, 20 + 9 * CELL : 20 + 40 * CELL].max() == 0
    assert (frame[9, 20:660] == SCENE_BACKGROUND).all()  # nothing outside the strip
    assert (frame[26, 20:660] == SCENE_BACKGROUND).all()
    assert (frame[10:26, 660] == SCENE_BACKGROUND).all()


@pytest.mark.parametrize("stamp", STAMPS)
@pytest.mark.parametrize("origin", [(0, 0), (13, 7), (1280, 1064)])
def test_paint_then_decode(stamp: int, origin: tuple[int, int]) -> None:
    frame = screen()
    paint_strip(frame, stamp, *origin)
    assert decode_stamp(frame, *origin) == stamp
    (found,) = find_stamps(frame)
    assert (found.x, found.y, found.stamp) == (origin[0], origin[1], stamp)
    assert found.cell == pytest.approx(16.0)
    assert found == FoundStamp(x=origin[0], y=origin[1], cell=found.cell, stamp=stamp)


def test_decode_bgra_with_alpha() -> None:
    frame = screen(colour=(10, 200, 30, 0))
    stamp = now_ms()
    paint_strip(frame, stamp)
    assert (frame[:CELL, : STRIP_CELLS * CELL, 3] == 255).all()
    assert decode_stamp(frame) == stamp
    assert find_stamp(frame) == stamp


def test_paint_strip_refuses_a_strip_that_does_not_fit() -> None:
    with pytest.raises(ValueError):
        paint_strip(screen(639, 16), 1)
    with pytest.raises(ValueError):
        paint_strip(screen(640, 16), 1, y0=1)
    with pytest.raises(ValueError):
        paint_strip(np.zeros((16, 640), dtype=np.uint8), 1)


def test_decode_elsewhere_or_on_too_small_frames_is_none() -> None:
    frame = screen()
    paint_strip(frame, 99, 100, 100)
    assert decode_stamp(frame) is None
    assert decode_stamp(frame[:15]) is None
    assert decode_stamp(frame[:, :639]) is None


@pytest.mark.parametrize("cell", range(len(GUARD)))
def test_guard_mismatch_is_none(cell: int) -> None:
    frame = screen(colour=(128, 128, 128))
    paint_strip(frame, 0x12345678, 40, 40)
    flipped = 255 - frame[40:56, 40 + cell * CELL : 40 + (cell + 1) * CELL]
    frame[40:56, 40 + cell * CELL : 40 + (cell + 1) * CELL] = flipped
    assert decode_stamp(frame, 40, 40) is None
    assert find_stamps(frame) == []
    assert find_stamp(frame) is None


@pytest.mark.parametrize("resizer", sorted(RESIZERS))
@pytest.mark.parametrize("scale", [1.0, 0.75, 0.5, 0.3])
@pytest.mark.parametrize("origin", [(0, 0), (37, 211), (1100, 800)])
def test_find_at_scales_and_offsets(resizer: str, scale: float, origin: tuple[int, int]) -> None:
    stamp = 0xC0FFEE42
    frame = screen()
    paint_strip(frame, stamp, *origin)
    picture = RESIZERS[resizer](frame, scale) if scale != 1.0 else frame
    found = find_stamps(picture)
    assert len(found) == 1
    assert found[0].stamp == stamp
    assert found[0].x == pytest.approx(origin[0] * scale, abs=1.5)
    assert found[0].y == pytest.approx(origin[1] * scale, abs=1.5)
    assert found[0].cell == pytest.approx(CELL * scale, rel=0.03)
    assert find_stamp(picture) == stamp


@pytest.mark.parametrize("background", [SCENE_BACKGROUND, (0, 0, 0), (40, 90, 160)])
def test_find_two_side_by_side(background: tuple[int, int, int]) -> None:
    # A receiver showing two presenters at half size, side by side; with a
    # light scene the right strip's first white cell touches the left
    # presenter's light background.
    left, right = screen(colour=background), screen(colour=background)
    paint_strip(left, 111_111_111)
    paint_strip(right, 4_000_000_001)
    picture = np.concatenate([resize_area(left, 0.5), resize_area(right, 0.5)], axis=1)
    found = find_stamps(picture)
    assert [(f.x, f.y, f.stamp) for f in found] == [(0, 0, 111_111_111), (960, 0, 4_000_000_001)]


def test_find_two_one_above_the_other() -> None:
    top, bottom = screen(), screen()
    paint_strip(top, 5)
    paint_strip(bottom, 0xFFFFFFFE)
    picture = np.concatenate([resize_area(top, 0.5), resize_area(bottom, 0.5)], axis=0)
    found = find_stamps(picture)
    assert [(f.x, f.y, f.stamp) for f in found] == [(0, 0, 5), (0, 540, 0xFFFFFFFE)]
    assert find_stamp(picture) == 5


def test_find_every_tile_of_a_three_by_three_grid() -> None:
    # Nine presenters at a third of their size (5.33 px cells), 4 px gaps.
    picture = screen(colour=(20, 20, 20))
    expected = []
    for i in range(9):
        tile = screen()
        stamp = 1_000_003 * (i + 1) * 97
        paint_strip(tile, stamp)
        small = resize_area(tile, 1 / 3)
        x, y = 4 + (i % 3) * (small.shape[1] + 4), 4 + (i // 3) * (small.shape[0] + 4)
        picture[y : y + small.shape[0], x : x + small.shape[1]] = small[: 1080 - y, : 1920 - x]
        expected.append((x, y, stamp))
    found = find_stamps(picture)
    assert [(f.x, f.y, f.stamp) for f in found] == expected
    assert all(f.cell == pytest.approx(CELL / 3, rel=0.03) for f in found)


def test_every_row_of_a_strip_gives_one_result() -> None:
    frame = screen()
    paint_strip(frame, 77, 300, 300)
    for picture in (frame, resize_nearest(frame, 0.75), resize_area(frame, 0.5)):
        assert [f.stamp for f in find_stamps(picture)] == [77]
    # Cells are square: a strip twice as tall, or cut to 10 px, is not a strip.
    paint_strip(frame, 77, 300, 316)
    assert find_stamps(frame) == []
    squat = screen()
    paint_strip(squat, 77, 300, 300)
    squat[310:316] = SCENE_BACKGROUND
    assert find_stamps(squat) == []


def test_cells_that_are_not_flat_squares_are_no_strip() -> None:
    # Like a glyph: right along the middle row, but one cell is split.
    frame = screen()
    paint_strip(frame, 0x0000FFFF, 200, 200)
    assert [f.stamp for f in find_stamps(frame)] == [0x0000FFFF]
    x = 200 + 30 * CELL  # a white payload cell
    frame[200:205, x + 4 : x + 12] = 0
    assert find_stamps(frame) == []


def test_strokes_running_past_both_sides_are_no_strip() -> None:
    # Like text: the black cells' strokes carry on above and below.
    frame = screen()
    paint_strip(frame, 0x0000FFFF, 200, 200)
    frame[180:200, 200 + CELL : 200 + 2 * CELL] = 0  # guard cell 1, upwards
    assert [f.stamp for f in find_stamps(frame)] == [0x0000FFFF]  # one side is clean
    frame[216:236, 200 + 4 * CELL : 200 + 5 * CELL] = 0  # guard cell 4, downwards
    assert find_stamps(frame) == []


def test_noise_and_blank_frames_have_no_strip() -> None:
    rng = np.random.default_rng(7)
    pixel_noise = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    blocks = rng.integers(0, 256, (270, 480, 3), dtype=np.uint8)
    block_noise = np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)
    big_blocks = np.repeat(np.repeat(blocks[:68, :120], 16, axis=0), 16, axis=1)
    for picture in (
        pixel_noise,
        block_noise,
        big_blocks,
        screen(),
        screen(colour=(0, 0, 0)),
        screen(colour=(255, 255, 255)),
        screen(colour=(128, 128, 128)),
        screen(colour=(0, 0, 0, 255)),
    ):
        assert find_stamps(picture) == []
        assert find_stamp(picture) is None
        assert decode_stamp(picture) is None


def test_video_noise_beside_a_strip_does_not_add_strips() -> None:
    rng = np.random.default_rng(3)
    frame = screen()
    blocks = rng.integers(0, 256, (135, 240, 3), dtype=np.uint8)
    frame[270:810, 480:1440] = np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)
    stamp = now_ms()
    paint_strip(frame, stamp)
    for scale in (1.0, 0.5):
        picture = resize_area(frame, scale) if scale != 1.0 else frame
        assert [f.stamp for f in find_stamps(picture)] == [stamp]


def test_tiny_or_flat_inputs() -> None:
    assert find_stamps(np.zeros((2, 2000, 3), dtype=np.uint8)) == []
    assert find_stamps(np.zeros((100, 100, 3), dtype=np.uint8)) == []
    assert find_stamps(np.zeros((100, 1000), dtype=np.uint8)) == []


def test_latency_wraps_modulo_2_32() -> None:
    assert latency_ms(1000, at=1250) == 250
    assert latency_ms(0xFFFFFFF6, at=5) == 15
    assert 0 <= latency_ms(now_ms()) < 1000


def render_scene(name: str, t: float, size: tuple[int, int] = (1920, 1080)) -> Frame:
    """One frame of a `bench.workload` scene, painted offscreen, as H x W x 4 (BGRA)."""
    from PySide6.QtGui import QImage, QPainter

    from bench.workload import Scene

    image = QImage(size[0], size[1], QImage.Format.Format_RGB32)
    painter = QPainter(image)
    try:
        Scene(name).paint(painter, size[0], size[1], t)
    finally:
        painter.end()
    pixels: Frame = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(size[1], size[0], 4)
    return pixels.copy()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["static", "slides", "scroll", "video"])
def test_workload_scenes_show_two_readable_corner_strips(qapp: object, name: str) -> None:
    # Text and noise in the scenes must not read as strips at any scale, and
    # the strips must read over whatever scrolls beneath them.
    for t in np.linspace(0.0, 9.0, 8):
        frame = render_scene(name, float(t))[..., :3]
        stamp = decode_stamp(frame)
        assert stamp is not None
        assert latency_ms(stamp) < 5000
        assert decode_stamp(frame, 1920 - STRIP_CELLS * CELL, 1080 - CELL) == stamp
        assert find_stamp_in_corners(frame, now_ms()) == (stamp, stamp)
        for scale in (1.0, 0.75, 0.5, 0.3):
            picture = resize_area(frame, scale) if scale != 1.0 else frame
            assert [f.stamp for f in find_stamps(picture)] == [stamp, stamp], (name, t, scale)


def test_corner_strips_are_found_in_their_corners_only() -> None:
    stamp = now_ms()
    frame = screen(1280, 720)
    paint_corner_strips(frame, stamp)
    assert decode_stamp(frame, 1280 - STRIP_CELLS * CELL, 720 - CELL) == stamp
    assert find_stamp_in_corners(frame, now_ms()) == (stamp, stamp)
    # Shown smaller inside a bigger picture (a receiver's screenshot).
    wall = screen(1920, 1080, (0, 0, 0))
    wall[60:1020, 107:1813] = resize_nearest(frame, 960 / 720)[:960, :1706]
    assert find_stamp_in_corners(wall, now_ms()) == (stamp, stamp)
    # A bar over the bottom of the picture hides the second strip.
    covered = frame.copy()
    covered[720 - 40 :, :] = (30, 30, 30)
    assert find_stamp_in_corners(covered) == (stamp, None)
    # Cropped at the right edge: unreadable there too.
    wide = screen(1920, 1080)
    paint_corner_strips(wide, stamp)
    assert find_stamp_in_corners(wide[:, :1800]) == (stamp, None)
    # A stamp from an hour before `near_ms` is a misread, not a latency.
    assert find_stamp_in_corners(frame, (stamp + 3_600_000) & 0xFFFFFFFF) == (None, None)
