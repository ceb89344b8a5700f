"""Errors a person can meet, each carrying a sentence for that person.

The UI shows `str(error)`; the log keeps the detail. Each class maps to one
exit code of `montage-client join` (see montage_client/cli.py).
"""

from __future__ import annotations


class MontageError(Exception):
    """Base for errors with a message meant for the person using the app.

    `transient`: the network may get better by itself (a blink, a restart);
    a share that was running tries again after one of these (§18 of
    docs/protocol.md), and ends with the sentence after anything else.
    """

    exit_code = 1
    transient = False


class InvalidInput(MontageError):
    """Something the person typed cannot be right (meeting ID, PIN, name)."""

    exit_code = 2


class InvalidMeetingId(InvalidInput):
    """The meeting ID is malformed or does not name a receiver."""


class PinRequired(InvalidInput):
    """The receiver requires a PIN and none was given."""


class WrongPin(MontageError):
    """The PIN did not match; `tries_left` more attempts before lockout."""

    exit_code = 3

    def __init__(self, message: str, tries_left: int) -> None:
        super().__init__(message)
        self.tries_left = tries_left


class LockedOut(MontageError):
    """Too many wrong PINs from this address; wait `retry_after` seconds."""

    exit_code = 3

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ReceiverUnreachable(MontageError):
    """No connection could be made to the receiver's address."""

    exit_code = 4
    transient = True


class ReceiverRefused(MontageError):
    """The receiver answered but will not take this share (full, closed, ...)."""


class ShareEnded(MontageError):
    """A running share ended for a reason other than the person's own Stop."""


class ConnectionLost(ShareEnded):
    """The connection to the receiver went away with nobody ending the share.

    The one ending a client reconnects after (docs/protocol.md §18); when it
    does not (reconnection off), it ends the share like any `ShareEnded`.
    """

    transient = True


class PinChanged(MontageError):
    """Reconnecting, the PIN this share proved was refused: the room has a new PIN."""

    exit_code = 3


class ProtocolViolation(MontageError):
    """The other side sent something the protocol does not allow."""


class DeviceUnavailable(MontageError):
    """A camera or microphone is missing, busy, refused or stopped; the share goes on.

    `kind` is "camera" or "microphone".
    """

    def __init__(self, message: str, kind: str = "camera") -> None:
        super().__init__(message)
        self.kind = kind


class MeetingNotFound(InvalidMeetingId):
    """The cloud knows no live meeting with this 6-digit ID (never existed, or ended)."""


class NotEnrolled(InvalidInput):
    """A cloud meeting was asked for on a device that is not enrolled with a cloud."""


class CloudUnavailable(MontageError):
    """The Montage cloud (REST API or messaging) could not be reached or failed."""

    exit_code = 4
    transient = True


class DeviceRevoked(MontageError):
    """The organisation's administrator suspended or removed this device.

    `status` is "suspended" or "removed".
    """

    exit_code = 5

    def __init__(self, message: str, status: str = "removed") -> None:
        super().__init__(message)
        self.status = status
