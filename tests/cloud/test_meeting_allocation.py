"""Meeting-ID allocation in the service: format, collisions, exhaustion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from montage_cloud.errors import ApiError, ErrorCode
from montage_cloud.meeting_ids import is_meeting_id, random_meeting_id
from montage_cloud.models import Device, DeviceKind, DeviceStatus
from montage_cloud.request_bodies import MeetingRequest
from montage_cloud.service import MAX_ALLOCATION_TRIES, CloudConfig, CloudService
from montage_cloud.storage import open_storage
from montage_cloud.xmpp_admin import MemoryXmppAdmin
from tests.cloud.conftest import run
from tests.cloud.harness import FINGERPRINT, FakeClock

RECEIVER = Device(
    device_id="dev-00000000000000aa",
    org="Acme",
    kind=DeviceKind.RECEIVER,
    name="Room",
    status=DeviceStatus.ACTIVE,
    secret_hash="h",
    xmpp_username="dev-00000000000000aa",
    enrolled_at=0,
    status_changed_at=0,
)
REQUEST = MeetingRequest(("10.0.0.1:443",), FINGERPRINT, "dev-00000000000000aa@montage.localhost")


def test_meeting_id_format() -> None:
    assert random_meeting_id(lambda n: 0) == "100000"
    assert random_meeting_id(lambda n: n - 1) == "999999"
    assert is_meeting_id("123456")
    for bad in ("012345", "12345", "1234567", "12345a", "１２３４５６", "123456\n"):
        assert not is_meeting_id(bad), bad


def test_a_taken_id_is_skipped_and_exhaustion_is_reported(tmp_path: Path) -> None:
    draws: Iterator[int] = iter([5, 5, 7])

    async def scenario() -> None:
        storage = await open_storage(str(tmp_path / "db.sqlite3"))
        clock = FakeClock()
        service = CloudService(
            storage, MemoryXmppAdmin(), CloudConfig(), clock=clock, randbelow=lambda n: next(draws)
        )
        try:
            first = await service.allocate_meeting(RECEIVER, REQUEST)
            second = await service.allocate_meeting(RECEIVER, REQUEST)
            assert (first.meeting_id, second.meeting_id) == ("100005", "100007")

            stuck = CloudService(
                storage, MemoryXmppAdmin(), CloudConfig(), clock=clock, randbelow=lambda n: 5
            )
            with pytest.raises(ApiError) as refused:
                await stuck.allocate_meeting(RECEIVER, REQUEST)
            assert refused.value.code is ErrorCode.MEETING_IDS_EXHAUSTED
            assert refused.value.status == 503
        finally:
            await storage.close()

    assert MAX_ALLOCATION_TRIES > 2
    run(scenario())
