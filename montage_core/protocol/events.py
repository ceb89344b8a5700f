"""Events the signalling state machines hand to their adapters."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MontageError


# Client side ---------------------------------------------------------------
@dataclass(frozen=True)
class Welcomed:
    room: str
    pin_required: bool
    # Rejoining: the receiver still holds this share (tile, perhaps media).
    resume: bool = False


@dataclass(frozen=True)
class PinNeeded:
    """Ask the person for the PIN (again, after a wrong one)."""

    tries_left: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class AnswerReceived:
    """The receiver proved it knows the PIN; apply this SDP answer."""

    sdp: str


@dataclass(frozen=True)
class MuteRequested:
    """The room turned this presenter's `device` off."""

    device: str


@dataclass(frozen=True)
class ViewRequested:
    """The room shows this share in a `width` × `height` box: send no larger."""

    width: int
    height: int


@dataclass(frozen=True)
class SessionEnded:
    """The session is over. `error` is None when this side asked to stop."""

    error: MontageError | None


# Receiver side -------------------------------------------------------------
@dataclass(frozen=True)
class OfferVerified:
    """The presenter proved the PIN; answer this SDP offer.

    `resumes`: the ticket of a held (or still attached) share this presenter
    proved is theirs; their tile, and if it still works their media, go to them.
    """

    name: str
    sdp: str
    resumes: str | None = None


@dataclass(frozen=True)
class PresenterJoined:
    name: str


@dataclass(frozen=True)
class ShareStateChanged:
    state: str
    width: int
    height: int
    camera: bool = False
    microphone: bool = False


@dataclass(frozen=True)
class PresenterLeft:
    """The connection is finished; `reason` is for the log and status line."""

    reason: str


@dataclass(frozen=True)
class PresenterDetached:
    """The connection is gone but the presenter may come back with `ticket`:
    keep the tile (and the media, while it works) for `hold` seconds."""

    ticket: str
    hold: float


@dataclass(frozen=True)
class PinFailed:
    source: str
    tries_left: int
    locked_for: float | None


ClientEvent = Welcomed | PinNeeded | AnswerReceived | MuteRequested | ViewRequested | SessionEnded
ReceiverEvent = (
    OfferVerified
    | PresenterJoined
    | ShareStateChanged
    | PresenterLeft
    | PresenterDetached
    | PinFailed
)
