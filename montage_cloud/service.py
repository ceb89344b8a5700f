"""The cloud's rules, without HTTP: enrolment, authentication, meetings, TURN, revocation.

`api.py` turns requests into calls here and `ApiError`s into responses; the
CLI's admin commands call the same methods. Clock and randomness are
injected so tests can expire things exactly.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from montage_cloud import credentials
from montage_cloud.errors import (
    BadRequest,
    Conflict,
    ErrorCode,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from montage_cloud.meeting_ids import is_meeting_id, random_meeting_id
from montage_cloud.models import Device, DeviceKind, DeviceStatus, EnrolmentToken, Meeting
from montage_cloud.request_bodies import EnrolRequest, MeetingRequest, TokenRequest
from montage_cloud.storage import EnrolmentRefused, Storage, TokenRefusal
from montage_cloud.turn import TurnConfig, TurnCredentials, issue_turn_credentials
from montage_cloud.xmpp_admin import XmppAdmin

logger = logging.getLogger(__name__)

# Random draws before giving up; with 900 000 IDs this only fails when the
# space is nearly full, which a deployment should see long before.
MAX_ALLOCATION_TRIES = 32


@dataclass(frozen=True)
class CloudConfig:
    xmpp_domain: str = "montage.localhost"
    # Where devices reach XMPP (direct TLS, XEP-0368): told in every enrolment
    # answer, so no device needs `--xmpp`. None: the domain itself on 443.
    xmpp_host: str | None = None
    xmpp_port: int = 443
    # The receiver refreshes its meeting well within this (every third of it).
    meeting_ttl: int = 300
    # An ended meeting's ID is not handed out again for this long, so a stale
    # ID typed soon after says "ended" instead of joining someone else's meeting.
    meeting_id_quarantine: int = 3600
    turn: TurnConfig | None = None
    admin_token: str | None = None
    # Wrong or stale IDs a device may try per window before it must wait: far
    # more than a person mistypes, far too few to sweep 900 000 IDs for the
    # LAN addresses of other organisations' receivers.
    resolve_failure_limit: int = 30
    resolve_failure_window: int = 600


@dataclass(frozen=True)
class IssuedToken:
    token: str
    record: EnrolmentToken


@dataclass(frozen=True)
class Enrolment:
    device: Device
    secret: str
    xmpp_jid: str
    xmpp_password: str
    xmpp_host: str
    xmpp_port: int


_TOKEN_REFUSALS = {
    TokenRefusal.UNKNOWN: (
        ErrorCode.ENROLMENT_TOKEN_INVALID,
        "This enrolment token is not valid. Check it with your administrator.",
    ),
    TokenRefusal.EXPIRED: (
        ErrorCode.ENROLMENT_TOKEN_EXPIRED,
        "This enrolment token has expired. Ask your administrator for a new one.",
    ),
    TokenRefusal.USED_UP: (
        ErrorCode.ENROLMENT_TOKEN_USED_UP,
        "This enrolment token has been used as many times as it allows."
        " Ask your administrator for a new one.",
    ),
}


class CloudService:
    def __init__(
        self,
        storage: Storage,
        xmpp: XmppAdmin,
        config: CloudConfig,
        *,
        clock: Callable[[], float] = time.time,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        self.storage = storage
        self.xmpp = xmpp
        self.config = config
        self._clock = clock
        self._randbelow = randbelow

    # Enrolment

    async def issue_enrolment_token(self, request: TokenRequest) -> IssuedToken:
        now = self._clock()
        token = credentials.new_enrolment_token()
        record = EnrolmentToken(
            token_hash=credentials.hash_secret(token),
            org=request.org,
            uses_left=request.uses,
            created_at=now,
            expires_at=now + request.ttl,
        )
        await self.storage.create_enrolment_token(record)
        logger.info("enrolment token issued for org %r (%d uses)", request.org, request.uses)
        return IssuedToken(token, record)

    async def enrol(self, request: EnrolRequest) -> Enrolment:
        now = self._clock()
        try:
            org = await self.storage.redeem_enrolment_token(
                credentials.hash_secret(request.token), now
            )
        except EnrolmentRefused as refused:
            code, message = _TOKEN_REFUSALS[refused.reason]
            logger.info("enrolment refused: %s", refused.reason)
            raise Forbidden(code, message) from None
        device_id = credentials.new_device_id()
        secret = credentials.new_device_secret()
        xmpp_password = credentials.new_xmpp_password()
        try:
            await self.xmpp.create_account(device_id, xmpp_password)
        except Exception:
            # The token use is spent; the administrator can issue another.
            logger.exception("could not create the XMPP account for %s", device_id)
            raise Unavailable(
                ErrorCode.XMPP_UNAVAILABLE,
                "The messaging service could not create this device's account. Try again later.",
            ) from None
        device = Device(
            device_id=device_id,
            org=org,
            kind=request.kind,
            name=request.name,
            status=DeviceStatus.ACTIVE,
            secret_hash=credentials.hash_secret(secret),
            xmpp_username=device_id,
            enrolled_at=now,
            status_changed_at=now,
        )
        await self.storage.add_device(device)
        logger.info("enrolled %s %s (%r) in org %r", request.kind, device_id, request.name, org)
        return Enrolment(
            device,
            secret,
            f"{device_id}@{self.config.xmpp_domain}",
            xmpp_password,
            self.config.xmpp_host or self.config.xmpp_domain,
            self.config.xmpp_port,
        )

    # Authentication

    async def authenticate(self, authorization: str | None) -> Device:
        """The active device whose secret is the bearer token, or the error to answer."""
        secret = _bearer(authorization)
        device = await self.storage.device_by_secret(credentials.hash_secret(secret))
        if device is None:
            raise _unauthorized("This device is not enrolled, or its credentials are wrong.")
        if device.status is DeviceStatus.SUSPENDED:
            raise Forbidden(
                ErrorCode.DEVICE_SUSPENDED,
                "This device has been suspended by your organisation's administrator.",
            )
        if device.status is DeviceStatus.REMOVED:
            raise Forbidden(
                ErrorCode.DEVICE_REMOVED,
                "This device has been removed from your organisation. Enrol it again to use it.",
            )
        return device

    def check_admin(self, authorization: str | None) -> None:
        expected = self.config.admin_token
        if not expected:
            raise Forbidden(
                ErrorCode.ADMIN_DISABLED,
                "The administration API is off: the server was started without an admin token.",
            )
        given = _bearer(authorization)
        if not hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
        ):
            raise _unauthorized("The admin token is wrong.")

    # Meetings

    async def allocate_meeting(self, device: Device, request: MeetingRequest) -> Meeting:
        _require_kind(device, DeviceKind.RECEIVER, "Only a receiver can open a meeting.")
        bare_jid = request.jid.split("/", 1)[0]
        if bare_jid != f"{device.xmpp_username}@{self.config.xmpp_domain}":
            raise BadRequest(ErrorCode.BAD_REQUEST, "'jid' must be this device's XMPP account.")
        for _ in range(MAX_ALLOCATION_TRIES):
            now = self._clock()
            meeting = Meeting(
                meeting_id=random_meeting_id(self._randbelow),
                device_id=device.device_id,
                jid=request.jid,
                endpoints=request.endpoints,
                fingerprint=request.fingerprint,
                created_at=now,
                expires_at=now + self.config.meeting_ttl,
            )
            reusable_before = now - self.config.meeting_id_quarantine
            if await self.storage.insert_meeting(meeting, reusable_before):
                logger.info("meeting %s opened by %s", meeting.meeting_id, device.device_id)
                return meeting
        logger.error("no free meeting ID after %d tries", MAX_ALLOCATION_TRIES)
        raise Unavailable(
            ErrorCode.MEETING_IDS_EXHAUSTED, "No meeting ID is free right now. Try again shortly."
        )

    async def refresh_meeting(self, device: Device, meeting_id: str) -> Meeting:
        _require_kind(device, DeviceKind.RECEIVER, "Only a receiver can keep a meeting open.")
        meeting = await self._own_live_meeting(device, meeting_id)
        now = self._clock()
        expires_at = now + self.config.meeting_ttl
        if not await self.storage.refresh_meeting(meeting_id, device.device_id, now, expires_at):
            raise _meeting_expired(meeting_id)  # expired between the two statements
        return dataclasses.replace(meeting, expires_at=expires_at)

    async def end_meeting(self, device: Device, meeting_id: str) -> None:
        _require_kind(device, DeviceKind.RECEIVER, "Only a receiver can end a meeting.")
        await self._own_live_meeting(device, meeting_id)
        await self.storage.end_meeting(meeting_id, device.device_id, self._clock())
        logger.info("meeting %s ended by %s", meeting_id, device.device_id)

    async def resolve_meeting(self, device: Device, meeting_id: str) -> Meeting:
        """The live meeting a person typed the ID of, counting misses against the device."""
        now = self._clock()
        window_start = now - self.config.resolve_failure_window
        limit = self.config.resolve_failure_limit
        if await self.storage.resolve_failures(device.device_id, window_start) >= limit:
            raise self._too_many_attempts()
        try:
            return await self.live_meeting(meeting_id)
        except NotFound:
            failures = await self.storage.add_resolve_failure(device.device_id, now, window_start)
            if failures > limit:  # raced past the check above in another request
                raise self._too_many_attempts() from None
            raise

    def _too_many_attempts(self) -> TooManyRequests:
        minutes = max(1, self.config.resolve_failure_window // 60)
        return TooManyRequests(
            ErrorCode.TOO_MANY_ATTEMPTS,
            "Too many meeting IDs from this device were wrong or out of date."
            f" Wait up to {minutes} minutes, then check the ID on the meeting-room display.",
            retry_after=self.config.resolve_failure_window,
        )

    async def live_meeting(self, meeting_id: str) -> Meeting:
        """The live meeting with this ID, or NotFound/BadRequest with the sentence to show."""
        _check_meeting_id(meeting_id)
        meeting = await self.storage.get_meeting(meeting_id)
        if meeting is None:
            raise NotFound(
                ErrorCode.MEETING_NOT_FOUND,
                f"There is no meeting {meeting_id}."
                " Check the ID shown on the meeting-room display.",
            )
        if not meeting.is_live(self._clock()):
            raise _meeting_expired(meeting_id)
        return meeting

    async def _own_live_meeting(self, device: Device, meeting_id: str) -> Meeting:
        meeting = await self.live_meeting(meeting_id)
        if meeting.device_id != device.device_id:
            raise Forbidden(ErrorCode.NOT_MEETING_OWNER, "This meeting belongs to another device.")
        return meeting

    # TURN

    def turn_credentials(self, device: Device) -> TurnCredentials:
        if self.config.turn is None:
            raise Unavailable(
                ErrorCode.TURN_UNAVAILABLE, "This cloud has no relay (TURN) server configured."
            )
        return issue_turn_credentials(self.config.turn, device.device_id, self._clock())

    # Administration

    async def list_devices(self) -> list[Device]:
        return await self.storage.list_devices()

    async def get_device(self, device_id: str) -> Device:
        device = (
            await self.storage.get_device(device_id)
            if credentials.is_device_id(device_id)
            else None
        )
        if device is None:
            raise NotFound(ErrorCode.DEVICE_NOT_FOUND, f"There is no device {device_id!r}.")
        return device

    async def suspend_device(self, device_id: str) -> Device:
        device = await self.get_device(device_id)
        if device.status is DeviceStatus.REMOVED:
            raise _already_removed(device_id)
        device = await self._set_status(device, DeviceStatus.SUSPENDED)
        await self._cut_off(device)
        return device

    async def resume_device(self, device_id: str) -> Device:
        device = await self.get_device(device_id)
        if device.status is DeviceStatus.REMOVED:
            raise _already_removed(device_id)
        device = await self._set_status(device, DeviceStatus.ACTIVE)
        try:
            await self.xmpp.enable_account(device.xmpp_username)
        except Exception:
            logger.exception("could not enable the XMPP account of %s", device_id)
        return device

    async def delete_device(self, device_id: str) -> Device:
        device = await self.get_device(device_id)
        device = await self._set_status(device, DeviceStatus.REMOVED)
        await self._cut_off(device)
        try:
            await self.xmpp.delete_account(device.xmpp_username)
        except Exception:
            logger.exception("could not delete the XMPP account of %s", device_id)
        return device

    async def _set_status(self, device: Device, status: DeviceStatus) -> Device:
        updated = await self.storage.set_device_status(device.device_id, status, self._clock())
        if updated is None:  # deleted from the database by hand meanwhile
            raise NotFound(ErrorCode.DEVICE_NOT_FOUND, f"There is no device {device.device_id!r}.")
        logger.info("device %s is now %s", device.device_id, status)
        return updated

    async def _cut_off(self, device: Device) -> None:
        # The database change above already refuses REST calls and TURN
        # credentials; XMPP is best effort, and failures are logged for the admin.
        ended = await self.storage.end_meetings_of(device.device_id, self._clock())
        if ended:
            logger.info("ended %d meeting(s) of %s", ended, device.device_id)
        try:
            await self.xmpp.disable_account(device.xmpp_username)
            await self.xmpp.kick(device.xmpp_username)
        except Exception:
            logger.exception("could not end the XMPP access of %s", device.device_id)


def _bearer(authorization: str | None) -> str:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _unauthorized("This call needs an 'Authorization: Bearer …' header.")
    return value.strip()


def _unauthorized(message: str) -> Unauthorized:
    return Unauthorized(ErrorCode.UNAUTHORIZED, message)


def _require_kind(device: Device, kind: DeviceKind, message: str) -> None:
    if device.kind is not kind:
        raise Forbidden(ErrorCode.WRONG_DEVICE_KIND, message)


def _check_meeting_id(meeting_id: str) -> None:
    if not is_meeting_id(meeting_id):
        raise BadRequest(
            ErrorCode.MEETING_ID_MALFORMED,
            "A cloud meeting ID is 6 digits and does not start with 0.",
        )


def _meeting_expired(meeting_id: str) -> NotFound:
    return NotFound(
        ErrorCode.MEETING_EXPIRED,
        f"Meeting {meeting_id} has ended. Use the ID now shown on the meeting-room display.",
    )


def _already_removed(device_id: str) -> Conflict:
    return Conflict(
        ErrorCode.DEVICE_REMOVED, f"Device {device_id} was deleted; it must enrol again."
    )
