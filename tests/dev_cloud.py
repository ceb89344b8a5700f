"""Start `montage_cloud.dev` (REST API, Prosody, coturn) for a test and stop it after."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.xvfb import stop_process

ROOT = Path(__file__).resolve().parents[1]


# One reader thread per process feeds its lines to a queue. (select() on the
# pipe cannot be used to wait for the next line: readline() may already have
# pulled two lines into Python's buffer, and select() would then wait for a
# third that never comes — how two quick events looked like a 30 s silence.)
_LINES: weakref.WeakKeyDictionary[subprocess.Popen[str], queue.Queue[str]] = (
    weakref.WeakKeyDictionary()
)
_LINES_LOCK = threading.Lock()


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    with _LINES_LOCK:
        lines = _LINES.get(process)
        if lines is None:
            lines = _LINES[process] = queue.Queue()
            stdout = process.stdout
            assert stdout is not None

            def pump(into: queue.Queue[str] = lines) -> None:
                for line in stdout:
                    into.put(line)
                into.put("")  # the end

            threading.Thread(target=pump, daemon=True).start()
        return lines


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The process's next stdout line ("" at its end), or an AssertionError after `timeout`."""
    lines = _lines(process)
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"no line from the process within {timeout} s") from None
    if line == "":
        lines.put("")  # still the end for the next caller
    return line


def collect_json(process: subprocess.Popen[str], into: list[dict[str, Any]]) -> None:
    """Append each JSON line the process prints to `into` (run it in a thread)."""
    lines = _lines(process)
    while line := lines.get():
        if line.strip():
            into.append(json.loads(line))
    lines.put("")


@contextmanager
def dev_cloud(
    log_dir: Path, code: str | None = None, timeout: float = 60, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """The running cloud and its ready line; `code` replaces `-m montage_cloud.dev`.

    `prefix` runs it inside something (`ip netns exec NS`: the fault lab's router).
    """
    log = log_dir / "stderr.log"
    command = ["-c", code] if code else ["-m", "montage_cloud.dev"]
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*prefix, sys.executable, *command],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )
    try:
        line = read_line(process, timeout)
        assert line, f"the cloud exited early ({process.wait(5)}):\n{log.read_text()}"
        yield process, json.loads(line)
    finally:
        stop_process(process, wait=20)
