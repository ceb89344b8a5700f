"""Two API processes on one PostgreSQL: no duplicate meeting IDs, shared revocation."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.cloud.conftest import run
from tests.cloud.harness import FINGERPRINT

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Bearer multi-admin"}
ID_SPACE = 60
MEETINGS = 40


def _start(dsn: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.cloud.api_process",
            "--db",
            dsn,
            "--id-space",
            str(ID_SPACE),
            "--admin-token",
            "multi-admin",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _ready_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line, f"API process exited with {process.wait(5)} before it was ready"
    url: str = json.loads(line)["url"]
    return url


@pytest.fixture
def two_processes(postgres_dsn: str) -> Iterator[list[str]]:
    # Both start at once, so they also race to create the schema.
    processes = [_start(postgres_dsn), _start(postgres_dsn)]
    try:
        yield [_ready_url(process) for process in processes]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.wait(10) == 0


async def _json(response: aiohttp.ClientResponse, status: int) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


def test_two_processes_allocate_distinct_ids_and_share_revocation(
    two_processes: list[str],
) -> None:
    a, b = two_processes

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            issued = await _json(
                await http.post(f"{a}/v1/admin/enrolment-tokens", headers=ADMIN, json={"org": "M"}),
                201,
            )
            receivers = []
            for url, name in ((a, "Room A"), (b, "Room B")):
                body = {"token": issued["token"], "kind": "receiver", "name": name}
                receivers.append(await _json(await http.post(f"{url}/v1/enrol", json=body), 201))

            async def allocate(n: int) -> tuple[str, str]:
                receiver = receivers[n % 2]
                response = await http.post(
                    f"{two_processes[(n // 2) % 2]}/v1/meetings",
                    headers={"Authorization": f"Bearer {receiver['secret']}"},
                    json={
                        "endpoints": [f"10.0.0.{n}:443"],
                        "fingerprint": FINGERPRINT,
                        "jid": receiver["xmpp"]["jid"],
                    },
                )
                meeting = await _json(response, 201)
                return meeting["meeting_id"], receiver["xmpp"]["jid"]

            allocated = await asyncio.gather(*(allocate(n) for n in range(MEETINGS)))
            ids = [meeting_id for meeting_id, _ in allocated]
            assert len(set(ids)) == MEETINGS
            assert all(100_000 <= int(i) < 100_000 + ID_SPACE for i in ids)

            # Each ID resolves, through either process, to the receiver that got it.
            reader = {"Authorization": f"Bearer {receivers[0]['secret']}"}
            for n, (meeting_id, jid) in enumerate(allocated):
                url = two_processes[n % 2]
                resolved = await _json(
                    await http.get(f"{url}/v1/meetings/{meeting_id}", headers=reader), 200
                )
                assert resolved["jid"] == jid
                assert resolved["endpoints"] == [f"10.0.0.{n}:443"]

            # Suspended through one process, refused by the other.
            victim = receivers[1]
            await _json(
                await http.post(
                    f"{b}/v1/admin/devices/{victim['device']['device_id']}/suspend", headers=ADMIN
                ),
                200,
            )
            refused = await _json(
                await http.post(
                    f"{a}/v1/turn", headers={"Authorization": f"Bearer {victim['secret']}"}
                ),
                403,
            )
            assert refused["error"]["code"] == "device_suspended"

    run(scenario())
