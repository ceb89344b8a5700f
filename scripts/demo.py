"""The main job: a receiver and a client sharing this screen to it.

With no display (or with --xvfb) it starts Xvfb, puts the screen workload on
it so there is something moving to share, runs a headless receiver, and
prints what the receiver received: frames, fps, resolution, and how long
after joining the first frame arrived.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.xvfb import Xvfb, stop_process, workload_on

PY = sys.executable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to share")
    parser.add_argument("--scene", default="video", help="workload scene on the Xvfb screen")
    parser.add_argument("--xvfb", action="store_true", help="use Xvfb even if DISPLAY is set")
    parser.add_argument(
        "--gui", action="store_true", help="show the receiver's window (needs a display)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    with ExitStack() as stack:
        env = dict(os.environ)
        procs: list[subprocess.Popen[Any]] = []
        stack.callback(_stop_all, procs)
        if args.xvfb or not os.environ.get("DISPLAY"):
            screen = stack.enter_context(Xvfb(1920, 1080))
            env = screen.env()
            print(
                f"No display in use: started Xvfb {screen.name} (1920×1080) with the "
                f"'{args.scene}' workload on it.",
                flush=True,
            )
            stack.enter_context(workload_on(screen, args.scene))
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="montage-demo-"))
        pin = f"{secrets.randbelow(10_000):04d}"
        receiver_cmd = [
            PY,
            "-m",
            "montage_receiver",
            "--status-json",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--pin",
            pin,
            "--name",
            "Demo Room",
            "--data-dir",
            data_dir,
        ]
        receiver_cmd += ["--windowed"] if args.gui else ["--headless"]
        receiver = subprocess.Popen(
            receiver_cmd, env=env, stdout=subprocess.PIPE, text=True, stderr=subprocess.DEVNULL
        )
        procs.append(receiver)
        assert receiver.stdout is not None
        ready = json.loads(receiver.stdout.readline() or "{}")
        if ready.get("event") != "ready":
            print("The receiver did not start.", file=sys.stderr)
            return 1
        print(
            f"Receiver ready: meeting ID {ready['meeting_id']}, PIN {ready['pin']}, "
            f"port {ready['port']}",
            flush=True,
        )
        records: list[dict[str, Any]] = []
        reader = threading.Thread(target=_collect, args=(receiver.stdout, records), daemon=True)
        reader.start()
        client = subprocess.run(
            [
                PY,
                "-m",
                "montage_client",
                "--port",
                str(ready["port"]),
                "join",
                ready["meeting_id"],
                "--pin",
                pin,
                "--name",
                "Demo Presenter",
                "--seconds",
                str(args.seconds),
            ],
            env=dict(env, MONTAGE_CONFIG_DIR=str(Path(data_dir) / "client")),
            check=False,
        )
        receiver.terminate()
        reader.join(5)
        return _report(records, client.returncode, args.seconds)
    return 1


def _collect(stream: Any, records: list[dict[str, Any]]) -> None:
    for line in stream:
        with contextlib.suppress(ValueError):  # log noise, not a status line
            records.append(json.loads(line))


def _report(records: list[dict[str, Any]], client_code: int, seconds: float) -> int:
    stats = [r for r in records if r.get("event") == "stats" and r["presenters"]]
    left = [r for r in records if r.get("event") == "presenter_left"]
    final = left[-1] if left else (stats[-1]["presenters"][0] if stats else None)
    if client_code != 0 or final is None or final["frames"] == 0:
        print(f"The share failed (client exit code {client_code}); nothing was received.")
        return 1
    peak_fps = max((p["fps"] for r in stats for p in r["presenters"]), default=0.0)
    print()
    print("What the receiver received:")
    print(f"  presenter        {final['name']}")
    print(
        f"  frames           {final['frames']} in about {seconds:.0f} s "
        f"({final['frames'] / seconds:.1f} fps average, {peak_fps:.1f} fps peak)"
    )
    print(f"  resolution       {final['width']}×{final['height']}")
    if final.get("first_frame_ms") is not None:
        print(f"  first frame      {final['first_frame_ms']:.0f} ms after joining")
    return 0


def _stop_all(procs: list[subprocess.Popen[Any]]) -> None:
    for proc in reversed(procs):
        stop_process(proc, wait=5)


if __name__ == "__main__":
    sys.exit(main())
