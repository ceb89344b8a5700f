"""The wall benchmark: the receiver's real window, painting, under load.

    python -m bench.wall [--seconds 10] [--cases grid4,wall1080,wall2160]

Cases:
  wall1080  one presenter shares the `video` scene (1080p, 30 fps) to a
            1920×1080 wall
  wall2160  the same to a 3840×2160 wall: what a 4K screen costs
  grid4     four presenters share the `video` scene (1080p) to a 1920×1080
            wall at once

The presenters' screen is one 1920×1080 Xvfb display with the workload
(`bench.workload`) on it; every presenter is a `montage-client join` process
sharing that screen. The receiver is `montage-receiver --status-json`, full
screen on its own Xvfb display of the wall's size. After a warm-up (past
the join card's fade) it measures, for `--seconds`: the receiver's CPU (% of
one core, from /proc), the wall's X server's CPU (it copies every painted frame to the screen), all
clients' CPU together, and per tile the decoded and painted frame rates (the
`frames` and `frames_painted` counters of the receiver's stats lines at the
start and end of the window). The last line of output is one JSON object.

This is a benchmark, not a test: it reports numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cpu import TICKS, cpu_ticks
from bench.xvfb import Xvfb, stop_process, workload_on

PY = sys.executable


@dataclass(frozen=True)
class WallCase:
    name: str
    wall: tuple[int, int]  # the receiver's screen
    presenters: int


CASES = {
    "wall1080": WallCase("wall1080", (1920, 1080), 1),
    "wall2160": WallCase("wall2160", (3840, 2160), 1),
    "grid4": WallCase("grid4", (1920, 1080), 4),
}
SCREEN = (1920, 1080)  # the presenters' screen
# Past the join card floating over the first seconds of a share (the steady
# state is what a meeting looks like), and past the clients' start-up.
WARMUP = 12.0


class Receiver:
    """`montage-receiver` full screen on `display`, its stats lines collected."""

    def __init__(self, display: Xvfb, data_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [
                PY,
                "-m",
                "montage_receiver",
                "--status-json",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--no-pin",
                "--name",
                "Bench wall",
                "--data-dir",
                str(data_dir),
                "--stats-interval",
                "0.5",
            ],
            env=display.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.ready: dict[str, Any] = json.loads(self.proc.stdout.readline())
        self.stats: list[tuple[float, dict[str, Any]]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            record = json.loads(line)
            if record.get("event") == "stats":
                self.stats.append((time.monotonic(), record))

    def latest(self) -> tuple[float, dict[str, Any]]:
        return self.stats[-1] if self.stats else (time.monotonic(), {"presenters": []})

    def stop(self) -> None:
        stop_process(self.proc)


def process_cpu(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with suppress(FileNotFoundError, ProcessLookupError):  # it ended meanwhile
            total += cpu_ticks(pid)
    return total


def tile_rates(
    start: tuple[float, dict[str, Any]], end: tuple[float, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Decoded and painted fps of each presenter between two stats lines."""
    elapsed = max(1e-6, end[0] - start[0])
    before = {p["id"]: p for p in start[1]["presenters"]}
    tiles = []
    for p in sorted(end[1]["presenters"], key=lambda p: p["id"]):
        first = before.get(p["id"])
        if first is None:
            continue
        painted = None
        if p.get("frames_painted") is not None and first.get("frames_painted") is not None:
            painted = (p["frames_painted"] - first["frames_painted"]) / elapsed
        tiles.append(
            {
                "name": p["name"],
                "size": [p["width"], p["height"]],
                "fps": (p["frames"] - first["frames"]) / elapsed,
                "painted_fps": painted,
            }
        )
    return tiles


def run_case(case: WallCase, seconds: float, warmup: float, workload_fps: float) -> dict[str, Any]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="montage-wall-")))
        screen = stack.enter_context(Xvfb(*SCREEN))
        stack.enter_context(workload_on(screen, "video", fps=workload_fps))
        wall = stack.enter_context(Xvfb(*case.wall))
        receiver = Receiver(wall, tmp / "receiver")
        stack.callback(receiver.stop)
        clients: list[subprocess.Popen[bytes]] = []
        for n in range(case.presenters):
            client = subprocess.Popen(
                [
                    PY,
                    "-m",
                    "montage_client",
                    "--port",
                    str(receiver.ready["port"]),
                    "join",
                    receiver.ready["meeting_id"],
                    "--name",
                    f"Presenter {n + 1}",
                    "--fps",
                    "30",
                ],
                env=screen.env(MONTAGE_CONFIG_DIR=str(tmp / f"client{n}")),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            clients.append(client)
            stack.callback(stop_process, client, signal.SIGINT)
        time.sleep(warmup)
        dead = [n + 1 for n, c in enumerate(clients) if c.poll() is not None]
        if dead:
            raise RuntimeError(f"presenter {dead[0]} exited during the warm-up")
        assert wall.process is not None
        watched = {
            "receiver": [receiver.proc.pid],
            "wall_xserver": [wall.process.pid],
            "clients": [c.pid for c in clients],
        }
        first = receiver.latest()
        # Runs beside other work (on a shared machine) show up here.
        load = os.getloadavg()[0]
        ticks = {key: process_cpu(pids) for key, pids in watched.items()}
        t0 = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - t0
        used = {key: process_cpu(pids) - ticks[key] for key, pids in watched.items()}
        last = receiver.latest()
    cpu = {f"{key}_cpu": 100.0 * ticks / TICKS / elapsed for key, ticks in used.items()}
    tiles = tile_rates(first, last)
    return {
        "wall": list(case.wall),
        "presenters": case.presenters,
        "tiles": tiles,
        "min_tile_fps": min((t["fps"] for t in tiles), default=0.0),
        "min_painted_fps": min((t["painted_fps"] or 0.0 for t in tiles), default=0.0),
        **cpu,
        "load_1min": load,
    }


def _rate(fps: float | None) -> str:
    return "-" if fps is None else f"{fps:.1f}"


def table(results: dict[str, dict[str, Any]]) -> str:
    header = (
        f"{'case':9} {'wall':>9} {'tiles':>5} {'fps per tile (painted)':>34} "
        f"{'recv %':>7} {'X %':>6} {'clients %':>9}"
    )
    lines = [header, "-" * len(header)]
    for name, r in results.items():
        rates = " ".join(f"{t['fps']:.1f}({_rate(t['painted_fps'])})" for t in r["tiles"])
        lines.append(
            f"{name:9} {r['wall'][0]:>4}x{r['wall'][1]:<4} {len(r['tiles']):5} {rates:>34} "
            f"{r['receiver_cpu']:7.1f} {r['wall_xserver_cpu']:6.1f} {r['clients_cpu']:9.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per case")
    parser.add_argument(
        "--warmup",
        type=float,
        default=WARMUP,
        help="seconds before measuring (default: past the join card's fade)",
    )
    parser.add_argument(
        "--workload-fps", type=float, default=60.0, help="paints per second of the workload"
    )
    parser.add_argument(
        "--cases", default=",".join(CASES), help=f"comma-separated, from {', '.join(CASES)}"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown cases: {', '.join(unknown)}")
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        print(f"running {name}…", file=sys.stderr, flush=True)
        results[name] = run_case(CASES[name], args.seconds, args.warmup, args.workload_fps)
    print(table(results))
    print(json.dumps({"walls": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
