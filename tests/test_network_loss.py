"""The network goes away mid-share without a word (no reset, no FIN).

The receiver runs in its own network namespace; pulling the veth link down
makes every packet vanish, as when Wi-Fi drops. Both sides must notice on
their own (heartbeats, ICE consent) and say so, and nothing may hang.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.xvfb import Xvfb, workload_on
from tests.netns import Namespace, unavailable_reason

pytestmark = [pytest.mark.xvfb, pytest.mark.timeout(120)]

_why_not = unavailable_reason()


@pytest.fixture
def receiver_host() -> Iterator[Namespace]:
    if _why_not:
        pytest.skip(_why_not)
    with Namespace("rx") as ns:
        yield ns


def test_silent_network_loss_is_noticed_by_both_sides(
    receiver_host: Namespace, tmp_path: Path
) -> None:
    receiver = subprocess.Popen(
        receiver_host.command(
            sys.executable,
            "-m",
            "montage_receiver",
            "--headless",
            "--status-json",
            "--bind",
            receiver_host.peer,
            "--port",
            "8443",
            "--no-pin",
            "--data-dir",
            str(tmp_path / "rx"),
            "--stats-interval",
            "0.5",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    records: list[dict[str, Any]] = []
    assert receiver.stdout is not None
    ready = json.loads(receiver.stdout.readline())

    def read() -> None:
        assert receiver.stdout is not None
        for line in receiver.stdout:
            records.append(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    # Something moving on the screen, so media flows at full rate until the cut.
    with Xvfb(800, 600) as screen, workload_on(screen, "scroll"):
        client = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "montage_client",
                "--port",
                "8443",
                "join",
                ready["meeting_id"],
                "--name",
                "Wanda",
            ],
            env=screen.env(MONTAGE_CONFIG_DIR=str(tmp_path / "c")),
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 20
            while not any(
                p["frames"] > 10 for r in records if r["event"] == "stats" for p in r["presenters"]
            ):
                assert time.monotonic() < deadline, "the share never started"
                time.sleep(0.2)
            receiver_host.cut()
            cut_at = time.monotonic()
            _, err = client.communicate(timeout=45)
            noticed_after = time.monotonic() - cut_at
        finally:
            if client.poll() is None:
                client.kill()
    assert client.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.endswith(
        ("Lost the connection to the receiver.", "Lost the media connection to the receiver.")
    ), last
    assert noticed_after < 30, f"took {noticed_after:.0f} s to notice"
    deadline = time.monotonic() + 30
    while not any(r["event"] == "presenter_left" for r in records):
        assert time.monotonic() < deadline, "the receiver kept a presenter that was gone"
        time.sleep(0.2)
    receiver.terminate()
    _, rx_err = receiver.communicate(timeout=15)
    assert "Traceback" not in rx_err, rx_err
