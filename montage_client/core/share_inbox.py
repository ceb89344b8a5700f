"""What can happen to a share, as typed events in one inbox (`ShareClient` handles each).

Everything that reaches a share — the person's Stop, a typed PIN, a frame
from the receiver, the media connection changing state, a reconnection
attempt finishing, a timer — is put in one `asyncio.Queue` as one of these
and handled in order on the loop, so the protocol state machine never sees
two things at once. Events that belong to one conversation or one media
session carry it, so a late event from an old one is recognised and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from montage_core.protocol.errors import MontageError
from montage_core.signal_channel import SignalChannel

from .local_media import MediaChange
from .share_media import ShareMedia


@dataclass(frozen=True)
class StopRequested:
    """The person stopped the share."""


@dataclass(frozen=True)
class EndRequested:
    """Something outside ended the share (the cloud revoked this device)."""

    error: MontageError


@dataclass(frozen=True)
class PinTyped:
    pin: str


@dataclass(frozen=True)
class PinUnavailable:
    """Nobody can type a PIN (a script without --pin, a closed window)."""

    error: MontageError


@dataclass(frozen=True)
class Paused:
    paused: bool


@dataclass(frozen=True)
class Resized:
    """Another monitor (of another size) is being shared."""


@dataclass(frozen=True)
class CaptureStopped:
    error: Exception


@dataclass(frozen=True)
class DevicesChanged:
    change: MediaChange


@dataclass(frozen=True)
class ChannelOpened:
    attempt: int
    channel: SignalChannel


@dataclass(frozen=True)
class ChannelFailed:
    attempt: int
    error: BaseException


@dataclass(frozen=True)
class MessageArrived:
    channel: SignalChannel
    text: str


@dataclass(frozen=True)
class ChannelClosed:
    channel: SignalChannel


@dataclass(frozen=True)
class MediaStateChanged:
    media: ShareMedia
    state: str  # RTCPeerConnection.connectionState


@dataclass(frozen=True)
class ReplyOverdue:
    """The receiver did not answer a protocol step in time."""

    channel: SignalChannel


@dataclass(frozen=True)
class RetryDue:
    """Time for the next reconnection attempt."""

    token: int


InboxEvent = (
    StopRequested
    | EndRequested
    | PinTyped
    | PinUnavailable
    | Paused
    | Resized
    | CaptureStopped
    | DevicesChanged
    | ChannelOpened
    | ChannelFailed
    | MessageArrived
    | ChannelClosed
    | MediaStateChanged
    | ReplyOverdue
    | RetryDue
)
