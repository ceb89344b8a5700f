"""Start of `join` to the first frame at the receiver: the frozen client against the source one.

    flock /tmp/montage-heavy.lock .venv/bin/python -m scripts.frozen_start [--runs 5]

A measurement, not a test (docs/performance.md keeps the figures). Needs
./scripts/build.sh first. Each run starts a fresh benchmark receiver
(bench.probe, which notes the wall-clock time of the first decoded frame),
then a client `join` on an Xvfb screen running the workload: the frozen
`montage-client-cli`, or `python -m montage_client` from the source tree,
alternating. One unmeasured run of each first warms the disk cache, as a
second start on a laptop would be. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.stamp import now_ms
from bench.xvfb import Xvfb, stop_process, workload_on

ROOT = Path(__file__).resolve().parent.parent
FROZEN = ROOT / "dist" / "montage-client" / "montage-client-cli"
CLIENTS = {"frozen": [str(FROZEN)], "source": [sys.executable, "-m", "montage_client"]}


def one_run(screen: Xvfb, command: list[str]) -> int | None:
    """ms from starting the client to the receiver's first decoded frame."""
    probe = subprocess.Popen(
        [sys.executable, "-m", "bench.probe"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    assert probe.stdout is not None
    ready = json.loads(probe.stdout.readline())
    with tempfile.TemporaryDirectory(prefix="montage-start-") as config:
        started = now_ms()
        share = ["--name", "Start", "--seconds", "2"]
        subprocess.run(
            [*command, "--port", str(ready["port"]), "join", ready["meeting_id"], *share],
            env=screen.env(MONTAGE_CONFIG_DIR=config),
            cwd=ROOT,
            capture_output=True,
            timeout=120,
            check=True,
        )
    stop_process(probe, signal.SIGTERM)
    result = json.loads(probe.stdout.readline())
    first: int | None = result.get("first_frame_wall_ms")
    return None if first is None else first - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.frozen_start", description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if not FROZEN.exists():
        print(f"{FROZEN} is missing: run ./scripts/build.sh first", file=sys.stderr)
        return 1
    times: dict[str, list[int]] = {name: [] for name in CLIENTS}
    with Xvfb(1920, 1080) as screen, workload_on(screen, "slides"):
        for command in CLIENTS.values():
            one_run(screen, command)  # warm the disk cache
        for _ in range(args.runs):
            for name, command in CLIENTS.items():
                took = one_run(screen, command)
                if took is not None:
                    times[name].append(took)
    summary = {
        name: {
            "runs_ms": found,
            "median_ms": statistics.median(found) if found else None,
            "min_ms": min(found, default=None),
            "max_ms": max(found, default=None),
        }
        for name, found in times.items()
    }
    for name, row in summary.items():
        print(f"{name:7s} median {row['median_ms']} ms  (min {row['min_ms']}, max {row['max_ms']})")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
