"""The fault lab's figures: how a share comes through cuts, restarts, loss and delay.

    sudo python -m bench.faults [--loss-seconds 30] [--only cut,loss5,...]

Runs each fault of issue 10 between three network namespaces (client,
router, receiver: tests/fault_lab.py) with `montage-client join` sharing
the reference workload's `video` scene at 1080p, and prints one JSON object
`{"faults": {...}}` as its last line (`python -m bench.run --faults` adds the
same section to its own). Needs root (namespaces, nftables) and takes about
four minutes. A benchmark, not a test: it reports, it asserts nothing.

Figures:
- `cut`: seconds from the link coming back after a 3 s cut to new frames at
  the receiver (local meeting; three cuts); `udp_block` the same for a 3 s
  UDP-only block; `cloud_cut` for a 3 s cut of a cloud (6-digit, XMPP) share;
- `restart`: seconds from a receiver restarted with the same --pin being
  ready to frames again, and `first_frame_ms` of that new media session
  (hello → first frame: the cost of a new peer connection); `new_pin`:
  seconds from a restarted receiver with a new PIN being ready to the
  client's exit, its exit code and last words;
- `loss1`, `loss5`: random loss both ways for `--loss-seconds`: fps,
  readable share, latency p50/p95, the largest gap between frames, freezes,
  keyframes, the receiver's `loss_pct`;
- `delay100`: latency p50 without and with 100 ms more each way;
- `cut60`: a 60 s cut with the default --reconnect-seconds (60): when the
  client gave up (s after the cut), its exit code, and when the receiver
  freed the tile.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.xvfb import Xvfb, workload_on
from tests.fault_lab import (
    RECEIVER_KEYRING,
    FaultLab,
    LabClient,
    LabProbe,
    LabReceiver,
    cut_until_given_up,
    join,
    router_cloud,
    unavailable_reason,
)

PIN = "2468"
NAME = "Lab"


def _join(lab: FaultLab, screen: Xvfb, receiver: LabReceiver, tmp: Path, *extra: str) -> LabClient:
    client = join(lab, screen, receiver, tmp, *extra)
    time.sleep(2)  # settled before anything is measured
    return client


def cut(lab: FaultLab, screen: Xvfb, tmp: Path) -> dict[str, Any]:
    receiver = LabReceiver(lab, tmp / "receiver", f"--pin={PIN}")
    client = _join(lab, screen, receiver, tmp, f"--pin={PIN}")
    resumes, blocks = [], []
    try:
        for _ in range(3):
            lab.cut(True)
            time.sleep(3)
            lab.cut(False)
            resumes.append(receiver.frames_resume_after(time.monotonic(), NAME))
            time.sleep(3)
        for _ in range(2):
            lab.block_udp()
            time.sleep(3)
            lab.clear()
            blocks.append(receiver.frames_resume_after(time.monotonic(), NAME))
            time.sleep(3)
        survived = client.proc.poll() is None
    finally:
        client.stop()
        receiver.stop()
    reconnects = [
        p["reconnects"]
        for _, r in receiver.records.lines
        if r["event"] == "stats"
        for p in r["presenters"]
    ]
    return {
        "cut_s": 3,
        "resume_after_cut_s": [round(r, 2) for r in resumes],
        "resume_after_udp_block_s": [round(r, 2) for r in blocks],
        "client_kept_running": survived,
        "signalling_reconnects": max(reconnects, default=0),
    }


def cloud_cut(lab: FaultLab, screen: Xvfb, tmp: Path) -> dict[str, Any]:
    with router_cloud(lab, tmp / "cloud") as cloud:
        env = cloud.enrolled_client(tmp / "client")
        receiver = LabReceiver(
            lab,
            tmp / "receiver",
            f"--pin={PIN}",
            "--name=Cloud Room",
            *cloud.receiver_args(),
            env=RECEIVER_KEYRING,
        )
        lab.refuse_tcp(8443)  # signalling over XMPP, not the LAN WebSocket
        client = LabClient(
            lab, screen, receiver.ready["cloud_meeting_id"], tmp / "client", f"--pin={PIN}", env=env
        )
        resumes = []
        try:
            client.wait_for("Sharing to Cloud Room (Cloud)", 60)
            receiver.frames_resume_after(time.monotonic(), NAME, timeout=20)
            for _ in range(2):
                time.sleep(3)
                lab.cut(True)
                time.sleep(3)
                lab.cut(False)
                resumes.append(receiver.frames_resume_after(time.monotonic(), NAME))
            survived = client.proc.poll() is None
        finally:
            client.stop()
            receiver.stop()
            lab.clear()
    return {"resume_after_cut_s": [round(r, 2) for r in resumes], "client_kept_running": survived}


def restart(lab: FaultLab, screen: Xvfb, tmp: Path) -> dict[str, Any]:
    data = tmp / "receiver"
    receiver = LabReceiver(lab, data, f"--pin={PIN}")
    client = _join(lab, screen, receiver, tmp, f"--pin={PIN}")
    try:
        receiver.kill()
        client.wait_for("Reconnecting…", 10)
        time.sleep(2)
        receiver = LabReceiver(lab, data, f"--pin={PIN}")
        resumed = receiver.frames_resume_after(receiver.ready_at, NAME)
        time.sleep(1)
        first = [
            p["first_frame_ms"]
            for _, r in receiver.records.lines
            if r["event"] == "stats"
            for p in r["presenters"]
        ]
        receiver.kill()
        client.wait_for("Reconnecting…", 10)
        time.sleep(2)
        receiver = LabReceiver(lab, data, "--pin=1357")
        client.proc.wait(30)
        stopped = time.monotonic() - receiver.ready_at
    finally:
        client.stop()
        receiver.stop()
    return {
        "same_pin_resume_after_ready_s": round(resumed, 2),
        "new_peer_connection_first_frame_ms": first[-1] if first else None,
        "new_pin_client_stopped_after_ready_s": round(stopped, 2),
        "new_pin_exit_code": client.proc.returncode,
        "new_pin_last_words": client.last_words(),
    }


def loss(percent: int, seconds: float) -> Callable[[FaultLab, Xvfb, Path], dict[str, Any]]:
    def measure(lab: FaultLab, screen: Xvfb, tmp: Path) -> dict[str, Any]:
        probe = LabProbe(lab)
        client = LabClient(lab, screen, probe.ready["meeting_id"], tmp / "client")
        try:
            client.wait_for("Sharing to")
            probe.window()
            time.sleep(4)
            before = probe.result()
            lab.drop(percent)
            probe.window()
            time.sleep(seconds)
            during = probe.result()
        finally:
            lab.clear()
            client.stop()
            probe.stop()
        return _window(during) | {
            "freezes": during["freezes"] - before["freezes"],
            "keyframes": during["keyframes"] - before["keyframes"],
            "seconds": seconds,
        }

    return measure


def _window(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("fps", "readable", "latency_p50_ms", "latency_p95_ms", "max_gap_ms", "loss_pct")
    return {key: round(result[key], 3) if key == "readable" else result[key] for key in keep}


def delay(lab: FaultLab, screen: Xvfb, tmp: Path) -> dict[str, Any]:
    probe = LabProbe(lab)
    client = LabClient(lab, screen, probe.ready["meeting_id"], tmp / "client")
    try:
        client.wait_for("Sharing to")
        time.sleep(4)
        probe.window()
        time.sleep(10)
        clean = probe.result()
        lab.delay(100)
        time.sleep(3)
        probe.window()
        time.sleep(10)
        delayed = probe.result()
    finally:
        lab.stop_delay()
        client.stop()
        probe.stop()
    return {
        "added_each_way_ms": 100,
        "clean": _window(clean),
        "delayed": _window(delayed),
        "p50_grew_ms": delayed["latency_p50_ms"] - clean["latency_p50_ms"],
    }


def cut60(lab: FaultLab, screen: Xvfb, tmp: Path) -> dict[str, Any]:
    receiver = LabReceiver(lab, tmp / "receiver", f"--pin={PIN}")
    client = _join(lab, screen, receiver, tmp, f"--pin={PIN}")
    try:
        ended = cut_until_given_up(lab, receiver, client, timeout=120)
    finally:
        client.stop()
        receiver.stop()
    return {
        "client_gave_up_after_s": round(ended.after_s, 1),
        "exit_code": client.proc.returncode,
        "last_words": client.last_words(),
        "tile_freed_after_s": round(ended.tile_freed_after_s, 1),
        "tile_freed_reason": ended.left["reason"],
    }


def run_faults(loss_seconds: float = 30.0, only: list[str] | None = None) -> dict[str, Any]:
    why = unavailable_reason()
    if why:
        return {"skipped": why}
    scenarios: dict[str, Callable[[FaultLab, Xvfb, Path], dict[str, Any]]] = {
        "cut": cut,
        "cloud_cut": cloud_cut,
        "restart": restart,
        "loss1": loss(1, loss_seconds),
        "loss5": loss(5, loss_seconds),
        "delay100": delay,
        "cut60": cut60,
    }
    results: dict[str, Any] = {}
    with (
        FaultLab("bf") as lab,
        Xvfb(1920, 1080) as screen,
        workload_on(screen, "video", fps=60),
        tempfile.TemporaryDirectory(prefix="montage-faults-") as scratch,
    ):
        for name, scenario in scenarios.items():
            if only and name not in only:
                continue
            print(f"fault: {name}…", file=sys.stderr, flush=True)
            lab.cut(False)
            lab.clear()
            try:
                results[name] = scenario(lab, screen, Path(scratch) / name)
            except Exception as exc:  # one fault that does not measure must not hide the rest
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss-seconds", type=float, default=30.0)
    parser.add_argument("--only", help="comma-separated scenario names")
    args = parser.parse_args(argv)
    only = [n.strip() for n in args.only.split(",")] if args.only else None
    print(json.dumps({"faults": run_faults(args.loss_seconds, only)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
