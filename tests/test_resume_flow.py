"""Resuming a share (docs/protocol.md §18): the two state machines and the policy, no I/O.

A client that reconnects by itself gets a ticket with its answer; when its
connection is lost the room holds its slot; a new connection that proves
the PIN again *and* the ticket's key gets the share back. A ticket alone,
or the PIN alone, does not.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from montage_core.protocol import messages as m
from montage_core.protocol.client_session import (
    PIN_CHANGED,
    ClientSession,
    ClientState,
    ResumeTicket,
)
from montage_core.protocol.errors import (
    ConnectionLost,
    PinChanged,
    ReceiverUnreachable,
    ShareEnded,
)
from montage_core.protocol.events import (
    OfferVerified,
    PinFailed,
    PinNeeded,
    PresenterDetached,
    PresenterLeft,
    Welcomed,
)
from montage_core.protocol.reconnect import DELAYS, Reconnection, transient
from montage_receiver.presenter_session import MAX_HOLD, Room, SessionState
from tests.test_session_flow import PIN, SDP_C, SDP_R, SRC, TLS, Clock, Link, ended_error

HOLD = 60
OTHER_SDP = "v=0\r\no=- 3 3 IN IP4 0.0.0.0\r\na=fingerprint:sha-256 99:88:77\r\n"


class ResumeLink(Link):
    """A client that reconnects by itself (`hold`), optionally rejoining with what it kept."""

    def __init__(
        self,
        room: Room,
        clock: Clock,
        *,
        rejoin: bool = False,
        ticket: ResumeTicket | None = None,
        pin: str | None = None,
        source: str = SRC,
        hold: int = HOLD,
    ) -> None:
        super().__init__(room, clock, source=source)
        self.client = ClientSession("Ann", TLS, hold=hold, rejoin=rejoin, ticket=ticket, pin=pin)


def tickets() -> Any:
    numbers = iter(range(10**6))
    return lambda: f"ticket-{next(numbers):010d}"


@pytest.fixture
def room() -> Room:
    return Room(name="Board room", pin=PIN, tls_fingerprint=TLS, make_ticket=tickets())


@pytest.fixture
def clock() -> Clock:
    return Clock()


def shared(room: Room, clock: Clock) -> ResumeLink:
    link = ResumeLink(room, clock)
    link.join(PIN)
    return link


def rejoin(room: Room, clock: Clock, first: ResumeLink, **kwargs: Any) -> ResumeLink:
    """The same client, on a new connection, with what it kept from `first`."""
    options = {"ticket": first.client.ticket, "pin": first.client.proven_pin} | kwargs
    link = ResumeLink(room, clock, rejoin=True, **options)
    link.client.start()
    link.pump()
    return link


def test_a_share_that_may_resume_gets_a_ticket_and_the_client_keeps_the_pin(
    room: Room, clock: Clock
) -> None:
    link = shared(room, clock)
    hello = link.to_receiver[0]
    assert isinstance(hello, m.Hello)
    assert m.FEATURE_RESUME in hello.features and hello.hold == HOLD and hello.resume is None
    answer = next(msg for msg in link.to_client if isinstance(msg, m.Answer))
    assert answer.resume == "ticket-0000000000"
    assert link.client.ticket is not None and link.client.ticket.id == answer.resume
    assert link.client.proven_pin == PIN
    assert set(room.tickets) == {answer.resume}


def test_a_client_that_does_not_reconnect_gets_no_ticket_and_its_slot_is_freed(
    room: Room, clock: Clock
) -> None:
    link = ResumeLink(room, clock, hold=0)
    link.join(PIN)
    assert link.client.ticket is None and room.tickets == {}
    hello = link.to_receiver[0]
    assert isinstance(hello, m.Hello) and m.FEATURE_RESUME not in hello.features
    assert link.receiver.connection_lost(clock.now) == [PresenterLeft("connection lost")]
    assert not room.full and room.presenters == set()


def test_lost_while_sharing_the_slot_is_held_then_taken_back_with_pin_and_ticket(
    room: Room, clock: Clock
) -> None:
    first = shared(room, clock)
    ticket = first.client.ticket
    assert ticket is not None
    ended = ended_error(first.client.connection_lost())
    assert first.client.closed
    assert isinstance(ended, ConnectionLost) and ended.transient

    events = first.receiver.connection_lost(clock.now)
    assert events == [PresenterDetached(ticket.id, HOLD)]
    assert [t.id for t in room.held] == [ticket.id]
    room.max_presenters = 1
    assert room.full  # the held share keeps its slot: a newcomer is refused

    clock.now += 5
    second = rejoin(room, clock, first)
    welcomed = [e for e in second.client_events if isinstance(e, Welcomed)]
    assert welcomed == [Welcomed("Board room", True, resume=True)]
    # Nobody is asked for the PIN: the client proves the one it kept.
    assert not any(isinstance(e, PinNeeded) for e in second.client_events)
    second.client.set_offer(SDP_C)
    _, r_events = second.pump()
    assert [e for e in r_events if isinstance(e, OfferVerified)] == [
        OfferVerified("Ann", SDP_C, resumes=ticket.id)
    ]
    offer = next(msg for msg in second.to_receiver if isinstance(msg, m.Offer))
    assert offer.resume_proof is not None
    second.answer()
    assert second.client.state is ClientState.SHARING
    # A new ticket for next time; the old one is spent.
    assert second.client.ticket is not None and second.client.ticket.id != ticket.id
    assert set(room.tickets) == {second.client.ticket.id}
    assert room.presenters == {second.receiver}


def test_a_stolen_ticket_without_the_pin_gets_nothing_but_a_counted_guess(
    room: Room, clock: Clock
) -> None:
    owner = shared(room, clock)
    assert owner.client.ticket is not None
    owner.receiver.connection_lost(clock.now)
    # Someone else's client, with the ticket (and even its key) but not the PIN.
    thief = rejoin(room, clock, owner, pin="0000", source="192.0.2.66")
    thief.client.set_offer(OTHER_SDP)
    _, r_events = thief.pump()
    assert not any(isinstance(e, OfferVerified) for e in r_events)
    assert next(e for e in r_events if isinstance(e, PinFailed)).source == "192.0.2.66"
    assert isinstance(ended_error(thief.client_events), PinChanged)
    assert [t.id for t in room.held] == [owner.client.ticket.id]  # still held for its owner


def test_a_ticket_named_with_the_pin_but_without_its_key_is_a_newcomer(
    room: Room, clock: Clock
) -> None:
    owner = shared(room, clock)
    ticket = owner.client.ticket
    assert ticket is not None
    owner.receiver.connection_lost(clock.now)
    # Someone in the room read the PIN off the wall and learnt the ticket's name.
    forged = ResumeTicket(ticket.id, b"\x00" * 32)
    thief = rejoin(room, clock, owner, ticket=forged, pin=PIN, source="192.0.2.66")
    thief.client.set_offer(OTHER_SDP)
    _, r_events = thief.pump()
    assert [e for e in r_events if isinstance(e, OfferVerified)] == [
        OfferVerified("Ann", OTHER_SDP, resumes=None)
    ]
    assert ticket.id in room.tickets  # the owner's share is still held for the owner


def test_a_held_share_expires_after_the_time_its_client_asked(room: Room, clock: Clock) -> None:
    first = shared(room, clock)
    first.receiver.connection_lost(clock.now)
    assert room.next_expiry() == clock.now + HOLD
    assert room.expire(clock.now + HOLD - 1) == []
    (gone,) = room.expire(clock.now + HOLD)
    assert first.client.ticket is not None and gone.id == first.client.ticket.id
    assert room.tickets == {} and not room.full
    # Back too late: a new share, as any newcomer's.
    late = rejoin(room, clock, first)
    assert Welcomed("Board room", True, resume=False) in late.client_events


def test_the_hold_a_client_asks_for_is_capped(room: Room, clock: Clock) -> None:
    link = ResumeLink(room, clock, hold=m.MAX_HOLD_SECONDS)
    link.join(PIN)
    (event,) = link.receiver.connection_lost(clock.now)
    assert isinstance(event, PresenterDetached) and event.hold == MAX_HOLD


def test_a_presenter_stopped_by_the_room_while_away_is_told_not_let_back(
    room: Room, clock: Clock
) -> None:
    first = shared(room, clock)
    ticket = first.client.ticket
    assert ticket is not None
    first.receiver.connection_lost(clock.now)
    assert room.stop_held(ticket.id)
    back = rejoin(room, clock, first)
    error = ended_error(back.client_events)
    assert isinstance(error, ShareEnded) and not error.transient
    assert str(error) == "The room stopped your share."
    assert room.tickets == {}


def test_a_presenter_stopped_by_the_room_while_connected_is_never_resumed(
    room: Room, clock: Clock
) -> None:
    first = shared(room, clock)
    first.receiver.stop_by_room()
    back = rejoin(room, clock, first)
    assert str(ended_error(back.client_events)) == "The room stopped your share."


def test_a_restarted_receiver_with_the_same_pin_is_rejoined_as_a_new_share(clock: Clock) -> None:
    before = Room(name="Board room", pin=PIN, tls_fingerprint=TLS, make_ticket=tickets())
    first = shared(before, clock)
    after = Room(name="Board room", pin=PIN, tls_fingerprint=TLS)  # nothing remembered
    second = rejoin(after, clock, first)
    assert Welcomed("Board room", True, resume=False) in second.client_events
    assert not any(isinstance(e, PinNeeded) for e in second.client_events)
    second.client.set_offer(OTHER_SDP)  # a new media session
    _, r_events = second.pump()
    assert [e for e in r_events if isinstance(e, OfferVerified)] == [
        OfferVerified("Ann", OTHER_SDP, resumes=None)
    ]
    second.answer()
    assert second.client.state is ClientState.SHARING


def test_a_restarted_receiver_with_a_new_pin_ends_the_share_with_a_sentence(
    clock: Clock,
) -> None:
    first = shared(Room(name="R", pin=PIN, tls_fingerprint=TLS), clock)
    second = rejoin(Room(name="R", pin="9876", tls_fingerprint=TLS), clock, first)
    second.client.set_offer(SDP_C)
    second.pump()
    error = ended_error(second.client_events)
    assert isinstance(error, PinChanged) and str(error) == PIN_CHANGED
    assert error.exit_code == 3 and not error.transient
    # ... and the person is never asked to type anything.
    assert not any(isinstance(e, PinNeeded) for e in second.client_events)


def test_a_room_that_now_wants_a_pin_the_share_never_had_ends_it(clock: Clock) -> None:
    first = ResumeLink(Room(name="R", pin=None, tls_fingerprint=TLS), clock)
    first.join(None)
    second = rejoin(Room(name="R", pin=PIN, tls_fingerprint=TLS), clock, first)
    assert isinstance(ended_error(second.client_events), PinChanged)


def test_coming_back_before_the_receiver_noticed_the_loss_supersedes_the_dead_connection(
    room: Room, clock: Clock
) -> None:
    first = shared(room, clock)  # its connection is dead, but no heartbeat has said so
    second = rejoin(room, clock, first)
    assert Welcomed("Board room", True, resume=True) in second.client_events
    second.client.set_offer(SDP_C)
    _, r_events = second.pump()
    assert first.client.ticket is not None
    assert OfferVerified("Ann", SDP_C, resumes=first.client.ticket.id) in r_events
    assert first.receiver.state is SessionState.CLOSED
    assert first.receiver.connection_lost(clock.now) == []  # quietly, no second event
    assert room.presenters == {second.receiver}


def test_a_rejoin_that_the_receiver_drops_before_sharing_is_tried_again(
    room: Room, clock: Clock
) -> None:
    first = shared(room, clock)
    second = rejoin(room, clock, first)
    assert isinstance(ended_error(second.client.connection_lost()), ConnectionLost)
    # A first join dropped that way is not a blink: it says so and ends.
    fresh = ResumeLink(room, clock)
    fresh.client.start()
    error = ended_error(fresh.client.connection_lost())
    assert isinstance(error, ShareEnded) and not error.transient


def test_resume_fields_on_the_wire() -> None:
    hello = m.Hello(name="Ann", features=("resume",), resume="A" * 22, hold=60)
    assert m.parse(m.serialize(hello)) == hello
    answer = m.Answer(sdp=SDP_R, confirm=b"\x01" * 32, resume="B" * 22)
    assert m.parse(m.serialize(answer)) == answer
    offer = m.Offer(sdp=SDP_C, confirm=b"\x02" * 32, resume_proof=b"\x03" * 32)
    assert m.parse(m.serialize(offer)) == offer
    welcome = m.Welcome(room="R", pin_required=False, resume=True)
    assert m.parse(m.serialize(welcome)) == welcome
    base = {"type": "hello", "version": 1, "name": "A", "software": "x"}
    for bad in ({"resume": "short"}, {"resume": "bad ticket!" * 3}, {"hold": 601}, {"hold": -1}):
        with pytest.raises(m.MalformedMessage):
            m.parse(json.dumps(base | bad))


def test_the_policy_tries_quickly_then_steadily_then_gives_up_with_a_sentence() -> None:
    policy = Reconnection(window=10)
    policy.lost(100.0)
    times = []
    now = 100.0
    while (when := policy.next_try(now)) is not None:
        times.append(round(when - now, 2))
        now = when
    assert times[: len(DELAYS)] == list(DELAYS)
    assert set(times[len(DELAYS) : -1]) == {DELAYS[-1]}
    assert now == 110.0  # the last try is at the end of the window, not after
    error = policy.give_up("the receiver at 192.0.2.1:443")
    assert isinstance(error, ReceiverUnreachable) and error.exit_code == 4
    assert str(error).startswith(
        "Lost the connection to the receiver at 192.0.2.1:443 and could not get it back "
        "within 10 seconds"
    )
    policy.resumed()
    assert policy.count == 1 and not policy.lost_now
    assert not Reconnection(window=0).enabled


def test_which_endings_are_worth_another_try() -> None:
    assert transient(ConnectionLost("x")) and transient(ReceiverUnreachable("x"))
    assert transient(TimeoutError()) and transient(ConnectionResetError())
    assert not transient(ShareEnded("The room stopped your share."))
    assert not transient(PinChanged(PIN_CHANGED))
    assert not transient(ValueError())
