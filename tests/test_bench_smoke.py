"""The benchmark runs and ends with its JSON figures (numbers are not judged here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.xvfb, pytest.mark.slow, pytest.mark.timeout(180)]

FIELDS = {
    "fps",
    "latency_p50_ms",
    "latency_p95_ms",
    "readable",
    "sender_cpu",
    "receiver_cpu",
    "ffmpeg_cpu",
    "cpu_ratio",
    "client_peak_rss_mb",
    "join_to_first_frame_ms",
}


def test_benchmark_emits_its_json_line() -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench.run", "--seconds", "1"),
            *("--scenes", "slides", "--walls", "wall1080"),
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    slides = last["scenes"]["slides"]
    assert slides.keys() >= FIELDS
    assert slides["readable"] > 0.5 and slides["join_to_first_frame_ms"] > 0
    assert slides["ffmpeg_cpu"] > 0 and slides["sender_cpu"] > 0
    # The receiver's window: its CPU, and decoded and painted frames per tile.
    wall = last["walls"]["wall1080"]
    assert wall["receiver_cpu"] > 0 and wall["wall"] == [1920, 1080]
    (tile,) = wall["tiles"]
    assert tile["fps"] > 0 and tile["painted_fps"] > 0


def test_browser_row_emits_its_json_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.browser_row", "--seconds", "1", "--scenes", "slides"],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout.strip().splitlines()[-1])["rows"]
    assert set(rows) == {"desktop slides", "browser slides"}
    for row in rows.values():
        assert row["frames"] > 0 and row["readable"] > 0.5 and row["sender_cpu"] > 0
    assert rows["browser slides"]["chromium"]["encoder"]
