"""The fault lab: a share between two network namespaces that survives what Wi-Fi does to it.

The client (`montage-client join`, sharing the reference workload's `video`
scene at 1080p) and the receiver run as programs in their own namespaces,
with a router namespace between them where nftables makes the faults
(tests/fault_lab.py). Targets (issue 10) asserted here:

- a 3 s cut mid-share, and a 3 s UDP-only block: frames resume within 2 s
  of the link coming back; the client never exits, nobody types anything;
- the same cut on the cloud path (6-digit ID, XMPP signalling);
- the receiver killed and restarted with the same --pin: the share resumes
  within 5 s of it being ready; restarted with a new PIN: the client stops
  within 10 s, saying why;
- 5 % random loss both ways: ≥ 24 fps, ≥ 97 % of frames readable, no freeze
  over 1 s, the receiver's `loss_pct` 4–6 % (here for 10 s: the benchmark runs
  the full 30 s, bench/faults.py);
- 100 ms added delay: p50 latency up by the delay, within 30 ms;
- a cut longer than the client keeps trying: it gives up with a sentence and
  exit code 4, and the receiver frees the tile (here with --reconnect-seconds 5;
  the benchmark does the full 60 s).

The figures themselves (resume times, fps at loss, ...) are the benchmark's
(`python -m bench.run --faults`, docs/performance.md); tests assert behaviour.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.xvfb import Xvfb, workload_on
from montage_core.protocol.client_session import PIN_CHANGED
from tests.fault_lab import (
    RECEIVER_KEYRING,
    FaultLab,
    LabClient,
    LabCloud,
    LabProbe,
    LabReceiver,
    cut_until_given_up,
    join,
    router_cloud,
    unavailable_reason,
)

pytestmark = [pytest.mark.xvfb, pytest.mark.slow, pytest.mark.timeout(180)]

_why_not = unavailable_reason()
PIN = "2468"
NAME = "Lab"
# The CI run measures loss for this long; the benchmark for 30 s.
LOSS_SECONDS = 10.0


@pytest.fixture(scope="module")
def lab() -> Iterator[FaultLab]:
    if _why_not:
        pytest.skip(_why_not)
    with FaultLab("fl") as made:
        yield made


@pytest.fixture(scope="module")
def screen() -> Iterator[Xvfb]:
    with Xvfb(1920, 1080) as display, workload_on(display, "video", fps=60):
        yield display


@pytest.fixture(autouse=True)
def healthy_network(lab: FaultLab) -> Iterator[None]:
    lab.cut(False)
    lab.clear()
    yield
    lab.cut(False)
    lab.clear()
    lab.stop_delay()


def one_tile_throughout(receiver: LabReceiver) -> None:
    """One tile from join to the person's Stop: never freed, never a newcomer's."""
    records = [r for _, r in receiver.records.lines]
    events = [r["event"] for r in records]
    assert events.count("presenter_joined") == 1, events
    left = [r["reason"] for r in records if r["event"] == "presenter_left"]
    assert left == ["presenter left (stopped)"], left


def test_a_cut_and_a_udp_block_mid_share_are_ridden_out(
    lab: FaultLab, screen: Xvfb, tmp_path: Path
) -> None:
    receiver = LabReceiver(lab, tmp_path / "receiver", f"--pin={PIN}")
    client = join(lab, screen, receiver, tmp_path, f"--pin={PIN}")
    try:
        lab.cut(True)
        time.sleep(3)
        lab.cut(False)
        assert receiver.frames_resume_after(time.monotonic(), NAME) < 2.0
        # The receiver's stats say what the room saw: a picture that stood still.
        _, stats = receiver.records.wait_for(
            lambda r: r["event"] == "stats" and any(p["freezes"] >= 1 for p in r["presenters"]),
            5,
            "the freeze in the stats",
        )
        (presenter,) = stats["presenters"]
        assert presenter["keyframes"] >= 2 and presenter["reconnecting"] is False
        lab.block_udp()  # media only: the signalling (TCP) goes on
        time.sleep(3)
        lab.clear()
        assert receiver.frames_resume_after(time.monotonic(), NAME) < 2.0
        assert client.proc.poll() is None, client.last_words()
    finally:
        code = client.stop()
        log = receiver.stop()
    assert code == 0 and client.last_words() == "Stopped sharing.", client.last_words()
    one_tile_throughout(receiver)
    assert "Traceback" not in log, log


def test_the_receiver_restarted_is_rejoined_and_a_new_pin_stops_the_share(
    lab: FaultLab, screen: Xvfb, tmp_path: Path
) -> None:
    data = tmp_path / "receiver"
    receiver = LabReceiver(lab, data, f"--pin={PIN}")
    client = join(lab, screen, receiver, tmp_path, f"--pin={PIN}")
    try:
        receiver.kill()
        client.wait_for("Reconnecting…", 10)
        time.sleep(1)
        receiver = LabReceiver(lab, data, f"--pin={PIN}")  # same ID, same PIN
        assert receiver.frames_resume_after(receiver.ready_at, NAME) < 5.0
        assert client.proc.poll() is None

        receiver.kill()
        client.wait_for("Reconnecting…", 10)
        receiver = LabReceiver(lab, data, "--pin=1357")  # a new meeting: new PIN
        client.proc.wait(10)
        stopped = time.monotonic()
        assert stopped - receiver.ready_at < 10
    finally:
        code = client.stop()
        receiver.stop()
    assert code == 3, client.last_words()
    assert client.last_words() == f"montage-client: {PIN_CHANGED}"


def test_at_5_percent_loss_both_ways_the_picture_keeps_moving_and_is_read_whole(
    lab: FaultLab, screen: Xvfb, tmp_path: Path
) -> None:
    probe = LabProbe(lab)
    client = LabClient(lab, screen, probe.ready["meeting_id"], tmp_path / "client")
    try:
        client.wait_for("Sharing to")
        time.sleep(3)  # past start-up
        lab.drop(5)
        probe.window()
        time.sleep(LOSS_SECONDS)
        lossy = probe.result()
        lab.clear()

        # Then 100 ms more each way: latency grows by the delay, and no more.
        probe.window()
        time.sleep(3)
        clean = probe.result()
        lab.delay(100)
        time.sleep(2)
        probe.window()
        time.sleep(5)
        delayed = probe.result()
        assert client.proc.poll() is None, client.last_words()
    finally:
        client.stop()
        probe.stop()
    assert lossy["fps"] >= 24, lossy
    assert lossy["readable"] >= 0.97, lossy
    assert lossy["max_gap_ms"] < 1000, lossy
    assert 4.0 <= lossy["loss_pct"] <= 6.0, lossy
    grown = delayed["latency_p50_ms"] - clean["latency_p50_ms"]
    assert abs(grown - 100) <= 30, (clean, delayed)


def test_a_cut_longer_than_the_client_keeps_trying_ends_the_share_and_frees_the_tile(
    lab: FaultLab, screen: Xvfb, tmp_path: Path
) -> None:
    receiver = LabReceiver(lab, tmp_path / "receiver", f"--pin={PIN}")
    client = join(lab, screen, receiver, tmp_path, f"--pin={PIN}", "--reconnect-seconds=5")
    try:
        ended = cut_until_given_up(lab, receiver, client, timeout=30)
    finally:
        client.stop()
        receiver.stop()
    gave_up, left = ended.after_s, ended.left
    assert client.proc.returncode == 4
    assert client.last_words().startswith(
        "montage-client: Lost the connection to the receiver at"
    ), client.last_words()
    assert "could not get it back within 5 seconds" in client.last_words()
    # Up to 5 s of heartbeat to notice, then the 5 s of trying.
    assert gave_up < 15
    assert left["name"] == NAME and left["reason"].startswith("connection lost")


# -- the cloud path ----------------------------------------------------------


@pytest.fixture(scope="module")
def cloud(lab: FaultLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabCloud]:
    with router_cloud(lab, tmp_path_factory.mktemp("lab-cloud")) as made:
        yield made


def test_the_same_cut_on_the_cloud_path_is_ridden_out(
    lab: FaultLab, screen: Xvfb, cloud: LabCloud, tmp_path: Path
) -> None:
    config = tmp_path / "client"
    env = cloud.enrolled_client(config)
    receiver = LabReceiver(
        lab,
        tmp_path / "receiver",
        f"--pin={PIN}",
        "--name=Cloud Room",
        *cloud.receiver_args(),
        env=RECEIVER_KEYRING,
    )
    assert receiver.ready["path"] == "cloud", receiver.ready
    lab.refuse_tcp(8443)  # the LAN endpoint does not answer: signalling goes over XMPP
    client = LabClient(
        lab, screen, receiver.ready["cloud_meeting_id"], config, f"--pin={PIN}", env=env
    )
    try:
        client.wait_for("Sharing to Cloud Room (Cloud)", 60)
        receiver.frames_resume_after(time.monotonic(), NAME, timeout=20)
        lab.cut(True)
        time.sleep(3)
        lab.cut(False)
        assert receiver.frames_resume_after(time.monotonic(), NAME) < 2.0
        assert client.proc.poll() is None, client.last_words()
    finally:
        code = client.stop()
        receiver.stop()
    assert code == 0, client.last_words()
    one_tile_throughout(receiver)
