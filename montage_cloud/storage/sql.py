"""SQL shared by the SQLite and PostgreSQL back-ends, and the row ↔ record mapping.

Statements use `?` placeholders (SQLite's); the PostgreSQL back-end rewrites
them to `%s`, which is why no statement may contain a literal `?` or `%`.
Both databases support `ON CONFLICT … DO UPDATE … WHERE` and `RETURNING`,
which is what makes meeting-ID allocation and token redemption atomic
without locks held across statements.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from montage_cloud.models import (
    Device,
    DeviceKind,
    DeviceStatus,
    EnrolmentToken,
    Meeting,
    OrgSettings,
)
from montage_cloud.storage.base import EnrolmentRefused, TokenRefusal

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS enrolment_tokens (
        token_hash TEXT PRIMARY KEY,
        org TEXT NOT NULL,
        uses_left INTEGER NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS devices (
        device_id TEXT PRIMARY KEY,
        org TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        xmpp_username TEXT NOT NULL,
        enrolled_at DOUBLE PRECISION NOT NULL,
        status_changed_at DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS meetings (
        meeting_id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        jid TEXT NOT NULL,
        endpoints TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS meetings_by_device ON meetings (device_id)",
    # Kept in the database, not in memory, so that every API process sees the count.
    """CREATE TABLE IF NOT EXISTS resolve_failures (
        device_id TEXT PRIMARY KEY,
        window_start DOUBLE PRECISION NOT NULL,
        failures INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS org_settings (
        org TEXT PRIMARY KEY,
        guests_allowed INTEGER NOT NULL,
        changed_at DOUBLE PRECISION NOT NULL
    )""",
    # Per-IP counts for guests (montage_cloud/guests.py), shared by every API process.
    """CREATE TABLE IF NOT EXISTS rate_limits (
        rate_key TEXT PRIMARY KEY,
        window_start DOUBLE PRECISION NOT NULL,
        hits INTEGER NOT NULL
    )""",
)

_DEVICE_COLUMNS = (
    "device_id, org, kind, name, status, secret_hash, xmpp_username, enrolled_at, status_changed_at"
)
_MEETING_COLUMNS = "meeting_id, device_id, jid, endpoints, fingerprint, created_at, expires_at"

Row = tuple[Any, ...]


def _device(row: Row) -> Device:
    return Device(
        device_id=row[0],
        org=row[1],
        kind=DeviceKind(row[2]),
        name=row[3],
        status=DeviceStatus(row[4]),
        secret_hash=row[5],
        xmpp_username=row[6],
        enrolled_at=float(row[7]),
        status_changed_at=float(row[8]),
    )


def _meeting(row: Row) -> Meeting:
    return Meeting(
        meeting_id=row[0],
        device_id=row[1],
        jid=row[2],
        endpoints=tuple(json.loads(row[3])),
        fingerprint=row[4],
        created_at=float(row[5]),
        expires_at=float(row[6]),
    )


class SqlStorage(ABC):
    """`Storage` in SQL; a back-end supplies how one statement is run."""

    @abstractmethod
    async def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement in its own transaction; return its rows (if any)."""

    @abstractmethod
    async def close(self) -> None: ...

    async def create_enrolment_token(self, token: EnrolmentToken) -> None:
        await self._run(
            "INSERT INTO enrolment_tokens (token_hash, org, uses_left, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (token.token_hash, token.org, token.uses_left, token.created_at, token.expires_at),
        )

    async def redeem_enrolment_token(self, token_hash: str, now: float) -> str:
        rows = await self._run(
            "UPDATE enrolment_tokens SET uses_left = uses_left - 1"
            " WHERE token_hash = ? AND uses_left > 0 AND expires_at > ? RETURNING org",
            (token_hash, now),
        )
        if rows:
            return str(rows[0][0])
        # Only to say why: the refusal above was already atomic.
        found = await self._run(
            "SELECT uses_left, expires_at FROM enrolment_tokens WHERE token_hash = ?",
            (token_hash,),
        )
        if not found:
            raise EnrolmentRefused(TokenRefusal.UNKNOWN)
        if float(found[0][1]) <= now:
            raise EnrolmentRefused(TokenRefusal.EXPIRED)
        raise EnrolmentRefused(TokenRefusal.USED_UP)

    async def add_device(self, device: Device) -> None:
        await self._run(
            f"INSERT INTO devices ({_DEVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                device.device_id,
                device.org,
                device.kind.value,
                device.name,
                device.status.value,
                device.secret_hash,
                device.xmpp_username,
                device.enrolled_at,
                device.status_changed_at,
            ),
        )

    async def get_device(self, device_id: str) -> Device | None:
        rows = await self._run(
            f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE device_id = ?", (device_id,)
        )
        return _device(rows[0]) if rows else None

    async def device_by_secret(self, secret_hash: str) -> Device | None:
        rows = await self._run(
            f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE secret_hash = ?", (secret_hash,)
        )
        return _device(rows[0]) if rows else None

    async def list_devices(self) -> list[Device]:
        rows = await self._run(
            f"SELECT {_DEVICE_COLUMNS} FROM devices ORDER BY enrolled_at, device_id"
        )
        return [_device(row) for row in rows]

    async def set_device_status(
        self, device_id: str, status: DeviceStatus, now: float
    ) -> Device | None:
        rows = await self._run(
            f"UPDATE devices SET status = ?, status_changed_at = ? WHERE device_id = ?"
            f" RETURNING {_DEVICE_COLUMNS}",
            (status.value, now, device_id),
        )
        return _device(rows[0]) if rows else None

    async def insert_meeting(self, meeting: Meeting, reusable_before: float) -> bool:
        rows = await self._run(
            f"INSERT INTO meetings ({_MEETING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (meeting_id) DO UPDATE SET"
            " device_id = excluded.device_id, jid = excluded.jid,"
            " endpoints = excluded.endpoints, fingerprint = excluded.fingerprint,"
            " created_at = excluded.created_at, expires_at = excluded.expires_at"
            " WHERE meetings.expires_at <= ?"
            " RETURNING meeting_id",
            (
                meeting.meeting_id,
                meeting.device_id,
                meeting.jid,
                json.dumps(list(meeting.endpoints)),
                meeting.fingerprint,
                meeting.created_at,
                meeting.expires_at,
                reusable_before,
            ),
        )
        return bool(rows)

    async def get_meeting(self, meeting_id: str) -> Meeting | None:
        rows = await self._run(
            f"SELECT {_MEETING_COLUMNS} FROM meetings WHERE meeting_id = ?", (meeting_id,)
        )
        return _meeting(rows[0]) if rows else None

    async def refresh_meeting(
        self, meeting_id: str, device_id: str, now: float, expires_at: float
    ) -> bool:
        rows = await self._run(
            "UPDATE meetings SET expires_at = ?"
            " WHERE meeting_id = ? AND device_id = ? AND expires_at > ? RETURNING meeting_id",
            (expires_at, meeting_id, device_id, now),
        )
        return bool(rows)

    async def end_meeting(self, meeting_id: str, device_id: str, now: float) -> bool:
        rows = await self._run(
            "UPDATE meetings SET expires_at = ?"
            " WHERE meeting_id = ? AND device_id = ? AND expires_at > ? RETURNING meeting_id",
            (now, meeting_id, device_id, now),
        )
        return bool(rows)

    async def resolve_failures(self, device_id: str, window_start: float) -> int:
        rows = await self._run(
            "SELECT failures FROM resolve_failures WHERE device_id = ? AND window_start > ?",
            (device_id, window_start),
        )
        return int(rows[0][0]) if rows else 0

    async def add_resolve_failure(self, device_id: str, now: float, window_start: float) -> int:
        rows = await self._run(
            "INSERT INTO resolve_failures (device_id, window_start, failures) VALUES (?, ?, 1)"
            " ON CONFLICT (device_id) DO UPDATE SET"
            " failures = CASE WHEN resolve_failures.window_start <= ? THEN 1"
            " ELSE resolve_failures.failures + 1 END,"
            " window_start = CASE WHEN resolve_failures.window_start <= ?"
            " THEN excluded.window_start ELSE resolve_failures.window_start END"
            " RETURNING failures",
            (device_id, now, window_start, window_start),
        )
        return int(rows[0][0])

    async def end_meetings_of(self, device_id: str, now: float) -> int:
        rows = await self._run(
            "UPDATE meetings SET expires_at = ?"
            " WHERE device_id = ? AND expires_at > ? RETURNING meeting_id",
            (now, device_id, now),
        )
        return len(rows)

    async def get_org_settings(self, org: str) -> OrgSettings | None:
        rows = await self._run(
            "SELECT org, guests_allowed, changed_at FROM org_settings WHERE org = ?", (org,)
        )
        if not rows:
            return None
        return OrgSettings(
            org=rows[0][0], guests_allowed=bool(rows[0][1]), changed_at=float(rows[0][2])
        )

    async def set_org_settings(self, settings: OrgSettings) -> None:
        await self._run(
            "INSERT INTO org_settings (org, guests_allowed, changed_at) VALUES (?, ?, ?)"
            " ON CONFLICT (org) DO UPDATE SET"
            " guests_allowed = excluded.guests_allowed, changed_at = excluded.changed_at",
            (settings.org, int(settings.guests_allowed), settings.changed_at),
        )

    async def rate_hits(self, key: str, window_start: float) -> int:
        rows = await self._run(
            "SELECT hits FROM rate_limits WHERE rate_key = ? AND window_start > ?",
            (key, window_start),
        )
        return int(rows[0][0]) if rows else 0

    async def add_rate_hit(self, key: str, now: float, window_start: float) -> int:
        rows = await self._run(
            "INSERT INTO rate_limits (rate_key, window_start, hits) VALUES (?, ?, 1)"
            " ON CONFLICT (rate_key) DO UPDATE SET"
            " hits = CASE WHEN rate_limits.window_start <= ? THEN 1"
            " ELSE rate_limits.hits + 1 END,"
            " window_start = CASE WHEN rate_limits.window_start <= ?"
            " THEN excluded.window_start ELSE rate_limits.window_start END"
            " RETURNING hits",
            (key, now, window_start, window_start),
        )
        return int(rows[0][0])
