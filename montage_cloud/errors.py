"""Errors the REST API answers with: an HTTP status, a stable code and a sentence.

The body is always `{"error": {"code": ..., "message": ...}}`. Codes are part
of the API (clients branch on them); messages are for the person and may
change. The list of codes is documented in docs/cloud-api.md.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    TOO_LARGE = "too_large"
    INTERNAL = "internal"
    # Enrolment
    ENROLMENT_TOKEN_INVALID = "enrolment_token_invalid"
    ENROLMENT_TOKEN_EXPIRED = "enrolment_token_expired"
    ENROLMENT_TOKEN_USED_UP = "enrolment_token_used_up"
    # Device state
    DEVICE_SUSPENDED = "device_suspended"
    DEVICE_REMOVED = "device_removed"
    DEVICE_NOT_FOUND = "device_not_found"
    WRONG_DEVICE_KIND = "wrong_device_kind"
    # Meetings
    MEETING_ID_MALFORMED = "meeting_id_malformed"
    MEETING_NOT_FOUND = "meeting_not_found"
    MEETING_EXPIRED = "meeting_expired"
    NOT_MEETING_OWNER = "not_meeting_owner"
    MEETING_IDS_EXHAUSTED = "meeting_ids_exhausted"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    # Guests (the browser page)
    GUESTS_NOT_ALLOWED = "guests_not_allowed"
    GUESTS_UNAVAILABLE = "guests_unavailable"
    # Other services
    TURN_UNAVAILABLE = "turn_unavailable"
    XMPP_UNAVAILABLE = "xmpp_unavailable"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    ADMIN_DISABLED = "admin_disabled"


class ApiError(Exception):
    """A request failed in a way the caller can be told about."""

    status = 500

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_wire(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code.value, "message": self.message}}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    """No or unknown credentials; answered with `WWW-Authenticate: Bearer`."""

    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooManyRequests(ApiError):
    """Answered with `Retry-After: <retry_after seconds>`."""

    status = 429

    def __init__(self, code: ErrorCode, message: str, retry_after: int) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class Unavailable(ApiError):
    status = 503
