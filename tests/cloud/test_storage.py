"""One storage suite, run against SQLite and a real PostgreSQL (see conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from montage_cloud.models import (
    Device,
    DeviceKind,
    DeviceStatus,
    EnrolmentToken,
    Meeting,
    OrgSettings,
)
from montage_cloud.storage import EnrolmentRefused, Storage, TokenRefusal
from tests.cloud.conftest import StorageScenario

WithStorage = Callable[[StorageScenario], None]
NOW = 1_800_000_000.0


def _token(token_hash: str = "t1", uses: int = 2, expires_at: float = NOW + 60) -> EnrolmentToken:
    return EnrolmentToken(token_hash, "Acme", uses, NOW, expires_at)


def _device(n: int, status: DeviceStatus = DeviceStatus.ACTIVE) -> Device:
    return Device(
        device_id=f"dev-{n:016x}",
        org="Acme",
        kind=DeviceKind.RECEIVER if n % 2 else DeviceKind.CLIENT,
        name=f"Device {n} — é",
        status=status,
        secret_hash=f"secret-hash-{n}",
        xmpp_username=f"dev-{n:016x}",
        enrolled_at=NOW + n,
        status_changed_at=NOW + n,
    )


def _meeting(meeting_id: str, device: int = 1, expires_at: float = NOW + 300) -> Meeting:
    return Meeting(
        meeting_id=meeting_id,
        device_id=f"dev-{device:016x}",
        jid=f"dev-{device:016x}@example/r",
        endpoints=("10.0.0.5:443", "[fe80::1]:8443"),
        fingerprint="sha-256 " + "AB" * 32,
        created_at=NOW,
        expires_at=expires_at,
    )


async def _refusal(storage: Storage, token_hash: str, now: float = NOW) -> TokenRefusal:
    with pytest.raises(EnrolmentRefused) as refused:
        await storage.redeem_enrolment_token(token_hash, now)
    return refused.value.reason


def test_enrolment_token_is_used_up_then_refused(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        await storage.create_enrolment_token(_token(uses=2))
        assert await storage.redeem_enrolment_token("t1", NOW) == "Acme"
        assert await storage.redeem_enrolment_token("t1", NOW) == "Acme"
        assert await _refusal(storage, "t1") is TokenRefusal.USED_UP

    with_storage(scenario)


def test_enrolment_token_unknown_and_expired(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        await storage.create_enrolment_token(_token(expires_at=NOW + 60))
        assert await _refusal(storage, "nope") is TokenRefusal.UNKNOWN
        assert await _refusal(storage, "t1", now=NOW + 60) is TokenRefusal.EXPIRED
        # Expiry did not spend a use.
        assert await storage.redeem_enrolment_token("t1", NOW + 59) == "Acme"

    with_storage(scenario)


def test_concurrent_redemptions_never_exceed_uses(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        await storage.create_enrolment_token(_token(uses=3))

        async def attempt() -> bool:
            try:
                await storage.redeem_enrolment_token("t1", NOW)
                return True
            except EnrolmentRefused:
                return False

        results = await asyncio.gather(*(attempt() for _ in range(12)))
        assert sum(results) == 3

    with_storage(scenario)


def test_devices_round_trip_and_change_status(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        devices = [_device(2), _device(1), _device(3)]
        for device in devices:
            await storage.add_device(device)
        assert await storage.get_device(devices[0].device_id) == devices[0]
        assert await storage.device_by_secret("secret-hash-3") == devices[2]
        assert await storage.device_by_secret("other") is None
        assert await storage.get_device("dev-ffffffffffffffff") is None
        listed = await storage.list_devices()
        assert [d.device_id for d in listed] == [_device(n).device_id for n in (1, 2, 3)]

        updated = await storage.set_device_status(
            devices[1].device_id, DeviceStatus.SUSPENDED, NOW + 99
        )
        assert updated is not None
        assert updated.status is DeviceStatus.SUSPENDED
        assert updated.status_changed_at == NOW + 99
        assert await storage.get_device(devices[1].device_id) == updated
        assert await storage.set_device_status("dev-nobody", DeviceStatus.ACTIVE, NOW) is None

    with_storage(scenario)


def test_meeting_round_trip(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        meeting = _meeting("123456")
        assert await storage.insert_meeting(meeting, reusable_before=NOW - 3600)
        assert await storage.get_meeting("123456") == meeting
        assert await storage.get_meeting("654321") is None

    with_storage(scenario)


def test_meeting_id_is_reused_only_after_expiry_and_quarantine(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        assert await storage.insert_meeting(_meeting("123456", expires_at=NOW + 300), NOW - 3600)
        # Live: refused.
        assert not await storage.insert_meeting(_meeting("123456", device=3), NOW - 3600)
        # Expired, but within the quarantine: still refused.
        later = NOW + 400
        assert not await storage.insert_meeting(_meeting("123456", device=3), later - 3600)
        # Expired long enough ago: taken over by the new meeting.
        much_later = NOW + 300 + 3600
        replacement = _meeting("123456", device=3, expires_at=much_later + 300)
        assert await storage.insert_meeting(replacement, much_later - 3600)
        assert await storage.get_meeting("123456") == replacement

    with_storage(scenario)


def test_concurrent_allocations_of_one_id_store_one(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        results = await asyncio.gather(
            *(storage.insert_meeting(_meeting("222222", device=n), NOW - 3600) for n in range(10))
        )
        assert sum(results) == 1
        winner = results.index(True)
        stored = await storage.get_meeting("222222")
        assert stored is not None
        assert stored.device_id == _meeting("222222", device=winner).device_id

    with_storage(scenario)


def test_refresh_and_end_only_own_live_meetings(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        owner, other = _device(1).device_id, _device(3).device_id
        await storage.insert_meeting(_meeting("111111", expires_at=NOW + 300), NOW - 3600)
        assert not await storage.refresh_meeting("111111", other, NOW, NOW + 900)
        assert await storage.refresh_meeting("111111", owner, NOW + 100, NOW + 900)
        refreshed = await storage.get_meeting("111111")
        assert refreshed is not None
        assert refreshed.expires_at == NOW + 900
        # Past its expiry a meeting cannot be brought back.
        assert not await storage.refresh_meeting("111111", owner, NOW + 900, NOW + 1200)

        await storage.insert_meeting(_meeting("333333", expires_at=NOW + 300), NOW - 3600)
        assert not await storage.end_meeting("333333", other, NOW)
        assert await storage.end_meeting("333333", owner, NOW + 10)
        ended = await storage.get_meeting("333333")
        assert ended is not None
        assert not ended.is_live(NOW + 10)

    with_storage(scenario)


def test_end_meetings_of_a_device(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        for meeting_id in ("100001", "100002"):
            await storage.insert_meeting(_meeting(meeting_id, device=1), NOW - 3600)
        await storage.insert_meeting(_meeting("100003", device=3), NOW - 3600)
        assert await storage.end_meetings_of(_device(1).device_id, NOW + 1) == 2
        assert await storage.end_meetings_of(_device(1).device_id, NOW + 2) == 0
        remaining = await storage.get_meeting("100003")
        assert remaining is not None
        assert remaining.is_live(NOW + 2)

    with_storage(scenario)


def test_resolve_failures_count_within_a_window(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        window = 600
        assert await storage.resolve_failures("dev-a", NOW - window) == 0
        for expected in (1, 2, 3):
            assert await storage.add_resolve_failure("dev-a", NOW, NOW - window) == expected
        assert await storage.add_resolve_failure("dev-b", NOW, NOW - window) == 1
        assert await storage.resolve_failures("dev-a", NOW + 599 - window) == 3
        # Once the window has passed, counting starts again.
        later = NOW + 600
        assert await storage.resolve_failures("dev-a", later - window) == 0
        assert await storage.add_resolve_failure("dev-a", later, later - window) == 1
        assert await storage.resolve_failures("dev-a", later + 1 - window) == 1

    with_storage(scenario)


def test_concurrent_resolve_failures_are_all_counted(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        await asyncio.gather(
            *(storage.add_resolve_failure("dev-a", NOW, NOW - 600) for _ in range(15))
        )
        assert await storage.resolve_failures("dev-a", NOW - 600) == 15

    with_storage(scenario)


def test_org_settings_round_trip(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        assert await storage.get_org_settings("Acme") is None
        await storage.set_org_settings(OrgSettings("Acme", guests_allowed=False, changed_at=NOW))
        await storage.set_org_settings(OrgSettings("Other", guests_allowed=True, changed_at=NOW))
        assert await storage.get_org_settings("Acme") == OrgSettings("Acme", False, NOW)
        await storage.set_org_settings(OrgSettings("Acme", guests_allowed=True, changed_at=NOW + 1))
        assert await storage.get_org_settings("Acme") == OrgSettings("Acme", True, NOW + 1)

    with_storage(scenario)


def test_rate_hits_count_per_key_within_a_window(with_storage: WithStorage) -> None:
    async def scenario(storage: Storage) -> None:
        window = 600
        key = "guest-join:203.0.113.7"
        assert await storage.rate_hits(key, NOW - window) == 0
        counts = await asyncio.gather(
            *(storage.add_rate_hit(key, NOW, NOW - window) for _ in range(12))
        )
        assert sorted(counts) == list(range(1, 13))  # concurrent hits all counted
        assert await storage.add_rate_hit("guest-miss:203.0.113.7", NOW, NOW - window) == 1
        assert await storage.rate_hits(key, NOW + 599 - window) == 12
        later = NOW + window
        assert await storage.rate_hits(key, later - window) == 0
        assert await storage.add_rate_hit(key, later, later - window) == 1

    with_storage(scenario)
