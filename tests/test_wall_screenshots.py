"""Nothing covers what is shared: screenshots of the real receiver window under Xvfb.

The receiver runs as its own program, full screen on a virtual display of the
wall's size; presenters are `montage-client join` processes sharing another
display of the same size, where the workload paints its timestamp strip in
the top-left and the bottom-right corners. What a person in the room sees is
read back from screenshots of the wall:

- one presenter: both strips readable, and the picture shown pixel for pixel
  (the wall's screenshot equals the presenter's screen within codec error);
- four presenters: in every tile, both strips readable (no caption, button
  or join card on them), each client sending at its tile's size;
- back to one: the remaining presenter is asked for its full size again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.stamp import find_stamp_in_corners, now_ms
from bench.xvfb import Xvfb, stop_process, workload_on
from tests.screens import Picture, screenshot, until

pytestmark = [pytest.mark.xvfb, pytest.mark.slow, pytest.mark.timeout(150)]


class Wall:
    """`montage-receiver` full screen on `display`; its stats lines kept."""

    def __init__(self, display: Xvfb, data_dir: Path) -> None:
        self.display = display
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "montage_receiver", "--status-json", "--no-pin"),
                *("--bind", "127.0.0.1", "--port", "0", "--name", "Wall test"),
                *("--data-dir", str(data_dir), "--stats-interval", "0.3"),
            ],
            env=display.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.ready: dict[str, Any] = json.loads(self.proc.stdout.readline())
        self.presenters: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            record = json.loads(line)
            if record["event"] == "stats":
                self.presenters = record["presenters"]

    def sizes(self) -> dict[str, tuple[int, int]]:
        return {p["name"]: (p["width"], p["height"]) for p in self.presenters}

    def stop(self) -> str:
        stop_process(self.proc)
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


def join(wall: Wall, screen: Xvfb, name: str, config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "montage_client", "--port", str(wall.ready["port"])),
            *("join", wall.ready["meeting_id"], "--name", name, "--seconds", "140"),
        ],
        env=screen.env(MONTAGE_CONFIG_DIR=str(config)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def both_corners(picture: Picture) -> bool:
    top, bottom = find_stamp_in_corners(picture, now_ms())
    return top is not None and bottom is not None


def tiles_of(picture: Picture) -> list[Picture]:
    """The four grid cells of a wall showing four presenters."""
    height, width = picture.shape[:2]
    h, w = height // 2, width // 2
    return [picture[y : y + h, x : x + w] for y in (0, h) for x in (0, w)]


def mean_difference(a: Picture, b: Picture) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def one_to_one(wall: Xvfb, screen: Xvfb) -> tuple[float, float] | None:
    """(difference as placed, difference shifted by one pixel) of the wall and the screen.

    Only the part of the picture below the top fifth is compared (a join
    card may still float there) and above the bottom strip (its stamp moves
    on between the two screenshots).
    """
    shown, shared = screenshot(wall), screenshot(screen)
    height = shown.shape[0]
    rows = slice(height // 5, height - 32)
    placed = mean_difference(shown[rows], shared[rows])
    shifted = mean_difference(shown[rows, 1:], shared[rows, :-1])
    return (placed, shifted) if placed < 6 else None


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720)], ids=["1080p", "720p"])
def test_the_wall_shows_every_corner_of_every_share(
    size: tuple[int, int], tmp_path: Path, stack: ExitStack
) -> None:
    screen = stack.enter_context(Xvfb(*size))
    stack.enter_context(workload_on(screen, "slides"))
    display = stack.enter_context(Xvfb(*size))
    wall = Wall(display, tmp_path / "receiver")
    clients: list[subprocess.Popen[bytes]] = []
    try:
        clients.append(join(wall, screen, "Presenter 1", tmp_path / "c1"))
        until(lambda: both_corners(screenshot(display)), 30, "both strips of a lone presenter")
        # The same size as the wall: shown pixel for pixel, not shrunk or moved.
        placed, shifted = until(lambda: one_to_one(display, screen), 20, "a 1:1 picture")
        assert shifted > 2 * placed + 2, (placed, shifted)

        for n in (2, 3, 4):
            clients.append(join(wall, screen, f"Presenter {n}", tmp_path / f"c{n}"))
        until(
            lambda: all(both_corners(tile) for tile in tiles_of(screenshot(display))),
            40,
            "both strips in each of four tiles",
        )

        # Each presenter is asked for, and sends, its tile's size, not its screen's.
        def tile_sized() -> dict[str, tuple[int, int]] | None:
            sizes = wall.sizes()
            small = all(w <= size[0] // 2 and h <= size[1] // 2 for w, h in sizes.values())
            return sizes if len(sizes) == 4 and small else None

        until(tile_sized, 20, "four tile-sized streams")
        until(
            lambda: all(both_corners(tile) for tile in tiles_of(screenshot(display))),
            20,
            "both strips in each tile at the tile's size",
        )

        # Alone again: the full size comes back, and with it the 1:1 picture.
        for client in clients[1:]:
            stop_process(client)
        until(lambda: wall.sizes() == {"Presenter 1": size}, 20, "the full size again")
        until(lambda: both_corners(screenshot(display)), 20, "both strips again")
    finally:
        for client in clients:
            stop_process(client)
        err = wall.stop()
    assert "Traceback" not in err, err
