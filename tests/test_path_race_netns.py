"""Racing the paths (RFC 8305): a cloud join whose LAN path is unreachable does not wait for it,
and one whose LAN path answers still goes local.

The receiver runs as its own program in a network namespace, enrolled with
`montage_cloud.dev` on the host side of the veth link (no `--xmpp`: the
enrolment answer says where XMPP is). nftables in the namespace silently
drops TCP to the receiver's port, as when the room's LAN address cannot be
reached from where the presenter is; UDP still passes, so media goes direct.
The client, on the host, is the real cloud join. The LAN attempt is given
a long timeout: a join that waited for it would take that long.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from montage_client.core.share_client import ChannelOpener, ShareClient
from montage_cloud.servers.config import PRODUCTION_DENIED_PEERS
from montage_core.cloud.enrol import enrol_device
from montage_core.protocol.meeting_id import CloudMeetingId
from montage_core.rtc.peer import IceSettings
from tests.dev_cloud import dev_cloud, read_line
from tests.netns import Namespace, unavailable_reason
from tests.synthetic_screen import StampGrabber
from tests.test_cloud_share import PIN, ROOT, Cloud, cloud_from
from tests.test_local_share import pins

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180), pytest.mark.usefixtures("memory_keyring")]

_why_not = unavailable_reason() or (None if shutil.which("nft") else "nftables is not installed")
_TEST_RANGE = "198.18.0.0-198.19.255.255"
PORT = 8443
# Far longer than any join: a join that waited for the LAN attempt would show it.
LAN_TIMEOUT = 20.0


@pytest.fixture(scope="module")
def room_host() -> Iterator[Namespace]:
    if _why_not:
        pytest.skip(_why_not)
    with Namespace("pr") as ns:
        for rule in (
            "add table inet montage",
            "add chain inet montage input { type filter hook input priority 0 ; }",
        ):
            ns.run("nft", *rule.split())
        yield ns


@pytest.fixture(scope="module")
def host_cloud(room_host: Namespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    denied = [peer for peer in PRODUCTION_DENIED_PEERS if peer != _TEST_RANGE]
    code = (
        "import sys\n"
        "from montage_cloud.dev import run_dev\n"
        f"sys.exit(run_dev(host={room_host.local!r}, relay_denied_peers={denied!r}))\n"
    )
    with dev_cloud(tmp_path_factory.mktemp("race-cloud"), code) as (_process, ready):
        yield cloud_from(ready)


class RoomProgram:
    """`montage-receiver` in the namespace, its status lines timed as they arrive."""

    def __init__(self, ns: Namespace, cloud: Cloud, token: str, tmp_path: Path) -> None:
        self.lines: list[tuple[float, dict[str, Any]]] = []
        self.log = tmp_path / "receiver.log"
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                ns.command(
                    sys.executable, "-m", "montage_receiver.cli", "--headless", "--status-json",
                    "--stats-interval=0.05", f"--bind={ns.peer}", f"--port={PORT}",
                    f"--data-dir={tmp_path / 'receiver'}", "--name=Far Room", f"--pin={PIN}",
                    f"--cloud={cloud.api}", f"--token={token}", f"--cloud-ca={cloud.ca}",
                    "--no-advertise",
                ),
                cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
                env=os.environ | {
                    "PYTHONPATH": str(ROOT),
                    "PYTHON_KEYRING_BACKEND": "tests.memory_keyring.MemoryKeyring",
                },
            )  # fmt: skip
        line = read_line(self.process, 60)
        assert line, self.log.read_text()
        self.ready = json.loads(line)
        assert self.ready["path"] == "cloud", self.ready
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip():
                self.lines.append((time.monotonic(), json.loads(line)))

    def first_frame_after(self, name: str, since: float) -> float | None:
        for at, line in list(self.lines):
            presenters = line.get("presenters", []) if at >= since else []
            if any(p["name"] == name and p["frames"] > 0 for p in presenters):
                return at
        return None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture(scope="module")
def room(room_host: Namespace, host_cloud: Cloud, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[RoomProgram]:  # fmt: skip
    token = asyncio.run(host_cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Race"}))
    program = RoomProgram(room_host, host_cloud, token["token"], tmp_path_factory.mktemp("room"))
    try:
        yield program
    finally:
        program.stop()


async def join(cloud: Cloud, room: RoomProgram, tmp_path: Path, name: str) -> tuple[str, float]:
    """One real cloud join; (the path it reports, seconds from join to the room's first frame)."""
    from montage_client.core.cloud_join import share_to_cloud_meeting

    token = (await cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Race"}))["token"]
    account = await enrol_device(
        tmp_path / f"{name}.json", url=cloud.api, token=token, kind="client", name=name,
        ca_file=cloud.ca,
    )  # fmt: skip
    client: ShareClient | None = None
    updates: list[Any] = []

    def make(open_channel: ChannelOpener, ice: IceSettings) -> ShareClient:
        nonlocal client
        client = ShareClient(
            CloudMeetingId(room.ready["cloud_meeting_id"]), name, StampGrabber(busy=True),
            pins(PIN), on_update=updates.append, open_channel=open_channel, ice=ice,
        )  # fmt: skip
        return client

    started = time.monotonic()
    task = asyncio.ensure_future(
        share_to_cloud_meeting(
            account, CloudMeetingId(room.ready["cloud_meeting_id"]), make, lan_timeout=LAN_TIMEOUT
        )
    )
    try:
        while (first := room.first_frame_after(name, started)) is None:
            assert not task.done() or task.result() is None, "the share ended"
            await asyncio.sleep(0.02)
        assert client is not None and client.path is not None
        return client.path, first - started
    finally:
        if client is not None:
            client.request_stop()
        await asyncio.wait_for(task, 20)


def test_a_join_whose_lan_path_is_unreachable_races_to_the_cloud(
    room_host: Namespace, host_cloud: Cloud, room: RoomProgram, tmp_path: Path
) -> None:
    rule = f"add rule inet montage input tcp dport {PORT} drop"
    room_host.run("nft", *rule.split())
    try:
        path, seconds = asyncio.run(join(host_cloud, room, tmp_path, "Ann"))
    finally:
        room_host.run("nft", "flush", "chain", "inet", "montage", "input")
    print(f"\njoin to first frame, LAN path unreachable: {seconds * 1000:.0f} ms ({path})")
    assert path == "Cloud"  # signalled through the cloud; media direct between the two
    assert seconds < LAN_TIMEOUT / 2


def test_a_join_whose_lan_path_answers_still_goes_local(
    host_cloud: Cloud, room: RoomProgram, tmp_path: Path
) -> None:
    path, seconds = asyncio.run(join(host_cloud, room, tmp_path, "Bob"))
    print(f"\njoin to first frame, LAN path reachable: {seconds * 1000:.0f} ms ({path})")
    assert path == "Local"
