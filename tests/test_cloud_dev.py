"""`montage_cloud.dev`: the REST API, Prosody and coturn together on loopback.

Runs the dev command as a person would (a child process, Ctrl-C to stop) and
walks a device through enrolment, XMPP login, TURN over TLS, suspension and
resumption against the real servers it started.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioice import turn

from montage_core.xmpp_session import XmppLoginFailed, close_session, open_session
from tests.dev_cloud import dev_cloud as start_dev_cloud
from tests.dev_cloud import read_line

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dev_cloud(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    with start_dev_cloud(tmp_path_factory.mktemp("dev"), timeout=30) as started:
        yield started


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class _Sink(asyncio.DatagramProtocol):
    pass


async def _walk_a_device_through_its_life(ready: dict[str, Any], admin_token: str) -> None:
    tls = ssl.create_default_context(cafile=ready["ca_cert"])
    api = ready["api"]["url"]
    admin = _bearer(admin_token)
    xmpp = ready["xmpp"]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as http:
        async with http.get(f"{api}/v1/netcheck") as response:
            assert response.status == 200

        async with http.post(
            f"{api}/v1/admin/enrolment-tokens", json={"org": "Dev Org"}, headers=admin
        ) as response:
            assert response.status == 201
            token = (await response.json())["token"]
        async with http.post(
            f"{api}/v1/enrol", json={"token": token, "kind": "client", "name": "Laptop"}
        ) as response:
            assert response.status == 201
            enrolment = await response.json()
        device_id = enrolment["device"]["device_id"]
        device = _bearer(enrolment["secret"])
        jid, password = enrolment["xmpp"]["jid"], enrolment["xmpp"]["password"]

        async def login() -> Any:
            return await open_session(
                jid, password, host=xmpp["host"], port=xmpp["port"], ssl_context=tls
            )

        session = await login()
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        session.add_event_handler(
            "disconnected", lambda _e: None if ended.done() else ended.set_result(None)
        )

        async with http.post(f"{api}/v1/turn", headers=device) as response:
            assert response.status == 200
            creds = await response.json()
        turns = next(uri for uri in creds["uris"] if uri.startswith("turns:"))
        host, port = turns.removeprefix("turns:").split("?")[0].rsplit(":", 1)
        relay, _ = await turn.create_turn_endpoint(
            _Sink, (host, int(port)), creds["username"], creds["password"], ssl=tls, transport="tcp"
        )
        relay.close()

        async with http.post(
            f"{api}/v1/admin/devices/{device_id}/suspend", headers=admin
        ) as response:
            assert response.status == 200
        await asyncio.wait_for(ended, 5)
        with pytest.raises(XmppLoginFailed):
            await login()
        async with http.post(f"{api}/v1/turn", headers=device) as response:
            assert response.status == 403

        async with http.post(f"{api}/v1/admin/devices/{device_id}/resume", headers=admin) as r:
            assert r.status == 200
        await close_session(await login())


def test_dev_cloud_enrols_signals_relays_and_revokes(
    dev_cloud: tuple[subprocess.Popen[str], dict[str, Any]],
) -> None:
    _, ready = dev_cloud
    assert ready["event"] == "ready"
    assert ready["xmpp"]["transport"] == "direct-tls"
    assert any(uri.startswith("turns:") for uri in ready["turn"]["uris"])
    # Secrets stay out of what is printed.
    assert "password" not in json.dumps(ready["xmpp"]) and "secret" not in json.dumps(ready)
    admin_token = Path(ready["api"]["admin_token_file"]).read_text().strip()
    asyncio.run(asyncio.wait_for(_walk_a_device_through_its_life(ready, admin_token), 60))


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_ctrl_c_stops_all_three(dev_cloud: tuple[subprocess.Popen[str], dict[str, Any]]) -> None:
    process, ready = dev_cloud
    xmpp = (ready["xmpp"]["host"], ready["xmpp"]["port"])
    turns = ready["turn"]["uris"][0].removeprefix("turns:").split("?")[0].rsplit(":", 1)
    api = ready["api"]["url"].removeprefix("https://").rsplit(":", 1)
    endpoints = [xmpp, (turns[0], int(turns[1])), (api[0], int(api[1]))]
    assert all(_accepts(h, p) for h, p in endpoints)

    process.send_signal(signal.SIGINT)
    assert process.wait(20) == 0
    deadline = time.monotonic() + 5
    while any(_accepts(h, p) for h, p in endpoints) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_accepts(h, p) for h, p in endpoints)
    assert not Path(ready["workdir"]).exists()


def test_read_line_returns_lines_that_arrived_together() -> None:
    # The tests wait for a child's JSON events with read_line; two printed at
    # once must both be read at once, not the second after a timeout.
    process = subprocess.Popen(
        [sys.executable, "-c", "import os, time; os.write(1, b'one\\ntwo\\n'); time.sleep(30)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        started = time.monotonic()
        assert [read_line(process, 10), read_line(process, 10)] == ["one\n", "two\n"]
        assert time.monotonic() - started < 5
        with pytest.raises(AssertionError, match="no line"):
            read_line(process, 0.2)
    finally:
        process.kill()
        process.wait()
    assert read_line(process, 5) == "" == read_line(process, 5)  # the end, for every caller
