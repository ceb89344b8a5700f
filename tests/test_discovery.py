"""What a room announces (and when its meeting ID may be in it), and reading what is heard."""

from __future__ import annotations

from montage_core.protocol.discovery import read_announcement, txt_record
from montage_core.protocol.meeting_id import CloudMeetingId, MeetingId

LOCAL = MeetingId.from_address("198.18.100.1")
CLOUD = CloudMeetingId("482913")


def test_the_id_is_announced_only_while_it_is_not_a_secret() -> None:
    # A local ID is the address the announcement carries anyway; a PIN room's ID is not its key.
    assert txt_record("Board room", LOCAL, pin_required=False)["id"] == str(LOCAL)
    assert txt_record("Board room", LOCAL, pin_required=True)["id"] == str(LOCAL)
    assert txt_record("Board room", CLOUD, pin_required=True)["id"] == "482913"
    # A no-PIN room's cloud ID is all that proves a presenter sees the wall.
    no_pin = txt_record("Board room", CLOUD, pin_required=False)
    assert no_pin == {"v": "1", "room": "Board room", "pin": "0"}


def test_what_is_heard_is_read_carefully() -> None:
    def heard(**txt: bytes) -> object:
        return read_announcement({k.encode(): v for k, v in txt.items()}, "198.18.100.1", 8443)

    room = heard(v=b"1", room="Salle  verte é".encode(), pin=b"1", id=str(LOCAL).encode())
    assert room is not None and (room.name, room.meeting_id) == ("Salle verte é", str(LOCAL))
    assert heard(v=b"2", room=b"Future") is None  # another version of the record
    assert heard(v=b"1") is None  # no name
    assert heard(v=b"1", room=b"x" * 200) is None  # longer than a room name can be
    assert heard(v=b"1", room=b"\xff\xfe") is None  # not UTF-8
    for bad_id in (b"123", b"9999999999", b"\xd9\xa1" * 6, b"012345"):
        shown = heard(v=b"1", room=b"Odd", id=bad_id)
        assert shown is not None and shown.meeting_id is None  # listed, without an ID
    assert read_announcement({b"v": b"1", b"room": b"R"}, "198.18.100.1", 0) is None
