"""The fault lab's own tools: the delay relay's schedule, and the relay between namespaces."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.fault_lab import FaultLab, unavailable_reason
from tests.impairment_relay import Schedule

A, B = ("198.18.0.2", 5000), ("198.18.1.2", 6000)


def test_each_datagram_leaves_after_the_delay_in_order() -> None:
    schedule = Schedule(delay=0.1, jitter=0.0)
    for n in range(5):
        assert schedule.add(10.0 + n * 0.01, bytes([n]), A, B) == pytest.approx(10.1 + n * 0.01)
    assert schedule.due(10.099) == []
    assert schedule.next_due() == pytest.approx(10.1)
    assert [d for d, _, _ in schedule.due(10.125)] == [b"\x00", b"\x01", b"\x02"]
    assert [(s, d) for _, s, d in schedule.due(11.0)] == [(A, B), (A, B)]
    assert len(schedule) == 0 and schedule.next_due() is None


def test_jitter_spreads_the_delay_both_ways_and_never_sends_early() -> None:
    draws = iter([0.0, 1.0, 0.5])
    schedule = Schedule(delay=0.05, jitter=0.02, rng=lambda: next(draws))
    assert schedule.add(1.0, b"a", A, B) == pytest.approx(1.03)
    assert schedule.add(1.0, b"b", A, B) == pytest.approx(1.07)
    assert schedule.add(1.0, b"c", A, B) == pytest.approx(1.05)
    assert Schedule(delay=0.0, jitter=0.05, rng=lambda: 0.0).add(2.0, b"x", A, B) == 2.0


@pytest.fixture
def lab() -> Iterator[FaultLab]:
    why = unavailable_reason()
    if why:
        pytest.skip(why)
    with FaultLab("ir") as made:
        yield made


ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5000))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
"""
PING = """
import json, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[3]))
times = []
for n in range(int(sys.argv[2])):
    sent = time.monotonic()
    s.sendto(bytes([n]) * 100, (sys.argv[1], 5000))
    try:
        s.recvfrom(2048)
        times.append(time.monotonic() - sent)
    except TimeoutError:
        times.append(None)
print(json.dumps(times))
"""


def round_trips(lab: FaultLab, count: int = 10, wait: float = 1.0) -> list[float | None]:
    out = lab.run(lab.client_ns, sys.executable, "-c", PING, lab.receiver, str(count), str(wait))
    return list(json.loads(out.stdout))


def test_the_relay_delays_udp_between_the_hosts_both_ways_and_the_faults_apply(
    lab: FaultLab,
) -> None:
    echo = subprocess.Popen(lab.python(lab.receiver_ns, "-c", ECHO, lab.receiver))
    try:
        time.sleep(0.3)
        plain = round_trips(lab)
        assert all(t is not None and t < 0.05 for t in plain), plain
        lab.delay(100)
        delayed = round_trips(lab)
        assert all(t is not None and 0.19 < t < 0.26 for t in delayed), delayed
        assert (lab.stop_delay() or 0) >= 20  # both ways, every datagram
        assert all(t is not None and t < 0.05 for t in round_trips(lab))
        lab.cut(True)
        assert round_trips(lab, 3, 0.3) == [None] * 3
        lab.cut(False)
        lab.block_udp()
        assert round_trips(lab, 3, 0.3) == [None] * 3
        lab.clear()
        assert None not in round_trips(lab)
    finally:
        echo.kill()
        echo.wait()
    # Nothing of the lab's addresses leaks into this host.
    assert lab.receiver not in socket.gethostbyname_ex(socket.gethostname())[2]
