"""The presenter's side of the signalling protocol, as a state machine.

No I/O: the adapter feeds it received frames (`receive`) and calls from the
person (`submit_pin`, `leave`) and the media stack (`set_offer`), and sends
whatever `messages_to_send` returns. It decides nothing about sockets or
WebRTC; it decides what the protocol allows and what each failure means for
the person.

One session is one conversation. A share that reconnects (docs/protocol.md
§18) runs a new session for each attempt, given the resume ticket and the
PIN the last one proved; that session then types the PIN itself, proves the
ticket, and ends with a sentence rather than asking anyone anything.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field

from . import messages as m
from .errors import (
    ConnectionLost,
    InvalidInput,
    LockedOut,
    MontageError,
    PinChanged,
    ProtocolViolation,
    ReceiverRefused,
    ShareEnded,
    WrongPin,
)
from .events import (
    AnswerReceived,
    ClientEvent,
    MuteRequested,
    PinNeeded,
    SessionEnded,
    ViewRequested,
    Welcomed,
)
from .pin_auth import NO_PIN, PinExchange, dtls_fingerprints, resume_proof, valid_pin

logger = logging.getLogger(__name__)

# What this client understands beyond the base protocol (see messages.FEATURE_*).
# `resume` is added when the share reconnects by itself (`hold` > 0).
CLIENT_FEATURES = (m.FEATURE_MUTE, m.FEATURE_VIEW)

PIN_CHANGED = (
    "The room's PIN has changed (was the receiver restarted?), so your share stopped. "
    "Join again with the PIN now on the room's screen."
)


@dataclass(frozen=True)
class ResumeTicket:
    """What resumes a share: the receiver's name for it and the key only both ends know."""

    id: str
    key: bytes = field(repr=False)


class ClientState(enum.Enum):
    IDLE = "idle"
    HELLO_SENT = "hello_sent"
    NEED_PIN = "need_pin"
    PAKE_SENT = "pake_sent"
    KEYED = "keyed"  # waiting for the local offer
    OFFER_SENT = "offer_sent"
    SHARING = "sharing"
    CLOSED = "closed"


def describe_wait(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def wrong_pin_sentence(tries_left: int) -> str:
    tries = f"{tries_left} {'try' if tries_left == 1 else 'tries'}"
    return f"Wrong PIN. {tries} left before this computer is locked out for a while."


def error_from_wire(error: m.Error) -> MontageError:
    """The exception a person should see for a fatal error from the receiver."""
    if error.code is m.ErrorCode.LOCKED_OUT:
        wait = error.retry_after or 0.0
        return LockedOut(
            f"Too many wrong PINs from this computer. Try again in {describe_wait(wait)}.", wait
        )
    if error.code is m.ErrorCode.WRONG_PIN:
        return WrongPin(wrong_pin_sentence(error.tries_left or 0), error.tries_left or 0)
    if error.code is m.ErrorCode.FULL:
        return ReceiverRefused(f"The room is full: {error.message}")
    if error.code is m.ErrorCode.UNSUPPORTED_VERSION:
        return ReceiverRefused(
            "This receiver runs a different version of Montage; update the app to join."
        )
    return ReceiverRefused(f"The receiver refused the share: {error.message}")


class ClientSession:
    def __init__(
        self,
        name: str,
        tls_fingerprint: str,
        *,
        hold: int = 0,
        rejoin: bool = False,
        ticket: ResumeTicket | None = None,
        pin: str | None = None,
    ) -> None:
        """`hold`: seconds this client keeps trying to come back after a loss (0: never).

        A reconnection attempt passes `rejoin`, the `ticket` of the share it
        resumes (None after a receiver restart lost it) and the `pin` the share
        proved (None in a room without one).
        """
        self.name = name.strip()
        self.tls_fingerprint = tls_fingerprint
        self.state = ClientState.IDLE
        self.room: str | None = None
        self.pin_required = False
        self.hold = hold
        self.rejoin = rejoin
        # The ticket to resume with, then (once sharing) the one for next time.
        self.ticket = ticket
        # The PIN this share proved (kept for reconnections, in memory only).
        self.proven_pin: str | None = pin
        self.resuming = False  # the receiver still holds the share `ticket` names
        self._outbox: list[m.Message] = []
        self._exchange: PinExchange | None = None
        self._pin_tried: str | None = None
        self._offer: str | None = None
        self._offer_dtls: str | None = None

    # -- calls from the adapter -------------------------------------------
    def start(self) -> None:
        self._expect(ClientState.IDLE)
        features = CLIENT_FEATURES + ((m.FEATURE_RESUME,) if self.hold > 0 else ())
        self._outbox.append(
            m.Hello(
                name=self.name,
                features=features,
                resume=self.ticket.id if self.ticket is not None and self.hold > 0 else None,
                hold=self.hold if self.hold > 0 else None,
            )
        )
        self.state = ClientState.HELLO_SENT

    def submit_pin(self, pin: str) -> None:
        """Start one PIN attempt. Raises InvalidInput for a malformed PIN."""
        self._expect(ClientState.NEED_PIN)
        pin = pin.strip()
        if not valid_pin(pin):
            raise InvalidInput("The PIN is the 4 digits shown on the room's screen.")
        self._begin_exchange(pin)

    def set_offer(self, sdp: str) -> None:
        """Give the local SDP offer; it is sent as soon as the key is agreed."""
        self._offer = sdp
        self._offer_dtls = dtls_fingerprints(sdp)
        self._maybe_send_offer()

    def set_share_state(
        self,
        state: m.ShareStateName,
        width: int,
        height: int,
        *,
        camera: bool = False,
        microphone: bool = False,
    ) -> None:
        if self.state is ClientState.SHARING:
            self._outbox.append(
                m.ShareState(
                    state=state, width=width, height=height, camera=camera, microphone=microphone
                )
            )

    def leave(self, reason: str = "stopped") -> None:
        if self.state not in (ClientState.IDLE, ClientState.CLOSED):
            self._outbox.append(m.Bye(reason=reason))
        self.state = ClientState.CLOSED

    def messages_to_send(self) -> list[m.Message]:
        out, self._outbox = self._outbox, []
        return out

    @property
    def closed(self) -> bool:
        return self.state is ClientState.CLOSED

    # -- frames from the receiver -----------------------------------------
    def receive(self, raw: str | bytes) -> list[ClientEvent]:
        if self.state is ClientState.CLOSED:
            return []
        try:
            message = m.parse(raw)
            return self._handle(message)
        except m.MalformedMessage as exc:
            logger.warning("bad message from receiver: %s", exc)
            return self._fail(
                ProtocolViolation(f"The receiver sent a message we cannot read ({exc}).")
            )

    def connection_lost(self) -> list[ClientEvent]:
        if self.state is ClientState.CLOSED:
            return []
        if self.state is ClientState.SHARING:
            error: MontageError = ConnectionLost("Lost the connection to the receiver.")
        elif self.rejoin:
            # A receiver starting up again, a network still settling: try again.
            error = ConnectionLost("The receiver closed the connection while reconnecting.")
        else:
            error = ShareEnded("The receiver closed the connection before the share started.")
        return self._fail(error)

    # -- internals ----------------------------------------------------------
    def _handle(self, message: m.Message) -> list[ClientEvent]:
        if isinstance(message, m.Error):
            return self._on_error(message)
        if isinstance(message, m.Stop):
            return self._fail(ShareEnded("The room stopped your share."))
        if isinstance(message, m.Bye):
            return self._fail(ShareEnded("The receiver closed the meeting."))
        if isinstance(message, m.Welcome) and self.state is ClientState.HELLO_SENT:
            return self._on_welcome(message)
        if isinstance(message, m.Pake) and self.state is ClientState.PAKE_SENT:
            assert self._exchange is not None
            self._exchange.finish(message.message)
            self.state = ClientState.KEYED
            self._maybe_send_offer()
            return []
        if isinstance(message, m.Answer) and self.state is ClientState.OFFER_SENT:
            return self._on_answer(message)
        if isinstance(message, m.Mute) and self.state is ClientState.SHARING:
            return [MuteRequested(message.device)]
        if isinstance(message, m.View) and self.state is ClientState.SHARING:
            return [ViewRequested(message.width, message.height)]
        return self._fail(ProtocolViolation(f"The receiver sent {message.TYPE!r} out of turn."))

    def _on_welcome(self, welcome: m.Welcome) -> list[ClientEvent]:
        if welcome.version != m.PROTOCOL_VERSION:
            return self._fail(
                ReceiverRefused(
                    "This receiver runs a different version of Montage; update the app to join."
                )
            )
        self.room = welcome.room
        self.pin_required = welcome.pin_required
        self.resuming = bool(welcome.resume) and self.ticket is not None
        self.state = ClientState.NEED_PIN
        events: list[ClientEvent] = [
            Welcomed(welcome.room, welcome.pin_required, resume=self.resuming)
        ]
        if not welcome.pin_required:
            self._begin_exchange(NO_PIN)
        elif self.rejoin and self.proven_pin is not None:
            self._begin_exchange(self.proven_pin)  # nobody is asked to type it again
        elif self.rejoin:
            # The room had no PIN when this share began: it is another meeting now.
            return self._fail(PinChanged(PIN_CHANGED))
        else:
            events.append(PinNeeded())
        return events

    def _on_answer(self, answer: m.Answer) -> list[ClientEvent]:
        assert self._exchange is not None and self._offer_dtls is not None
        answer_dtls = dtls_fingerprints(answer.sdp)
        if not self._exchange.check_receiver(
            answer.confirm, self.tls_fingerprint, self._offer_dtls, answer_dtls
        ):
            return self._fail(
                ProtocolViolation(
                    "The receiver could not prove it knows the PIN: the connection may be "
                    "intercepted. Check the meeting ID and try again."
                )
            )
        self.state = ClientState.SHARING
        if self._pin_tried not in (None, NO_PIN):
            self.proven_pin = self._pin_tried
        self.ticket = None
        if answer.resume is not None and self.hold > 0:
            self.ticket = ResumeTicket(answer.resume, self._exchange.resume_key(answer.resume))
        return [AnswerReceived(answer.sdp)]

    def _on_error(self, error: m.Error) -> list[ClientEvent]:
        if (
            error.code is m.ErrorCode.WRONG_PIN
            and not error.fatal
            and self.state is ClientState.OFFER_SENT
        ):
            if self.rejoin:
                # The PIN this share proved no longer opens the room.
                return self._fail(PinChanged(PIN_CHANGED))
            self._exchange = None
            self.state = ClientState.NEED_PIN
            tries = error.tries_left or 0
            return [PinNeeded(tries_left=tries, message=wrong_pin_sentence(tries))]
        return self._fail(error_from_wire(error))

    def _begin_exchange(self, pin: str) -> None:
        self._pin_tried = pin
        self._exchange = PinExchange(pin, is_client=True)
        self._outbox.append(m.Pake(message=self._exchange.outbound))
        self.state = ClientState.PAKE_SENT

    def _maybe_send_offer(self) -> None:
        if self.state is not ClientState.KEYED or self._offer is None:
            return
        assert self._exchange is not None and self._offer_dtls is not None
        confirm = self._exchange.client_confirm(self.tls_fingerprint, self._offer_dtls)
        proof = None
        if self.resuming and self.ticket is not None:
            proof = resume_proof(self.ticket.key, self.tls_fingerprint, self._offer_dtls)
        self._outbox.append(m.Offer(sdp=self._offer, confirm=confirm, resume_proof=proof))
        self.state = ClientState.OFFER_SENT

    def _fail(self, error: MontageError) -> list[ClientEvent]:
        self.state = ClientState.CLOSED
        return [SessionEnded(error)]

    def _expect(self, state: ClientState) -> None:
        if self.state is not state:
            raise RuntimeError(f"not allowed in state {self.state.value}")
