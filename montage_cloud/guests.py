"""Who may join a meeting as a guest (the browser page), and how often.

A guest has no device secret, and the internet is full of them, so the cloud
decides before it relays a single protocol message (docs/protocol.md §17):

1. **Guest logins per network**: at most `joins_per_ip` joins per `window`
   from one IPv4 address or IPv6 /64 (a machine there has the whole /64).
2. **Meeting-ID look-ups per network**: at most `misses_per_ip` unknown or
   ended IDs per `window`. The count is checked *before* the look-up, so
   once it is spent even a right ID is refused: 900 000 IDs cannot be swept.
3. **The organisation's setting**: a meeting whose receiver belongs to an
   organisation that disallows guests is refused.
4. Admitted guests get TURN credentials of their own (`<expiry>:guest-<id>`).

The fourth rule, a PIN lockout shared by every guest of one meeting, is the
receiver's (montage_core.guests). Counts live in the database, so every API
process applies the same limits. Clock and randomness are injected.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from montage_cloud.errors import (
    ApiError,
    ErrorCode,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unavailable,
)
from montage_cloud.models import Meeting, OrgSettings
from montage_cloud.service import CloudService
from montage_cloud.turn import TurnCredentials, issue_turn_credentials

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuestRules:
    # An office's visitors may share one address: room for a busy day's
    # meetings, far too few for a script.
    joins_per_ip: int = 20
    # A person mistypes a handful; a sweep of the ID space needs hundreds of thousands.
    misses_per_ip: int = 10
    window: int = 600
    # Long enough for a share through the relay: coturn refuses to refresh an
    # allocation once its credential has expired, and a browser cannot swap
    # credentials without an ICE restart, which the receiver (aiortc) lacks.
    turn_ttl: int = 7200


@dataclass(frozen=True)
class GuestAdmission:
    guest_id: str
    meeting: Meeting
    turn: TurnCredentials | None


class GuestService:
    def __init__(
        self,
        cloud: CloudService,
        rules: GuestRules | None = None,
        *,
        clock: Callable[[], float] = time.time,
        token: Callable[[int], str] = secrets.token_hex,
    ) -> None:
        self.cloud = cloud
        self.rules = rules or GuestRules()
        self._clock = clock
        self._token = token

    async def admit(self, address: str, meeting_id: str) -> GuestAdmission:
        """Let a guest from `address` into `meeting_id`, or raise the ApiError to show."""
        rules, storage = self.rules, self.cloud.storage
        now = self._clock()
        window_start = now - rules.window
        network = network_of(address)
        if await storage.add_rate_hit(f"guest-join:{network}", now, window_start) > (
            rules.joins_per_ip
        ):
            logger.info("guest join from %s refused: too many joins", network)
            raise TooManyRequests(
                ErrorCode.TOO_MANY_ATTEMPTS,
                f"Too many guests joined from your network in the last {self._minutes()}."
                " Wait a few minutes, then try again.",
                retry_after=rules.window,
            )
        misses = f"guest-miss:{network}"
        if await storage.rate_hits(misses, window_start) >= rules.misses_per_ip:
            raise self._too_many_misses()
        try:
            meeting = await self.cloud.live_meeting(meeting_id)
        except ApiError as error:
            if isinstance(error, NotFound) or error.status == 400:
                count = await storage.add_rate_hit(misses, now, window_start)
                logger.info("guest from %s: no meeting %r (%d)", network, meeting_id[:16], count)
                if count > rules.misses_per_ip:  # raced past the check in another request
                    raise self._too_many_misses() from None
            raise
        receiver = await storage.get_device(meeting.device_id)
        org = receiver.org if receiver is not None else ""
        if not (await self.org_settings(org)).guests_allowed:
            logger.info("guest from %s refused: %r does not allow guests", network, org)
            raise Forbidden(
                ErrorCode.GUESTS_NOT_ALLOWED,
                "This organisation does not let guests share to its rooms."
                " Use the Montage app on one of its computers, or ask the room's host.",
            )
        guest_id = f"guest-{self._token(8)}"
        turn = None
        if self.cloud.config.turn is not None:
            config = dataclasses.replace(self.cloud.config.turn, ttl=rules.turn_ttl)
            turn = issue_turn_credentials(config, guest_id, now)
        logger.info("%s from %s admitted to meeting %s", guest_id, network, meeting_id)
        return GuestAdmission(guest_id, meeting, turn)

    async def org_settings(self, org: str) -> OrgSettings:
        return await self.cloud.storage.get_org_settings(org) or OrgSettings(org)

    async def set_guests_allowed(self, org: str, allowed: bool) -> OrgSettings:
        settings = OrgSettings(org, guests_allowed=allowed, changed_at=self._clock())
        await self.cloud.storage.set_org_settings(settings)
        logger.info("organisation %r: guests %s", org, "allowed" if allowed else "not allowed")
        return settings

    def _too_many_misses(self) -> TooManyRequests:
        return TooManyRequests(
            ErrorCode.TOO_MANY_ATTEMPTS,
            "Too many meeting IDs typed on your network were wrong or out of date."
            f" Wait up to {self._minutes()}, then check the ID on the meeting-room display.",
            retry_after=self.rules.window,
        )

    def _minutes(self) -> str:
        minutes = max(1, self.rules.window // 60)
        return "minute" if minutes == 1 else f"{minutes} minutes"


def guests_unavailable() -> Unavailable:
    return Unavailable(
        ErrorCode.GUESTS_UNAVAILABLE,
        "This Montage cloud cannot take guests right now: its messaging service is not"
        " connected. Try again in a minute, or use the Montage app.",
    )


def network_of(address: str) -> str:
    """What the per-network limits count: the IPv4 address, or the IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # a Unix socket in tests, or whatever the server reports
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
