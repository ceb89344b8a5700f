"""Request bodies: untrusted JSON → typed requests, or `BadRequest` saying what is wrong.

Limits here and the schemas in `openapi.py` describe the same rules; unknown
fields are ignored (so older servers accept newer clients' bodies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from montage_cloud.errors import BadRequest, ErrorCode
from montage_cloud.models import DeviceKind

MAX_NAME_CHARS = 64
MAX_ORG_CHARS = 64
MAX_TOKEN_CHARS = 128
MAX_ENDPOINTS = 16
MAX_JID_CHARS = 512
MAX_USES = 10_000
MIN_TOKEN_TTL = 60
MAX_TOKEN_TTL = 366 * 24 * 3600
DEFAULT_TOKEN_USES = 10
DEFAULT_TOKEN_TTL = 7 * 24 * 3600

ENDPOINT_PATTERN = r"^(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,253}):[0-9]{1,5}$"
FINGERPRINT_PATTERN = r"^sha-256 [0-9A-F]{64}$"
JID_PATTERN = r"^[^@/\s]{1,64}@[^@/\s]{1,255}(/\S{1,255})?$"
_ENDPOINT_RE = re.compile(ENDPOINT_PATTERN)
_FINGERPRINT_RE = re.compile(FINGERPRINT_PATTERN)
_JID_RE = re.compile(JID_PATTERN)


def _bad(message: str) -> BadRequest:
    return BadRequest(ErrorCode.BAD_REQUEST, message)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    return body


def _text(data: dict[str, Any], key: str, limit: int, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _bad(f"{key!r} is required.")
        return None
    if not isinstance(value, str):
        raise _bad(f"{key!r} must be a string.")
    if len(value) > limit:
        raise _bad(f"{key!r} is longer than {limit} characters.")
    return value


def _required_text(data: dict[str, Any], key: str, limit: int) -> str:
    value = _text(data, key, limit)
    assert value is not None  # required=True raised otherwise
    return value


def _integer(data: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = data.get(key, default)
    # bool is an int in Python; JSON true must not pass for 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _bad(f"{key!r} must be an integer.")
    if not low <= value <= high:
        raise _bad(f"{key!r} must be between {low} and {high}.")
    return value


def _name(data: dict[str, Any], key: str, limit: int) -> str:
    name = _required_text(data, key, limit).strip()
    if not name or not name.isprintable():
        raise _bad(f"{key!r} must be a non-empty line of printable text.")
    return name


@dataclass(frozen=True)
class EnrolRequest:
    token: str
    kind: DeviceKind
    name: str

    @classmethod
    def from_wire(cls, body: Any) -> EnrolRequest:
        data = _object(body)
        token = _required_text(data, "token", MAX_TOKEN_CHARS)
        kind_text = _required_text(data, "kind", 16)
        try:
            kind = DeviceKind(kind_text)
        except ValueError:
            raise _bad("'kind' must be 'receiver' or 'client'.") from None
        return cls(token=token, kind=kind, name=_name(data, "name", MAX_NAME_CHARS))


def _endpoint(value: Any) -> str:
    if not isinstance(value, str) or _ENDPOINT_RE.fullmatch(value) is None:
        raise _bad("Each endpoint must be 'host:port' (IPv6 hosts in brackets).")
    port = int(value.rsplit(":", 1)[1])
    if not 1 <= port <= 65535:
        raise _bad(f"Port {port} is out of range in endpoint {value!r}.")
    return value


@dataclass(frozen=True)
class MeetingRequest:
    endpoints: tuple[str, ...]
    fingerprint: str
    jid: str

    @classmethod
    def from_wire(cls, body: Any) -> MeetingRequest:
        data = _object(body)
        endpoints = data.get("endpoints")
        if not isinstance(endpoints, list):
            raise _bad("'endpoints' must be a list of 'host:port' strings.")
        if len(endpoints) > MAX_ENDPOINTS:
            raise _bad(f"At most {MAX_ENDPOINTS} endpoints are accepted.")
        fingerprint = _required_text(data, "fingerprint", 80)
        if _FINGERPRINT_RE.fullmatch(fingerprint) is None:
            raise _bad("'fingerprint' must be 'sha-256 ' and 64 upper-case hex digits.")
        jid = _required_text(data, "jid", MAX_JID_CHARS)
        # isprintable also keeps out NUL and lone surrogates, which databases refuse.
        if _JID_RE.fullmatch(jid) is None or not jid.isprintable():
            raise _bad("'jid' must be an XMPP address such as 'name@domain/resource'.")
        return cls(
            endpoints=tuple(_endpoint(e) for e in endpoints), fingerprint=fingerprint, jid=jid
        )


@dataclass(frozen=True)
class TokenRequest:
    org: str
    uses: int
    ttl: int

    @classmethod
    def from_wire(cls, body: Any) -> TokenRequest:
        data = _object(body)
        return cls(
            org=_name(data, "org", MAX_ORG_CHARS),
            uses=_integer(data, "uses", DEFAULT_TOKEN_USES, 1, MAX_USES),
            ttl=_integer(data, "ttl", DEFAULT_TOKEN_TTL, MIN_TOKEN_TTL, MAX_TOKEN_TTL),
        )


@dataclass(frozen=True)
class OrgSettingsRequest:
    guests_allowed: bool

    @classmethod
    def from_wire(cls, body: Any) -> OrgSettingsRequest:
        value = _object(body).get("guests_allowed")
        if not isinstance(value, bool):
            raise _bad("'guests_allowed' must be true or false.")
        return cls(guests_allowed=value)


def org_name(text: str) -> str:
    """An organisation named in a path: what `TokenRequest.org` would accept."""
    return _name({"org": text}, "org", MAX_ORG_CHARS)
