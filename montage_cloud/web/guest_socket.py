"""The guests' WebSocket: `wss://<cloud>/v1/guest/signal` (docs/protocol.md §17).

    page → cloud   {"type": "join", "meeting_id": "123456"}
    cloud → page   {"type": "joined", "fingerprint", "ice_servers", …}
                or {"type": "refused", "code", "message", "retry_after"?}, then close

After `joined`, each text frame either way is one protocol message
(sections 2–13), relayed unchanged to and from the receiver through the
guest bridge. The cloud reads only the `type` (and `fatal`) of what the
receiver says, to know when the receiver has ended the conversation; a page
that goes away without saying `bye` (a closed tab, a dropped network) is
said goodbye for, as a closed WebSocket would tell the receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from montage_cloud.errors import ApiError, BadRequest, ErrorCode, TooManyRequests
from montage_cloud.guest_bridge import Conversation, GuestBridge
from montage_cloud.guests import GuestAdmission, GuestService, guests_unavailable
from montage_cloud.web.page import add_page_routes
from montage_core.signal_stanza import MAX_TEXT

logger = logging.getLogger(__name__)

GUEST_SIGNAL_PATH = "/v1/guest/signal"
# Heartbeats notice a page whose network vanished in 5–8 s (as the receiver's own).
HEARTBEAT_SECONDS = 5.0
JOIN_TIMEOUT = 10.0
MAX_MEETING_ID_CHARS = 32
# Sent for a page that left without a word.
GOODBYE = json.dumps({"type": "bye", "reason": "connection lost"}, separators=(",", ":"))


@dataclass
class GuestGateway:
    """What the guests' routes need: the rules, and the bridge (None: no XMPP server)."""

    guests: GuestService
    bridge: GuestBridge | None


GATEWAY_KEY = web.AppKey("montage_cloud.guest_gateway", GuestGateway)


def add_guest_routes(app: web.Application, gateway: GuestGateway) -> None:
    app[GATEWAY_KEY] = gateway
    app.router.add_get(GUEST_SIGNAL_PATH, guest_signal, allow_head=False)
    add_page_routes(app)


async def guest_signal(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY_KEY]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=MAX_TEXT)
    await ws.prepare(request)
    try:
        meeting_id = await _join_request(ws)
        admission = await gateway.guests.admit(request.remote or "", meeting_id)
        bridge = gateway.bridge
        if bridge is None or not bridge.connected:
            raise guests_unavailable()
        conversation = bridge.open(admission.meeting.jid)
    except ApiError as error:
        await _refuse(ws, error)
        return ws
    except (TimeoutError, ConnectionError):
        await ws.close()
        return ws
    await ws.send_str(json.dumps(_joined(admission)))
    try:
        await _relay(ws, conversation)
    finally:
        conversation.end()
        if not ws.closed:
            await ws.close()
    return ws


async def _join_request(ws: web.WebSocketResponse) -> str:
    message = await ws.receive(timeout=JOIN_TIMEOUT)
    if message.type is not WSMsgType.TEXT:
        raise ConnectionError("the page went away before joining")
    try:
        body = json.loads(message.data)
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("type") != "join":
        raise BadRequest(ErrorCode.BAD_REQUEST, "The first message must be a join.")
    meeting_id = body.get("meeting_id")
    if not isinstance(meeting_id, str) or len(meeting_id) > MAX_MEETING_ID_CHARS:
        raise BadRequest(ErrorCode.BAD_REQUEST, "'meeting_id' must be a short string.")
    return meeting_id


async def _refuse(ws: web.WebSocketResponse, error: ApiError) -> None:
    refusal: dict[str, Any] = {
        "type": "refused",
        "code": error.code.value,
        "message": error.message,
    }
    if isinstance(error, TooManyRequests):
        refusal["retry_after"] = error.retry_after
    with contextlib.suppress(ConnectionError):
        await ws.send_str(json.dumps(refusal))
    await ws.close()


def _joined(admission: GuestAdmission) -> dict[str, Any]:
    ice_servers = []
    turn = admission.turn
    if turn is not None:
        ice_servers.append(
            {"urls": list(turn.uris), "username": turn.username, "credential": turn.password}
        )
    return {
        "type": "joined",
        "meeting_id": admission.meeting.meeting_id,
        "guest": admission.guest_id,
        # The receiver's TLS certificate, bound into the PIN exchange (§6.2).
        "fingerprint": admission.meeting.fingerprint,
        "ice_servers": ice_servers,
        "ice_expires_at": turn.expires_at if turn is not None else None,
    }


def _ends_conversation(text: str) -> bool:
    """Whether this receiver message closes the conversation (§8: fatal errors, stop, bye)."""
    try:
        message = json.loads(text)
    except ValueError:
        return False
    if not isinstance(message, dict):
        return False
    kind = message.get("type")
    return kind in ("stop", "bye") or (kind == "error" and message.get("fatal") is not False)


async def _relay(ws: web.WebSocketResponse, conversation: Conversation) -> None:
    receiver_done = False
    page_done = False
    started = False

    async def from_receiver() -> None:
        nonlocal receiver_done
        while (text := await conversation.receive()) is not None:
            receiver_done = _ends_conversation(text)
            await ws.send_str(text)
            if receiver_done:
                break
        # The receiver ended it, or can no longer be reached: so does the page.
        await ws.close()

    replies = asyncio.ensure_future(from_receiver())
    try:
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                break  # binary frames are never valid (§2)
            page_done = _is_bye(message.data)
            started = True
            await conversation.send(message.data)
            if page_done:
                break
    except ConnectionError as exc:
        logger.info("guest conversation with %s ended: %s", conversation.receiver_jid, exc)
        receiver_done = True
    finally:
        if started and not (page_done or receiver_done or conversation.ended):
            with contextlib.suppress(ConnectionError):
                await conversation.send(GOODBYE)
        replies.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await replies


def _is_bye(text: str) -> bool:
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "bye"
