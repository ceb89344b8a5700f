"""The guest rules at the cloud (docs/protocol.md §17), through the real app and its WebSocket.

Guests join over `/v1/guest/signal`. These tests run without an XMPP server,
so a guest the rules let in is then told the cloud cannot take guests
(`guests_unavailable`): that answer is how a test sees that every rule
passed. The shares themselves, through the real guest bridge, Prosody and a
receiver, are in tests/browser/.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest

from montage_cloud.guests import GuestRules, GuestService, network_of
from montage_cloud.web.page import JOIN_PATH
from tests.cloud.conftest import run
from tests.cloud.harness import TURN, Cloud, running_cloud

ADMITTED = "guests_unavailable"  # every rule passed; no bridge in these tests


async def join(cloud: Cloud, meeting_id: str) -> dict[str, Any]:
    """What the cloud answers a page that joins `meeting_id`."""
    async with cloud.client.ws_connect("/v1/guest/signal") as ws:
        await ws.send_json({"type": "join", "meeting_id": meeting_id})
        answer: dict[str, Any] = await ws.receive_json(timeout=5)
        return answer


async def refusal(cloud: Cloud, meeting_id: str) -> str:
    answer = await join(cloud, meeting_id)
    assert answer["type"] == "refused", answer
    assert answer["message"], answer
    code: str = answer["code"]
    return code


async def live_meeting(cloud: Cloud, org: str = "Acme") -> str:
    token = await cloud.token(org)
    response = await cloud.client.post(
        "/v1/enrol", json={"token": token, "kind": "receiver", "name": "Room"}
    )
    receiver = await response.json()
    meeting = await cloud.open_meeting(receiver)
    meeting_id: str = meeting["meeting_id"]
    return meeting_id


def unused_id(taken: str) -> str:
    return "123456" if taken != "123456" else "654321"


def test_an_unknown_meeting_is_refused_with_its_sentence(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            answer = await join(cloud, "482913")
            assert answer == {
                "type": "refused",
                "code": "meeting_not_found",
                "message": "There is no meeting 482913."
                " Check the ID shown on the meeting-room display.",
            }
            assert await refusal(cloud, "012345") == "meeting_id_malformed"

    run(scenario())


def test_meeting_ids_cannot_be_swept_from_one_network(tmp_path: Path) -> None:
    rules = GuestRules(misses_per_ip=3, window=600)

    async def scenario() -> None:
        async with running_cloud(tmp_path, guest_rules=rules, meeting_ttl=3600) as cloud:
            meeting_id = await live_meeting(cloud)
            assert await refusal(cloud, meeting_id) == ADMITTED
            for _ in range(3):
                assert await refusal(cloud, unused_id(meeting_id)) == "meeting_not_found"
            # The budget is spent: now even the right ID is refused, so a sweep
            # learns nothing more from this network.
            answer = await join(cloud, meeting_id)
            assert answer["code"] == "too_many_attempts"
            assert answer["retry_after"] == 600
            assert "Wait up to 10 minutes" in answer["message"]
            cloud.clock.advance(601)
            assert await refusal(cloud, meeting_id) == ADMITTED

    run(scenario())


def test_guest_logins_are_limited_per_network(tmp_path: Path) -> None:
    rules = GuestRules(joins_per_ip=4, window=600)

    async def scenario() -> None:
        async with running_cloud(tmp_path, guest_rules=rules, meeting_ttl=3600) as cloud:
            meeting_id = await live_meeting(cloud)
            for _ in range(4):
                assert await refusal(cloud, meeting_id) == ADMITTED
            answer = await join(cloud, meeting_id)
            assert answer["code"] == "too_many_attempts"
            assert answer["message"].startswith(
                "Too many guests joined from your network in the last 10 minutes."
            )
            cloud.clock.advance(601)
            assert await refusal(cloud, meeting_id) == ADMITTED

    run(scenario())


def test_an_organisation_can_refuse_guests(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path, meeting_ttl=3600) as cloud:
            acme = await live_meeting(cloud, "Acme")
            other = await live_meeting(cloud, "Other Org")
            settings = await cloud.client.get("/v1/admin/orgs/Acme", headers=cloud.admin)
            assert (await settings.json())["guests_allowed"] is True  # the default

            changed = await cloud.client.put(
                "/v1/admin/orgs/Acme", headers=cloud.admin, json={"guests_allowed": False}
            )
            assert changed.status == 200
            assert (await changed.json())["guests_allowed"] is False
            answer = await join(cloud, acme)
            assert answer["code"] == "guests_not_allowed"
            assert answer["message"].startswith(
                "This organisation does not let guests share to its rooms."
            )
            assert await refusal(cloud, other) == ADMITTED  # another organisation's room

            await cloud.client.put(
                "/v1/admin/orgs/Acme", headers=cloud.admin, json={"guests_allowed": True}
            )
            assert await refusal(cloud, acme) == ADMITTED

    run(scenario())


def test_org_settings_need_the_admin_and_a_proper_body(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            url = "/v1/admin/orgs/Acme"
            assert (await cloud.client.get(url)).status == 401
            for body in ({"guests_allowed": "no"}, {}, [True]):
                response = await cloud.client.put(url, headers=cloud.admin, json=body)
                assert response.status == 400, body
            blank = await cloud.client.get("/v1/admin/orgs/%20", headers=cloud.admin)
            assert blank.status == 400

    run(scenario())


def test_an_admitted_guest_gets_turn_credentials_of_its_own(tmp_path: Path) -> None:
    rules = GuestRules(turn_ttl=900)

    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            meeting_id = await live_meeting(cloud)
            guests = GuestService(cloud.service, rules, clock=cloud.clock)
            admission = await guests.admit("203.0.113.9", meeting_id)
            turn = admission.turn
            assert turn is not None
            assert admission.guest_id.startswith("guest-")
            assert turn.username == f"{int(cloud.clock.now) + 900}:{admission.guest_id}"
            assert turn.ttl == 900
            expected = hmac.new(TURN.secret.encode(), turn.username.encode(), hashlib.sha1).digest()
            assert turn.password == base64.b64encode(expected).decode()
            assert turn.uris[0].startswith("turns:")
            # No device secret anywhere in what a guest is given.
            assert admission.meeting.meeting_id == meeting_id

    run(scenario())


def test_the_first_message_must_be_a_join(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            running_cloud(tmp_path) as cloud,
            cloud.client.ws_connect("/v1/guest/signal") as ws,
        ):
            await ws.send_str('{"type":"hello","version":1,"name":"Eve"}')
            answer = await ws.receive_json(timeout=5)
            assert answer["code"] == "bad_request"
            assert (await ws.receive(timeout=5)).type.name in ("CLOSE", "CLOSED")

    run(scenario())


def test_the_join_page_is_served_with_its_assets(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_cloud(tmp_path) as cloud:
            page = await cloud.client.get(JOIN_PATH)
            assert page.status == 200
            assert page.content_type == "text/html"
            html = await page.text()
            for element in ("meeting-id", "name", "pin", "share", "stop", "camera", "microphone"):
                assert f'id="{element}"' in html
            assert 'id="status"' in html
            # Nothing from anywhere but the cloud itself (no CDN).
            assert "default-src 'none'" in page.headers["Content-Security-Policy"]
            assert "http" not in html
            script = await cloud.client.get(f"{JOIN_PATH}/join.js")
            assert script.status == 200 and script.content_type == "text/javascript"
            assert "SPAKE2" in await script.text()
            assert (await cloud.client.get(f"{JOIN_PATH}/join.css")).status == 200
            assert (await cloud.client.get(f"{JOIN_PATH}/../api.py")).status == 404

    run(scenario())


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),  # the same /64: one network
        ("::ffff:198.51.100.4", "198.51.100.4"),
    ],
)
def test_limits_count_ipv4_addresses_and_ipv6_slash_64s(address: str, network: str) -> None:
    assert network_of(address) == network
