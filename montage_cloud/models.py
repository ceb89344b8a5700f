"""Records the cloud keeps: enrolment tokens, devices, meetings.

Times are Unix seconds (float). Secrets never appear here: only their hashes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class DeviceKind(enum.StrEnum):
    RECEIVER = "receiver"
    CLIENT = "client"


class DeviceStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    # Deleted devices keep their row so that their secret is answered with
    # `device_removed` (the client says so in words) rather than "unknown".
    REMOVED = "removed"


@dataclass(frozen=True)
class EnrolmentToken:
    token_hash: str
    org: str
    uses_left: int
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class Device:
    device_id: str
    org: str
    kind: DeviceKind
    name: str
    status: DeviceStatus
    secret_hash: str
    xmpp_username: str
    enrolled_at: float
    status_changed_at: float

    def to_wire(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "org": self.org,
            "kind": self.kind.value,
            "name": self.name,
            "status": self.status.value,
            "xmpp_username": self.xmpp_username,
            "enrolled_at": self.enrolled_at,
            "status_changed_at": self.status_changed_at,
        }


@dataclass(frozen=True)
class Meeting:
    meeting_id: str
    device_id: str
    jid: str
    endpoints: tuple[str, ...]
    fingerprint: str
    created_at: float
    expires_at: float

    def is_live(self, now: float) -> bool:
        return now < self.expires_at

    def to_wire(self) -> dict[str, Any]:
        return {
            "meeting_id": self.meeting_id,
            "jid": self.jid,
            "endpoints": list(self.endpoints),
            "fingerprint": self.fingerprint,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True)
class OrgSettings:
    """An organisation's choices. An organisation nobody has configured gets the defaults."""

    org: str
    # Whether people without a device (the browser page's guests) may share to its rooms.
    guests_allowed: bool = True
    changed_at: float = 0.0

    def to_wire(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "guests_allowed": self.guests_allowed,
            "changed_at": self.changed_at,
        }
