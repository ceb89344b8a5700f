"""Incremental capture: what is sent matches the screen, with little work."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from av import VideoFrame

from montage_client.core.change_pacing import ChangePacer, Quality
from montage_client.core.screen_frames import PROBE_WIDTH, ScreenFrames

Bgra = np.ndarray[Any, np.dtype[np.uint8]]


class PaintedScreen:
    """A screen the test paints on; counts full grabs and probe grabs."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        rng = np.random.default_rng(1)
        self.pixels: Bgra = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
        self.full_grabs = 0
        self.region_grabs = 0

    def open(self) -> None: ...

    def close(self) -> None: ...

    def select(self, index: int) -> None: ...

    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]

    def grab(self, region: tuple[int, int, int, int] | None = None) -> Bgra:
        if region is None:
            self.full_grabs += 1
            return self.pixels.copy()
        self.region_grabs += 1
        left, top, width, height = region
        return self.pixels[top : top + height, left : left + width].copy()


def full_yuv(pixels: Bgra) -> np.ndarray[Any, np.dtype[np.int16]]:
    frame = VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="bgra")
    return frame.reformat(format="yuv420p").to_ndarray().astype(np.int16)


def sent_yuv(frame: VideoFrame) -> np.ndarray[Any, np.dtype[np.int16]]:
    return frame.to_ndarray().astype(np.int16)


def ticks(frames: ScreenFrames, start: float, seconds: float) -> list[VideoFrame]:
    out = []
    for i in range(round(seconds * 30)):
        outgoing = frames.tick(start + i / 30)
        if outgoing is not None:
            out.append(outgoing[0])
    return out


def test_changed_rows_only_yet_the_picture_is_whole() -> None:
    screen = PaintedScreen()
    frames = ScreenFrames(screen, ChangePacer(Quality.MOTION, 30))
    outgoing = frames.tick(0.0)
    assert outgoing is not None
    first = outgoing[0]
    assert np.array_equal(sent_yuv(first), full_yuv(screen.pixels))
    rng = np.random.default_rng(2)
    now = 0.0
    for top, bottom in [(10, 31), (101, 102), (0, 240), (200, 240), (57, 140)]:
        screen.pixels[top:bottom, 40:200] = rng.integers(0, 256, (bottom - top, 160, 4))
        now += 0.2
        outgoing = frames.tick(now)
        assert outgoing is not None
        frame = outgoing[0]
        assert np.array_equal(sent_yuv(frame), full_yuv(screen.pixels))


def test_still_screen_costs_probes_not_grabs() -> None:
    screen = PaintedScreen()
    frames = ScreenFrames(screen, ChangePacer(Quality.AUTO, 30))
    ticks(frames, 0.0, 2.0)  # the first picture, then settling
    screen.full_grabs = screen.region_grabs = 0
    sent = ticks(frames, 2.0, 10.0)
    assert 9 <= len(sent) <= 11  # one keep-alive a second
    # Full comparisons: a few a second at most (not one per tick: 300).
    assert screen.full_grabs <= 10 * 6
    assert screen.region_grabs >= 200  # a probe column on most ticks


def test_large_change_is_sent_on_the_tick_it_happens() -> None:
    screen = PaintedScreen()
    frames = ScreenFrames(screen, ChangePacer(Quality.AUTO, 30))
    ticks(frames, 0.0, 3.0)  # settle into idle
    x = screen.pixels.shape[1] // 2
    screen.pixels[:, x - 20 : x + PROBE_WIDTH + 20] = 255  # through the probe column
    outgoing = frames.tick(3.0)
    assert outgoing is not None
    frame = outgoing[0]
    assert np.max(np.abs(sent_yuv(frame) - full_yuv(screen.pixels))) == 0


def test_small_change_away_from_the_probes_is_found_by_the_next_check() -> None:
    screen = PaintedScreen()
    frames = ScreenFrames(screen, ChangePacer(Quality.AUTO, 30))
    ticks(frames, 0.0, 3.0)
    screen.pixels[5:15, 5:25] = 0  # a "keystroke" in a corner
    sent = ticks(frames, 3.0, 0.5)
    assert sent, "the small change was never sent"
    assert np.max(np.abs(sent_yuv(sent[0]) - full_yuv(screen.pixels))) == 0


@pytest.mark.parametrize("size", [(2560, 1440), (3840, 2160)])
def test_large_screens_are_scaled_to_fit_1080p(size: tuple[int, int]) -> None:
    screen = PaintedScreen(*size)
    frames = ScreenFrames(screen, ChangePacer(Quality.AUTO, 30))
    outgoing = frames.tick(0.0)
    assert outgoing is not None
    assert (outgoing[0].width, outgoing[0].height) == (1920, 1080)


def test_a_settled_large_change_is_refreshed_once() -> None:
    screen = PaintedScreen()
    frames = ScreenFrames(screen, ChangePacer(Quality.AUTO, 30))
    for i in range(90):  # settle
        frames.tick(i / 30)
    screen.pixels[:, :] = 200  # a new slide
    refreshes = []
    for i in range(60):
        outgoing = frames.tick(3.0 + i / 30)
        if outgoing is not None and outgoing[1]:
            refreshes.append(3.0 + i / 30)
    assert len(refreshes) == 1
    assert 3.35 <= refreshes[0] <= 3.6  # shortly after the change settled


def test_the_receivers_box_sets_the_size_sent_even_on_a_still_screen() -> None:
    screen = PaintedScreen(1920, 1080)
    frames = ScreenFrames(screen, ChangePacer(Quality.AUTO, 30))
    ticks(frames, 0.0, 3.0)  # settle: nothing changes from here on
    frames.set_view((960, 508), 3.0)
    outgoing = frames.tick(3.0)  # sent at once, not at the next keep-alive
    assert outgoing is not None
    small = outgoing[0]
    assert (small.width, small.height) == (902, 508)  # the screen's aspect, within the box
    # The whole picture, scaled (not a stale band of the full-size one).
    expected = (
        VideoFrame.from_ndarray(np.ascontiguousarray(screen.pixels), format="bgra")
        .reformat(width=902, height=508, format="yuv420p", interpolation="AREA")
        .to_ndarray()
        .astype(np.int16)
    )
    assert np.max(np.abs(sent_yuv(small) - expected)) == 0
    # A box larger than the screen never enlarges it: the full size comes back.
    frames.set_view((3840, 2160), 4.0)
    outgoing = frames.tick(4.0)
    assert outgoing is not None
    assert (outgoing[0].width, outgoing[0].height) == (1920, 1080)
    assert np.max(np.abs(sent_yuv(outgoing[0]) - full_yuv(screen.pixels))) == 0
