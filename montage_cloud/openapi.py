"""The OpenAPI 3 document of the REST API, served at /v1/openapi.json.

Written as data beside the handlers it describes; `tests/cloud/test_openapi_fuzz.py`
fuzzes the running API from it (schemathesis) and checks that every answer
has a documented status and shape. Patterns and limits come from the modules
that enforce them, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from montage_cloud import API_VERSION
from montage_cloud.credentials import DEVICE_ID_PATTERN
from montage_cloud.errors import ErrorCode
from montage_cloud.meeting_ids import MEETING_ID_PATTERN
from montage_cloud.request_bodies import (
    ENDPOINT_PATTERN,
    FINGERPRINT_PATTERN,
    JID_PATTERN,
    MAX_ENDPOINTS,
    MAX_JID_CHARS,
    MAX_NAME_CHARS,
    MAX_ORG_CHARS,
    MAX_TOKEN_CHARS,
    MAX_TOKEN_TTL,
    MAX_USES,
    MIN_TOKEN_TTL,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{description}"}


def _body(schema_name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema_name)}}}


_DEVICE_AUTH: list[dict[str, list[str]]] = [{"deviceBearer": []}]
_ADMIN_AUTH: list[dict[str, list[str]]] = [{"adminBearer": []}]

_MEETING_ID_PARAM = {
    "name": "meeting_id",
    "in": "path",
    "required": True,
    "description": "6-digit cloud meeting ID.",
    "schema": {"type": "string", "pattern": MEETING_ID_PATTERN},
}
_DEVICE_ID_PARAM = {
    "name": "device_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": DEVICE_ID_PATTERN},
}

_TEXT_LINE = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}
_ORG_PARAM = {
    "name": "org",
    "in": "path",
    "required": True,
    "description": "The organisation's name, as in its enrolment tokens.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ORG_CHARS},
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "Netcheck": {
        "type": "object",
        "required": ["ok", "service", "api_version", "time"],
        "properties": {
            "ok": {"type": "boolean"},
            "service": {"type": "string"},
            "api_version": {"type": "integer"},
            "time": {"type": "number"},
        },
    },
    "EnrolRequest": {
        "type": "object",
        "required": ["token", "kind", "name"],
        "properties": {
            "token": {"type": "string", "maxLength": MAX_TOKEN_CHARS},
            "kind": {"type": "string", "enum": ["receiver", "client"]},
            "name": _TEXT_LINE,
        },
    },
    "Enrolment": {
        "type": "object",
        "required": ["device", "secret", "xmpp"],
        "properties": {
            "device": _ref("Device"),
            "secret": {
                "type": "string",
                "description": "The device's bearer token. Shown once; keep it in the OS keyring.",
            },
            "xmpp": {
                "type": "object",
                "required": ["jid", "password", "host", "port"],
                "description": "The device's XMPP account, and where to log in to it: "
                "direct TLS (XEP-0368) at host:port.",
                "properties": {
                    "jid": {"type": "string"},
                    "password": {"type": "string"},
                    "host": {"type": "string"},
                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                },
            },
        },
    },
    "Device": {
        "type": "object",
        "required": [
            "device_id",
            "org",
            "kind",
            "name",
            "status",
            "xmpp_username",
            "enrolled_at",
            "status_changed_at",
        ],
        "properties": {
            "device_id": {"type": "string", "pattern": DEVICE_ID_PATTERN},
            "org": {"type": "string"},
            "kind": {"type": "string", "enum": ["receiver", "client"]},
            "name": {"type": "string"},
            "status": {"type": "string", "enum": ["active", "suspended", "removed"]},
            "xmpp_username": {"type": "string"},
            "enrolled_at": {"type": "number"},
            "status_changed_at": {"type": "number"},
        },
    },
    "DeviceList": {
        "type": "object",
        "required": ["devices"],
        "properties": {"devices": {"type": "array", "items": _ref("Device")}},
    },
    "MeetingRequest": {
        "type": "object",
        "required": ["endpoints", "fingerprint", "jid"],
        "properties": {
            "endpoints": {
                "type": "array",
                "maxItems": MAX_ENDPOINTS,
                "items": {"type": "string", "pattern": ENDPOINT_PATTERN},
                "description": "The receiver's LAN endpoints, 'host:port' (IPv6 in brackets).",
            },
            "fingerprint": {"type": "string", "pattern": FINGERPRINT_PATTERN},
            "jid": {
                "type": "string",
                "maxLength": MAX_JID_CHARS,
                "pattern": JID_PATTERN,
                "description": "This receiver's own XMPP address (a resource may follow '/').",
            },
        },
    },
    "Meeting": {
        "type": "object",
        "required": ["meeting_id", "jid", "endpoints", "fingerprint", "expires_at"],
        "properties": {
            "meeting_id": {"type": "string", "pattern": MEETING_ID_PATTERN},
            "jid": {"type": "string"},
            "endpoints": {"type": "array", "items": {"type": "string"}},
            "fingerprint": {"type": "string"},
            "expires_at": {"type": "number", "description": "Unix time."},
        },
    },
    "TurnCredentials": {
        "type": "object",
        "required": ["username", "password", "ttl", "expires_at", "uris"],
        "properties": {
            "username": {"type": "string", "description": "'<expiry unix time>:<device id>'"},
            "password": {"type": "string", "description": "base64(HMAC-SHA1(secret, username))"},
            "ttl": {"type": "integer"},
            "expires_at": {"type": "integer"},
            "uris": {"type": "array", "items": {"type": "string"}},
        },
    },
    "OrgSettings": {
        "type": "object",
        "required": ["org", "guests_allowed", "changed_at"],
        "properties": {
            "org": {"type": "string"},
            "guests_allowed": {
                "type": "boolean",
                "description": "Whether guests may share to the organisation's rooms from /join.",
            },
            "changed_at": {"type": "number", "description": "0 if never changed."},
        },
    },
    "OrgSettingsRequest": {
        "type": "object",
        "required": ["guests_allowed"],
        "properties": {"guests_allowed": {"type": "boolean"}},
    },
    "TokenRequest": {
        "type": "object",
        "required": ["org"],
        "properties": {
            "org": {"type": "string", "minLength": 1, "maxLength": MAX_ORG_CHARS},
            "uses": {"type": "integer", "minimum": 1, "maximum": MAX_USES, "default": 10},
            "ttl": {
                "type": "integer",
                "minimum": MIN_TOKEN_TTL,
                "maximum": MAX_TOKEN_TTL,
                "default": 604800,
                "description": "Seconds until the token expires.",
            },
        },
    },
    "IssuedToken": {
        "type": "object",
        "required": ["token", "org", "uses", "expires_at"],
        "properties": {
            "token": {"type": "string"},
            "org": {"type": "string"},
            "uses": {"type": "integer"},
            "expires_at": {"type": "number"},
        },
    },
}

RESPONSES: dict[str, Any] = {
    name: _json(_ref("Error"), description)
    for name, description in {
        "BadRequest": "Malformed request (`bad_request`, `meeting_id_malformed`).",
        "Unauthorized": "Missing or unknown bearer token (`unauthorized`).",
        "Forbidden": "Refused: `device_suspended`, `device_removed`, `wrong_device_kind`, …",
        "NotFound": "No such thing (`meeting_not_found`, `meeting_expired`, …).",
        "Conflict": "Not possible in the current state (`device_removed`).",
        "TooLarge": "The request body is too large (`too_large`).",
        "TooManyAttempts": "Too many wrong meeting IDs (`too_many_attempts`); see Retry-After.",
        "Unavailable": "A service behind the API is not available.",
    }.items()
}


def _operation(
    summary: str,
    ok_status: str,
    ok: dict[str, Any],
    errors: list[tuple[str, str]],
    *,
    security: list[dict[str, list[str]]] | None = None,
    body: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
    uses_storage: bool = True,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {ok_status: ok, **{status: _error(name) for status, name in errors}},
        "security": security if security is not None else [],
    }
    if uses_storage:
        # `storage_unavailable` when the database cannot be reached.
        operation["responses"].setdefault("503", _error("Unavailable"))
    if body is not None:
        operation["requestBody"] = _body(body)
        operation["responses"]["400"] = _error("BadRequest")
        operation["responses"]["413"] = _error("TooLarge")
    if parameters:
        operation["parameters"] = parameters
    return operation


_AUTH_ERRORS = [("401", "Unauthorized"), ("403", "Forbidden")]

PATHS: dict[str, Any] = {
    "/v1/netcheck": {
        "get": _operation(
            "Answers at once, without authentication, to tell 'cloud reachable'.",
            "200",
            _json(_ref("Netcheck"), "The cloud is up."),
            [],
            uses_storage=False,
        )
    },
    "/v1/openapi.json": {
        "get": _operation(
            "This document.",
            "200",
            _json({"type": "object"}, "The OpenAPI document."),
            [],
            uses_storage=False,
        )
    },
    "/v1/enrol": {
        "post": _operation(
            "Enrol a receiver or a client with an enrolment token.",
            "201",
            _json(_ref("Enrolment"), "Enrolled; the secret is shown only now."),
            [("403", "Forbidden"), ("503", "Unavailable")],
            body="EnrolRequest",
        )
    },
    "/v1/devices/me": {
        "get": _operation(
            "The calling device, as the cloud sees it.",
            "200",
            _json(_ref("Device"), "The device."),
            _AUTH_ERRORS,
            security=_DEVICE_AUTH,
        )
    },
    "/v1/meetings": {
        "post": _operation(
            "A receiver opens a meeting and gets a fresh 6-digit meeting ID.",
            "201",
            _json(_ref("Meeting"), "The meeting."),
            [*_AUTH_ERRORS, ("503", "Unavailable")],
            security=_DEVICE_AUTH,
            body="MeetingRequest",
        )
    },
    "/v1/meetings/{meeting_id}": {
        "get": _operation(
            "Resolve a 6-digit meeting ID to its receiver.",
            "200",
            _json(_ref("Meeting"), "The live meeting."),
            [("400", "BadRequest"), *_AUTH_ERRORS, ("404", "NotFound"), ("429", "TooManyAttempts")],
            security=_DEVICE_AUTH,
            parameters=[_MEETING_ID_PARAM],
        ),
        "delete": _operation(
            "The receiver that opened a meeting ends it.",
            "204",
            {"description": "Ended."},
            [("400", "BadRequest"), *_AUTH_ERRORS, ("404", "NotFound")],
            security=_DEVICE_AUTH,
            parameters=[_MEETING_ID_PARAM],
        ),
    },
    "/v1/meetings/{meeting_id}/refresh": {
        "post": _operation(
            "The receiver that opened a meeting keeps it alive for another TTL.",
            "200",
            _json(_ref("Meeting"), "The meeting with its new expiry."),
            [("400", "BadRequest"), *_AUTH_ERRORS, ("404", "NotFound")],
            security=_DEVICE_AUTH,
            parameters=[_MEETING_ID_PARAM],
        )
    },
    "/v1/turn": {
        "post": _operation(
            "Time-limited TURN credentials (coturn use-auth-secret).",
            "200",
            _json(_ref("TurnCredentials"), "Credentials and the TURN URIs."),
            [*_AUTH_ERRORS, ("503", "Unavailable")],
            security=_DEVICE_AUTH,
        )
    },
    "/v1/admin/enrolment-tokens": {
        "post": _operation(
            "Issue an enrolment token for an organisation.",
            "201",
            _json(_ref("IssuedToken"), "The token; shown only now."),
            _AUTH_ERRORS,
            security=_ADMIN_AUTH,
            body="TokenRequest",
        )
    },
    "/v1/admin/devices": {
        "get": _operation(
            "All devices, in order of enrolment.",
            "200",
            _json(_ref("DeviceList"), "The devices."),
            _AUTH_ERRORS,
            security=_ADMIN_AUTH,
        )
    },
    "/v1/admin/devices/{device_id}": {
        "get": _operation(
            "One device.",
            "200",
            _json(_ref("Device"), "The device."),
            [*_AUTH_ERRORS, ("404", "NotFound")],
            security=_ADMIN_AUTH,
            parameters=[_DEVICE_ID_PARAM],
        ),
        "delete": _operation(
            "Remove a device: its calls are refused, its XMPP account disabled and deleted.",
            "200",
            _json(_ref("Device"), "The device, now removed."),
            [*_AUTH_ERRORS, ("404", "NotFound")],
            security=_ADMIN_AUTH,
            parameters=[_DEVICE_ID_PARAM],
        ),
    },
    "/v1/admin/devices/{device_id}/suspend": {
        "post": _operation(
            "Suspend a device: its calls are refused and its XMPP session ended.",
            "200",
            _json(_ref("Device"), "The device, now suspended."),
            [*_AUTH_ERRORS, ("404", "NotFound"), ("409", "Conflict")],
            security=_ADMIN_AUTH,
            parameters=[_DEVICE_ID_PARAM],
        )
    },
    "/v1/admin/orgs/{org}": {
        "get": _operation(
            "An organisation's settings (defaults if never changed).",
            "200",
            _json(_ref("OrgSettings"), "The settings."),
            [*_AUTH_ERRORS, ("400", "BadRequest")],
            security=_ADMIN_AUTH,
            parameters=[_ORG_PARAM],
        ),
        "put": _operation(
            "Change an organisation's settings: whether guests may share to its rooms.",
            "200",
            _json(_ref("OrgSettings"), "The settings now."),
            _AUTH_ERRORS,
            security=_ADMIN_AUTH,
            body="OrgSettingsRequest",
            parameters=[_ORG_PARAM],
        ),
    },
    "/v1/guest/signal": {
        "get": {
            "summary": "The browser page's WebSocket: join a meeting as a guest, then carry"
            " protocol messages to its receiver (docs/protocol.md §17).",
            "security": [],
            "responses": {
                "101": {"description": "Switched to the WebSocket."},
                "400": _error("BadRequest"),
            },
        }
    },
    "/join": {
        "get": {
            "summary": "The browser client: the page a guest shares from.",
            "security": [],
            "responses": {
                "200": {"description": "The page.", "content": {"text/html": {}}},
            },
        }
    },
    "/join/{name}": {
        "get": {
            "summary": "The page's script and style sheet.",
            "security": [],
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": ["join.js", "join.css"]},
                }
            ],
            "responses": {
                "200": {
                    "description": "The file.",
                    "content": {"text/javascript": {}, "text/css": {}},
                },
                "404": _error("NotFound"),
            },
        }
    },
    "/v1/admin/devices/{device_id}/resume": {
        "post": _operation(
            "Resume a suspended device.",
            "200",
            _json(_ref("Device"), "The device, active again."),
            [*_AUTH_ERRORS, ("404", "NotFound"), ("409", "Conflict")],
            security=_ADMIN_AUTH,
            parameters=[_DEVICE_ID_PARAM],
        )
    },
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Montage cloud API",
            "version": f"{API_VERSION}.0.0",
            "description": "Enrolment, 6-digit meeting IDs, revocation and TURN credentials."
            ' Errors are `{"error": {"code", "message"}}`; see docs/cloud-api.md.',
        },
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "securitySchemes": {
                "deviceBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The device secret returned by /v1/enrol.",
                },
                "adminBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin token the server was started with.",
                },
            },
        },
    }
