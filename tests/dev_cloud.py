"""Start `montage_cloud.dev` (REST API, Prosody, coturn) for a test and stop it after."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.child_output import collect_json, read_line
from bench.xvfb import stop_process

ROOT = Path(__file__).resolve().parents[1]


__all__ = ["collect_json", "dev_cloud", "read_line"]


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
