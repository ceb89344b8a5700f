"""An API under test: the real aiohttp app on SQLite, an injected clock, an in-memory XmppAdmin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from montage_cloud.api import make_app
from montage_cloud.guests import GuestRules, GuestService
from montage_cloud.request_bodies import TokenRequest
from montage_cloud.service import CloudConfig, CloudService
from montage_cloud.storage import open_storage
from montage_cloud.turn import TurnConfig
from montage_cloud.xmpp_admin import MemoryXmppAdmin

ADMIN_TOKEN = "admin-token-for-tests"
TURN = TurnConfig(secret="turn-shared-secret", host="turn.test", ttl=600)
FINGERPRINT = "sha-256 " + "0123456789ABCDEF" * 4


@dataclass
class FakeClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Cloud:
    client: TestClient[Any, Any]
    service: CloudService
    clock: FakeClock
    xmpp: MemoryXmppAdmin
    database: Path
    admin: dict[str, str] = field(
        default_factory=lambda: {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )

    async def token(self, org: str = "Acme", uses: int = 10, ttl: int = 3600) -> str:
        issued = await self.service.issue_enrolment_token(TokenRequest(org, uses, ttl))
        return issued.token

    async def enrol(self, kind: str = "client", name: str = "Laptop") -> dict[str, Any]:
        response = await self.client.post(
            "/v1/enrol", json={"token": await self.token(), "kind": kind, "name": name}
        )
        assert response.status == 201, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    async def open_meeting(self, receiver: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/meetings",
            headers=bearer(receiver),
            json={
                "endpoints": ["192.168.1.20:443", "[fd00::20]:443"],
                "fingerprint": FINGERPRINT,
                "jid": receiver["xmpp"]["jid"] + "/receiver",
            },
        )
        assert response.status == 201, await response.text()
        body: dict[str, Any] = await response.json()
        return body


def bearer(enrolment: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {enrolment['secret']}"}


@asynccontextmanager
async def running_cloud(
    tmp_path: Path,
    xmpp: MemoryXmppAdmin | None = None,
    guest_rules: GuestRules | None = None,
    **config: Any,
) -> AsyncIterator[Cloud]:
    settings: dict[str, Any] = {"turn": TURN, "admin_token": ADMIN_TOKEN, **config}
    database = tmp_path / "cloud.sqlite3"
    storage = await open_storage(str(database))
    clock = FakeClock()
    xmpp = xmpp or MemoryXmppAdmin()
    service = CloudService(storage, xmpp, CloudConfig(**settings), clock=clock)
    guests = GuestService(service, guest_rules, clock=clock)
    client: TestClient[Any, Any] = TestClient(TestServer(make_app(service, guests=guests)))
    await client.start_server()
    try:
        yield Cloud(client, service, clock, xmpp, database)
    finally:
        await client.close()
        await storage.close()
