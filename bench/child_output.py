"""A child process's stdout lines, each awaited with a timeout (tests and benchmarks).

One reader thread per process feeds its lines to a queue. select() on the
pipe cannot be used to wait for the next line: readline() may already have
pulled two lines into Python's buffer, and select() would then wait for a
third that never comes — how two quick events looked like a 30 s silence.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import weakref
from typing import Any

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
