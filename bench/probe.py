"""The benchmark's receiver: the real receiver service, headless, with a probe.

Runs `open_meeting` exactly as `montage-receiver --headless` does and reads,
from every decoded frame as it arrives, the timestamp strip (latency = arrival
minus stamp) and a coarse picture signature (to time content changes such as
a new slide). Only the luma plane's top rows and a few sample rows are read,
so the probe costs next to nothing beside decoding.

Protocol with bench/run.py: prints one `ready` JSON line; SIGUSR1 opens the
measurement window; SIGTERM closes it and prints one `result` JSON line.
SIGUSR2 closes a window and prints its `result` line without ending, so one
receiver can measure several presenters in turn (bench/browser_row.py).
With `--cloud URL --token T` it enrols with that cloud first and its ready
line carries the 6-digit `cloud_meeting_id` too (the browser row joins by it).
A result also carries the largest gap between two frames and the presenter's
link figures as `--status-json` reports them (loss, round trip, keyframes,
freezes, reconnects); `--bind` and `--pin` put it in the fault lab
(bench/faults.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.stamp import CELL, GUARD, STRIP_CELLS, now_ms
from montage_core.cloud.account import CloudAccount
from montage_core.cloud.enrol import enrol_device
from montage_core.net import ProxySettings
from montage_receiver.config import ReceiverConfig
from montage_receiver.meeting import open_meeting
from montage_receiver.presenter import Presenter
from montage_receiver.service import PresenterAdded, ServiceEvent

# Bands of the picture (below the strip) whose mean luma signs its content.
_BANDS = 8
_CHANGE = 6.0  # luma levels a band mean must move to count as a change


def read_luma_stamp(luma: np.ndarray[Any, np.dtype[np.uint8]]) -> int | None:
    """The strip's stamp from a luma plane (limited range: white ≈ 235)."""
    if luma.shape[0] < CELL or luma.shape[1] < STRIP_CELLS * CELL:
        return None
    row = luma[CELL // 2, CELL // 2 : STRIP_CELLS * CELL : CELL]
    bits = (row > 128).astype(int).tolist()
    if tuple(bits[: len(GUARD)]) != GUARD:
        return None
    value = 0
    for bit in bits[len(GUARD) :]:
        value = (value << 1) | bit
    return value


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Probe:
    window_open: bool = False
    window_start: float = 0.0
    cpu_start: float = 0.0
    arrivals: list[float] = field(default_factory=list)
    latencies: list[int] = field(default_factory=list)
    unreadable: int = 0
    change_latencies: list[int] = field(default_factory=list)
    first_frame_wall_ms: int | None = None
    presenter: Presenter | None = None
    _signature: np.ndarray[Any, np.dtype[np.float64]] | None = None

    def on_frame(self, frame: Any) -> None:
        arrived = now_ms()
        if self.first_frame_wall_ms is None:
            self.first_frame_wall_ms = arrived
        plane = frame.planes[0]
        luma = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:, : frame.width]
        stamp = read_luma_stamp(luma)
        height = luma.shape[0]
        rows = np.linspace(CELL * 3, height - 1, _BANDS * 4).astype(int)
        signature = luma[rows, ::16].reshape(_BANDS, -1).mean(axis=1)
        changed = self._signature is not None and bool(
            np.max(np.abs(signature - self._signature)) > _CHANGE
        )
        self._signature = signature
        if not self.window_open:
            return
        self.arrivals.append(time.monotonic())
        if stamp is None:
            self.unreadable += 1
            return
        latency = (arrived - stamp) & 0xFFFFFFFF
        if latency > 60_000:  # a stale or misread stamp, not a latency
            self.unreadable += 1
            return
        self.latencies.append(latency)
        if changed:
            self.change_latencies.append(latency)

    def open_window(self) -> None:
        self.arrivals, self.latencies, self.change_latencies = [], [], []
        self.unreadable = 0
        self._signature = None
        self.window_open = True
        self.window_start = time.monotonic()
        self.cpu_start = cpu_seconds()

    def result(self) -> dict[str, Any]:
        elapsed = max(1e-6, time.monotonic() - self.window_start)
        frames = len(self.arrivals)
        lat = np.array(self.latencies) if self.latencies else np.array([np.nan])
        times = [self.window_start, *self.arrivals]
        gaps = np.diff(np.array(times)) if len(times) > 1 else np.array([elapsed])
        link = self.presenter.link_snapshot() if self.presenter is not None else {}
        return {
            "event": "result",
            "frames": frames,
            "fps": frames / elapsed,
            "latency_p50_ms": float(np.percentile(lat, 50)),
            "latency_p95_ms": float(np.percentile(lat, 95)),
            "readable": (len(self.latencies) / frames) if frames else 0.0,
            "change_latencies_ms": self.change_latencies,
            "receiver_cpu": 100.0 * (cpu_seconds() - self.cpu_start) / elapsed,
            "first_frame_wall_ms": self.first_frame_wall_ms,
            "max_gap_ms": round(float(gaps.max()) * 1000),
            **link,
        }


async def serve(
    port: int,
    cloud: argparse.Namespace | None = None,
    bind: str = "127.0.0.1",
    pin: str | None = None,
) -> None:
    with tempfile.TemporaryDirectory(prefix="montage-probe-") as data_dir:
        config = ReceiverConfig(
            name="Bench",
            bind=bind,
            port=port,
            pin=pin,
            data_dir=Path(data_dir),
            proxy=ProxySettings.parse("none"),
        )
        account: CloudAccount | None = None
        if cloud is not None:
            account = await enrol_device(
                Path(data_dir) / "cloud.json",
                url=cloud.cloud,
                token=cloud.token,
                kind="receiver",
                name="Bench",
                ca_file=cloud.cloud_ca,
                xmpp=cloud.xmpp,
            )
        meeting = await open_meeting(config, account)
        probe = Probe()

        def attach(event: ServiceEvent) -> None:
            if isinstance(event, PresenterAdded):
                event.presenter.on_frame = probe.on_frame
                probe.presenter = event.presenter

        meeting.service.subscribe(attach)
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, probe.open_window)

        def window_done() -> None:
            print(json.dumps(probe.result()), flush=True)
            probe.window_open = False

        loop.add_signal_handler(signal.SIGUSR2, window_done)
        loop.add_signal_handler(signal.SIGTERM, done.set)
        loop.add_signal_handler(signal.SIGINT, done.set)
        print(
            json.dumps(
                {
                    "event": "ready",
                    "meeting_id": str(meeting.meeting_id),
                    "cloud_meeting_id": str(meeting.cloud_meeting_id or "") or None,
                    "port": meeting.port,
                }
            ),
            flush=True,
        )
        await done.wait()
        print(json.dumps(probe.result()), flush=True)
        await meeting.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cloud", metavar="URL", help="enrol with this cloud (6-digit meetings)")
    parser.add_argument("--token", help="its enrolment token")
    parser.add_argument("--cloud-ca", metavar="FILE", help="the cloud's CA")
    parser.add_argument("--xmpp", metavar="HOST:PORT", help="the cloud's XMPP service")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--pin", help="ask presenters for this PIN (default: none)")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args if args.cloud else None, args.bind, args.pin))
    return 0


if __name__ == "__main__":
    sys.exit(main())
