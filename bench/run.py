"""The screen-sharing benchmark: Montage against ffmpeg on the same screen.

    python -m bench.run [--seconds 10] [--scenes video,video60,scroll,slides,static]
                        [--walls grid4,wall1080,wall2160] [--faults]

For each scene it starts the workload on a 1920×1080 Xvfb screen, a headless
receiver with a latency probe (bench/probe.py) and `montage-client join`
sharing that screen; after a warm-up it measures for `--seconds`: delivered
fps at the receiver, latency p50/p95 (frame arrival minus the stamp the
workload painted), the share of frames whose stamp reads, sender and
receiver CPU (% of one core), the client's peak RSS, and the time from
starting the client to the first frame at the receiver. Then it runs
ffmpeg's pipeline (x11grab → libx264 ultrafast zerolatency → null) on the
same screen for the same time, and reports CPU ratios. Then the wall cases
(`bench.wall`: the receiver's real window, one presenter on a 1080p and a 4K
wall, four presenters on a 1080p wall — the `grid4` row). `--browser` adds
the browser row (bench/browser_row.py): the browser client beside the
desktop client; `--faults` (root) the fault lab's `faults` section
(bench/faults.py). The last line of output is one JSON object with every figure.

This is a benchmark, not a test: it reports numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import wall
from bench.cpu import TICKS, cpu_ticks
from bench.stamp import now_ms
from bench.xvfb import Xvfb, stop_process, workload_on

PY = sys.executable


@dataclass(frozen=True)
class Scene:
    name: str  # key in the results
    workload: str  # scene painted by bench.workload
    fps: int  # capture rate asked of both pipelines


SCENES = {
    "video": Scene("video", "video", 30),
    "video60": Scene("video60", "video", 60),
    "scroll": Scene("scroll", "scroll", 30),
    "slides": Scene("slides", "slides", 30),
    "static": Scene("static", "static", 30),
}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_cpu(pid: int, seconds: float) -> float:
    """% of one core used by `pid` over the next `seconds`."""
    start, t0 = cpu_ticks(pid), time.monotonic()
    time.sleep(seconds)
    used = (cpu_ticks(pid) - start) / TICKS
    return 100.0 * used / (time.monotonic() - t0)


def run_montage(
    screen: Xvfb, scene: Scene, seconds: float, warmup: float, extra: list[str]
) -> dict[str, Any]:
    probe = subprocess.Popen(
        [PY, "-m", "bench.probe"], stdout=subprocess.PIPE, text=True, stderr=subprocess.DEVNULL
    )
    assert probe.stdout is not None
    ready = json.loads(probe.stdout.readline())
    with tempfile.TemporaryDirectory(prefix="montage-bench-") as config_dir:
        started_ms = now_ms()
        client = subprocess.Popen(
            [
                PY,
                "-m",
                "montage_client",
                "--port",
                str(ready["port"]),
                "join",
                ready["meeting_id"],
                "--name",
                "Bench",
                "--fps",
                str(scene.fps),
                *extra,
            ],
            env=screen.env(MONTAGE_CONFIG_DIR=config_dir),
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(warmup)
        if client.poll() is not None:
            stop_process(probe)
            raise RuntimeError(f"client exited: {client.stderr.read() if client.stderr else ''}")
        probe.send_signal(signal.SIGUSR1)
        sender_cpu = measure_cpu(client.pid, seconds)
        rss = peak_rss_mb(client.pid)
        stop_process(probe)
        result: dict[str, Any] = json.loads(probe.stdout.readline())
        stop_process(client, signal.SIGINT)
    first = result.pop("first_frame_wall_ms")
    result.pop("event")
    result["sender_cpu"] = sender_cpu
    result["client_peak_rss_mb"] = rss
    result["join_to_first_frame_ms"] = None if first is None else (first - started_ms)
    return result


def run_ffmpeg(screen: Xvfb, scene: Scene, seconds: float, warmup: float) -> float:
    proc = subprocess.Popen(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "x11grab",
            "-draw_mouse",
            "0",
            "-framerate",
            str(scene.fps),
            "-video_size",
            "1920x1080",
            "-i",
            screen.name,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-f",
            "null",
            "-",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(warmup)
    cpu = measure_cpu(proc.pid, seconds)
    stop_process(proc)
    return cpu


def run_scene(screen: Xvfb, scene: Scene, seconds: float, extra: list[str]) -> dict[str, Any]:
    with workload_on(screen, scene.workload, fps=60):
        time.sleep(1.5)
        result = run_montage(screen, scene, seconds, warmup=4.0, extra=extra)
        result["ffmpeg_cpu"] = run_ffmpeg(screen, scene, seconds, warmup=2.0)
    result["cpu_ratio"] = result["sender_cpu"] / max(result["ffmpeg_cpu"], 1e-6)
    changes = result.pop("change_latencies_ms")
    if scene.name == "slides":
        result["changes_seen"] = len(changes)
        result["change_latency_max_ms"] = max(changes) if changes else None
    return result


def table(results: dict[str, dict[str, Any]]) -> str:
    header = (
        f"{'scene':8} {'fps':>6} {'p50 ms':>7} {'p95 ms':>7} {'readable':>8} "
        f"{'send %':>7} {'recv %':>7} {'ffmpeg %':>8} {'ratio':>6} {'RSS MB':>7} "
        f"{'first ms':>8}"
    )
    lines = [header, "-" * len(header)]
    for name, r in results.items():
        lines.append(
            f"{name:8} {r['fps']:6.1f} {r['latency_p50_ms']:7.0f} {r['latency_p95_ms']:7.0f} "
            f"{r['readable']:8.3f} {r['sender_cpu']:7.1f} {r['receiver_cpu']:7.1f} "
            f"{r['ffmpeg_cpu']:8.1f} {r['cpu_ratio']:6.2f} {r['client_peak_rss_mb']:7.0f} "
            f"{r['join_to_first_frame_ms'] or float('nan'):8.0f}"
        )
        if "changes_seen" in r:
            lines.append(
                f"{'':8} slide changes seen: {r['changes_seen']}, slowest shown "
                f"after {r['change_latency_max_ms']} ms"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per scene")
    parser.add_argument(
        "--scenes", default=",".join(SCENES), help=f"comma-separated, from {', '.join(SCENES)}"
    )
    parser.add_argument(
        "--faults",
        action="store_true",
        help="also run the fault lab (bench/faults.py; root) and add its `faults` section",
    )
    parser.add_argument(
        "--client-arg",
        action="append",
        default=[],
        help="extra argument for `montage-client join` (repeatable)",
    )
    parser.add_argument(
        "--walls",
        default=",".join(wall.CASES),
        help=f"comma-separated wall cases, from {', '.join(wall.CASES)} (empty: none)",
    )
    parser.add_argument(
        "--browser",
        action="store_true",
        help="also the browser row: Chromium and the desktop client, video and slides",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.scenes.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENES]
    walls = [n.strip() for n in args.walls.split(",") if n.strip()]
    unknown += [n for n in walls if n not in wall.CASES]
    if unknown:
        parser.error(f"unknown scenes or walls: {', '.join(unknown)}")
    results: dict[str, dict[str, Any]] = {}
    with Xvfb(1920, 1080) as screen:
        for name in names:
            print(f"running {name}…", file=sys.stderr, flush=True)
            results[name] = run_scene(screen, SCENES[name], args.seconds, args.client_arg)
    wall_results: dict[str, dict[str, Any]] = {}
    for name in walls:
        print(f"running {name}…", file=sys.stderr, flush=True)
        wall_results[name] = wall.run_case(wall.CASES[name], args.seconds, wall.WARMUP, 60.0)
    if results:
        print(table(results))
    if wall_results:
        print(wall.table(wall_results))
    figures: dict[str, Any] = {"scenes": results, "walls": wall_results}
    if args.browser:
        from bench import browser_row  # Playwright and a cloud only when asked for

        rows = browser_row.run(args.seconds, list(browser_row.SCENES), "auto")
        print(browser_row.table(rows))
        figures["browser"] = rows
    if args.faults:
        from bench.faults import run_faults

        figures["faults"] = run_faults()
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
