"""Wire messages of the Montage signalling protocol, version 1.

Every message is one JSON object in one WebSocket text frame, with a `type`
field naming it. `parse` turns untrusted text into a typed message or raises
`MalformedMessage` with the reason; nothing else in the code reads raw JSON.
See docs/protocol.md for the sequence and the meaning of each field.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

PROTOCOL_VERSION = 1
# Receivers listen on 443 by default so the share works wherever HTTPS does.
DEFAULT_PORT = 443
SIGNAL_PATH = "/montage/v1"
# Larger than any SDP offer aiortc makes for audio + two videos (about 6 KiB)
# with room to spare; anything bigger is refused before it is parsed.
MAX_MESSAGE_BYTES = 64 * 1024
MAX_NAME_CHARS = 64
MAX_SDP_CHARS = 48 * 1024
MAX_TEXT_CHARS = 500
# Optional abilities a client announces in `hello`; the receiver sends the
# messages that belong to one only to clients that named it.
FEATURE_MUTE = "mute"  # the client obeys `mute` (the room turns its microphone off)
FEATURE_VIEW = "view"  # the client sends no larger than the `view` the room shows it in
MAX_FEATURES = 16
MAX_FEATURE_CHARS = 32
# A `view` smaller than this is not a picture anyone can see; larger than the
# biggest frame the protocol allows is meaningless.
MIN_VIEW_SIDE = 16
MAX_VIEW_SIDE = 16384
# The client reconnects by itself and can resume its share (docs/protocol.md §18):
# the receiver then sends it a resume ticket and holds its tile when it is lost.
FEATURE_RESUME = "resume"
# How long a client may ask the receiver to hold its tile after losing it.
MAX_HOLD_SECONDS = 600
_TICKET = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class ErrorCode(enum.StrEnum):
    BAD_MESSAGE = "bad_message"
    TOO_LARGE = "too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    UNEXPECTED = "unexpected"
    WRONG_PIN = "wrong_pin"
    LOCKED_OUT = "locked_out"
    FULL = "full"
    INTERNAL = "internal"


class MalformedMessage(ValueError):
    """The text is not a valid protocol message; the reason says why."""

    def __init__(self, reason: str, code: ErrorCode = ErrorCode.BAD_MESSAGE) -> None:
        super().__init__(reason)
        self.code = code


def _field(data: dict[str, Any], key: str, kind: type, *, limit: int | None = None) -> Any:
    if key not in data:
        raise MalformedMessage(f"{data.get('type')!r} message lacks {key!r}")
    value = data[key]
    # bool is an int in Python; a protocol integer must not accept true/false.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise MalformedMessage(f"{key!r} must be {kind.__name__}")
    if limit is not None and isinstance(value, str) and len(value) > limit:
        raise MalformedMessage(f"{key!r} is longer than {limit} characters")
    return value


def _optional(data: dict[str, Any], key: str, kind: type, **kw: Any) -> Any:
    return _field(data, key, kind, **kw) if data.get(key) is not None else None


def _number(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedMessage(f"{key!r} must be a number")
    if not 0 <= value < 1e9:
        raise MalformedMessage(f"{key!r} is out of range")
    return float(value)


def _blob(data: dict[str, Any], key: str, limit: int = 512) -> bytes:
    text = _field(data, key, str, limit=limit)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessage(f"{key!r} is not base64") from exc


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _ticket(data: dict[str, Any], key: str) -> str | None:
    value = _optional(data, key, str)
    if value is not None and not _TICKET.fullmatch(value):
        raise MalformedMessage(f"{key!r} is not a resume ticket")
    return value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Hello:
    """Client → receiver, first message: who is presenting."""

    TYPE: ClassVar[str] = "hello"
    name: str
    software: str = "montage-client"
    version: int = PROTOCOL_VERSION
    features: tuple[str, ...] = ()
    # With the `resume` feature: the ticket of the share this connection
    # resumes (from an earlier `answer`), and how many seconds the client keeps
    # trying to come back after a loss (the receiver holds its tile that long).
    resume: str | None = None
    hold: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "type": self.TYPE,
            "version": self.version,
            "name": self.name,
            "software": self.software,
        }
        if self.features:
            wire["features"] = list(self.features)
        if self.resume is not None:
            wire["resume"] = self.resume
        if self.hold is not None:
            wire["hold"] = self.hold
        return wire

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Hello:
        name = _field(d, "name", str, limit=MAX_NAME_CHARS).strip()
        if not name:
            raise MalformedMessage("'name' is empty")
        features = _optional(d, "features", list) or []
        if len(features) > MAX_FEATURES:
            raise MalformedMessage(f"'features' has more than {MAX_FEATURES} entries")
        for feature in features:
            if not isinstance(feature, str) or len(feature) > MAX_FEATURE_CHARS:
                raise MalformedMessage(
                    f"'features' entries must be text of at most {MAX_FEATURE_CHARS} characters"
                )
        hold = _optional(d, "hold", int)
        if hold is not None and not 0 <= hold <= MAX_HOLD_SECONDS:
            raise MalformedMessage(f"'hold' must be 0 to {MAX_HOLD_SECONDS} seconds")
        return cls(
            name=name,
            software=_field(d, "software", str, limit=MAX_TEXT_CHARS),
            version=_field(d, "version", int),
            features=tuple(features),
            resume=_ticket(d, "resume"),
            hold=hold,
        )


@dataclass(frozen=True)
class Welcome:
    """Receiver → client: the room accepts a presenter; says if a PIN is needed."""

    TYPE: ClassVar[str] = "welcome"
    room: str
    pin_required: bool
    version: int = PROTOCOL_VERSION
    # Only in answer to a `hello` with `resume`: whether the receiver still
    # holds that share (its tile, and perhaps its media).
    resume: bool | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "type": self.TYPE,
            "version": self.version,
            "room": self.room,
            "pin_required": self.pin_required,
        }
        if self.resume is not None:
            wire["resume"] = self.resume
        return wire

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Welcome:
        return cls(
            room=_field(d, "room", str, limit=MAX_NAME_CHARS),
            pin_required=_field(d, "pin_required", bool),
            version=_field(d, "version", int),
            resume=_optional(d, "resume", bool),
        )


@dataclass(frozen=True)
class Pake:
    """Either way: one SPAKE2 message (the PIN itself never crosses the wire)."""

    TYPE: ClassVar[str] = "pake"
    message: bytes

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE, "message": _b64(self.message)}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Pake:
        return cls(message=_blob(d, "message"))


@dataclass(frozen=True)
class Offer:
    """Client → receiver: SDP offer plus the client's key confirmation."""

    TYPE: ClassVar[str] = "offer"
    sdp: str
    confirm: bytes
    # Resuming: proof of the ticket's key, bound to this connection (§18).
    resume_proof: bytes | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = {"type": self.TYPE, "sdp": self.sdp, "confirm": _b64(self.confirm)}
        if self.resume_proof is not None:
            wire["resume_proof"] = _b64(self.resume_proof)
        return wire

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Offer:
        proof = _blob(d, "resume_proof") if d.get("resume_proof") is not None else None
        return cls(
            sdp=_field(d, "sdp", str, limit=MAX_SDP_CHARS),
            confirm=_blob(d, "confirm"),
            resume_proof=proof,
        )


@dataclass(frozen=True)
class Answer:
    """Receiver → client: SDP answer plus the receiver's key confirmation."""

    TYPE: ClassVar[str] = "answer"
    sdp: str
    confirm: bytes
    # To a client with the `resume` feature: the ticket to resume this share with.
    resume: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = {"type": self.TYPE, "sdp": self.sdp, "confirm": _b64(self.confirm)}
        if self.resume is not None:
            wire["resume"] = self.resume
        return wire

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Answer:
        return cls(
            sdp=_field(d, "sdp", str, limit=MAX_SDP_CHARS),
            confirm=_blob(d, "confirm"),
            resume=_ticket(d, "resume"),
        )


ShareStateName = Literal["sharing", "paused"]


@dataclass(frozen=True)
class ShareState:
    """Client → receiver: the share is running or paused, at this size.

    `camera` and `microphone` say whether those are being sent; None (absent
    on the wire) is a client that does not say, i.e. sends neither.
    """

    TYPE: ClassVar[str] = "share"
    state: ShareStateName
    width: int
    height: int
    camera: bool | None = None
    microphone: bool | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "type": self.TYPE,
            "state": self.state,
            "width": self.width,
            "height": self.height,
        }
        if self.camera is not None:
            wire["camera"] = self.camera
        if self.microphone is not None:
            wire["microphone"] = self.microphone
        return wire

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> ShareState:
        state = _field(d, "state", str)
        if state not in ("sharing", "paused"):
            raise MalformedMessage(f"unknown share state {state!r}")
        width, height = _field(d, "width", int), _field(d, "height", int)
        if not (0 <= width <= 16384 and 0 <= height <= 16384):
            raise MalformedMessage("share size is out of range")
        return cls(
            state=state,
            width=width,
            height=height,
            camera=_optional(d, "camera", bool),
            microphone=_optional(d, "microphone", bool),
        )


MuteDevice = Literal["microphone"]


@dataclass(frozen=True)
class Mute:
    """Receiver → client: the room turned this presenter's microphone off.

    Sent only to clients whose `hello` listed the `mute` feature.
    """

    TYPE: ClassVar[str] = "mute"
    device: MuteDevice = "microphone"

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE, "device": self.device}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Mute:
        device = _field(d, "device", str)
        if device != "microphone":
            raise MalformedMessage(f"cannot mute {device[:MAX_FEATURE_CHARS]!r}")
        return cls(device="microphone")


@dataclass(frozen=True)
class View:
    """Receiver → client: the room shows this share in a box of `width` × `height` pixels.

    Frames larger than the box are scaled down on the wall anyway, so the
    client sends its screen fitted into it (aspect kept, never enlarged).
    Sent only to clients whose `hello` listed the `view` feature, and again
    whenever the box changes (someone joins or leaves, the window resizes).
    """

    TYPE: ClassVar[str] = "view"
    width: int
    height: int

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE, "width": self.width, "height": self.height}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> View:
        width, height = _field(d, "width", int), _field(d, "height", int)
        if not (
            MIN_VIEW_SIDE <= width <= MAX_VIEW_SIDE and MIN_VIEW_SIDE <= height <= MAX_VIEW_SIDE
        ):
            raise MalformedMessage(
                f"view size must be {MIN_VIEW_SIDE} to {MAX_VIEW_SIDE} pixels a side"
            )
        return cls(width=width, height=height)


@dataclass(frozen=True)
class Stop:
    """Receiver → client: the room stopped this share."""

    TYPE: ClassVar[str] = "stop"
    reason: str = "room"

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE, "reason": self.reason}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Stop:
        return cls(reason=_field(d, "reason", str, limit=MAX_TEXT_CHARS))


@dataclass(frozen=True)
class Bye:
    """Either way: the sender is leaving (client stopped, meeting closed)."""

    TYPE: ClassVar[str] = "bye"
    reason: str

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE, "reason": self.reason}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Bye:
        return cls(reason=_field(d, "reason", str, limit=MAX_TEXT_CHARS))


@dataclass(frozen=True)
class Error:
    """Receiver → client: a request failed; `fatal` errors end the connection."""

    TYPE: ClassVar[str] = "error"
    code: ErrorCode
    message: str
    fatal: bool = True
    tries_left: int | None = None
    retry_after: float | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "type": self.TYPE,
            "code": self.code.value,
            "message": self.message,
            "fatal": self.fatal,
        }
        if self.tries_left is not None:
            wire["tries_left"] = self.tries_left
        if self.retry_after is not None:
            wire["retry_after"] = self.retry_after
        return wire

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Error:
        code_text = _field(d, "code", str)
        try:
            code = ErrorCode(code_text)
        except ValueError:
            # An error code from a newer receiver is still an error.
            code = ErrorCode.INTERNAL
        tries = _optional(d, "tries_left", int)
        return cls(
            code=code,
            message=_field(d, "message", str, limit=MAX_TEXT_CHARS),
            fatal=_field(d, "fatal", bool),
            tries_left=tries,
            retry_after=_number(d, "retry_after") if d.get("retry_after") is not None else None,
        )


Message = Hello | Welcome | Pake | Offer | Answer | ShareState | Mute | View | Stop | Bye | Error
_TYPES: dict[str, Any] = {
    cls.TYPE: cls
    for cls in (Hello, Welcome, Pake, Offer, Answer, ShareState, Mute, View, Stop, Bye, Error)
}


def parse(raw: str | bytes) -> Message:
    """Parse one untrusted frame; raise MalformedMessage saying what is wrong."""
    # Characters are not bytes: "é" is two on the wire.
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_BYTES:
        raise MalformedMessage(
            f"message of {size} bytes exceeds {MAX_MESSAGE_BYTES}", ErrorCode.TOO_LARGE
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedMessage("message is not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedMessage("message is not a JSON object")
    kind = data.get("type")
    cls = _TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise MalformedMessage(f"unknown message type {kind!r}")
    message: Message = cls.from_wire(data)
    return message


def serialize(message: Message) -> str:
    return json.dumps(message.to_wire(), separators=(",", ":"))
