"""Fuzz the running API from its own OpenAPI document (schemathesis): no 5xx, answers as documented.

The server runs on loopback in a thread with its own event loop; requests
carry a real receiver's secret, or the admin token on /v1/admin, so the
fuzzer reaches past authentication.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from montage_cloud.openapi import openapi_document
from montage_cloud.server import ServeOptions, serve
from montage_cloud.service import CloudConfig
from montage_cloud.turn import TurnConfig
from tests.cloud.harness import ADMIN_TOKEN, FINGERPRINT


@dataclass(frozen=True)
class FuzzTarget:
    url: str
    device_headers: dict[str, str]
    admin_headers: dict[str, str]


class _ServerThread(threading.Thread):
    def __init__(self, options: ServeOptions) -> None:
        super().__init__(name="cloud-under-fuzz", daemon=True)
        self.options = options
        self.loop = asyncio.new_event_loop()
        self.stopping = asyncio.Event()

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(serve(self.options, stop=self.stopping))
        finally:
            self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.join(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    database: Path = tmp_path_factory.mktemp("fuzz") / "cloud.sqlite3"
    port = _free_port()
    options = ServeOptions(
        host="127.0.0.1",
        port=port,
        database=str(database),
        config=CloudConfig(
            admin_token=ADMIN_TOKEN, turn=TurnConfig(secret="fuzz", host="turn.test")
        ),
    )
    server = _ServerThread(options)
    server.start()
    url = f"http://127.0.0.1:{port}"
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    _wait_until_up(url)
    token = requests.post(
        f"{url}/v1/admin/enrolment-tokens", headers=admin, json={"org": "Fuzz"}, timeout=5
    ).json()["token"]
    receiver: dict[str, Any] = requests.post(
        f"{url}/v1/enrol", json={"token": token, "kind": "receiver", "name": "R"}, timeout=5
    ).json()
    device = {"Authorization": f"Bearer {receiver['secret']}"}
    requests.post(
        f"{url}/v1/meetings",
        headers=device,
        json={
            "endpoints": ["10.1.1.1:443"],
            "fingerprint": FINGERPRINT,
            "jid": receiver["xmpp"]["jid"],
        },
        timeout=5,
    ).raise_for_status()
    try:
        yield FuzzTarget(url, device, admin)
    finally:
        server.stop()


def _wait_until_up(url: str) -> None:
    for _ in range(100):
        try:
            requests.get(f"{url}/v1/netcheck", timeout=1)
            return
        except requests.ConnectionError:
            threading.Event().wait(0.05)
    raise AssertionError("the API did not start")


# The document the server serves (test_api.py checks they are the same), loaded
# without a server so that the tests can be generated at collection time.
schema = schemathesis.openapi.from_dict(openapi_document())

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_from_its_openapi_document(case: Any, fuzz_target: FuzzTarget) -> None:
    headers = (
        fuzz_target.admin_headers
        if case.path.startswith("/v1/admin")
        else fuzz_target.device_headers
    )
    case.call_and_validate(base_url=fuzz_target.url, headers=headers, checks=CHECKS)
