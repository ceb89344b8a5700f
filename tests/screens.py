"""What a person would see on an Xvfb display, as the tests read it, and waiting for it.

`screenshot` grabs the whole display as RGB; `recent_stamps` reads the
workload's timestamp strips that are still recent in it; `until` polls a
condition the way a person keeps looking at a screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import mss
import numpy as np

from bench.stamp import FoundStamp, find_stamps, latency_ms
from bench.xvfb import Xvfb

Picture = np.ndarray[Any, np.dtype[np.uint8]]
T = TypeVar("T")
# A stamp older than this is a picture left over, not the live share.
RECENT_MS = 3000


def screenshot(display: Xvfb) -> Picture:
    """The whole display, RGB."""
    with mss.MSS(display=display.name) as sct:
        shot = sct.grab(sct.monitors[1])
        bgra = np.frombuffer(shot.raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)
        return bgra[..., 2::-1].copy()  # to RGB


def recent_stamps(display: Xvfb) -> list[FoundStamp]:
    return [s for s in find_stamps(screenshot(display)) if latency_ms(s.stamp) < RECENT_MS]


def until(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `condition` until it returns something true; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
