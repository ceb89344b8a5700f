"""Presenter and receiver state machines pumped against each other with an injected clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from montage_core.protocol import messages as m
from montage_core.protocol.client_session import (
    ClientSession,
    ClientState,
    describe_wait,
    wrong_pin_sentence,
)
from montage_core.protocol.errors import (
    InvalidInput,
    InvalidMeetingId,
    LockedOut,
    MontageError,
    PinRequired,
    ProtocolViolation,
    ReceiverRefused,
    ReceiverUnreachable,
    ShareEnded,
    WrongPin,
)
from montage_core.protocol.events import (
    AnswerReceived,
    MuteRequested,
    OfferVerified,
    PinFailed,
    PinNeeded,
    PresenterJoined,
    PresenterLeft,
    SessionEnded,
    ShareStateChanged,
    ViewRequested,
    Welcomed,
)
from montage_core.protocol.pin_auth import PinExchange, dtls_fingerprints
from montage_receiver.presenter_session import PresenterSession, Room, SessionState

PIN = "1234"
TLS = "sha-256 " + "12:" * 31 + "34"
OTHER_TLS = "sha-256 " + "56:" * 31 + "78"
SDP_C = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=fingerprint:sha-256 AA:BB:CC\r\n"
SDP_R = "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\na=fingerprint:sha-256 DD:EE:FF\r\n"
SRC = "192.0.2.10"
OTHER_SRC = "192.0.2.99"


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now


class Link:
    """One client connected to one receiver session, with every frame logged."""

    def __init__(
        self,
        room: Room,
        clock: Clock,
        *,
        source: str = SRC,
        name: str = "Ann",
        tls: str = TLS,
        guest: bool = False,
    ) -> None:
        self.room = room
        self.clock = clock
        self.client = ClientSession(name, tls)
        self.receiver = PresenterSession(room, source, guest=guest)
        self.client_events: list[Any] = []
        self.receiver_events: list[Any] = []
        self.to_client: list[m.Message] = []
        self.to_receiver: list[m.Message] = []

    def pump(self) -> tuple[list[Any], list[Any]]:
        """Move frames both ways until quiet; return the new (client, receiver) events."""
        c_events: list[Any] = []
        r_events: list[Any] = []
        for _ in range(20):
            moved = False
            for msg in self.client.messages_to_send():
                moved = True
                self.to_receiver.append(msg)
                r_events += self.receiver.receive(m.serialize(msg), self.clock.now)
            for msg in self.receiver.messages_to_send():
                moved = True
                self.to_client.append(msg)
                c_events += self.client.receive(m.serialize(msg))
            if not moved:
                break
        self.client_events += c_events
        self.receiver_events += r_events
        return c_events, r_events

    def greet(self) -> tuple[list[Any], list[Any]]:
        self.client.start()
        self.client.set_offer(SDP_C)
        return self.pump()

    def try_pin(self, pin: str) -> tuple[list[Any], list[Any]]:
        self.client.submit_pin(pin)
        return self.pump()

    def answer(self) -> tuple[list[Any], list[Any]]:
        r_events = self.receiver.send_answer(SDP_R)
        c_events, more = self.pump()
        self.receiver_events += r_events
        return c_events, r_events + more

    def join(self, pin: str | None = PIN) -> None:
        self.greet()
        if pin is not None:
            self.try_pin(pin)
        self.answer()
        assert self.client.state is ClientState.SHARING
        assert self.receiver.state is SessionState.SHARING

    def deliver_to_receiver(self, message: m.Message | str) -> list[Any]:
        raw = message if isinstance(message, str) else m.serialize(message)
        events = self.receiver.receive(raw, self.clock.now)
        self.receiver_events += events
        return events

    def deliver_to_client(self, message: m.Message | str) -> list[Any]:
        raw = message if isinstance(message, str) else m.serialize(message)
        events = self.client.receive(raw)
        self.client_events += events
        return events

    def receiver_outbox(self) -> list[m.Message]:
        out = self.receiver.messages_to_send()
        self.to_client += out
        return out


def ended_error(events: list[Any]) -> MontageError:
    ends = [e for e in events if isinstance(e, SessionEnded)]
    assert len(ends) == 1, events
    assert ends[0].error is not None
    return ends[0].error


def only_error(messages: list[m.Message]) -> m.Error:
    assert len(messages) == 1, messages
    error = messages[0]
    assert isinstance(error, m.Error)
    return error


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def room() -> Room:
    return Room(name="Board room", pin=PIN, tls_fingerprint=TLS)


# -- happy paths -------------------------------------------------------------------------------
def test_happy_path_with_pin(room: Room, clock: Clock) -> None:
    link = Link(room, clock, name="  Ann  ")
    c_events, r_events = link.greet()
    assert c_events == [Welcomed("Board room", True), PinNeeded()]
    assert r_events == []
    assert link.client.state is ClientState.NEED_PIN
    assert link.client.room == "Board room" and link.client.pin_required
    assert link.receiver.state is SessionState.AWAITING_PAKE
    assert link.receiver.name == "Ann"
    assert room.presenters == set()

    c_events, r_events = link.try_pin(PIN)
    assert c_events == []
    assert r_events == [OfferVerified("Ann", SDP_C)]
    assert link.client.state is ClientState.OFFER_SENT
    assert link.receiver.state is SessionState.ANSWERING
    assert room.presenters == {link.receiver}
    assert room.lockout.tries_left(SRC, clock.now) == 5

    c_events, r_events = link.answer()
    assert r_events == [PresenterJoined("Ann")]
    assert c_events == [AnswerReceived(SDP_R)]
    assert link.client.state is ClientState.SHARING
    assert link.receiver.state is SessionState.SHARING
    assert [type(x).TYPE for x in link.to_receiver] == ["hello", "pake", "offer"]
    assert [type(x).TYPE for x in link.to_client] == ["welcome", "pake", "answer"]

    link.client.set_share_state("paused", 800, 600)
    _, r_events = link.pump()
    assert r_events == [ShareStateChanged("paused", 800, 600)]
    assert link.receiver.share_state == "paused"
    link.client.set_share_state("sharing", 1920, 1080)
    _, r_events = link.pump()
    assert r_events == [ShareStateChanged("sharing", 1920, 1080)]
    assert link.receiver.share_state == "sharing"


def test_happy_path_without_pin(clock: Clock) -> None:
    room = Room(name="Open", pin=None, tls_fingerprint=TLS)
    link = Link(room, clock)
    c_events, r_events = link.greet()
    assert c_events == [Welcomed("Open", False)]
    assert not any(isinstance(e, PinNeeded) for e in link.client_events)
    assert r_events == [OfferVerified("Ann", SDP_C)]
    assert link.client.state is ClientState.OFFER_SENT
    c_events, r_events = link.answer()
    assert c_events == [AnswerReceived(SDP_R)]
    assert r_events == [PresenterJoined("Ann")]
    # No PIN, no guesses to count.
    assert room.lockout.tries_left(SRC, clock.now) == 5
    assert not any(isinstance(e, PinNeeded) for e in link.client_events)
    with pytest.raises(RuntimeError):
        link.client.submit_pin(PIN)


def test_offer_given_after_the_key_is_agreed_is_sent_then(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.client.start()
    link.pump()
    link.try_pin(PIN)
    assert link.client.state is ClientState.KEYED
    assert link.receiver.state is SessionState.AWAITING_OFFER
    link.client.set_offer(SDP_C)
    _, r_events = link.pump()
    assert r_events == [OfferVerified("Ann", SDP_C)]
    assert link.client.state is ClientState.OFFER_SENT


def test_share_state_is_not_sent_before_sharing(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    link.client.set_share_state("paused", 1, 1)
    assert link.client.messages_to_send() == []


def test_send_answer_outside_answering_does_nothing(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    assert link.receiver.send_answer(SDP_R) == []
    assert link.receiver.messages_to_send() == []
    assert link.receiver.state is SessionState.AWAITING_PAKE


# -- wrong PINs and lockout --------------------------------------------------------------------
def test_wrong_pin_then_right_pin_on_same_connection(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    c_events, r_events = link.try_pin("0000")
    sentence = "Wrong PIN. 4 tries left before this computer is locked out for a while."
    assert c_events == [PinNeeded(tries_left=4, message=sentence)]
    assert r_events == [PinFailed(SRC, 4, None)]
    error = link.to_client[-1]
    assert isinstance(error, m.Error)
    assert error.code is m.ErrorCode.WRONG_PIN and not error.fatal and error.tries_left == 4
    assert link.client.state is ClientState.NEED_PIN
    assert link.receiver.state is SessionState.AWAITING_PAKE
    assert room.presenters == set()

    c_events, r_events = link.try_pin(PIN)
    assert r_events == [OfferVerified("Ann", SDP_C)]
    assert room.lockout.tries_left(SRC, clock.now) == 5  # success clears the record
    c_events, _ = link.answer()
    assert c_events == [AnswerReceived(SDP_R)]


def test_wrong_pin_sentences_count_down(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    seen = []
    for pin in ("0001", "0002", "0003", "0004"):
        c_events, _ = link.try_pin(pin)
        seen.append(c_events[0])
    assert [e.tries_left for e in seen] == [4, 3, 2, 1]
    assert seen[-1].message == (
        "Wrong PIN. 1 try left before this computer is locked out for a while."
    )
    assert (
        seen[2].message
        == wrong_pin_sentence(2)
        == ("Wrong PIN. 2 tries left before this computer is locked out for a while.")
    )


def lock_out(room: Room, clock: Clock, source: str = SRC) -> Link:
    link = Link(room, clock, source=source)
    link.greet()
    for pin in ("0001", "0002", "0003", "0004"):
        link.try_pin(pin)
    return link


def test_five_wrong_pins_lock_out(room: Room, clock: Clock) -> None:
    link = lock_out(room, clock)
    c_events, r_events = link.try_pin("0005")
    error = ended_error(c_events)
    assert isinstance(error, LockedOut)
    assert error.retry_after == pytest.approx(30.0)
    assert str(error) == "Too many wrong PINs from this computer. Try again in 30 seconds."
    assert error.exit_code == 3
    assert r_events == [PinFailed(SRC, 0, 30.0), PresenterLeft("locked out")]
    wire = link.to_client[-1]
    assert isinstance(wire, m.Error)
    assert wire.code is m.ErrorCode.LOCKED_OUT and wire.fatal and wire.retry_after == 30.0
    assert link.client.state is ClientState.CLOSED
    assert link.receiver.state is SessionState.CLOSED
    assert room.lockout.retry_after(SRC, clock.now) == pytest.approx(30.0)


def test_new_connection_while_locked_is_refused_at_hello(room: Room, clock: Clock) -> None:
    lock_out(room, clock).try_pin("0005")
    clock.now += 10
    again = Link(room, clock)
    c_events, r_events = again.greet()
    error = ended_error(c_events)
    assert isinstance(error, LockedOut)
    assert error.retry_after == pytest.approx(20.0)
    assert "Try again in 20 seconds." in str(error)
    assert r_events == [PresenterLeft("locked out")]
    assert [type(x).TYPE for x in again.to_client] == ["error"]  # no welcome
    assert again.receiver.state is SessionState.CLOSED
    assert again.client.state is ClientState.CLOSED


def test_locked_retry_after_is_rounded_to_a_tenth(room: Room, clock: Clock) -> None:
    lock_out(room, clock).try_pin("0005")
    clock.now += 10.04
    again = Link(room, clock)
    again.greet()
    wire = again.to_client[-1]
    assert isinstance(wire, m.Error)
    assert wire.retry_after == 20.0


def test_connection_opened_before_the_lock_is_refused_at_pake(room: Room, clock: Clock) -> None:
    early = Link(room, clock)
    early.greet()
    lock_out(room, clock).try_pin("0005")
    c_events, r_events = early.try_pin(PIN)
    assert isinstance(ended_error(c_events), LockedOut)
    assert r_events == [PresenterLeft("locked out")]
    assert not any(isinstance(e, OfferVerified) for e in early.receiver_events)


def test_after_lockout_expires_can_try_again(room: Room, clock: Clock) -> None:
    lock_out(room, clock).try_pin("0005")
    clock.now += 30
    link = Link(room, clock)
    c_events, _ = link.greet()
    assert c_events == [Welcomed("Board room", True), PinNeeded()]
    _, r_events = link.try_pin(PIN)
    assert r_events == [OfferVerified("Ann", SDP_C)]
    assert room.lockout.tries_left(SRC, clock.now) == 5


def test_a_wrong_pin_after_a_lockout_locks_again_for_twice_as_long(
    room: Room, clock: Clock
) -> None:
    lock_out(room, clock).try_pin("0005")
    waits = []
    for expected in (60.0, 120.0, 240.0):
        clock.now += room.lockout.retry_after(SRC, clock.now) or 0.0
        link = Link(room, clock)
        link.greet()
        c_events, r_events = link.try_pin("0009")
        error = ended_error(c_events)
        assert isinstance(error, LockedOut)
        assert error.retry_after == pytest.approx(expected)
        assert r_events[0] == PinFailed(SRC, 0, expected)
        waits.append(str(error))
    assert waits == [
        "Too many wrong PINs from this computer. Try again in 60 seconds.",
        "Too many wrong PINs from this computer. Try again in 2 minutes.",
        "Too many wrong PINs from this computer. Try again in 4 minutes.",
    ]


def test_lockout_of_one_source_leaves_others_alone(room: Room, clock: Clock) -> None:
    lock_out(room, clock).try_pin("0005")
    other = Link(room, clock, source=OTHER_SRC, name="Bo")
    c_events, _ = other.greet()
    assert PinNeeded() in c_events
    c_events, r_events = other.try_pin("0000")
    assert r_events == [PinFailed(OTHER_SRC, 4, None)]
    _, r_events = other.try_pin(PIN)
    assert r_events == [OfferVerified("Bo", SDP_C)]
    assert room.lockout.retry_after(SRC, clock.now) == pytest.approx(30.0)


# -- guests (the browser page, through the cloud's guest bridge) --------------------------------
# Whatever source a guest's connection reports, its PIN guesses count for all guests.
BRIDGE_A = "guests@cloud.test"
BRIDGE_B = "198.51.100.23"


def test_guests_share_one_lockout_per_meeting(room: Room, clock: Clock) -> None:
    # Anyone can be a new guest, so each guest's own address counts for nothing:
    # four wrong PINs from one guest and a fifth from another lock all guests out.
    first = Link(room, clock, source=BRIDGE_A, guest=True)
    first.greet()
    for pin in ("0001", "0002", "0003", "0004"):
        first.try_pin(pin)
    first.client.leave()
    first.pump()
    second = Link(room, clock, source=BRIDGE_B, name="Bo", guest=True)
    second.greet()
    c_events, r_events = second.try_pin("0005")
    assert isinstance(ended_error(c_events), LockedOut)
    assert r_events[0] == PinFailed("guests", 0, 30.0)
    third = Link(room, clock, source=BRIDGE_A, name="Cy", guest=True)
    c_events, _ = third.greet()
    assert isinstance(ended_error(c_events), LockedOut)
    # A device of the organisation is not a guest: its own record, untouched.
    device = Link(room, clock, source="dev-0123456789abcdef@cloud.test", name="Di")
    device.greet()
    device.try_pin(PIN)
    device.answer()
    assert device.receiver.state is SessionState.SHARING
    assert room.lockout.retry_after("guests", clock.now) == pytest.approx(30.0)


def test_a_guest_with_the_right_pin_clears_the_guests_record(room: Room, clock: Clock) -> None:
    guessing = Link(room, clock, source=BRIDGE_A, guest=True)
    guessing.greet()
    guessing.try_pin("0001")
    assert room.lockout.tries_left("guests", clock.now) == 4
    host = Link(room, clock, source=BRIDGE_B, name="Host", guest=True)
    host.join()
    assert host.receiver.guest
    assert room.lockout.tries_left("guests", clock.now) == 5


def test_dropping_mid_attempt_still_costs_a_try(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.client.start()
    link.pump()
    link.try_pin("0000")  # no offer set: the client stops in KEYED
    assert link.receiver.state is SessionState.AWAITING_OFFER
    link.receiver.connection_lost(clock.now)
    again = Link(room, clock)
    again.greet()
    c_events, _ = again.try_pin("1111")
    assert c_events == [PinNeeded(tries_left=3, message=wrong_pin_sentence(3))]


def _hold_offer(link: Link, pin: str) -> m.Message:
    """Run one attempt up to the client's offer, and return the offer undelivered."""
    link.client.start()
    link.client.set_offer(SDP_C)
    for msg in link.client.messages_to_send():
        link.deliver_to_receiver(msg)
    for msg in link.receiver_outbox():
        link.deliver_to_client(msg)
    link.client.submit_pin(pin)
    for msg in link.client.messages_to_send():
        link.deliver_to_receiver(msg)
    for msg in link.receiver_outbox():
        link.deliver_to_client(msg)
    (offer,) = link.client.messages_to_send()
    assert isinstance(offer, m.Offer)
    return offer


def test_parallel_attempts_cannot_bypass_the_lockout(room: Room, clock: Clock) -> None:
    """Many connections at once get no more guesses than one connection."""
    guesses = [f"{i:04d}" for i in range(9)] + [PIN]
    links = [Link(room, clock) for _ in guesses]
    offers: list[m.Message | None] = []
    for link, pin in zip(links, guesses, strict=True):
        try:
            offers.append(_hold_offer(link, pin))
        except (ValueError, RuntimeError):  # refused before an offer could be made
            offers.append(None)
    # Only five attempts may be in flight; the sixth starts the lockout.
    assert all(offer is not None for offer in offers[:5])
    assert all(offer is None for offer in offers[5:])
    for link in links[5:]:
        assert link.client.closed
        assert isinstance(ended_error(link.client_events), LockedOut)
    for link, offer in zip(links[:5], offers[:5], strict=True):
        assert offer is not None
        link.deliver_to_receiver(offer)
    # The correct PIN was the tenth guess: it was never checked.
    assert not any(isinstance(e, OfferVerified) for link in links for e in link.receiver_events)
    assert room.lockout.retry_after(SRC, clock.now) is not None


# -- room full ---------------------------------------------------------------------------------
def test_fifth_presenter_is_refused_at_hello(room: Room, clock: Clock) -> None:
    links = [Link(room, clock, source=f"10.0.0.{i}", name=f"P{i}") for i in range(4)]
    for link in links:
        link.join()
    assert room.presenters == {link.receiver for link in links}
    fifth = Link(room, clock, source="10.0.0.9", name="Late")
    c_events, r_events = fifth.greet()
    error = ended_error(c_events)
    assert isinstance(error, ReceiverRefused)
    assert "full" in str(error)
    assert str(error) == (
        "The room is full: 4 people are already sharing. Ask one of them to stop first."
    )
    assert error.exit_code == 1
    assert r_events == [PresenterLeft("room full")]
    assert only_error(fifth.to_client).code is m.ErrorCode.FULL
    assert len(room.presenters) == 4
    # When one leaves, there is room again.
    links[0].client.leave()
    links[0].pump()
    assert len(room.presenters) == 3
    sixth = Link(room, clock, source="10.0.0.10", name="Now")
    sixth.join()
    assert len(room.presenters) == 4


def test_full_is_detected_at_offer_time(room: Room, clock: Clock) -> None:
    links = [Link(room, clock, source=f"10.0.0.{i}", name=f"P{i}") for i in range(5)]
    for link in links:
        c_events, _ = link.greet()
        assert PinNeeded() in c_events  # all admitted: nobody is presenting yet
    for link in links[:4]:
        link.try_pin(PIN)
        link.answer()
    c_events, r_events = links[4].try_pin(PIN)
    error = ended_error(c_events)
    assert isinstance(error, ReceiverRefused)
    assert "full" in str(error)
    assert r_events == [PresenterLeft("room full")]
    assert links[4].receiver not in room.presenters
    assert len(room.presenters) == 4
    assert room.full


def test_presenter_counts_from_verified_offer_not_from_answer(clock: Clock) -> None:
    room = Room(name="R", pin=PIN, tls_fingerprint=TLS, max_presenters=1)
    first = Link(room, clock)
    first.greet()
    first.try_pin(PIN)  # verified, answer not made yet
    assert room.full
    second = Link(room, clock, source=OTHER_SRC)
    c_events, _ = second.greet()
    assert isinstance(ended_error(c_events), ReceiverRefused)


# -- endings -----------------------------------------------------------------------------------
def test_stop_by_room(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.join()
    events = link.receiver.stop_by_room()
    assert events == [PresenterLeft("stopped by the room")]
    assert room.presenters == set()
    c_events, _ = link.pump()
    error = ended_error(c_events)
    assert isinstance(error, ShareEnded)
    assert str(error) == "The room stopped your share."
    assert link.client.state is ClientState.CLOSED
    assert link.receiver.stop_by_room() == []
    assert link.receiver.messages_to_send() == []


def test_close_meeting(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.join()
    assert link.receiver.close_meeting() == [PresenterLeft("meeting closed")]
    assert room.presenters == set()
    c_events, _ = link.pump()
    error = ended_error(c_events)
    assert isinstance(error, ShareEnded)
    assert str(error) == "The receiver closed the meeting."
    assert link.receiver.close_meeting() == []


def test_close_meeting_before_sharing(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    link.receiver.close_meeting()
    c_events, _ = link.pump()
    assert str(ended_error(c_events)) == "The receiver closed the meeting."


def test_client_connection_lost_while_sharing(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.join()
    error = ended_error(link.client.connection_lost())
    assert isinstance(error, ShareEnded)
    assert str(error) == "Lost the connection to the receiver."
    assert link.client.state is ClientState.CLOSED
    assert link.client.connection_lost() == []


@pytest.mark.parametrize("step", ["hello", "pin", "offer"])
def test_client_connection_lost_before_sharing(room: Room, clock: Clock, step: str) -> None:
    link = Link(room, clock)
    link.client.start()
    if step != "hello":
        link.pump()
    if step == "offer":
        link.client.set_offer(SDP_C)
        link.try_pin(PIN)
        assert link.client.state is ClientState.OFFER_SENT
    error = ended_error(link.client.connection_lost())
    assert isinstance(error, ShareEnded)
    assert str(error) == "The receiver closed the connection before the share started."


def test_client_connection_lost_when_idle_or_closed() -> None:
    client = ClientSession("Ann", TLS)
    assert isinstance(ended_error(client.connection_lost()), ShareEnded)
    assert client.connection_lost() == []
    assert client.receive(m.serialize(m.Welcome(room="R", pin_required=False))) == []


def test_receiver_connection_lost(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.join()
    assert link.receiver.connection_lost(clock.now) == [PresenterLeft("connection lost")]
    assert room.presenters == set()
    assert link.receiver.connection_lost(clock.now) == []


def test_client_bye_leaves_the_room(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    other = Link(room, clock, source=OTHER_SRC, name="Bo")
    link.join()
    other.join()
    assert len(room.presenters) == 2
    link.client.leave()
    assert link.client.state is ClientState.CLOSED
    c_events, r_events = link.pump()
    assert r_events == [PresenterLeft("presenter left (stopped)")]
    assert c_events == []
    assert room.presenters == {other.receiver}
    assert link.receiver.state is SessionState.CLOSED
    bye = link.to_receiver[-1]
    assert isinstance(bye, m.Bye) and bye.reason == "stopped"


def test_client_bye_before_sharing(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    link.client.leave("changed my mind")
    _, r_events = link.pump()
    assert r_events == [PresenterLeft("presenter left (changed my mind)")]


def test_leave_when_idle_or_closed_sends_nothing() -> None:
    client = ClientSession("Ann", TLS)
    client.leave()
    assert client.messages_to_send() == []
    assert client.state is ClientState.CLOSED
    client.leave()
    assert client.messages_to_send() == []


def test_answer_failed_refuses_the_share(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    link.try_pin(PIN)
    assert link.receiver.answer_failed("codec") == [PresenterLeft("answer failed: codec")]
    assert room.presenters == set()
    c_events, _ = link.pump()
    error = ended_error(c_events)
    assert isinstance(error, ReceiverRefused)
    assert "could not start the media session" in str(error)


# -- out of turn: receiver ---------------------------------------------------------------------
def _pake() -> m.Pake:
    return m.Pake(PinExchange(PIN, is_client=True).outbound)


HELLO = m.Hello(name="Eve")
OFFER = m.Offer(sdp=SDP_C, confirm=b"\x01" * 32)
ANSWER = m.Answer(sdp=SDP_R, confirm=b"\x01" * 32)
SHARE = m.ShareState(state="sharing", width=10, height=10)
WELCOME = m.Welcome(room="R", pin_required=True)


def receiver_in(state: SessionState, room: Room, clock: Clock) -> Link:
    link = Link(room, clock)
    if state is SessionState.AWAITING_HELLO:
        return link
    link.client.start()
    if state is SessionState.AWAITING_PAKE:
        link.pump()
    elif state is SessionState.AWAITING_OFFER:
        link.pump()
        link.try_pin(PIN)  # no offer set: the client waits in KEYED
    elif state is SessionState.ANSWERING:
        link.client.set_offer(SDP_C)
        link.pump()
        link.try_pin(PIN)
    else:
        link.client.set_offer(SDP_C)
        link.pump()
        link.try_pin(PIN)
        link.answer()
    assert link.receiver.state is state
    return link


RECEIVER_OUT_OF_TURN: list[tuple[SessionState, Callable[[], m.Message]]] = [
    *[
        (SessionState.AWAITING_HELLO, f)
        for f in (
            _pake,
            lambda: OFFER,
            lambda: ANSWER,
            lambda: SHARE,
            lambda: m.Bye(reason="x"),
            lambda: WELCOME,
            lambda: m.Stop(),
            lambda: m.Error(m.ErrorCode.FULL, "x"),
        )
    ],
    *[
        (SessionState.AWAITING_PAKE, f)
        for f in (lambda: HELLO, lambda: OFFER, lambda: SHARE, lambda: ANSWER, lambda: WELCOME)
    ],
    *[
        (SessionState.AWAITING_OFFER, f)
        for f in (lambda: HELLO, _pake, lambda: SHARE, lambda: ANSWER, lambda: m.Stop())
    ],
    *[
        (SessionState.ANSWERING, f)
        for f in (lambda: HELLO, _pake, lambda: OFFER, lambda: SHARE, lambda: ANSWER)
    ],
    *[
        (SessionState.SHARING, f)
        for f in (lambda: HELLO, _pake, lambda: OFFER, lambda: ANSWER, lambda: WELCOME, m.Mute)
    ],
]


@pytest.mark.parametrize(
    ("state", "make"),
    RECEIVER_OUT_OF_TURN,
    ids=lambda v: v.value if isinstance(v, SessionState) else "",
)
def test_receiver_out_of_turn_message_is_fatal(
    room: Room, clock: Clock, state: SessionState, make: Callable[[], m.Message]
) -> None:
    link = receiver_in(state, room, clock)
    link.receiver.messages_to_send()
    message = make()
    events = link.deliver_to_receiver(message)
    assert events == [PresenterLeft(f"unexpected {message.TYPE!r} in state {state.value}")]
    error = only_error(link.receiver.messages_to_send())
    assert error.code is m.ErrorCode.UNEXPECTED
    assert error.fatal
    assert message.TYPE in error.message
    assert link.receiver.state is SessionState.CLOSED
    assert link.receiver not in room.presenters
    # Nothing more is heard from a closed session.
    assert link.deliver_to_receiver(HELLO) == []
    assert link.receiver.messages_to_send() == []


def test_receiver_second_hello_is_unexpected(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    link.deliver_to_receiver(HELLO)
    error = only_error(link.receiver_outbox())
    assert error.code is m.ErrorCode.UNEXPECTED
    c_events = link.deliver_to_client(error)
    assert isinstance(ended_error(c_events), ReceiverRefused)
    assert link.client.state is ClientState.CLOSED


# -- out of turn: client -----------------------------------------------------------------------
def client_in(state: ClientState, room: Room, clock: Clock) -> Link:
    link = Link(room, clock)
    if state is ClientState.SHARING:
        link.join()
        return link
    link.client.start()
    if state is ClientState.HELLO_SENT:
        link.client.messages_to_send()
        return link
    if state is ClientState.NEED_PIN:
        link.pump()
    elif state is ClientState.PAKE_SENT:
        link.pump()
        link.client.submit_pin(PIN)
        link.client.messages_to_send()
    elif state is ClientState.KEYED:
        link.pump()
        link.try_pin(PIN)
    elif state is ClientState.OFFER_SENT:
        link.client.set_offer(SDP_C)
        link.pump()
        link.try_pin(PIN)
    assert link.client.state is state
    return link


CLIENT_OUT_OF_TURN: list[tuple[ClientState, Callable[[], m.Message]]] = [
    *[(ClientState.HELLO_SENT, f) for f in (_pake, lambda: ANSWER, lambda: HELLO, m.Mute)],
    *[(ClientState.OFFER_SENT, f) for f in (m.Mute, lambda: m.View(960, 540))],
    *[(ClientState.NEED_PIN, f) for f in (lambda: WELCOME, _pake, lambda: ANSWER, lambda: OFFER)],
    *[(ClientState.PAKE_SENT, f) for f in (lambda: WELCOME, lambda: ANSWER, lambda: SHARE)],
    *[(ClientState.KEYED, f) for f in (lambda: WELCOME, _pake, lambda: ANSWER)],
    *[(ClientState.OFFER_SENT, f) for f in (lambda: WELCOME, _pake, lambda: OFFER)],
    *[(ClientState.SHARING, f) for f in (lambda: WELCOME, _pake, lambda: ANSWER, lambda: HELLO)],
]


@pytest.mark.parametrize(
    ("state", "make"),
    CLIENT_OUT_OF_TURN,
    ids=lambda v: v.value if isinstance(v, ClientState) else "",
)
def test_client_out_of_turn_message_is_fatal(
    room: Room, clock: Clock, state: ClientState, make: Callable[[], m.Message]
) -> None:
    link = client_in(state, room, clock)
    message = make()
    error = ended_error(link.deliver_to_client(message))
    assert isinstance(error, ProtocolViolation)
    assert f"{message.TYPE!r} out of turn" in str(error)
    assert error.exit_code == 1
    assert link.client.state is ClientState.CLOSED
    assert link.client.messages_to_send() == []
    assert link.deliver_to_client(WELCOME) == []


def test_client_reads_malformed_frame_as_protocol_violation(room: Room, clock: Clock) -> None:
    link = client_in(ClientState.HELLO_SENT, room, clock)
    error = ended_error(link.deliver_to_client("{nope"))
    assert isinstance(error, ProtocolViolation)
    assert "cannot read" in str(error)
    assert link.client.state is ClientState.CLOSED


def test_client_corrupt_pake_is_protocol_violation(room: Room, clock: Clock) -> None:
    link = client_in(ClientState.PAKE_SENT, room, clock)
    error = ended_error(link.deliver_to_client(m.Pake(b"A" + b"\x00" * 32)))
    assert isinstance(error, ProtocolViolation)


# -- malformed frames at the receiver ----------------------------------------------------------
MALFORMED: list[tuple[str, str, m.ErrorCode]] = [
    ("not json", "not json", m.ErrorCode.BAD_MESSAGE),
    ("array", "[1, 2]", m.ErrorCode.BAD_MESSAGE),
    ("unknown type", '{"type": "launch"}', m.ErrorCode.BAD_MESSAGE),
    ("missing field", '{"type": "share", "state": "sharing"}', m.ErrorCode.BAD_MESSAGE),
    (
        "bool size",
        '{"type":"share","state":"sharing","width":true,"height":1}',
        m.ErrorCode.BAD_MESSAGE,
    ),
    (
        "oversize",
        '{"type":"bye","reason":"' + "x" * m.MAX_MESSAGE_BYTES + '"}',
        m.ErrorCode.TOO_LARGE,
    ),
]


@pytest.mark.parametrize(("label", "raw", "code"), MALFORMED, ids=[x[0] for x in MALFORMED])
@pytest.mark.parametrize(
    "state",
    [SessionState.AWAITING_HELLO, SessionState.AWAITING_PAKE, SessionState.SHARING],
    ids=lambda s: s.value,
)
def test_malformed_frame_closes_only_that_session(
    room: Room, clock: Clock, label: str, raw: str, code: m.ErrorCode, state: SessionState
) -> None:
    bystander = Link(room, clock, source=OTHER_SRC, name="Bo")
    bystander.join()
    link = receiver_in(state, room, clock)
    link.receiver.messages_to_send()
    events = link.deliver_to_receiver(raw)
    assert len(events) == 1 and isinstance(events[0], PresenterLeft)
    assert events[0].reason.startswith("bad message")
    error = only_error(link.receiver.messages_to_send())
    assert error.code is code
    assert error.fatal
    assert error.message.startswith("Message refused")
    assert link.receiver.state is SessionState.CLOSED
    assert link.receiver not in room.presenters
    # The other presenter is untouched and still works.
    assert bystander.receiver.state is SessionState.SHARING
    assert room.presenters == {bystander.receiver}
    bystander.client.set_share_state("paused", 640, 480)
    _, r_events = bystander.pump()
    assert r_events == [ShareStateChanged("paused", 640, 480)]


def test_bad_message_code_reaches_the_client(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    link.deliver_to_receiver("not json")
    error = only_error(link.receiver_outbox())
    assert error.code is m.ErrorCode.BAD_MESSAGE
    assert json.loads(m.serialize(error))["code"] == "bad_message"


def test_corrupt_pake_to_receiver_is_bad_message(room: Room, clock: Clock) -> None:
    link = receiver_in(SessionState.AWAITING_PAKE, room, clock)
    link.receiver.messages_to_send()
    events = link.deliver_to_receiver(m.Pake(b"B" + b"\x00" * 32))
    assert len(events) == 1 and isinstance(events[0], PresenterLeft)
    assert only_error(link.receiver.messages_to_send()).code is m.ErrorCode.BAD_MESSAGE
    assert link.receiver.state is SessionState.CLOSED


def test_offer_without_dtls_fingerprint_is_bad_message(room: Room, clock: Clock) -> None:
    link = receiver_in(SessionState.AWAITING_OFFER, room, clock)
    link.receiver.messages_to_send()
    link.deliver_to_receiver(m.Offer(sdp="v=0\r\n", confirm=b"\x00" * 32))
    error = only_error(link.receiver.messages_to_send())
    assert error.code is m.ErrorCode.BAD_MESSAGE
    assert "fingerprint" in error.message
    assert link.receiver.state is SessionState.CLOSED


def test_pake_point_not_on_curve_is_bad_message(room: Room, clock: Clock) -> None:
    link = receiver_in(SessionState.AWAITING_PAKE, room, clock)
    link.receiver.messages_to_send()
    link.deliver_to_receiver(m.Pake(b"A" + b"\x02" * 32))
    assert only_error(link.receiver.messages_to_send()).code is m.ErrorCode.BAD_MESSAGE
    assert link.receiver.state is SessionState.CLOSED


def test_deeply_nested_frame_is_bad_message(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.deliver_to_receiver("[" * 5000)
    assert only_error(link.receiver.messages_to_send()).code is m.ErrorCode.BAD_MESSAGE
    assert link.receiver.state is SessionState.CLOSED


# -- forged answers ----------------------------------------------------------------------------
def offer_sent(room: Room, clock: Clock) -> Link:
    link = client_in(ClientState.OFFER_SENT, room, clock)
    link.receiver_outbox()
    return link


def assert_intercepted(events: list[Any], link: Link) -> None:
    error = ended_error(events)
    assert isinstance(error, ProtocolViolation)
    assert "could not prove it knows the PIN" in str(error)
    assert link.client.state is ClientState.CLOSED
    assert not any(isinstance(e, AnswerReceived) for e in events)


def test_answer_with_random_confirm_is_rejected(room: Room, clock: Clock) -> None:
    link = offer_sent(room, clock)
    assert_intercepted(link.deliver_to_client(m.Answer(sdp=SDP_R, confirm=b"\x00" * 32)), link)


def test_answer_with_swapped_dtls_fingerprint_is_rejected(room: Room, clock: Clock) -> None:
    link = offer_sent(room, clock)
    link.receiver.send_answer(SDP_R)
    (answer,) = link.receiver.messages_to_send()
    assert isinstance(answer, m.Answer)
    forged = m.Answer(sdp=SDP_R.replace("DD:EE:FF", "DD:EE:00"), confirm=answer.confirm)
    assert_intercepted(link.deliver_to_client(forged), link)


def test_answer_without_dtls_fingerprint_is_protocol_violation(room: Room, clock: Clock) -> None:
    link = offer_sent(room, clock)
    error = ended_error(link.deliver_to_client(m.Answer(sdp="v=0\r\n", confirm=b"\x00" * 32)))
    assert isinstance(error, ProtocolViolation)


def _fake_receiver(client: ClientSession, pin: str, tls: str) -> list[Any]:
    """A machine in the middle that answers with its own PAKE and confirmation."""
    client.start()
    client.set_offer(SDP_C)
    (hello,) = client.messages_to_send()
    assert isinstance(hello, m.Hello)
    events = client.receive(m.serialize(m.Welcome(room="Board room", pin_required=True)))
    client.submit_pin(PIN)
    (pake,) = client.messages_to_send()
    assert isinstance(pake, m.Pake)
    fake = PinExchange(pin, is_client=False)
    fake.finish(pake.message)
    events += client.receive(m.serialize(m.Pake(fake.outbound)))
    (offer,) = client.messages_to_send()
    assert isinstance(offer, m.Offer)
    confirm = fake.receiver_confirm(tls, dtls_fingerprints(offer.sdp), dtls_fingerprints(SDP_R))
    events += client.receive(m.serialize(m.Answer(sdp=SDP_R, confirm=confirm)))
    return events


def test_fake_receiver_as_control_succeeds() -> None:
    client = ClientSession("Ann", TLS)
    events = _fake_receiver(client, PIN, TLS)
    assert AnswerReceived(SDP_R) in events
    assert client.state is ClientState.SHARING


@pytest.mark.parametrize(
    ("pin", "tls"),
    [("9999", TLS), (PIN, OTHER_TLS), ("9999", OTHER_TLS)],
    ids=["other-pin", "other-certificate", "both"],
)
def test_answer_from_a_receiver_with_other_pin_or_certificate_is_rejected(
    pin: str, tls: str
) -> None:
    client = ClientSession("Ann", TLS)
    events = _fake_receiver(client, pin, tls)
    error = ended_error(events)
    assert isinstance(error, ProtocolViolation)
    assert "intercepted" in str(error)
    assert client.state is ClientState.CLOSED


def test_client_seeing_another_certificate_is_not_verified(room: Room, clock: Clock) -> None:
    # A machine in the middle with its own TLS certificate relays to the real receiver.
    link = Link(room, clock, tls=OTHER_TLS)
    link.greet()
    c_events, r_events = link.try_pin(PIN)
    assert not any(isinstance(e, OfferVerified) for e in r_events)
    assert r_events == [PinFailed(SRC, 4, None)]
    assert room.presenters == set()
    assert not any(isinstance(e, AnswerReceived) for e in c_events)


# -- versions ----------------------------------------------------------------------------------
def test_receiver_refuses_other_protocol_version(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.client.start()
    link.client.messages_to_send()
    events = link.deliver_to_receiver(m.Hello(name="Future", version=2))
    assert events == [PresenterLeft("protocol version 2")]
    error = only_error(link.receiver_outbox())
    assert error.code is m.ErrorCode.UNSUPPORTED_VERSION
    assert error.fatal
    assert link.receiver.state is SessionState.CLOSED
    client_error = ended_error(link.deliver_to_client(error))
    assert isinstance(client_error, ReceiverRefused)
    assert "different version" in str(client_error)


def test_client_refuses_other_protocol_version(room: Room, clock: Clock) -> None:
    link = client_in(ClientState.HELLO_SENT, room, clock)
    events = link.deliver_to_client(m.Welcome(room="R", pin_required=False, version=2))
    error = ended_error(events)
    assert isinstance(error, ReceiverRefused)
    assert "different version" in str(error)
    assert not any(isinstance(e, Welcomed) for e in events)
    assert link.client.state is ClientState.CLOSED
    assert link.client.messages_to_send() == []


# -- errors from the wire ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("wire", "kind", "text"),
    [
        ({"code": "full", "message": "Busy."}, ReceiverRefused, "The room is full: Busy."),
        (
            {"code": "internal", "message": "Oops."},
            ReceiverRefused,
            "The receiver refused the share: Oops.",
        ),
        (
            {"code": "brand_new", "message": "New."},
            ReceiverRefused,
            "The receiver refused the share: New.",
        ),
        ({"code": "wrong_pin", "message": "x", "tries_left": 2}, WrongPin, wrong_pin_sentence(2)),
        (
            {"code": "locked_out", "message": "x", "retry_after": 3600},
            LockedOut,
            "Too many wrong PINs from this computer. Try again in 60 minutes.",
        ),
    ],
)
def test_fatal_errors_map_to_user_errors(
    room: Room, clock: Clock, wire: dict[str, Any], kind: type, text: str
) -> None:
    link = client_in(ClientState.HELLO_SENT, room, clock)
    raw = json.dumps({"type": "error", "fatal": True, **wire})
    error = ended_error(link.deliver_to_client(raw))
    assert type(error) is kind
    assert str(error) == text
    assert link.client.state is ClientState.CLOSED


def test_fatal_wrong_pin_carries_tries_left(room: Room, clock: Clock) -> None:
    link = client_in(ClientState.OFFER_SENT, room, clock)
    error = ended_error(
        link.deliver_to_client(m.Error(m.ErrorCode.WRONG_PIN, "x", fatal=True, tries_left=2))
    )
    assert isinstance(error, WrongPin)
    assert error.tries_left == 2


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "1 second"),
        (1, "1 second"),
        (2, "2 seconds"),
        (30, "30 seconds"),
        (89, "89 seconds"),
        (90, "2 minutes"),
        (120, "2 minutes"),
        (3600, "60 minutes"),
    ],
)
def test_describe_wait(seconds: float, text: str) -> None:
    assert describe_wait(seconds) == text


# -- exit codes and PIN input ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInput("x"), 2),
        (InvalidMeetingId("x"), 2),
        (PinRequired("x"), 2),
        (WrongPin("x", 3), 3),
        (LockedOut("x", 30.0), 3),
        (ReceiverUnreachable("x"), 4),
        (ReceiverRefused("x"), 1),
        (ShareEnded("x"), 1),
        (ProtocolViolation("x"), 1),
        (MontageError("x"), 1),
    ],
)
def test_exit_codes(error: MontageError, code: int) -> None:
    assert error.exit_code == code
    assert str(error) == "x"


@pytest.mark.parametrize("pin", ["", "123", "12345", "abcd", "12a4", "١٢٣٤", "12 4", "-123"])
def test_submit_pin_rejects_malformed_pins(room: Room, clock: Clock, pin: str) -> None:
    link = client_in(ClientState.NEED_PIN, room, clock)
    with pytest.raises(InvalidInput) as info:
        link.client.submit_pin(pin)
    assert info.value.exit_code == 2
    assert "4 digits" in str(info.value)
    assert link.client.state is ClientState.NEED_PIN
    assert link.client.messages_to_send() == []
    # No guess was spent.
    assert room.lockout.tries_left(SRC, clock.now) == 5
    link.client.set_offer(SDP_C)
    _, r_events = link.try_pin(f" {PIN} ")  # surrounding spaces are forgiven
    assert r_events == [OfferVerified("Ann", SDP_C)]


def test_submit_pin_outside_need_pin_is_a_programming_error(room: Room, clock: Clock) -> None:
    client = ClientSession("Ann", TLS)
    with pytest.raises(RuntimeError):
        client.submit_pin(PIN)
    client.start()
    with pytest.raises(RuntimeError):
        client.start()


# -- attempts that end without a verdict ------------------------------------------------------
def _start_attempt_without_offer(room: Room, clock: Clock, pin: str) -> Link:
    link = Link(room, clock)
    link.client.start()
    link.pump()
    link.try_pin(pin)  # no offer: the receiver waits in AWAITING_OFFER
    assert link.receiver.state is SessionState.AWAITING_OFFER
    return link


@pytest.mark.parametrize("ending", ["bye", "junk", "lost"])
def test_attempt_ended_any_way_is_settled(room: Room, clock: Clock, ending: str) -> None:
    """After a lockout, a guess abandoned by bye, junk or a drop must not jam the door."""
    lock_out(room, clock).try_pin("0005")  # locked for 30 s
    clock.now += 30
    link = _start_attempt_without_offer(room, clock, "0006")
    if ending == "bye":
        link.deliver_to_receiver(m.Bye(reason="stopped"))
    elif ending == "junk":
        link.deliver_to_receiver("{junk")
    else:
        link.receiver.connection_lost(clock.now)
    assert link.receiver.closed
    # The abandoned guess counted: locked again, for twice as long...
    assert room.lockout.retry_after(SRC, clock.now) == pytest.approx(60.0)
    clock.now += 60
    # ...and after that the one try allowed after a lockout is really there.
    again = Link(room, clock)
    again.greet()
    _, r_events = again.try_pin(PIN)
    assert r_events == [OfferVerified("Ann", SDP_C)]


def test_no_pin_room_with_failed_confirmation_is_fatal_not_a_pin_prompt(clock: Clock) -> None:
    room = Room(name="Open room", pin=None, tls_fingerprint=TLS)
    link = Link(room, clock, tls=OTHER_TLS)  # a relay swapped the certificate
    _, r_events = link.greet()
    assert not any(isinstance(e, PinNeeded) for e in link.client_events)
    error = ended_error(link.client_events)
    assert isinstance(error, ReceiverRefused)
    assert link.receiver.closed and not any(isinstance(e, PinFailed) for e in r_events)


def test_refusal_of_huge_junk_is_short_enough_for_the_client(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    junk = json.dumps({"type": "x" * 60_000})
    link.deliver_to_receiver(junk)
    (error,) = link.receiver.messages_to_send()
    assert isinstance(error, m.Error) and len(error.message) <= m.MAX_TEXT_CHARS
    # The client can read it (it would report a protocol violation otherwise).
    assert m.parse(m.serialize(error)) == error


def test_null_optional_error_fields_are_absent() -> None:
    raw = json.dumps(
        {
            "type": "error",
            "code": "full",
            "message": "Full.",
            "fatal": True,
            "tries_left": None,
            "retry_after": None,
        }
    )
    error = m.parse(raw)
    assert isinstance(error, m.Error)
    assert error.tries_left is None and error.retry_after is None


# -- camera, microphone and the room's mute ---------------------------------------------------
def test_client_announces_what_it_understands(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    hello = link.to_receiver[0]
    assert isinstance(hello, m.Hello) and hello.features == (m.FEATURE_MUTE, m.FEATURE_VIEW)
    assert link.receiver.features == (m.FEATURE_MUTE, m.FEATURE_VIEW)


def test_camera_and_microphone_state_reaches_the_receiver(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.join()
    link.client.set_share_state("sharing", 640, 360, camera=True, microphone=False)
    _, r_events = link.pump()
    assert r_events == [ShareStateChanged("sharing", 640, 360, camera=True, microphone=False)]
    link.client.set_share_state("paused", 640, 360, camera=False, microphone=True)
    _, r_events = link.pump()
    assert r_events == [ShareStateChanged("paused", 640, 360, camera=False, microphone=True)]


def test_share_from_an_older_client_means_no_camera_or_microphone(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.join()
    events = link.deliver_to_receiver('{"type":"share","state":"sharing","width":8,"height":8}')
    assert events == [ShareStateChanged("sharing", 8, 8, camera=False, microphone=False)]


def test_room_mutes_a_presenter(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.join()
    assert link.receiver.can_mute
    assert link.receiver.mute_by_room() is True
    c_events, _ = link.pump()
    assert link.to_client[-1] == m.Mute()
    assert c_events == [MuteRequested("microphone")]
    assert link.client.state is ClientState.SHARING  # the share goes on


def test_client_without_the_feature_is_not_sent_mute(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.client.start()
    link.client.messages_to_send()  # drop the real hello: this client is older
    link.deliver_to_receiver(m.Hello(name="Old"))
    link.pump()
    assert link.receiver.features == ()
    link.client.set_offer(SDP_C)
    link.pump()
    link.try_pin(PIN)
    link.answer()
    assert link.receiver.state is SessionState.SHARING
    assert not link.receiver.can_mute
    assert link.receiver.mute_by_room() is False
    assert link.receiver.messages_to_send() == []


def test_mute_before_sharing_does_nothing(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    assert link.receiver.mute_by_room() is False
    assert link.receiver.messages_to_send() == []


# -- the box the room shows a share in ---------------------------------------------------------
def test_room_tells_the_presenter_its_box_once_per_change(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.join()
    assert link.receiver.show_in(960, 508) is True
    c_events, _ = link.pump()
    assert c_events == [ViewRequested(960, 508)]
    # The same box again (a repaint, a relayout that moved nothing): nothing sent.
    assert link.receiver.show_in(960, 508) is False
    assert link.receiver.messages_to_send() == []
    # Alone again: the whole wall.
    assert link.receiver.show_in(1920, 1080) is True
    c_events, _ = link.pump()
    assert c_events == [ViewRequested(1920, 1080)]
    assert link.client.state is ClientState.SHARING


def test_box_is_kept_within_what_the_wire_allows(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.join()
    assert link.receiver.show_in(2, 40000) is True
    c_events, _ = link.pump()
    assert c_events == [ViewRequested(m.MIN_VIEW_SIDE, m.MAX_VIEW_SIDE)]


def test_older_client_is_not_told_its_box(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.client.start()
    link.client.messages_to_send()  # drop the real hello: this client is older
    link.deliver_to_receiver(m.Hello(name="Old", features=(m.FEATURE_MUTE,)))
    link.pump()
    link.client.set_offer(SDP_C)
    link.pump()
    link.try_pin(PIN)
    link.answer()
    assert link.receiver.state is SessionState.SHARING
    assert link.receiver.show_in(960, 540) is False
    assert link.receiver.messages_to_send() == []


def test_box_before_sharing_is_not_sent(room: Room, clock: Clock) -> None:
    link = Link(room, clock)
    link.greet()
    assert link.receiver.show_in(960, 540) is False
    assert link.receiver.messages_to_send() == []
