"""The benchmark's `browser` row: browser and desktop client, same receiver, same run.

    python -m bench.browser_row [--seconds 10] [--scenes video,slides] [--quality auto]

Starts `montage-cloud dev` (REST API, Prosody, coturn, the guest bridge) and
one headless receiver with the latency probe (bench/probe.py), enrolled to
it. For each scene, on one 1920×1080 Xvfb screen running the workload:
first `montage-client join` shares it to the receiver (by its local ID, as
in bench/run.py), then Debian's Chromium does, as a guest at `/join` with
the receiver's 6-digit ID. Each gets a warm-up, then `--seconds` of
measurement: delivered fps at the receiver, latency p50/p95, the share of
frames whose stamp reads, the slowest slide change, sender CPU (% of one
core; for the browser, all of Chromium's processes) and receiver CPU. For
the browser it also reports what Chromium says limits it (its
`qualityLimitationReason`, encoder, frame rate and target bitrate).

This is a benchmark, not a test: it reports numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.browser import chromium, trust_ca
from bench.child_output import read_line
from bench.cpu import TICKS, cpu_ticks
from bench.run import Scene
from bench.stamp import now_ms
from bench.xvfb import Xvfb, stop_process, workload_on

PY = sys.executable
ROOT = Path(__file__).resolve().parents[1]
SCENES = {"video": Scene("video", "video", 30), "slides": Scene("slides", "slides", 30)}
WARMUP = 4.0
# What Chromium says about its encoder, from the page's peer connection.
ENCODER_STATS = """async () => {
  const stats = await window.montage.media.pc.getStats();
  for (const report of stats.values()) {
    if (report.type === "outbound-rtp" && report.kind === "video" && report.framesEncoded) {
      return {
        limited_by: report.qualityLimitationReason,
        encoder: report.encoderImplementation,
        encoder_fps: report.framesPerSecond ?? 0,
        target_bitrate: report.targetBitrate ?? 0,
        encode_ms: 1000 * report.totalEncodeTime / report.framesEncoded,
        width: report.frameWidth,
      };
    }
  }
  return null;
}"""


def _line(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    try:
        line = read_line(process, timeout)
    except AssertionError:
        raise RuntimeError(f"no line from {process.args!r} within {timeout} s") from None
    if not line:
        raise RuntimeError(f"{process.args!r} exited ({process.wait()})")
    answer: dict[str, Any] = json.loads(line)
    return answer


@contextmanager
def dev_cloud(workdir: Path) -> Iterator[dict[str, Any]]:
    cloud = subprocess.Popen(
        [PY, "-m", "montage_cloud.dev", "--workdir", str(workdir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=(workdir / "cloud.log").open("w"),
        text=True,
    )
    try:
        yield _line(cloud, 60)
    finally:
        stop_process(cloud, wait=20)


def enrolment_token(ready: dict[str, Any]) -> str:
    admin = Path(ready["api"]["admin_token_file"]).read_text().strip()
    request = urllib.request.Request(
        ready["api"]["url"] + "/v1/admin/enrolment-tokens",
        data=json.dumps({"org": "Bench"}).encode(),
        headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
    )
    tls = ssl.create_default_context(cafile=ready["ca_cert"])
    with urllib.request.urlopen(request, context=tls, timeout=10) as answer:
        token: str = json.loads(answer.read())["token"]
        return token


@contextmanager
def probe_receiver(ready: dict[str, Any]) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    xmpp = f"{ready['xmpp']['host']}:{ready['xmpp']['port']}"
    probe = subprocess.Popen(
        [
            PY,
            "-m",
            "bench.probe",
            "--cloud",
            ready["api"]["url"],
            "--token",
            enrolment_token(ready),
            "--cloud-ca",
            ready["ca_cert"],
            "--xmpp",
            xmpp,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # The probe's secrets live only in its own memory (a benchmark, not a room).
        env=os.environ | {"PYTHON_KEYRING_BACKEND": "tests.memory_keyring.MemoryKeyring"},
    )
    try:
        yield probe, _line(probe, 60)
    finally:
        stop_process(probe)


def measure(probe: subprocess.Popen[str], pids: list[int], seconds: float) -> dict[str, Any]:
    """Open the probe's window for `seconds`; its figures and the senders' CPU."""
    start = sum(cpu_ticks(pid) for pid in pids if Path(f"/proc/{pid}").exists())
    began = time.monotonic()
    probe.send_signal(signal.SIGUSR1)
    time.sleep(seconds)
    probe.send_signal(signal.SIGUSR2)
    elapsed = time.monotonic() - began
    used = sum(cpu_ticks(pid) for pid in pids if Path(f"/proc/{pid}").exists()) - start
    result = _line(probe, 10)
    result.pop("event")
    result.pop("first_frame_wall_ms")
    changes = result.pop("change_latencies_ms")
    result["slowest_change_ms"] = max(changes) if changes else None
    result["changes_seen"] = len(changes)
    result["sender_cpu"] = 100.0 * used / TICKS / elapsed
    return result


def chromium_pids() -> list[int]:
    """Chromium's processes started under this one (Playwright's driver launches them)."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
        names[int(entry.name)] = name
    found, stack = [], [os.getpid()]
    while stack:
        pid = stack.pop()
        for child in children.get(pid, []):
            stack.append(child)
            if names.get(child, "").startswith("chrom"):
                found.append(child)
    return found


def run_desktop(
    screen: Xvfb, probe: subprocess.Popen[str], ready: dict[str, Any], scene: Scene, seconds: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="montage-bench-") as config:
        started = now_ms()
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
                "Desktop",
                "--fps",
                str(scene.fps),
            ],
            env=screen.env(MONTAGE_CONFIG_DIR=config),
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(WARMUP)
            result = measure(probe, [client.pid], seconds)
        finally:
            stop_process(client, signal.SIGINT)
    result["started_ms"] = started
    return result


def run_browser(
    screen: Xvfb,
    probe: subprocess.Popen[str],
    ready: dict[str, Any],
    cloud: dict[str, Any],
    seconds: float,
    quality: str,
    home: Path,
) -> dict[str, Any]:
    with chromium(screen, home) as browser:
        page = browser.new_context(no_viewport=True).new_page()
        page.goto(cloud["join"])
        page.wait_for_selector("#status[data-state=idle]")
        page.select_option("#quality", quality)
        page.fill("#meeting-id", ready["cloud_meeting_id"])
        page.fill("#name", "Browser")
        page.click("#share")
        page.wait_for_selector("#status[data-state=sharing]", timeout=30_000)
        time.sleep(WARMUP)
        result = measure(probe, chromium_pids(), seconds)
        result["chromium"] = page.evaluate(ENCODER_STATS)
        page.click("#stop")
    return result


def table(rows: dict[str, dict[str, Any]]) -> str:
    header = (
        f"{'row':16} {'fps':>6} {'p50 ms':>7} {'p95 ms':>7} {'readable':>8} "
        f"{'slowest change':>14} {'send %':>7} {'recv %':>7}"
    )
    lines = [header, "-" * len(header)]
    for name, r in rows.items():
        change = r["slowest_change_ms"]
        lines.append(
            f"{name:16} {r['fps']:6.1f} {r['latency_p50_ms']:7.0f} {r['latency_p95_ms']:7.0f} "
            f"{r['readable']:8.3f} {'' if change is None else change:>14} "
            f"{r['sender_cpu']:7.1f} {r['receiver_cpu']:7.1f}"
        )
        if r.get("chromium"):
            c = r["chromium"]
            lines.append(
                f"{'':16} Chromium: {c['encoder']} at {c['encoder_fps']} fps, "
                f"{c['width']} px wide, {c['encode_ms']:.1f} ms/frame, "
                f"target {c['target_bitrate'] / 1e6:.1f} Mbit/s, limited by {c['limited_by']}"
            )
    return "\n".join(lines)


def run(seconds: float, scenes: list[str], quality: str) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="montage-browser-bench-") as tmp:
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        with dev_cloud(work) as cloud, probe_receiver(cloud) as (probe, ready):
            trust_ca(home, Path(cloud["ca_cert"]))
            with Xvfb(1920, 1080) as screen:
                for name in scenes:
                    scene = SCENES[name]
                    with workload_on(screen, scene.workload, fps=60):
                        time.sleep(1.5)
                        print(f"running {name}: desktop…", file=sys.stderr, flush=True)
                        rows[f"desktop {name}"] = run_desktop(screen, probe, ready, scene, seconds)
                        print(f"running {name}: browser…", file=sys.stderr, flush=True)
                        rows[f"browser {name}"] = run_browser(
                            screen, probe, ready, cloud, seconds, quality, home
                        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per row")
    parser.add_argument("--scenes", default="video,slides", help="comma-separated: video, slides")
    parser.add_argument(
        "--quality", default="auto", choices=("auto", "text", "motion"), help="the page's choice"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.scenes.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENES]
    if unknown:
        parser.error(f"unknown scenes: {', '.join(unknown)}")
    rows = run(args.seconds, names, args.quality)
    print(table(rows))
    print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
