"""A cloud share with UDP blocked between client and receiver: media only through TURN over TLS.

The receiver runs as its own program in a network namespace whose UDP input
is dropped by nftables, so no direct media path (and no relay over UDP to
it) can work. The cloud (`montage_cloud.dev`: REST API, Prosody, coturn)
listens on the host side of the veth link, where both can reach it over
TCP. The client, on the host, must still share — through coturn, with the
receiver's side of the relay carried over TLS — and say "Relayed".
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from montage_cloud.servers.config import PRODUCTION_DENIED_PEERS
from montage_core.protocol.meeting_id import CloudMeetingId
from tests.dev_cloud import collect_json, dev_cloud, read_line
from tests.netns import Namespace, unavailable_reason
from tests.test_cloud_share import (
    PIN,
    ROOT,
    Cloud,
    CloudPresenting,
    cloud_from,
    enrol,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), pytest.mark.usefixtures("memory_keyring")]

_why_not = unavailable_reason() or (
    None if shutil.which("nft") else "nftables is not installed (apt-get install nftables)"
)
# The test hosts sit in 198.18.0.0/15 (RFC 2544), which a production relay
# refuses to reach; everything else of the production policy stays.
_TEST_RANGE = "198.18.0.0-198.19.255.255"


@pytest.fixture(scope="module")
def receiver_host() -> Iterator[Namespace]:
    if _why_not:
        pytest.skip(_why_not)
    with Namespace("cr") as ns:
        for rule in (
            "add table inet montage",
            "add chain inet montage input { type filter hook input priority 0 ; }",
            "add rule inet montage input meta l4proto udp drop",
        ):
            ns.run("nft", *rule.split())
        yield ns


@pytest.fixture(scope="module")
def host_cloud(
    receiver_host: Namespace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cloud]:
    denied = [peer for peer in PRODUCTION_DENIED_PEERS if peer != _TEST_RANGE]
    code = (
        "import logging, sys\n"
        "from montage_cloud.dev import run_dev\n"
        "logging.basicConfig(level=logging.INFO)\n"
        f"sys.exit(run_dev(host={receiver_host.local!r}, relay_denied_peers={denied!r}))\n"
    )
    with dev_cloud(tmp_path_factory.mktemp("netns-cloud"), code) as (_process, ready):
        yield cloud_from(ready)


def test_share_goes_through_turn_over_tls_when_udp_is_blocked(
    receiver_host: Namespace, host_cloud: Cloud, tmp_path: Path
) -> None:
    # UDP really is blocked into the receiver's namespace.
    probe = receiver_host.run("nft", "list", "chain", "inet", "montage", "input")
    assert "meta l4proto udp drop" in probe.stdout

    token = asyncio.run(
        host_cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Netns Org"})
    )["token"]
    log = tmp_path / "receiver.log"
    with log.open("w") as stderr:
        receiver = subprocess.Popen(
            receiver_host.command(
                sys.executable,
                "-m",
                "montage_receiver.cli",
                "--headless",
                "--status-json",
                f"--bind={receiver_host.peer}",
                "--port=8443",
                f"--data-dir={tmp_path / 'receiver'}",
                "--name=Far Room",
                f"--pin={PIN}",
                f"--cloud={host_cloud.api}",
                f"--token={token}",
                f"--cloud-ca={host_cloud.ca}",
                f"--xmpp={host_cloud.xmpp}",
            ),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=os.environ
            | {
                "PYTHONPATH": str(ROOT),
                "PYTHON_KEYRING_BACKEND": "tests.memory_keyring.MemoryKeyring",
            },
        )
    try:
        line = read_line(receiver, 60)
        assert line, log.read_text()
        ready = json.loads(line)
        assert ready["path"] == "cloud", ready
        events: list[dict[str, Any]] = []
        reader = threading.Thread(target=collect_json, args=(receiver, events), daemon=True)
        reader.start()

        def max_frames() -> int:
            stats = [e for e in list(events) if e["event"] == "stats"]
            return max((p["frames"] for e in stats for p in e["presenters"]), default=0)

        async def share() -> int:
            account = await enrol(host_cloud, tmp_path, "client", "Remote laptop")
            ann = CloudPresenting(account, CloudMeetingId(ready["cloud_meeting_id"]), "Ann")
            sharing = await ann.sharing(timeout=60)
            assert sharing.path == "Relayed"
            # Frames flow through the relay; the receiver counts them (stats lines).
            deadline = asyncio.get_running_loop().time() + 30
            while max_frames() < 20 and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.2)
            ann.stop()
            assert await ann.outcome() is None
            return 0

        asyncio.run(asyncio.wait_for(share(), 120))
        receiver.terminate()
        receiver.wait(30)
        reader.join(10)
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait(10)
    left = [e for e in events if e["event"] == "presenter_left"]
    assert left and left[0]["name"] == "Ann"
    assert left[0]["frames"] >= 20, left[0]
