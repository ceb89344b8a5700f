"""The REST API through aiohttp's test client: enrolment, meetings, revocation, TURN, errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse

from montage_cloud.openapi import openapi_document
from montage_cloud.xmpp_admin import MemoryXmppAdmin
from tests.cloud.conftest import run
from tests.cloud.harness import ADMIN_TOKEN, TURN, bearer, running_cloud


async def _error(response: ClientResponse, status: int) -> str:
    """The error code of a refusal, after checking its status and shape."""
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    code: str = body["error"]["code"]
    return code


def test_netcheck_answers_without_auth_quickly(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            started = time.perf_counter()
            response = await cloud.client.get("/v1/netcheck")
            elapsed = time.perf_counter() - started
            assert response.status == 200
            body = await response.json()
            assert body["ok"] is True
            assert body["service"] == "montage-cloud"
            assert elapsed < 0.5

    run(scenario())


def test_openapi_document_lists_every_route(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            document = await (await cloud.client.get("/v1/openapi.json")).json()
            # The fuzz test generates from the in-process document: they must be one.
            assert document == json.loads(json.dumps(openapi_document()))
            documented = {
                (method.upper(), path)
                for path, operations in document["paths"].items()
                for method in operations
            }
            routed = {
                (route.method, route.resource.canonical)
                for route in cloud.client.app.router.routes()
                if route.resource is not None
            }
            assert documented == routed

    run(scenario())


def test_enrol_gives_working_credentials_and_an_xmpp_account(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path, xmpp_domain="chat.test") as cloud:
            receiver = await cloud.enrol("receiver", "Room 4")
            device = receiver["device"]
            assert device["kind"] == "receiver"
            assert device["name"] == "Room 4"
            assert device["org"] == "Acme"
            assert device["status"] == "active"
            assert receiver["xmpp"]["jid"] == f"{device['xmpp_username']}@chat.test"
            assert ("create_account", device["xmpp_username"]) in cloud.xmpp.calls

            me = await cloud.client.get("/v1/devices/me", headers=bearer(receiver))
            assert me.status == 200
            assert (await me.json())["device_id"] == device["device_id"]

            # Only a hash of the secret is kept server-side.
            stored = cloud.database.read_bytes() + _wal(cloud.database)
            assert receiver["secret"].encode() not in stored
            assert hashlib.sha256(receiver["secret"].encode()).hexdigest().encode() in stored

    run(scenario())


def _wal(database: Path) -> bytes:
    wal = database.with_name(database.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_enrolment_token_refusals_are_specific(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:

            async def enrol(token: str) -> ClientResponse:
                return await cloud.client.post(
                    "/v1/enrol", json={"token": token, "kind": "client", "name": "Laptop"}
                )

            assert await _error(await enrol("mce_wrong"), 403) == "enrolment_token_invalid"

            once = await cloud.token(uses=1)
            assert (await enrol(once)).status == 201
            assert await _error(await enrol(once), 403) == "enrolment_token_used_up"

            short = await cloud.token(ttl=60)
            cloud.clock.advance(61)
            assert await _error(await enrol(short), 403) == "enrolment_token_expired"
            # Refused enrolments created no XMPP account.
            assert [call[0] for call in cloud.xmpp.calls] == ["create_account"]

    run(scenario())


def test_malformed_bodies_are_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            token = await cloud.token()
            for body in (
                b"not json",
                b"[1, 2]",
                b'{"token": "' + token.encode() + b'", "kind": "toaster", "name": "x"}',
                b'{"token": "' + token.encode() + b'", "kind": "client", "name": "   "}',
                b'{"token": 5, "kind": "client", "name": "x"}',
            ):
                response = await cloud.client.post("/v1/enrol", data=body)
                assert await _error(response, 400) == "bad_request", body
            response = await cloud.client.post("/v1/enrol", data=b"{" * 100_000)
            assert await _error(response, 413) == "too_large"

    run(scenario())


def test_calls_without_valid_credentials_get_401(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer mcd_x"}):
                response = await cloud.client.post("/v1/turn", headers=headers)
                assert await _error(response, 401) == "unauthorized"
                assert response.headers["WWW-Authenticate"].startswith("Bearer")

    run(scenario())


def test_allocate_resolve_refresh_and_expire(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path, meeting_ttl=300) as cloud:
            receiver = await cloud.enrol("receiver", "Room 1")
            client = await cloud.enrol("client", "Laptop")
            meeting = await cloud.open_meeting(receiver)
            meeting_id = meeting["meeting_id"]
            assert len(meeting_id) == 6 and meeting_id.isdigit()
            assert meeting["expires_at"] == cloud.clock.now + 300

            resolved = await cloud.client.get(f"/v1/meetings/{meeting_id}", headers=bearer(client))
            assert resolved.status == 200
            body = await resolved.json()
            assert body["jid"] == receiver["xmpp"]["jid"] + "/receiver"
            assert body["endpoints"] == ["192.168.1.20:443", "[fd00::20]:443"]
            assert body["fingerprint"].startswith("sha-256 ")

            # The receiver keeps it alive; then it lapses.
            cloud.clock.advance(200)
            refreshed = await cloud.client.post(
                f"/v1/meetings/{meeting_id}/refresh", headers=bearer(receiver)
            )
            assert refreshed.status == 200
            assert (await refreshed.json())["expires_at"] == cloud.clock.now + 300
            cloud.clock.advance(200)
            path = f"/v1/meetings/{meeting_id}"
            assert (await cloud.client.get(path, headers=bearer(client))).status == 200
            cloud.clock.advance(101)
            response = await cloud.client.get(path, headers=bearer(client))
            assert await _error(response, 404) == "meeting_expired"

    run(scenario())


def test_unknown_and_malformed_meeting_ids(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            client = bearer(await cloud.enrol("client"))
            response = await cloud.client.get("/v1/meetings/999999", headers=client)
            assert await _error(response, 404) == "meeting_not_found"
            for bad in ("12345", "1234567", "abcdef", "012345", "12%2034"):
                response = await cloud.client.get(f"/v1/meetings/{bad}", headers=client)
                assert await _error(response, 400) == "meeting_id_malformed", bad

    run(scenario())


def test_only_the_owning_receiver_manages_a_meeting(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            receiver = await cloud.enrol("receiver", "Room 1")
            other = await cloud.enrol("receiver", "Room 2")
            client = await cloud.enrol("client")
            meeting_id = (await cloud.open_meeting(receiver))["meeting_id"]

            response = await cloud.client.post(
                "/v1/meetings",
                headers=bearer(client),
                json={"endpoints": [], "fingerprint": "sha-256 " + "A" * 64, "jid": "a@b"},
            )
            assert await _error(response, 403) == "wrong_device_kind"
            # A receiver cannot announce another device's XMPP address.
            response = await cloud.client.post(
                "/v1/meetings",
                headers=bearer(other),
                json={
                    "endpoints": [],
                    "fingerprint": "sha-256 " + "A" * 64,
                    "jid": receiver["xmpp"]["jid"],
                },
            )
            assert await _error(response, 400) == "bad_request"

            path = f"/v1/meetings/{meeting_id}"
            response = await cloud.client.post(f"{path}/refresh", headers=bearer(other))
            assert await _error(response, 403) == "not_meeting_owner"
            response = await cloud.client.delete(path, headers=bearer(other))
            assert await _error(response, 403) == "not_meeting_owner"

            assert (await cloud.client.delete(path, headers=bearer(receiver))).status == 204
            response = await cloud.client.get(path, headers=bearer(client))
            assert await _error(response, 404) == "meeting_expired"

    run(scenario())


def test_suspend_resume_delete(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            receiver = await cloud.enrol("receiver", "Room 1")
            client = await cloud.enrol("client")
            receiver_id = receiver["device"]["device_id"]
            account = receiver["device"]["xmpp_username"]
            meeting_id = (await cloud.open_meeting(receiver))["meeting_id"]
            admin_path = f"/v1/admin/devices/{receiver_id}"

            response = await cloud.client.post(f"{admin_path}/suspend", headers=cloud.admin)
            assert response.status == 200
            assert (await response.json())["status"] == "suspended"
            assert cloud.xmpp.calls[-2:] == [("disable_account", account), ("kick", account)]
            for method, path in (
                ("GET", "/v1/devices/me"),
                ("POST", "/v1/turn"),
                ("POST", f"/v1/meetings/{meeting_id}/refresh"),
                ("GET", f"/v1/meetings/{meeting_id}"),
            ):
                response = await cloud.client.request(method, path, headers=bearer(receiver))
                assert await _error(response, 403) == "device_suspended", path
            # Its meeting no longer leads anyone to it.
            response = await cloud.client.get(f"/v1/meetings/{meeting_id}", headers=bearer(client))
            assert await _error(response, 404) == "meeting_expired"

            response = await cloud.client.post(f"{admin_path}/resume", headers=cloud.admin)
            assert (await response.json())["status"] == "active"
            assert cloud.xmpp.calls[-1] == ("enable_account", account)
            assert (await cloud.client.post("/v1/turn", headers=bearer(receiver))).status == 200

            response = await cloud.client.delete(admin_path, headers=cloud.admin)
            assert (await response.json())["status"] == "removed"
            assert cloud.xmpp.calls[-3:] == [
                ("disable_account", account),
                ("kick", account),
                ("delete_account", account),
            ]
            response = await cloud.client.post("/v1/turn", headers=bearer(receiver))
            assert await _error(response, 403) == "device_removed"
            response = await cloud.client.post(f"{admin_path}/resume", headers=cloud.admin)
            assert await _error(response, 409) == "device_removed"

            listed = await (await cloud.client.get("/v1/admin/devices", headers=cloud.admin)).json()
            statuses = {d["device_id"]: d["status"] for d in listed["devices"]}
            assert statuses == {receiver_id: "removed", client["device"]["device_id"]: "active"}

    run(scenario())


def test_admin_api_needs_the_admin_token(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            device = await cloud.enrol("client")
            for headers in ({}, bearer(device), {"Authorization": f"Bearer {ADMIN_TOKEN}x"}):
                response = await cloud.client.get("/v1/admin/devices", headers=headers)
                assert await _error(response, 401) == "unauthorized"
            response = await cloud.client.get(
                "/v1/admin/devices/dev-0000000000000000", headers=cloud.admin
            )
            assert await _error(response, 404) == "device_not_found"
        async with running_cloud(tmp_path / "off", admin_token=None) as cloud:
            response = await cloud.client.get("/v1/admin/devices", headers=cloud.admin)
            assert await _error(response, 403) == "admin_disabled"

    run(scenario())


def test_admin_issues_enrolment_tokens(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            response = await cloud.client.post(
                "/v1/admin/enrolment-tokens", headers=cloud.admin, json={"org": "Beta", "uses": 1}
            )
            assert response.status == 201
            issued = await response.json()
            assert issued["uses"] == 1
            assert issued["expires_at"] == cloud.clock.now + 7 * 24 * 3600
            response = await cloud.client.post(
                "/v1/enrol", json={"token": issued["token"], "kind": "client", "name": "B"}
            )
            assert (await response.json())["device"]["org"] == "Beta"
            response = await cloud.client.post(
                "/v1/admin/enrolment-tokens", headers=cloud.admin, json={"org": "B", "uses": True}
            )
            assert await _error(response, 400) == "bad_request"

    run(scenario())


def test_turn_credentials_verify_independently(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            client = await cloud.enrol("client")
            response = await cloud.client.post("/v1/turn", headers=bearer(client))
            assert response.status == 200
            credentials: dict[str, Any] = await response.json()
            expiry, device_id = credentials["username"].split(":")
            assert device_id == client["device"]["device_id"]
            assert int(expiry) == int(cloud.clock.now) + TURN.ttl == credentials["expires_at"]
            assert credentials["ttl"] == TURN.ttl
            expected = base64.b64encode(
                hmac.new(
                    b"turn-shared-secret", credentials["username"].encode(), hashlib.sha1
                ).digest()
            ).decode()
            assert credentials["password"] == expected
            assert credentials["uris"][0] == "turns:turn.test:443?transport=tcp"
            assert "turn:turn.test:3478?transport=udp" in credentials["uris"]
        async with running_cloud(tmp_path / "no-turn", turn=None) as cloud:
            client = await cloud.enrol("client")
            response = await cloud.client.post("/v1/turn", headers=bearer(client))
            assert await _error(response, 503) == "turn_unavailable"

    run(scenario())


def test_unknown_routes_and_methods_answer_in_json(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            assert await _error(await cloud.client.get("/v1/nothing"), 404) == "not_found"
            response = await cloud.client.put("/v1/netcheck")
            assert await _error(response, 405) == "method_not_allowed"
            assert "GET" in response.headers["Allow"]

    run(scenario())


def test_text_a_database_would_refuse_is_a_bad_request(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            receiver = await cloud.enrol("receiver")
            own = receiver["xmpp"]["jid"]
            for jid in (own + "/a\x00b", own + "/\ud800", "a b@c"):
                response = await cloud.client.post(
                    "/v1/meetings",
                    headers=bearer(receiver),
                    data=json.dumps(
                        {"endpoints": [], "fingerprint": "sha-256 " + "A" * 64, "jid": jid}
                    ),
                )
                assert await _error(response, 400) == "bad_request", repr(jid)

    run(scenario())


def test_a_failing_database_is_a_503(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            token = await cloud.token()
            # Every write now fails inside SQLite, as on a full or locked disk.
            await cloud.service.storage._run("PRAGMA query_only = 1")  # type: ignore[attr-defined]
            response = await cloud.client.post(
                "/v1/enrol", json={"token": token, "kind": "client", "name": "Laptop"}
            )
            assert await _error(response, 503) == "storage_unavailable"
            assert (await cloud.client.get("/v1/netcheck")).status == 200

    run(scenario())


def test_guessing_meeting_ids_is_slowed_down(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(
            tmp_path, resolve_failure_limit=3, resolve_failure_window=600, meeting_ttl=3600
        ) as cloud:
            receiver = await cloud.enrol("receiver")
            guesser = bearer(await cloud.enrol("client", "Guesser"))
            honest = bearer(await cloud.enrol("client", "Honest"))
            meeting_id = (await cloud.open_meeting(receiver))["meeting_id"]
            wrong = "999999" if meeting_id != "999999" else "999998"
            for _ in range(3):
                response = await cloud.client.get(f"/v1/meetings/{wrong}", headers=guesser)
                assert await _error(response, 404) == "meeting_not_found"
            # Now even the right ID is refused for this device, and only for it.
            response = await cloud.client.get(f"/v1/meetings/{meeting_id}", headers=guesser)
            assert await _error(response, 429) == "too_many_attempts"
            assert response.headers["Retry-After"] == "600"
            response = await cloud.client.get(f"/v1/meetings/{meeting_id}", headers=honest)
            assert response.status == 200

            cloud.clock.advance(601)
            response = await cloud.client.get(f"/v1/meetings/{meeting_id}", headers=guesser)
            assert response.status == 200

    run(scenario())


class _BrokenXmpp(MemoryXmppAdmin):
    """An XMPP server that fails every command after enrolment."""

    fail_create = False

    async def create_account(self, username: str, password: str) -> None:
        if self.fail_create:
            raise ConnectionError("xmpp down")
        await super().create_account(username, password)

    async def disable_account(self, username: str) -> None:
        raise ConnectionError("xmpp down")

    async def enable_account(self, username: str) -> None:
        raise ConnectionError("xmpp down")


def test_xmpp_failures_do_not_undo_a_suspension(tmp_path: Path) -> None:
    async def scenario() -> None:
        xmpp = _BrokenXmpp()
        async with running_cloud(tmp_path, xmpp=xmpp) as cloud:
            device = await cloud.enrol("client")
            path = f"/v1/admin/devices/{device['device']['device_id']}"
            response = await cloud.client.post(f"{path}/suspend", headers=cloud.admin)
            assert (await response.json())["status"] == "suspended"
            response = await cloud.client.post("/v1/turn", headers=bearer(device))
            assert await _error(response, 403) == "device_suspended"
            response = await cloud.client.post(f"{path}/resume", headers=cloud.admin)
            assert (await response.json())["status"] == "active"

            xmpp.fail_create = True
            response = await cloud.client.post(
                "/v1/enrol", json={"token": await cloud.token(), "kind": "client", "name": "B"}
            )
            assert await _error(response, 503) == "xmpp_unavailable"
            listed = await (await cloud.client.get("/v1/admin/devices", headers=cloud.admin)).json()
            assert len(listed["devices"]) == 1

    run(scenario())
