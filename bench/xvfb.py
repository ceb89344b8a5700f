"""Start and stop Xvfb displays for the demo, the benchmark and the tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any


class XvfbError(RuntimeError):
    pass


def _free_display(start: int = 70) -> int:
    for number in range(start, start + 200):
        if (
            not Path(f"/tmp/.X{number}-lock").exists()
            and not Path(f"/tmp/.X11-unix/X{number}").exists()
        ):
            return number
    raise XvfbError("no free X display number")


class Xvfb:
    """A virtual X display; use as a context manager. `.name` is like ':71'."""

    def __init__(self, width: int = 1920, height: int = 1080, depth: int = 24) -> None:
        self.size = (width, height, depth)
        self.number = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f":{self.number}"

    def start(self) -> Xvfb:
        binary = shutil.which("Xvfb")
        if binary is None:
            raise XvfbError("Xvfb is not installed (scripts/setup.sh installs it)")
        width, height, depth = self.size
        for _ in range(5):
            self.number = _free_display()
            self.process = subprocess.Popen(
                [
                    binary,
                    self.name,
                    "-screen",
                    "0",
                    f"{width}x{height}x{depth}",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            socket_path = Path(f"/tmp/.X11-unix/X{self.number}")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None:
                if socket_path.exists():
                    return self
                time.sleep(0.05)
            self.stop()  # lost a race for the number, or it died: try another
        raise XvfbError("Xvfb did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a program that should use this display."""
        env = dict(os.environ, DISPLAY=self.name, QT_QPA_PLATFORM="xcb", **extra)
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def __enter__(self) -> Xvfb:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, wait: float = 15) -> None:
    """Ask a process to end (`sig`), then kill it if it has not within `wait`."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def workload_on(display: Xvfb, scene: str, fps: float = 30) -> Iterator[subprocess.Popen[bytes]]:
    """The screen workload (`bench.workload`) painting `scene` on `display`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.workload", "--scene", scene, "--fps", str(fps)],
        env=display.env(),
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        stop_process(proc, wait=10)
