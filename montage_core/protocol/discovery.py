"""Rooms near you: what a receiver announces on its network (DNS-SD over mDNS), and reading it.

Sans-IO: the TXT record a receiver puts in its `_montage._tcp` announcement,
the rule for whether the meeting ID may be in it, and a careful reader for
announcements heard on the network (anyone on the link can announce
anything). The adapters are `montage_receiver/advertising.py` and
`montage_client/core/room_finder.py`. docs/protocol.md §"Rooms near you"
says what is announced and why that is safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidMeetingId
from .meeting_id import CloudMeetingId, MeetingId, parse_meeting_id
from .messages import MAX_NAME_CHARS

SERVICE_TYPE = "_montage._tcp.local."
TXT_VERSION = "1"
# A TXT string is at most 255 bytes; a room name of MAX_NAME_CHARS fits in UTF-8.
_MAX_TXT_VALUE = 255


@dataclass(frozen=True)
class RoomAnnouncement:
    """One room as announced: its name, whether it asks for a PIN, and maybe its meeting ID."""

    name: str
    pin_required: bool
    meeting_id: str | None  # the digits shown on the wall, when they may be announced
    host: str = ""  # the address it was heard at (the announcement's A record)
    port: int = 0


def may_announce_id(meeting_id: MeetingId | CloudMeetingId, pin_required: bool) -> bool:
    """Whether the meeting ID shown on the wall may go in the announcement.

    - A 10-digit local ID is the receiver's IPv4 address, scrambled: the
      announcement carries that address anyway, so the ID tells no one
      anything new.
    - A 6-digit cloud ID of a room with a PIN: the fresh PIN, shown only in
      the room, is what proves a presenter is there; the ID is not a secret.
    - A 6-digit cloud ID of a room *without* a PIN is the only thing that
      proves a presenter can see the wall (it lets anyone who holds it present
      through the cloud, from anywhere): it is a secret and is not announced.
    """
    return isinstance(meeting_id, MeetingId) or pin_required


def txt_record(
    name: str, meeting_id: MeetingId | CloudMeetingId, pin_required: bool
) -> dict[str, str]:
    """The TXT properties of a room's announcement."""
    record = {"v": TXT_VERSION, "room": name[:MAX_NAME_CHARS], "pin": "1" if pin_required else "0"}
    if may_announce_id(meeting_id, pin_required):
        record["id"] = str(meeting_id)
    return record


def read_announcement(
    properties: dict[bytes, bytes | None], host: str, port: int
) -> RoomAnnouncement | None:
    """A room from an announcement heard on the network, or None if it is not one we read.

    Everything is checked: an unknown version, a missing or over-long name,
    or an ID that is not a valid meeting ID gives None (or no ID), never an
    exception.
    """
    text: dict[str, str] = {}
    for key, value in properties.items():
        if value is None or len(value) > _MAX_TXT_VALUE:
            continue
        try:
            text[key.decode("ascii").lower()] = value.decode("utf-8")
        except UnicodeDecodeError:
            continue
    if text.get("v") != TXT_VERSION:
        return None
    name = " ".join(text.get("room", "").split())
    if not name or len(name) > MAX_NAME_CHARS or not 0 < port < 65536:
        return None
    return RoomAnnouncement(
        name=name,
        pin_required=text.get("pin") != "0",
        meeting_id=_valid_id(text.get("id")),
        host=host,
        port=port,
    )


def _valid_id(digits: str | None) -> str | None:
    if digits is None or not digits.isascii() or not digits.isdigit():
        return None
    try:
        return str(parse_meeting_id(digits))
    except InvalidMeetingId:  # not a valid ID: the room is listed without one
        return None
