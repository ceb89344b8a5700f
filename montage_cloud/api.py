"""The aiohttp adapter: routes under /v1, JSON in and out, errors as `{"error": {...}}`.

Handlers only parse, call `CloudService` and serialise; every refusal is an
`ApiError` raised by the service or the body parsers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from montage_cloud import API_VERSION
from montage_cloud.errors import ApiError, BadRequest, ErrorCode, TooManyRequests
from montage_cloud.guest_bridge import GuestBridge
from montage_cloud.guests import GuestService
from montage_cloud.models import Device
from montage_cloud.openapi import openapi_document
from montage_cloud.request_bodies import (
    EnrolRequest,
    MeetingRequest,
    OrgSettingsRequest,
    TokenRequest,
    org_name,
)
from montage_cloud.service import CloudService
from montage_cloud.storage import StorageUnavailable
from montage_cloud.web import GuestGateway, add_guest_routes

logger = logging.getLogger(__name__)

# Every request body the API takes is a small JSON object.
MAX_BODY_BYTES = 64 * 1024
UPDATES_PATH = "/updates/"
SERVICE_KEY = web.AppKey("montage_cloud.service", CloudService)
GUESTS_KEY = web.AppKey("montage_cloud.guests", GuestService)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error_response(status: int, code: ErrorCode, message: str) -> web.Response:
    response = web.json_response({"error": {"code": code.value, "message": message}}, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="montage"'
    return response


# aiohttp's own refusals (no route, wrong method, body too large), in our format.
_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.TOO_LARGE,
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        response = _error_response(error.status, error.code, error.message)
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.retry_after)
        return response
    except web.HTTPException as exc:
        code = _HTTP_CODES.get(exc.status)
        if code is None:
            raise
        response = _error_response(exc.status, code, exc.reason)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except StorageUnavailable:
        logger.exception("storage unavailable in %s %s", request.method, request.path)
        return _error_response(
            503, ErrorCode.STORAGE_UNAVAILABLE, "The cloud's database is not available. Try again."
        )
    except Exception:
        logger.exception("unexpected error in %s %s", request.method, request.path)
        return _error_response(500, ErrorCode.INTERNAL, "The cloud failed; this is a bug.")


def _service(request: web.Request) -> CloudService:
    return request.app[SERVICE_KEY]


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest(ErrorCode.BAD_REQUEST, "The request body is not JSON.") from None


async def _device(request: web.Request) -> Device:
    return await _service(request).authenticate(request.headers.get("Authorization"))


def _admin(request: web.Request) -> None:
    _service(request).check_admin(request.headers.get("Authorization"))


async def netcheck(request: web.Request) -> web.Response:
    # No storage access: this must answer even when the database is slow.
    return web.json_response(
        {"ok": True, "service": "montage-cloud", "api_version": API_VERSION, "time": time.time()}
    )


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def enrol(request: web.Request) -> web.Response:
    body = EnrolRequest.from_wire(await _json_body(request))
    enrolment = await _service(request).enrol(body)
    return web.json_response(
        {
            "device": enrolment.device.to_wire(),
            "secret": enrolment.secret,
            "xmpp": {
                "jid": enrolment.xmpp_jid,
                "password": enrolment.xmpp_password,
                "host": enrolment.xmpp_host,
                "port": enrolment.xmpp_port,
            },
        },
        status=201,
    )


async def device_me(request: web.Request) -> web.Response:
    return web.json_response((await _device(request)).to_wire())


async def allocate_meeting(request: web.Request) -> web.Response:
    device = await _device(request)
    body = MeetingRequest.from_wire(await _json_body(request))
    meeting = await _service(request).allocate_meeting(device, body)
    return web.json_response(meeting.to_wire(), status=201)


async def resolve_meeting(request: web.Request) -> web.Response:
    device = await _device(request)
    meeting = await _service(request).resolve_meeting(device, request.match_info["meeting_id"])
    return web.json_response(meeting.to_wire())


async def refresh_meeting(request: web.Request) -> web.Response:
    device = await _device(request)
    meeting = await _service(request).refresh_meeting(device, request.match_info["meeting_id"])
    return web.json_response(meeting.to_wire())


async def end_meeting(request: web.Request) -> web.Response:
    device = await _device(request)
    await _service(request).end_meeting(device, request.match_info["meeting_id"])
    return web.Response(status=204)


async def turn_credentials(request: web.Request) -> web.Response:
    device = await _device(request)
    return web.json_response(_service(request).turn_credentials(device).to_wire())


async def issue_token(request: web.Request) -> web.Response:
    _admin(request)
    body = TokenRequest.from_wire(await _json_body(request))
    issued = await _service(request).issue_enrolment_token(body)
    return web.json_response(
        {
            "token": issued.token,
            "org": issued.record.org,
            "uses": issued.record.uses_left,
            "expires_at": issued.record.expires_at,
        },
        status=201,
    )


async def list_devices(request: web.Request) -> web.Response:
    _admin(request)
    devices = await _service(request).list_devices()
    return web.json_response({"devices": [device.to_wire() for device in devices]})


async def get_device(request: web.Request) -> web.Response:
    _admin(request)
    device = await _service(request).get_device(request.match_info["device_id"])
    return web.json_response(device.to_wire())


async def suspend_device(request: web.Request) -> web.Response:
    _admin(request)
    device = await _service(request).suspend_device(request.match_info["device_id"])
    return web.json_response(device.to_wire())


async def resume_device(request: web.Request) -> web.Response:
    _admin(request)
    device = await _service(request).resume_device(request.match_info["device_id"])
    return web.json_response(device.to_wire())


async def delete_device(request: web.Request) -> web.Response:
    _admin(request)
    device = await _service(request).delete_device(request.match_info["device_id"])
    return web.json_response(device.to_wire())


async def org_settings(request: web.Request) -> web.Response:
    _admin(request)
    org = org_name(request.match_info["org"])
    return web.json_response((await request.app[GUESTS_KEY].org_settings(org)).to_wire())


async def change_org_settings(request: web.Request) -> web.Response:
    _admin(request)
    org = org_name(request.match_info["org"])
    body = OrgSettingsRequest.from_wire(await _json_body(request))
    settings = await request.app[GUESTS_KEY].set_guests_allowed(org, body.guests_allowed)
    return web.json_response(settings.to_wire())


def make_app(
    service: CloudService,
    *,
    updates: Path | None = None,
    guests: GuestService | None = None,
    bridge: GuestBridge | None = None,
) -> web.Application:
    """The API application, the join page and the guests' WebSocket.

    Closing the storage is the caller's business. `updates` is a TUF
    repository directory served as static files at /updates/ (metadata/ and
    targets/): TUF needs no trust in the server, only in the signatures, so
    plain files are enough (docs/updates.md). Without a `bridge` (no XMPP
    server) the page is served but guests are told they cannot join.
    """
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[SERVICE_KEY] = service
    app[GUESTS_KEY] = guests = guests or GuestService(service)
    add_guest_routes(app, GuestGateway(guests, bridge))
    app.add_routes(
        [
            web.get("/v1/netcheck", netcheck, allow_head=False),
            web.get("/v1/openapi.json", openapi_json, allow_head=False),
            web.post("/v1/enrol", enrol),
            web.get("/v1/devices/me", device_me, allow_head=False),
            web.post("/v1/meetings", allocate_meeting),
            web.get("/v1/meetings/{meeting_id}", resolve_meeting, allow_head=False),
            web.delete("/v1/meetings/{meeting_id}", end_meeting),
            web.post("/v1/meetings/{meeting_id}/refresh", refresh_meeting),
            web.post("/v1/turn", turn_credentials),
            web.post("/v1/admin/enrolment-tokens", issue_token),
            web.get("/v1/admin/devices", list_devices, allow_head=False),
            web.get("/v1/admin/devices/{device_id}", get_device, allow_head=False),
            web.delete("/v1/admin/devices/{device_id}", delete_device),
            web.post("/v1/admin/devices/{device_id}/suspend", suspend_device),
            web.post("/v1/admin/devices/{device_id}/resume", resume_device),
            web.get("/v1/admin/orgs/{org}", org_settings, allow_head=False),
            web.put("/v1/admin/orgs/{org}", change_org_settings),
        ]
    )
    if updates is not None:
        app.router.add_static(UPDATES_PATH, updates, follow_symlinks=False)
    return app
