"""The cloud's REST API from a device's side (docs/cloud-api.md).

Each error the API can answer becomes a `MontageError` with a sentence for
the person; the server's own message is kept for the log. The device
secret travels only in the Authorization header and is never logged.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from montage_core.net import ProxyResolver, ProxySettings, proxied_session
from montage_core.protocol.errors import (
    CloudUnavailable,
    DeviceRevoked,
    InvalidInput,
    InvalidMeetingId,
    MeetingNotFound,
    MontageError,
    NotEnrolled,
)
from montage_core.protocol.meeting_id import CloudMeetingId

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT = 10.0

REMOVED = "This device was removed from your organisation's Montage account."
SUSPENDED = "This device was suspended from your organisation's Montage account."


def revoked(status: str) -> DeviceRevoked:
    """The error for a device the administrator cut off ("suspended" or "removed")."""
    return DeviceRevoked(SUSPENDED if status == "suspended" else REMOVED, status)


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    kind: str
    secret: str
    jid: str
    xmpp_password: str
    # Where XMPP listens, as the cloud says; None from a cloud that does not say.
    xmpp_host: str | None = None
    xmpp_port: int | None = None

    def __repr__(self) -> str:  # the secrets stay out of any log or traceback
        return f"Enrolment(device_id={self.device_id!r}, kind={self.kind!r}, jid={self.jid!r})"


@dataclass(frozen=True)
class ResolvedMeeting:
    meeting_id: str
    jid: str  # the receiver's full XMPP address
    endpoints: tuple[str, ...]  # the receiver's LAN endpoints, "host:port"
    fingerprint: str  # the receiver's TLS certificate, "sha-256 HEX"
    expires_at: float

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ResolvedMeeting:
        return cls(
            meeting_id=str(data["meeting_id"]),
            jid=str(data["jid"]),
            endpoints=tuple(str(e) for e in data["endpoints"]),
            fingerprint=str(data["fingerprint"]),
            expires_at=float(data["expires_at"]),
        )


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    password: str
    expires_at: float
    uris: tuple[str, ...]

    def __repr__(self) -> str:
        return f"TurnCredentials(username={self.username!r}, uris={self.uris!r})"

    @property
    def turns_uri(self) -> str | None:
        """The first TURN over TLS URI (`turns:host:port?transport=tcp`), if offered."""
        return next((u for u in self.uris if u.startswith("turns:")), None)

    @property
    def preferred_uri(self) -> str:
        """TURN over TLS when offered (it passes where HTTPS does), else the first."""
        return self.turns_uri or self.uris[0]

    @property
    def turns_endpoint(self) -> tuple[str, int] | None:
        """Host and port of `turns_uri` (443 when it names none)."""
        if self.turns_uri is None:
            return None
        where = self.turns_uri.removeprefix("turns:").split("?", 1)[0]
        host, _, port = where.rpartition(":")
        if host and port.isdigit():
            return host.strip("[]"), int(port)
        return where.strip("[]"), 443


class CloudApi:
    """One device's REST client. Use as `async with CloudApi(...) as api:`.

    Requests take the route `proxy` chooses for the cloud's address (none:
    direct); a proxy's refusal arrives as its own `ProxyProblem` sentence.
    """

    def __init__(
        self,
        url: str,
        tls: ssl.SSLContext,
        secret: str | None = None,
        *,
        proxy: ProxySettings | ProxyResolver | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._tls = tls
        self._secret = secret
        self._proxy = proxy if proxy is not None else ProxySettings()
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> CloudApi:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.close()

    # -- calls -----------------------------------------------------------------
    async def enrol(self, token: str, kind: str, name: str) -> Enrolment:
        data = await self._call(
            "POST", "/v1/enrol", json={"token": token, "kind": kind, "name": name}, auth=False
        )
        return Enrolment(
            device_id=str(data["device"]["device_id"]),
            kind=str(data["device"]["kind"]),
            secret=str(data["secret"]),
            jid=str(data["xmpp"]["jid"]),
            xmpp_password=str(data["xmpp"]["password"]),
            **_xmpp_endpoint(data["xmpp"]),
        )

    async def me(self) -> dict[str, Any]:
        device: dict[str, Any] = await self._call("GET", "/v1/devices/me")
        return device

    async def open_meeting(
        self, endpoints: list[str], fingerprint: str, jid: str
    ) -> ResolvedMeeting:
        data = await self._call(
            "POST",
            "/v1/meetings",
            json={"endpoints": endpoints, "fingerprint": fingerprint, "jid": jid},
        )
        return ResolvedMeeting.from_wire(data)

    async def refresh_meeting(self, meeting_id: str) -> ResolvedMeeting:
        data = await self._call("POST", f"/v1/meetings/{meeting_id}/refresh")
        return ResolvedMeeting.from_wire(data)

    async def end_meeting(self, meeting_id: str) -> None:
        await self._call("DELETE", f"/v1/meetings/{meeting_id}")

    async def resolve(self, meeting: CloudMeetingId) -> ResolvedMeeting:
        data = await self._call("GET", f"/v1/meetings/{meeting.digits}", meeting=meeting)
        return ResolvedMeeting.from_wire(data)

    async def turn(self) -> TurnCredentials:
        data = await self._call("POST", "/v1/turn")
        return TurnCredentials(
            username=str(data["username"]),
            password=str(data["password"]),
            expires_at=float(data["expires_at"]),
            uris=tuple(str(u) for u in data["uris"]),
        )

    async def revocation(self) -> DeviceRevoked | None:
        """Whether the administrator has cut this device off (None: not, or cannot tell)."""
        try:
            await self.me()
        except DeviceRevoked as exc:
            return exc
        except MontageError as exc:
            logger.info("cannot tell whether this device is still enrolled: %s", exc)
        return None

    # -- plumbing --------------------------------------------------------------
    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        auth: bool = True,
        meeting: CloudMeetingId | None = None,
    ) -> Any:
        headers = {}
        if auth:
            if self._secret is None:
                raise NotEnrolled("This device is not enrolled with a Montage cloud.")
            headers["Authorization"] = f"Bearer {self._secret}"
        try:
            if self._http is None:
                self._http = await proxied_session(
                    self.url, self._proxy, timeout=REQUEST_TIMEOUT, tls=self._tls
                )
            async with self._http.request(
                method, self.url + path, json=json, headers=headers
            ) as response:
                if response.status == 204:
                    return None
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
                if response.status >= 400 or not isinstance(body, dict):
                    raise _refusal(response.status, body, meeting)
                return body
        except MontageError:
            raise
        except TimeoutError as exc:
            raise CloudUnavailable(
                f"The Montage cloud at {self.url} did not answer within "
                f"{REQUEST_TIMEOUT:.0f} seconds."
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise CloudUnavailable(f"Cannot reach the Montage cloud at {self.url}: {exc}") from exc


def _refusal(status: int, body: Any, meeting: CloudMeetingId | None) -> MontageError:
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code", "")) if isinstance(error, dict) else ""
    said = str(error.get("message", "")) if isinstance(error, dict) else ""
    logger.info("cloud refused (%d %s): %s", status, code or "no code", said)
    shown = meeting.display() if meeting is not None else "this meeting"
    if code in ("device_suspended", "device_removed") and status == 403:
        return revoked("suspended" if code == "device_suspended" else "removed")
    if code == "unauthorized":
        return NotEnrolled(
            "The Montage cloud does not know this device (its enrolment was replaced or "
            "lost). Enrol it again with a token from your administrator."
        )
    if code == "meeting_not_found":
        return MeetingNotFound(
            f"There is no meeting {shown}. Check the ID shown on the meeting-room display."
        )
    if code == "meeting_expired":
        return MeetingNotFound(
            f"Meeting {shown} has ended. Use the ID now shown on the meeting-room display."
        )
    if code == "meeting_id_malformed":
        return InvalidMeetingId("A cloud meeting ID is 6 digits and does not start with 0.")
    if code == "enrolment_token_invalid":
        return InvalidInput("That enrolment token is not valid. Check it with your administrator.")
    if code == "enrolment_token_expired":
        return InvalidInput(
            "That enrolment token has expired. Ask your administrator for a new one."
        )
    if code == "enrolment_token_used_up":
        return InvalidInput(
            "That enrolment token has been used as often as allowed. Ask your administrator "
            "for a new one."
        )
    if code == "too_many_attempts":
        return MontageError(said or "Too many wrong meeting IDs from this device; wait a while.")
    if status >= 500 or not code:
        return CloudUnavailable(
            f"The Montage cloud could not answer (HTTP {status}"
            f"{', ' + code if code else ''}). Try again shortly."
        )
    return MontageError(f"The Montage cloud refused: {said or code}")


def _xmpp_endpoint(xmpp: dict[str, Any]) -> dict[str, Any]:
    """The XMPP host and port of an enrolment answer, when given and well-formed."""
    host, port = xmpp.get("host"), xmpp.get("port")
    if isinstance(host, str) and host and isinstance(port, int) and 0 < port < 65536:
        return {"xmpp_host": host, "xmpp_port": port}
    return {}
