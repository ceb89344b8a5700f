"""The page's protocol state machine (web/src/session.js) pumped against the receiver's.

The same scenarios as tests/test_session_flow.py, with the Python
`ClientSession` replaced by the one the browser runs: a guest joins with the
right PIN, mistypes it, is locked out, finds the room full, is stopped by the
room, and meets a receiver that cannot prove the PIN. Each ending must carry
the sentence the page shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest

from montage_core.protocol import messages as m
from montage_receiver.presenter_session import PresenterSession, Room, SessionState
from tests.browser.node_peer import NodePeer, node_missing

PIN = "2468"
TLS = "sha-256 " + "12" * 32
SDP_C = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=fingerprint:sha-256 AA:BB:CC\r\n"
SDP_R = "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\na=fingerprint:sha-256 DD:EE:FF\r\n"
_ids = count()


@pytest.fixture(scope="module")
def js() -> Iterator[NodePeer]:
    missing = node_missing()
    assert missing is None, missing  # setup.sh installs Node.js and web/node_modules
    peer = NodePeer("session_peer.mjs")
    try:
        yield peer
    finally:
        peer.close()


class Guest:
    """The page's session (in Node.js) connected to one receiver session, as a guest."""

    def __init__(self, js: NodePeer, room: Room, name: str = "Ann", now: float = 1000.0) -> None:
        self.js = js
        self.id = f"guest-{next(_ids)}"
        self.now = now
        self.receiver = PresenterSession(room, "guests@cloud.test", guest=True)
        self.events: list[dict[str, Any]] = []
        self.state = ""
        self.call(op="new", name=name, tls=TLS)

    def call(self, **request: Any) -> dict[str, Any]:
        answer = self.js.ask(id=self.id, **request)
        self.events += answer["events"]
        self.state = answer["state"]
        for text in answer["out"]:
            self.receiver.receive(text, self.now)
            for message in self.receiver.messages_to_send():
                self.call(op="receive", text=m.serialize(message))
        return answer

    def ended(self) -> dict[str, str]:
        endings = [e for e in self.events if e["kind"] == "ended"]
        assert len(endings) == 1, self.events
        error: dict[str, str] = endings[0]["error"]
        return error

    def greet(self) -> None:
        self.call(op="start")
        self.call(op="set_offer", sdp=SDP_C)

    def answer(self) -> None:
        self.receiver.send_answer(SDP_R)
        for message in self.receiver.messages_to_send():
            self.call(op="receive", text=m.serialize(message))


@pytest.fixture
def room() -> Room:
    return Room(name="Board room", pin=PIN, tls_fingerprint=TLS)


def test_guest_with_the_right_pin_shares(js: NodePeer, room: Room) -> None:
    guest = Guest(js, room)
    guest.greet()
    assert {"kind": "welcomed", "room": "Board room", "pinRequired": True} in guest.events
    assert {"kind": "pin_needed"} in guest.events
    guest.call(op="submit_pin", pin=f" {PIN} ")
    assert guest.receiver.state is SessionState.ANSWERING
    guest.answer()
    assert guest.state == "sharing"
    assert {"kind": "answer", "sdp": SDP_R} in guest.events
    assert guest.receiver.name == "Ann" and guest.receiver.guest


def test_room_without_a_pin_needs_none(js: NodePeer) -> None:
    guest = Guest(js, Room(name="Open room", pin=None, tls_fingerprint=TLS))
    guest.greet()
    guest.answer()
    assert guest.state == "sharing"


def test_a_malformed_pin_is_refused_before_anything_is_sent(js: NodePeer, room: Room) -> None:
    guest = Guest(js, room)
    guest.greet()
    answer = guest.call(op="submit_pin", pin="12a4")
    assert answer["error"] == {
        "kind": "bad_pin",
        "message": "The PIN is the 4 digits shown on the room's display.",
    }
    assert answer["out"] == [] and guest.state == "need_pin"


def test_wrong_pins_count_down_then_lock_guests_out(js: NodePeer, room: Room) -> None:
    guest = Guest(js, room)
    guest.greet()
    for tries_left, pin in zip((4, 3, 2, 1), ("0001", "0002", "0003", "0004"), strict=True):
        guest.call(op="submit_pin", pin=pin)
        wrong = guest.events[-1]
        assert wrong["kind"] == "pin_needed"
        tries = f"{tries_left} {'try' if tries_left == 1 else 'tries'}"
        assert wrong["error"] == {
            "kind": "wrong_pin",
            "message": f"Wrong PIN. {tries} left before guests are locked out"
            " of this room for a while.",
        }
    guest.call(op="submit_pin", pin="0005")
    assert guest.ended() == {
        "kind": "locked_out",
        "message": "Too many wrong PINs were typed by guests of this room."
        " Try again in 30 seconds.",
    }
    # Another guest, with the right PIN, is refused too: the lockout is the room's.
    other = Guest(js, room, name="Bo", now=1010.0)
    other.call(op="start")
    assert other.ended()["kind"] == "locked_out"
    assert "20 seconds" in other.ended()["message"]


def test_a_full_room_says_so(js: NodePeer, room: Room) -> None:
    room.max_presenters = 1
    first = Guest(js, room)
    first.greet()
    first.call(op="submit_pin", pin=PIN)
    first.answer()
    late = Guest(js, room, name="Bo")
    late.call(op="start")
    assert late.ended() == {
        "kind": "full",
        "message": "The room is full: Someone is already sharing. Ask them to stop first.",
    }


def test_the_room_stopping_the_share_says_so(js: NodePeer, room: Room) -> None:
    guest = Guest(js, room)
    guest.greet()
    guest.call(op="submit_pin", pin=PIN)
    guest.answer()
    guest.receiver.stop_by_room()
    for message in guest.receiver.messages_to_send():
        guest.call(op="receive", text=m.serialize(message))
    assert guest.ended() == {"kind": "stopped_by_room", "message": "The room stopped your share."}


def test_a_replaced_dtls_certificate_in_the_answer_is_caught(js: NodePeer, room: Room) -> None:
    guest = Guest(js, room)
    guest.greet()
    guest.call(op="submit_pin", pin=PIN)
    guest.receiver.send_answer(SDP_R)
    (answer,) = guest.receiver.messages_to_send()
    assert isinstance(answer, m.Answer)
    # Someone on the way swaps the receiver's DTLS certificate for theirs.
    forged = m.Answer(sdp=SDP_R.replace("DD:EE:FF", "0B:AD:00"), confirm=answer.confirm)
    guest.call(op="receive", text=m.serialize(forged))
    assert guest.ended() == {
        "kind": "intercepted",
        "message": "The room could not prove it knows the PIN: the connection may be"
        " intercepted. Check the meeting ID and try again.",
    }


def test_a_receiver_with_another_certificate_than_the_cloud_named(js: NodePeer) -> None:
    # The cloud named one TLS certificate; the receiver answering binds another.
    room = Room(name="Elsewhere", pin=None, tls_fingerprint="sha-256 " + "99" * 32)
    guest = Guest(js, room)
    guest.greet()
    # The receiver's check of the guest's confirmation fails first.
    assert guest.ended() == {
        "kind": "refused",
        "message": "The room refused the share: Key confirmation failed.",
    }


def test_the_receiver_going_away_is_told_apart_by_state(js: NodePeer, room: Room) -> None:
    before = Guest(js, room)
    before.call(op="start")
    before.call(op="lost")
    assert before.ended()["kind"] == "lost"
    assert "before the share started" in before.ended()["message"]
    during = Guest(js, room)
    during.greet()
    during.call(op="submit_pin", pin=PIN)
    during.answer()
    during.call(op="lost")
    assert during.ended() == {"kind": "lost", "message": "Lost the connection to the room."}


def test_junk_from_the_receiver_ends_the_share_with_a_sentence(js: NodePeer, room: Room) -> None:
    guest = Guest(js, room)
    guest.call(op="start")
    guest.call(op="receive", text='{"type":"welcome","version":"1","room":"x","pin_required":true}')
    assert guest.ended()["kind"] == "protocol"
    assert guest.ended()["message"].startswith("The room sent a message we cannot read")
