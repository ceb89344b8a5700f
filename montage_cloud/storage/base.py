"""The storage interface the service uses, and what it can refuse."""

from __future__ import annotations

import enum
from typing import Protocol

from montage_cloud.models import Device, DeviceStatus, EnrolmentToken, Meeting, OrgSettings


class TokenRefusal(enum.StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"


class EnrolmentRefused(Exception):
    """The enrolment token cannot be redeemed; `reason` says why."""

    def __init__(self, reason: TokenRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


class StorageUnavailable(Exception):
    """The database cannot be reached or is overloaded; the request may be retried."""


class Storage(Protocol):
    """Everything the cloud remembers. Each method is atomic on its own.

    Implementations keep no state of their own in memory, so any number of
    API processes may share one database.
    """

    async def create_enrolment_token(self, token: EnrolmentToken) -> None: ...

    async def redeem_enrolment_token(self, token_hash: str, now: float) -> str:
        """Use up one use of the token and return its organisation, or raise EnrolmentRefused."""

    async def add_device(self, device: Device) -> None: ...

    async def get_device(self, device_id: str) -> Device | None: ...

    async def device_by_secret(self, secret_hash: str) -> Device | None: ...

    async def list_devices(self) -> list[Device]: ...

    async def set_device_status(
        self, device_id: str, status: DeviceStatus, now: float
    ) -> Device | None: ...

    async def insert_meeting(self, meeting: Meeting, reusable_before: float) -> bool:
        """Store the meeting unless its ID is held by a meeting that expired after
        `reusable_before` (or is still live); say whether it was stored."""

    async def get_meeting(self, meeting_id: str) -> Meeting | None: ...

    async def refresh_meeting(
        self, meeting_id: str, device_id: str, now: float, expires_at: float
    ) -> bool:
        """Push back the expiry of a live meeting of this device; False if there is none."""

    async def end_meeting(self, meeting_id: str, device_id: str, now: float) -> bool: ...

    async def end_meetings_of(self, device_id: str, now: float) -> int: ...

    async def resolve_failures(self, device_id: str, window_start: float) -> int:
        """Failed resolves of this device counted in a window that began after `window_start`."""

    async def add_resolve_failure(self, device_id: str, now: float, window_start: float) -> int:
        """Count one failed resolve, starting a new window at `now` if the device's
        window began at or before `window_start`; return the count in its window."""

    async def get_org_settings(self, org: str) -> OrgSettings | None:
        """The organisation's settings, or None if they were never changed."""

    async def set_org_settings(self, settings: OrgSettings) -> None: ...

    async def rate_hits(self, key: str, window_start: float) -> int:
        """Hits counted for `key` in a window that began after `window_start`."""

    async def add_rate_hit(self, key: str, now: float, window_start: float) -> int:
        """Count one hit for `key` (a new window from `now` if its window began at or
        before `window_start`); return the count in its window."""

    async def close(self) -> None: ...
