"""Smoke-test frozen programs on any system: `--help`, then a `join` to a local receiver.

    python -m installer.smoke build.json      (build.json: the last line of ./scripts/build.sh)

Starts the frozen receiver headless with --status-json on 127.0.0.1, runs the
frozen client's `--help`, then `join`s the receiver from this machine's
screen for a few seconds, and passes when the receiver's stats show the
presenter's frames. Needs only the standard library and a screen to capture,
so the hosted Windows and macOS runners (.github/workflows/build.yml) run it
over their builds. On Linux, tests/test_frozen_smoke.py does this and more.
Prints one JSON line with what it saw; exits 1 with a sentence otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PIN = "2468"
SECONDS = 5


class SmokeFailed(Exception):
    pass


def run(build: dict[str, Any]) -> dict[str, Any]:
    client, receiver = build["client"], build["receiver"]
    helped = subprocess.run([client, "--help"], capture_output=True, text=True, timeout=120)
    if helped.returncode != 0 or "join" not in helped.stdout:
        raise SmokeFailed(f"{client} --help failed ({helped.returncode}): {helped.stderr}")
    with tempfile.TemporaryDirectory(prefix="montage-smoke-") as scratch:
        headless = ["--headless", "--status-json", "--bind", "127.0.0.1", "--port", "0"]
        data = ["--data-dir", str(Path(scratch) / "receiver"), "--stats-interval", "0.5"]
        room = subprocess.Popen(
            [receiver, *headless, "--pin", PIN, *data],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        records: list[dict[str, Any]] = []
        try:
            assert room.stdout is not None
            ready = json.loads(room.stdout.readline() or "null")
            if not ready:
                raise SmokeFailed("the frozen receiver did not start")

            def read() -> None:
                assert room.stdout is not None
                records.extend(json.loads(line) for line in room.stdout)

            threading.Thread(target=read, daemon=True).start()
            started = time.monotonic()
            share = ["--pin", PIN, "--name", "Smoke", "--seconds", str(SECONDS)]
            joined = subprocess.run(
                [client, "--port", str(ready["port"]), "join", ready["meeting_id"], *share],
                capture_output=True,
                text=True,
                timeout=120,
                env=_client_env(scratch),
            )
            took = time.monotonic() - started
        finally:
            room.terminate()
            try:
                room.wait(15)
            except subprocess.TimeoutExpired:
                room.kill()
    if joined.returncode != 0:
        raise SmokeFailed(f"join exited {joined.returncode}: {joined.stderr.strip()}")
    frames = max(
        (
            p["frames"]
            for r in records
            if r.get("event") == "stats"
            for p in r["presenters"]
            if p["name"] == "Smoke"
        ),
        default=0,
    )
    if frames < 3:
        raise SmokeFailed(f"the receiver reported {frames} frames from the client")
    return {"frames": frames, "join_seconds": round(took, 1), "client_said": joined.stderr[-300:]}


def _client_env(scratch: str) -> dict[str, str]:
    return dict(os.environ, MONTAGE_CONFIG_DIR=str(Path(scratch) / "client"))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    text = Path(argv[1]).read_text().strip().splitlines()[-1]
    try:
        print(json.dumps(run(json.loads(text))))
    except SmokeFailed as exc:
        print(f"smoke: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
