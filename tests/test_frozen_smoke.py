"""The frozen programs (./scripts/build.sh), started the way a person or an IT script would.

- What each bundle holds: the client carries no server, test or benchmark
  code and no Qt it does not load; every bundled library finds what it links
  against and is one the dynamic loader accepts.
- The frozen receiver runs headless with --status-json; the frozen client
  `join`s it from an Xvfb screen running the workload; the receiver reports
  the presenter's frames at the screen's size.
- The frozen client's window opens on a presenter's Xvfb screen (checked in a
  screenshot); a person types the meeting ID and a name and presses Enter;
  the frozen receiver's full-screen window, on its own display, then shows
  the workload's timestamp strip with a recent stamp.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.xvfb import Xvfb, stop_process
from installer.freeze_rules import misaligned_segments
from tests.frozen_build import FrozenBuild
from tests.screens import recent_stamps, screenshot, until

pytestmark = [
    pytest.mark.xvfb,
    pytest.mark.slow,
    # The first test to ask for the build waits for it (about a minute here).
    pytest.mark.timeout(600),
]
PIN = "1357"
JOIN_TITLE = "Share your screen"  # the join window's title: "Montage — Share your screen"
PRESENTER_SIZE = (1280, 720)
WORKLOAD_GEOMETRY = "700x400+560+300"


class FrozenReceiver:
    """The frozen `montage-receiver`, reporting on stdout (--status-json)."""

    def __init__(self, build: FrozenBuild, data_dir: Path, env: dict[str, str], *args: str):
        self.records: list[dict[str, Any]] = []
        self.proc = subprocess.Popen(
            [
                str(build.receiver),
                "--status-json",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--name",
                "Frozen Room",
                "--data-dir",
                str(data_dir),
                "--stats-interval",
                "0.5",
                *args,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"the frozen receiver did not start:\n{self.stop()}")
        self.ready: dict[str, Any] = json.loads(line)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.records.append(json.loads(line))

    def presenters(self) -> list[dict[str, Any]]:
        """The presenters in the newest stats line."""
        for record in reversed(self.records):
            if record["event"] == "stats":
                return list(record["presenters"])
        return []

    def stop(self) -> str:
        stop_process(self.proc)
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


@pytest.fixture(scope="module")
def presenter_screen() -> Iterator[Xvfb]:
    """A laptop's screen: the workload in a window, its strip clear of the client's windows.

    Without a window manager the join window and the sharing bar open at the
    top-left corner, where a full-screen workload paints its strip.
    """
    with Xvfb(*PRESENTER_SIZE) as screen:
        workload = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.workload",
                "--scene",
                "slides",
                "--fps",
                "30",
                "--geometry",
                WORKLOAD_GEOMETRY,
            ],
            env=screen.env(),
            stderr=subprocess.DEVNULL,
        )
        try:
            yield screen
        finally:
            stop_process(workload, wait=10)


def save_png(rgb: np.ndarray[Any, np.dtype[np.uint8]], path: Path) -> None:
    from PySide6.QtGui import QImage

    height, width, _ = rgb.shape
    image = QImage(rgb.tobytes(), width, height, 3 * width, QImage.Format.Format_RGB888)
    assert image.save(str(path))


# -- what is in the bundles ---------------------------------------------------------------


def python_modules(executable: Path) -> set[str]:
    """The top-level Python packages frozen into an executable's archive."""
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(executable)).open_embedded_archive("PYZ.pyz")
    return {name.split(".")[0] for name in archive.toc}


def test_each_frozen_program_holds_only_what_it_runs(frozen_build: FrozenBuild) -> None:
    client = python_modules(frozen_build.client_gui)
    receiver = python_modules(frozen_build.receiver)
    assert {"montage_client", "montage_core", "aiortc", "PySide6"} <= client
    assert {"montage_receiver", "montage_core", "aiortc", "PySide6"} <= receiver
    for unwanted in ("montage_cloud", "psycopg", "psycopg_pool", "pytest", "_pytest", "bench"):
        assert unwanted not in client
        assert unwanted not in receiver
    assert "montage_receiver" not in client
    assert "montage_client" not in receiver
    for folder in (frozen_build.client_dir, frozen_build.receiver_dir):
        files = [p.relative_to(folder).as_posix() for p in folder.rglob("*")]
        assert not [f for f in files if f.startswith("_internal/psycopg")]
        assert not [f for f in files if "/translations/" in f], "English only: no Qt translations"
        assert not [f for f in files if "libgtk" in f], "no GTK theme plugin, so no GTK"
        # The thirdparty patches read these versions at import.
        for name in ("aiortc", "aioice", "slixmpp"):
            assert [f for f in files if f.startswith(f"_internal/{name}-")], name
    receiver_files = {p.name for p in frozen_build.receiver_dir.rglob("*")}
    assert "libffmpegmediaplugin.so" not in receiver_files  # no device lists on the wall
    assert "libQt6Quick.so.6" not in receiver_files


def test_every_bundled_library_loads(frozen_build: FrozenBuild) -> None:
    """Each library's load segments are ones the loader accepts, and its links resolve.

    The loader runs the frozen programs with the bundle's folder on the
    library path; `ldd` is asked the same way.
    """
    for folder in (frozen_build.client_dir, frozen_build.receiver_dir):
        internal = folder / "_internal"
        libraries = [
            p
            for p in internal.rglob("*")
            if p.is_file() and not p.is_symlink() and (".so" in p.name)
        ]
        assert len(libraries) > 50
        refused = {str(p): misaligned_segments(p) for p in libraries if misaligned_segments(p)}
        assert refused == {}
        env = dict(os.environ, LD_LIBRARY_PATH=str(internal))
        unresolved = []
        for start in range(0, len(libraries), 100):
            out = subprocess.run(
                ["ldd", *map(str, libraries[start : start + 100])],
                capture_output=True,
                text=True,
                env=env,
            ).stdout
            unresolved += [line.strip() for line in out.splitlines() if "not found" in line]
        assert unresolved == []


# -- the programs, started ----------------------------------------------------------------


def test_frozen_client_joins_frozen_receiver(
    frozen_build: FrozenBuild, presenter_screen: Xvfb, tmp_path: Path
) -> None:
    helped = subprocess.run(
        [str(frozen_build.client), "--help"], capture_output=True, text=True, timeout=60
    )
    assert helped.returncode == 0, helped.stderr
    assert "join" in helped.stdout and "netcheck" in helped.stdout

    receiver = FrozenReceiver(
        frozen_build,
        tmp_path / "receiver",
        dict(os.environ, QT_QPA_PLATFORM="offscreen"),
        "--headless",
        "--pin",
        PIN,
    )
    try:
        assert receiver.ready["event"] == "ready"
        assert receiver.ready["pin"] == PIN
        client = subprocess.run(
            [
                str(frozen_build.client),
                "--port",
                str(receiver.ready["port"]),
                "join",
                receiver.ready["meeting_id"],
                "--pin",
                PIN,
                "--name",
                "Frozen Presenter",
                "--seconds",
                "4",
            ],
            env=presenter_screen.env(MONTAGE_CONFIG_DIR=str(tmp_path / "client")),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert client.returncode == 0, client.stderr
        assert "Sharing to Frozen Room (Local), 1280×720" in client.stderr
        assert client.stderr.strip().endswith("Stopped sharing.")
        joined = [r for r in receiver.records if r["event"] == "presenter_joined"]
        assert [r["name"] for r in joined] == ["Frozen Presenter"]
        seen = [
            p
            for r in receiver.records
            if r["event"] == "stats"
            for p in r["presenters"]
            if p["name"] == "Frozen Presenter"
        ]
        assert seen, "the receiver's stats never listed the presenter"
        best = max(seen, key=lambda p: p["frames"])
        assert best["frames"] >= 3
        assert (best["width"], best["height"]) == PRESENTER_SIZE
        left = until(
            lambda: [r for r in receiver.records if r["event"] == "presenter_left"],
            10,
            "the receiver to see the presenter leave",
        )
        assert left[0]["name"] == "Frozen Presenter"
    finally:
        err = receiver.stop()
    assert receiver.proc.returncode == 0, err


def window_of(display: Xvfb, title: str) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the mapped window with this title."""
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", title],
        env=display.env(),
        capture_output=True,
        text=True,
    ).stdout.split()
    if not found:
        return (0, 0, 0, 0)
    geometry = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", found[0]],
        env=display.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split("=", 1) for line in geometry.split())
    return (int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"]))


def test_frozen_window_shares_to_frozen_receiver(
    frozen_build: FrozenBuild, presenter_screen: Xvfb, tmp_path: Path
) -> None:
    with Xvfb(1280, 720) as room_display:
        receiver = FrozenReceiver(
            frozen_build, tmp_path / "receiver", room_display.env(), "--no-pin"
        )
        window = subprocess.Popen(
            [str(frozen_build.client_gui), "--port", str(receiver.ready["port"])],
            env=presenter_screen.env(MONTAGE_CONFIG_DIR=str(tmp_path / "client")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            x, y, width, height = until(
                lambda: g if (g := window_of(presenter_screen, JOIN_TITLE))[2] else None,
                30,
                "the frozen client's window",
            )
            # What a person sees: a window drawn in Qt's light palette over the
            # workload, wider than it is tall (ID, name, Join).
            time.sleep(0.5)  # its first paint
            shot = screenshot(presenter_screen)
            save_png(shot, tmp_path / "frozen-client-window.png")  # for a person to look at
            region = shot[y : y + height, x : x + width].reshape(-1, 3).astype(int)
            assert width > height > 100
            light = np.all(region > 200, axis=1).mean()
            assert light > 0.6, f"the window should be drawn (light pixels: {light:.0%})"
            assert recent_stamps(room_display) == []  # nothing on the wall yet

            typed = receiver.ready["meeting_id"]
            subprocess.run(
                [
                    "xdotool",
                    "search",
                    "--onlyvisible",
                    "--name",
                    JOIN_TITLE,
                    "windowfocus",
                    "--sync",
                    "type",
                    "--delay",
                    "20",
                    f"{typed[:3]} {typed[3:6]} {typed[6:]}",
                ],
                env=presenter_screen.env(),
                check=True,
            )
            subprocess.run(
                ["xdotool", "key", "Tab", "type", "--delay", "20", "Ada Frozen"],
                env=presenter_screen.env(),
                check=True,
            )
            subprocess.run(["xdotool", "key", "Return"], env=presenter_screen.env(), check=True)

            stamps = until(
                lambda: recent_stamps(room_display),
                30,
                "the shared screen on the frozen receiver's window",
            )
            # One shared screen: its two corner strips (one frame's stamp), the
            # bottom-right one below and right of the top-left one.
            top_left, bottom_right = sorted(stamps, key=lambda s: (s.y, s.x))
            assert top_left.stamp == bottom_right.stamp
            assert bottom_right.x > top_left.x and bottom_right.y > top_left.y
            joined = [r["name"] for r in receiver.records if r["event"] == "presenter_joined"]
            assert joined == ["Ada Frozen"]
            assert window.poll() is None, "the window should still be open and sharing"
        finally:
            # The window has no command to quit; a person closes it, a session
            # ending sends SIGTERM (which Qt does not catch: exit status -15).
            stop_process(window)
            assert window.stderr is not None
            window_err = window.stderr.read()
            receiver_err = receiver.stop()
        assert "Traceback" not in window_err, window_err
        assert receiver.proc.returncode == 0, receiver_err
