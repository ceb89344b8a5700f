"""The receiver's side of the signalling protocol, one instance per connection.

No I/O, no clock of its own: the adapter passes each frame and the current
time in, performs what the events ask (answer an offer, tear media down) and
sends `messages_to_send`. Admission (how many may present, PIN guesses per
source) is decided by the shared `Room`.

A client with the `resume` feature gets a ticket with its answer. When its
connection is lost the room holds its slot for the seconds it asked
(`Room.tickets`); a new connection that proves the PIN *and* the ticket's key
takes the share back (docs/protocol.md §18). A ticket the room stopped is
answered with `stop`, so that presenter is never let back in by accident.
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from montage_core.guests import GUEST_SOURCE
from montage_core.protocol import messages as m
from montage_core.protocol.events import (
    OfferVerified,
    PinFailed,
    PresenterDetached,
    PresenterJoined,
    PresenterLeft,
    ReceiverEvent,
    ShareStateChanged,
)
from montage_core.protocol.lockout import Lockout
from montage_core.protocol.pin_auth import (
    NO_PIN,
    PinExchange,
    check_resume_proof,
    dtls_fingerprints,
)

logger = logging.getLogger(__name__)

MAX_PRESENTERS = 4
# The most a client may ask the room to hold its slot after a loss.
MAX_HOLD = 300.0
# Tickets of presenters the room stopped while they were away, remembered so
# they are told instead of let back in (a few per meeting at most).
STOPPED_REMEMBERED = 64


def new_ticket() -> str:
    return secrets.token_urlsafe(16)


@dataclass(eq=False)
class Ticket:
    """A share that may be resumed: held (no connection) or still attached to `session`."""

    id: str
    key: bytes = field(repr=False)
    name: str
    hold: float
    session: PresenterSession | None
    held_until: float | None = None  # set while held


@dataclass
class Room:
    """What every connection to one receiver shares."""

    name: str
    pin: str | None
    tls_fingerprint: str
    max_presenters: int = MAX_PRESENTERS
    lockout: Lockout = field(default_factory=Lockout)
    presenters: set[PresenterSession] = field(default_factory=set)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    stopped: OrderedDict[str, None] = field(default_factory=OrderedDict)
    make_ticket: Callable[[], str] = new_ticket

    @property
    def held(self) -> list[Ticket]:
        return [t for t in self.tickets.values() if t.session is None]

    @property
    def full(self) -> bool:
        # A held share keeps its slot: its presenter is coming back.
        return len(self.presenters) + len(self.held) >= self.max_presenters

    def expire(self, now: float) -> list[Ticket]:
        """Release the held shares whose time is up; the adapter frees their tiles."""
        gone = [t for t in self.held if t.held_until is not None and now >= t.held_until]
        for ticket in gone:
            del self.tickets[ticket.id]
        return gone

    def next_expiry(self) -> float | None:
        times = [t.held_until for t in self.held if t.held_until is not None]
        return min(times) if times else None

    def stop_held(self, ticket_id: str) -> bool:
        """The room stops a presenter who is away: they are told when they come back."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket.session is not None:
            return False
        del self.tickets[ticket_id]
        self.remember_stopped(ticket_id)
        return True

    def remember_stopped(self, ticket_id: str) -> None:
        self.stopped[ticket_id] = None
        while len(self.stopped) > STOPPED_REMEMBERED:
            self.stopped.popitem(last=False)

    def full_error(self) -> m.Error:
        if self.max_presenters == 1:
            sentence = "Someone is already sharing. Ask them to stop first."
        else:
            sentence = (
                f"{self.max_presenters} people are already sharing. Ask one of them to stop first."
            )
        return m.Error(m.ErrorCode.FULL, sentence)


class SessionState(enum.Enum):
    AWAITING_HELLO = "awaiting_hello"
    AWAITING_PAKE = "awaiting_pake"
    AWAITING_OFFER = "awaiting_offer"
    ANSWERING = "answering"
    SHARING = "sharing"
    CLOSED = "closed"


class PresenterSession:
    def __init__(self, room: Room, source: str, *, guest: bool = False) -> None:
        self.room = room
        self.source = source
        self.guest = guest
        # Whose PIN guesses this connection spends. A guest has no address of
        # its own worth counting (anyone can be a new one): all guests of this
        # meeting share one record (docs/protocol.md §17).
        self.lockout_source = GUEST_SOURCE if guest else source
        self.state = SessionState.AWAITING_HELLO
        self.name = ""
        self.share_state = "sharing"
        self.features: tuple[str, ...] = ()
        self.hold = 0.0  # seconds the client asked the room to wait for it
        self.ticket: Ticket | None = None  # this share's, once sharing
        self._claim: Ticket | None = None  # the held share this connection says is its own
        self._outbox: list[m.Message] = []
        self._exchange: PinExchange | None = None
        self._offer_dtls = ""
        # A PIN attempt has started (PAKE received) and not yet been judged.
        self._attempt_open = False
        self._now = 0.0  # the latest time the adapter told us
        self._view: tuple[int, int] | None = None  # the last `view` sent

    # Sessions are kept in a set by identity.
    __hash__ = object.__hash__

    def receive(self, raw: str | bytes, now: float) -> list[ReceiverEvent]:
        if self.state is SessionState.CLOSED:
            return []
        self._now = now
        try:
            message = m.parse(raw)
            return self._handle(message, now)
        except m.MalformedMessage as exc:
            logger.warning(
                "presenter %s (%s) sent a bad message: %s", self.name or "?", self.source, exc
            )
            # The reason may quote the sender's junk: keep it short enough to read.
            reason = str(exc)[:200]
            return self._reject(
                m.Error(exc.code, f"Message refused: {reason}"), f"bad message: {reason}"
            )

    def send_answer(self, sdp: str) -> list[ReceiverEvent]:
        """The adapter made the SDP answer for the verified offer."""
        if self.state is not SessionState.ANSWERING:
            return []
        assert self._exchange is not None
        confirm = self._exchange.receiver_confirm(
            self.room.tls_fingerprint, self._offer_dtls, dtls_fingerprints(sdp)
        )
        ticket_id = None
        if m.FEATURE_RESUME in self.features and self.hold > 0:
            ticket_id = self.room.make_ticket()
            self.ticket = Ticket(
                ticket_id, self._exchange.resume_key(ticket_id), self.name, self.hold, self
            )
            self.room.tickets[ticket_id] = self.ticket
        self._outbox.append(m.Answer(sdp=sdp, confirm=confirm, resume=ticket_id))
        self.state = SessionState.SHARING
        return [PresenterJoined(self.name)]

    def answer_failed(self, reason: str) -> list[ReceiverEvent]:
        return self._reject(
            m.Error(m.ErrorCode.INTERNAL, "The receiver could not start the media session."),
            f"answer failed: {reason}",
        )

    @property
    def can_mute(self) -> bool:
        """Whether the presenter's client turns its microphone off when asked."""
        return self.state is SessionState.SHARING and m.FEATURE_MUTE in self.features

    def mute_by_room(self) -> bool:
        """The room mutes this presenter; True if their client was asked to turn it off.

        A client without the `mute` feature is not asked (it would treat the
        message as fatal); the adapter silences it locally either way.
        """
        if not self.can_mute:
            return False
        self._outbox.append(m.Mute(device="microphone"))
        return True

    def show_in(self, width: int, height: int) -> bool:
        """The room shows this share in a `width` × `height` box; True if the client is told.

        Only clients with the `view` feature are told (others would treat the
        message as fatal), only while sharing, and only when the box changed.
        """
        if self.state is not SessionState.SHARING or m.FEATURE_VIEW not in self.features:
            return False
        box = (
            max(m.MIN_VIEW_SIDE, min(m.MAX_VIEW_SIDE, width)),
            max(m.MIN_VIEW_SIDE, min(m.MAX_VIEW_SIDE, height)),
        )
        if box == self._view:
            return False
        self._view = box
        self._outbox.append(m.View(width=box[0], height=box[1]))
        return True

    def stop_by_room(self) -> list[ReceiverEvent]:
        if self.state is SessionState.CLOSED:
            return []
        self._outbox.append(m.Stop(reason="room"))
        if self.ticket is not None:
            self.room.remember_stopped(self.ticket.id)  # never let back in unawares
        return self._close("stopped by the room")

    def close_meeting(self) -> list[ReceiverEvent]:
        if self.state is SessionState.CLOSED:
            return []
        self._outbox.append(m.Bye(reason="closed"))
        return self._close("meeting closed")

    def connection_lost(self, now: float) -> list[ReceiverEvent]:
        """The connection (signalling or media) is gone without a word.

        A share with a ticket is held for the time its client asked: it may
        come back. Anything else ends here.
        """
        if self.state is SessionState.CLOSED:
            return []
        self._now = now
        ticket = self.ticket
        if self.state is SessionState.SHARING and ticket is not None:
            self.ticket = None
            ticket.session = None
            ticket.held_until = now + ticket.hold
            self.state = SessionState.CLOSED
            self.room.presenters.discard(self)
            return [PresenterDetached(ticket.id, ticket.hold)]
        return self._close("connection lost")

    def peer_gone(self, now: float) -> list[ReceiverEvent]:
        """The presenter's device left the cloud (its XMPP session ended: it quit,
        or the organisation cut it off). It will not come back as itself: no hold."""
        if self.state is SessionState.CLOSED:
            return []
        self._now = now
        return self._close("presenter went offline")

    def superseded(self) -> None:
        """Its presenter came back on another connection (this one is dead): close quietly."""
        self.ticket = None
        self.state = SessionState.CLOSED
        self.room.presenters.discard(self)

    def messages_to_send(self) -> list[m.Message]:
        out, self._outbox = self._outbox, []
        return out

    @property
    def closed(self) -> bool:
        return self.state is SessionState.CLOSED

    # -- internals ----------------------------------------------------------
    def _handle(self, message: m.Message, now: float) -> list[ReceiverEvent]:
        state = self.state
        if isinstance(message, m.Bye) and state is not SessionState.AWAITING_HELLO:
            return self._close(f"presenter left ({message.reason})")
        if isinstance(message, m.Hello) and state is SessionState.AWAITING_HELLO:
            return self._on_hello(message, now)
        if isinstance(message, m.Pake) and state is SessionState.AWAITING_PAKE:
            return self._on_pake(message, now)
        if isinstance(message, m.Offer) and state is SessionState.AWAITING_OFFER:
            return self._on_offer(message, now)
        if isinstance(message, m.ShareState) and state is SessionState.SHARING:
            self.share_state = message.state
            return [
                ShareStateChanged(
                    message.state,
                    message.width,
                    message.height,
                    camera=bool(message.camera),
                    microphone=bool(message.microphone),
                )
            ]
        return self._reject(
            m.Error(m.ErrorCode.UNEXPECTED, f"{message.TYPE!r} is not allowed now."),
            f"unexpected {message.TYPE!r} in state {state.value}",
        )

    def _on_hello(self, hello: m.Hello, now: float) -> list[ReceiverEvent]:
        if hello.version != m.PROTOCOL_VERSION:
            return self._reject(
                m.Error(
                    m.ErrorCode.UNSUPPORTED_VERSION,
                    f"This receiver speaks protocol {m.PROTOCOL_VERSION}.",
                ),
                f"protocol version {hello.version}",
            )
        if (locked := self._locked_error(now)) is not None:
            return locked
        resume = None
        if hello.resume is not None:
            if hello.resume in self.room.stopped:
                # Stopped by the room while away: say so, as it would have been said.
                self._outbox.append(m.Stop(reason="room"))
                return self._close("stopped by the room (came back)")
            self._claim = self.room.tickets.get(hello.resume)
            resume = self._claim is not None
        # The share being resumed has its slot already.
        if self.room.full and self._claim is None:
            return self._reject(self.room.full_error(), "room full")
        self.name = hello.name
        self.features = hello.features
        if m.FEATURE_RESUME in hello.features:
            self.hold = min(float(hello.hold or 0), MAX_HOLD)
        self._outbox.append(
            m.Welcome(room=self.room.name, pin_required=self.room.pin is not None, resume=resume)
        )
        self.state = SessionState.AWAITING_PAKE
        return []

    def _on_pake(self, pake: m.Pake, now: float) -> list[ReceiverEvent]:
        if (locked := self._locked_error(now)) is not None:
            return locked
        if self.room.pin is not None:
            wait = self.room.lockout.record_attempt(self.lockout_source, now)
            if wait is not None:
                return self._reject(
                    m.Error(
                        m.ErrorCode.LOCKED_OUT, "Too many wrong PINs.", retry_after=round(wait, 1)
                    ),
                    "locked out",
                )
            self._attempt_open = True
        self._exchange = PinExchange(self.room.pin or NO_PIN, is_client=False)
        self._exchange.finish(pake.message)
        self._outbox.append(m.Pake(message=self._exchange.outbound))
        self.state = SessionState.AWAITING_OFFER
        return []

    def _on_offer(self, offer: m.Offer, now: float) -> list[ReceiverEvent]:
        assert self._exchange is not None
        self._offer_dtls = dtls_fingerprints(offer.sdp)
        if not self._exchange.check_client(
            offer.confirm, self.room.tls_fingerprint, self._offer_dtls
        ):
            if self.room.pin is None:
                # No PIN to get wrong: the keys differ because something between
                # us changed the exchange. Asking the person for a PIN is pointless.
                return self._reject(
                    m.Error(m.ErrorCode.BAD_MESSAGE, "Key confirmation failed."),
                    "confirmation failed",
                )
            return self._on_wrong_pin(now)
        self._attempt_open = False
        self.room.lockout.record_success(self.lockout_source)
        resumes = self._take_claim(offer)
        # Checked again: others may have joined while this person typed the PIN.
        if resumes is None and self.room.full:
            return self._reject(self.room.full_error(), "room full")
        self.room.presenters.add(self)
        self.state = SessionState.ANSWERING
        return [OfferVerified(self.name, offer.sdp, resumes=resumes)]

    def _take_claim(self, offer: m.Offer) -> str | None:
        """The held share this connection proved is its own, now taken back (or None).

        The PIN alone is not enough: anyone in the room can read it. The
        ticket's key was derived from the original exchange, which only that
        presenter's client took part in.
        """
        claim, self._claim = self._claim, None
        if claim is None or self.room.tickets.get(claim.id) is not claim:
            return None  # expired or taken meanwhile: a new share
        if offer.resume_proof is None or not check_resume_proof(
            offer.resume_proof, claim.key, self.room.tls_fingerprint, self._offer_dtls
        ):
            logger.warning("%s (%s) named a held share without its key", self.name, self.source)
            return None
        del self.room.tickets[claim.id]
        if claim.session is not None:
            # Still attached: that connection is dead, its heartbeat just has not said so.
            claim.session.superseded()
        return claim.id

    def _on_wrong_pin(self, now: float) -> list[ReceiverEvent]:
        lockout = self.room.lockout
        self._attempt_open = False
        locked_for = lockout.settle_failure(self.lockout_source, now)
        tries = lockout.tries_left(self.lockout_source, now)
        failed = PinFailed(self.lockout_source, tries, locked_for)
        logger.info("wrong PIN from %s (%s tries left)", self.source, tries)
        if locked_for is not None:
            return [
                failed,
                *self._reject(
                    m.Error(m.ErrorCode.LOCKED_OUT, "Too many wrong PINs.", retry_after=locked_for),
                    "locked out",
                ),
            ]
        self._exchange = None
        self._outbox.append(
            m.Error(m.ErrorCode.WRONG_PIN, "Wrong PIN.", fatal=False, tries_left=tries)
        )
        self.state = SessionState.AWAITING_PAKE
        return [failed]

    def _locked_error(self, now: float) -> list[ReceiverEvent] | None:
        if self.room.pin is None:
            return None
        wait = self.room.lockout.retry_after(self.lockout_source, now)
        if wait is None:
            return None
        return self._reject(
            m.Error(m.ErrorCode.LOCKED_OUT, "Too many wrong PINs.", retry_after=round(wait, 1)),
            "locked out",
        )

    def _reject(self, error: m.Error, reason: str) -> list[ReceiverEvent]:
        self._outbox.append(error)
        return self._close(reason)

    def _close(self, reason: str) -> list[ReceiverEvent]:
        if self.ticket is not None:
            self.room.tickets.pop(self.ticket.id, None)  # ended for good: not resumable
            self.ticket = None
        if self._attempt_open:
            # However the attempt ends unjudged (bye, junk, a dropped line), the
            # guess stays spent and the attempt is no longer in flight.
            self.room.lockout.settle_failure(self.lockout_source, self._now)
            self._attempt_open = False
        self.state = SessionState.CLOSED
        self.room.presenters.discard(self)
        return [PresenterLeft(reason)]
