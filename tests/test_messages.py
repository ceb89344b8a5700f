"""Wire messages: every type round-trips, and untrusted text is refused precisely."""

from __future__ import annotations

import base64
import contextlib
import json
import random
import string
from typing import Any

import pytest

from montage_core.protocol import messages as m
from montage_core.protocol.messages import ErrorCode, MalformedMessage

SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=fingerprint:sha-256 AA:BB\r\n"

ALL_MESSAGES: list[m.Message] = [
    m.Hello(name="Ann"),
    m.Hello(name="Zoë Ñandú 🎉", software="montage-client/9", version=7),
    m.Hello(name="Ann", features=("mute", "x" * m.MAX_FEATURE_CHARS)),
    m.Welcome(room="Room 1", pin_required=True),
    m.Welcome(room="", pin_required=False, version=2),
    m.Pake(message=bytes(range(33))),
    m.Pake(message=b""),
    m.Offer(sdp=SDP, confirm=b"\x00" * 32),
    m.Answer(sdp=SDP, confirm=b"\xff" * 32),
    m.ShareState(state="sharing", width=1920, height=1080),
    m.ShareState(state="paused", width=0, height=0),
    m.ShareState(state="sharing", width=16384, height=16384),
    m.ShareState(state="sharing", width=640, height=360, camera=True, microphone=False),
    m.ShareState(state="paused", width=640, height=360, camera=False, microphone=True),
    m.Mute(),
    m.View(width=960, height=508),
    m.View(width=m.MIN_VIEW_SIDE, height=m.MAX_VIEW_SIDE),
    m.Stop(),
    m.Stop(reason="other"),
    m.Bye(reason="stopped"),
    m.Error(ErrorCode.WRONG_PIN, "Wrong PIN.", fatal=False, tries_left=3),
    m.Error(ErrorCode.LOCKED_OUT, "Too many.", retry_after=29.5),
    m.Error(ErrorCode.LOCKED_OUT, "Too many.", retry_after=0),
    *[m.Error(code, f"message for {code}") for code in ErrorCode],
]


def wire(message: m.Message) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(m.serialize(message))
    return data


def dumps(data: Any) -> str:
    return json.dumps(data)


def assert_malformed(raw: str | bytes, code: ErrorCode = ErrorCode.BAD_MESSAGE) -> str:
    with pytest.raises(MalformedMessage) as info:
        m.parse(raw)
    assert info.value.code is code
    return str(info.value)


# -- round trips ---------------------------------------------------------------
@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda msg: type(msg).__name__)
def test_round_trip(message: m.Message) -> None:
    text = m.serialize(message)
    assert isinstance(text, str)
    assert m.parse(text) == message
    assert m.parse(text.encode("utf-8")) == message
    # The type tag names the class.
    assert json.loads(text)["type"] == type(message).TYPE


def test_every_message_class_is_covered() -> None:
    assert {type(msg) for msg in ALL_MESSAGES} == {
        m.Hello,
        m.Welcome,
        m.Pake,
        m.Offer,
        m.Answer,
        m.ShareState,
        m.Mute,
        m.View,
        m.Stop,
        m.Bye,
        m.Error,
    }


def test_serialize_is_compact_json() -> None:
    text = m.serialize(m.Bye(reason="x"))
    assert text == '{"type":"bye","reason":"x"}'


def test_blobs_are_base64_on_the_wire() -> None:
    raw = bytes(range(40))
    assert wire(m.Pake(message=raw))["message"] == base64.b64encode(raw).decode()
    data = wire(m.Offer(sdp=SDP, confirm=raw))
    assert data["confirm"] == base64.b64encode(raw).decode()


def test_error_optional_fields_are_omitted_when_absent() -> None:
    data = wire(m.Error(ErrorCode.FULL, "full"))
    assert "tries_left" not in data
    assert "retry_after" not in data
    assert data["fatal"] is True
    assert data["code"] == "full"


def test_hello_defaults_to_current_protocol_version() -> None:
    assert wire(m.Hello(name="A"))["version"] == m.PROTOCOL_VERSION
    assert wire(m.Welcome(room="R", pin_required=False))["version"] == m.PROTOCOL_VERSION


def test_hello_name_is_stripped() -> None:
    parsed = m.parse(dumps({"type": "hello", "version": 1, "name": "  Ann  ", "software": "x"}))
    assert isinstance(parsed, m.Hello)
    assert parsed.name == "Ann"


def test_unknown_error_code_maps_to_internal() -> None:
    parsed = m.parse(
        dumps({"type": "error", "code": "from_the_future", "message": "hm", "fatal": False})
    )
    assert isinstance(parsed, m.Error)
    assert parsed.code is ErrorCode.INTERNAL
    assert parsed.message == "hm"
    assert parsed.fatal is False


def test_error_tries_left_may_be_null() -> None:
    parsed = m.parse(
        dumps(
            {
                "type": "error",
                "code": "wrong_pin",
                "message": "x",
                "fatal": False,
                "tries_left": None,
            }
        )
    )
    assert isinstance(parsed, m.Error)
    assert parsed.tries_left is None


def test_retry_after_integer_becomes_float() -> None:
    parsed = m.parse(
        dumps(
            {
                "type": "error",
                "code": "locked_out",
                "message": "x",
                "fatal": True,
                "retry_after": 30,
            }
        )
    )
    assert isinstance(parsed, m.Error)
    assert parsed.retry_after == 30.0
    assert isinstance(parsed.retry_after, float)


# -- framing -------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "{",
        '{"type": "bye",}',
        b"\xff\xfe\x00garbage",
        "{'type': 'bye'}",
        b"\x80\x81",
    ],
)
def test_non_json_is_refused(raw: str | bytes) -> None:
    assert "not JSON" in assert_malformed(raw)


@pytest.mark.parametrize("raw", ["[]", '["bye"]', "1", '"bye"', "null", "true", "3.5"])
def test_non_object_json_is_refused(raw: str) -> None:
    assert "not a JSON object" in assert_malformed(raw)


@pytest.mark.parametrize("kind", ["nope", "HELLO", "", None, 1, ["hello"], {"a": 1}, True])
def test_unknown_type_is_refused(kind: Any) -> None:
    assert "unknown message type" in assert_malformed(dumps({"type": kind, "name": "A"}))


def test_missing_type_is_refused() -> None:
    assert "unknown message type" in assert_malformed(dumps({"name": "A"}))


def test_oversize_frame_is_too_large() -> None:
    message = m.Bye(reason="x")
    base = m.serialize(message)
    # Pad with whitespace inside the object so it is otherwise valid JSON.
    at_limit = base[:-1] + " " * (m.MAX_MESSAGE_BYTES - len(base)) + "}"
    assert len(at_limit) == m.MAX_MESSAGE_BYTES
    assert m.parse(at_limit) == message
    over = base[:-1] + " " * (m.MAX_MESSAGE_BYTES - len(base) + 1) + "}"
    assert "exceeds" in assert_malformed(over, ErrorCode.TOO_LARGE)
    assert_malformed(over.encode(), ErrorCode.TOO_LARGE)
    # Checked before parsing: not even JSON, still "too large".
    assert_malformed("x" * (m.MAX_MESSAGE_BYTES + 1), ErrorCode.TOO_LARGE)


def test_oversize_frame_counts_utf8_bytes_of_text_frames() -> None:
    # 33,000 two-byte characters: within MAX_SDP_CHARS, but 66,000 bytes on the wire,
    # over the 64 KiB frame limit. A str frame is measured in characters instead.
    offer = m.Offer(sdp="é" * 33_000, confirm=b"\x00" * 32)
    text = json.dumps(offer.to_wire(), ensure_ascii=False)
    assert len(text.encode("utf-8")) > m.MAX_MESSAGE_BYTES
    assert_malformed(text.encode("utf-8"), ErrorCode.TOO_LARGE)  # bytes: refused
    assert_malformed(text, ErrorCode.TOO_LARGE)  # the same frame as str: accepted


def test_deeply_nested_json_is_malformed_not_recursion_error() -> None:
    assert_malformed("[" * 5000)


# -- fields --------------------------------------------------------------------
GOOD: dict[str, dict[str, Any]] = {
    "hello": {"type": "hello", "version": 1, "name": "Ann", "software": "montage-client"},
    "welcome": {"type": "welcome", "version": 1, "room": "R", "pin_required": True},
    "pake": {"type": "pake", "message": "AAEC"},
    "offer": {"type": "offer", "sdp": SDP, "confirm": "AAEC"},
    "answer": {"type": "answer", "sdp": SDP, "confirm": "AAEC"},
    "share": {"type": "share", "state": "sharing", "width": 10, "height": 20},
    "mute": {"type": "mute", "device": "microphone"},
    "view": {"type": "view", "width": 960, "height": 540},
    "stop": {"type": "stop", "reason": "room"},
    "bye": {"type": "bye", "reason": "x"},
    "error": {"type": "error", "code": "full", "message": "m", "fatal": True},
}

REQUIRED = [(kind, key) for kind, data in GOOD.items() for key in data if key != "type"]


@pytest.mark.parametrize("kind", GOOD)
def test_good_fixtures_parse(kind: str) -> None:
    parsed = m.parse(dumps(GOOD[kind]))
    assert kind == parsed.TYPE


@pytest.mark.parametrize(("kind", "key"), REQUIRED)
def test_missing_field_is_refused(kind: str, key: str) -> None:
    data = dict(GOOD[kind])
    del data[key]
    reason = assert_malformed(dumps(data))
    assert key in reason


WRONG_TYPES: list[tuple[str, str, Any]] = [
    ("hello", "name", 5),
    ("hello", "name", None),
    ("hello", "name", ["Ann"]),
    ("hello", "software", 1),
    ("hello", "version", "1"),
    ("hello", "version", 1.0),
    ("hello", "version", True),
    ("welcome", "room", 3),
    ("welcome", "pin_required", 1),
    ("welcome", "pin_required", "true"),
    ("welcome", "version", False),
    ("pake", "message", 123),
    ("pake", "message", ["AA"]),
    ("offer", "sdp", {"sdp": "x"}),
    ("offer", "confirm", 0),
    ("answer", "sdp", None),
    ("answer", "confirm", True),
    ("share", "state", 1),
    ("share", "width", True),
    ("share", "height", False),
    ("share", "width", 10.5),
    ("share", "height", "20"),
    ("share", "camera", 1),
    ("share", "microphone", "yes"),
    ("hello", "features", "mute"),
    ("hello", "features", {"mute": True}),
    ("mute", "device", 1),
    ("view", "width", 960.0),
    ("view", "height", "540"),
    ("view", "width", True),
    ("stop", "reason", 0),
    ("bye", "reason", False),
    ("error", "code", 3),
    ("error", "message", None),
    ("error", "fatal", 1),
    ("error", "fatal", "yes"),
    ("error", "tries_left", True),
    ("error", "tries_left", "3"),
    ("error", "tries_left", 2.5),
    ("error", "retry_after", True),
    ("error", "retry_after", "30"),
    ("error", "retry_after", [30]),
]


@pytest.mark.parametrize(("kind", "key", "value"), WRONG_TYPES)
def test_wrong_field_type_is_refused(kind: str, key: str, value: Any) -> None:
    data = dict(GOOD[kind], **{key: value})
    reason = assert_malformed(dumps(data))
    assert key in reason


@pytest.mark.parametrize(
    ("kind", "key", "limit"),
    [
        ("hello", "name", m.MAX_NAME_CHARS),
        ("hello", "software", m.MAX_TEXT_CHARS),
        ("welcome", "room", m.MAX_NAME_CHARS),
        ("offer", "sdp", m.MAX_SDP_CHARS),
        ("answer", "sdp", m.MAX_SDP_CHARS),
        ("stop", "reason", m.MAX_TEXT_CHARS),
        ("bye", "reason", m.MAX_TEXT_CHARS),
        ("error", "message", m.MAX_TEXT_CHARS),
    ],
)
def test_over_long_text_is_refused_and_limit_is_inclusive(kind: str, key: str, limit: int) -> None:
    at_limit = dict(GOOD[kind], **{key: "a" * limit})
    parsed = m.parse(dumps(at_limit))
    assert getattr(parsed, key) == "a" * limit
    over = dict(GOOD[kind], **{key: "a" * (limit + 1)})
    reason = assert_malformed(dumps(over))
    assert "longer than" in reason
    assert key in reason


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_empty_name_is_refused(name: str) -> None:
    reason = assert_malformed(dumps(dict(GOOD["hello"], name=name)))
    assert "empty" in reason


@pytest.mark.parametrize(
    "key_kind", [("pake", "message"), ("offer", "confirm"), ("answer", "confirm")]
)
@pytest.mark.parametrize("bad", ["not base64!", "AAE", "A===", "AA==AA==", "ÄÖÜ=", "AA\nAA=="])
def test_bad_base64_is_refused(key_kind: tuple[str, str], bad: str) -> None:
    kind, key = key_kind
    reason = assert_malformed(dumps(dict(GOOD[kind], **{key: bad})))
    assert "base64" in reason


def test_blob_longer_than_512_chars_is_refused() -> None:
    ok = base64.b64encode(b"x" * 384).decode()  # exactly 512 characters
    assert len(ok) == 512
    assert m.parse(dumps(dict(GOOD["pake"], message=ok))) == m.Pake(b"x" * 384)
    too_long = base64.b64encode(b"x" * 387).decode()
    assert_malformed(dumps(dict(GOOD["pake"], message=too_long)))


@pytest.mark.parametrize("state", ["stopped", "SHARING", "", "Paused"])
def test_unknown_share_state_is_refused(state: str) -> None:
    reason = assert_malformed(dumps(dict(GOOD["share"], state=state)))
    assert "share state" in reason


@pytest.mark.parametrize(
    ("width", "height"), [(-1, 10), (10, -1), (16385, 10), (10, 16385), (10**12, 10**12)]
)
def test_out_of_range_share_size_is_refused(width: int, height: int) -> None:
    reason = assert_malformed(dumps(dict(GOOD["share"], width=width, height=height)))
    assert "out of range" in reason


@pytest.mark.parametrize("value", [-1, -0.5, 1e9, 1e12, float("inf"), float("nan")])
def test_out_of_range_retry_after_is_refused(value: float) -> None:
    data = dict(GOOD["error"], retry_after=value)
    reason = assert_malformed(json.dumps(data))  # NaN/Infinity are JSON extensions Python reads
    assert "retry_after" in reason


def test_retry_after_just_under_limit_is_accepted() -> None:
    parsed = m.parse(dumps(dict(GOOD["error"], retry_after=999_999_999)))
    assert isinstance(parsed, m.Error)
    assert parsed.retry_after == 999_999_999.0


# -- fuzz ------------------------------------------------------------------------
def _random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(10 if depth < 3 else 7)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.randint(-(10**20), 10**20)
    if choice == 3:
        return rng.uniform(-1e10, 1e10)
    if choice == 4:
        return "".join(rng.choice(string.printable + "éü🎉") for _ in range(rng.randrange(20)))
    if choice == 5:
        return rng.choice(["sharing", "paused", "AAEC", "wrong_pin", "locked_out", SDP, ""])
    if choice == 6:
        return rng.choice([0, 1, 16384, 16385, -1, 1e9])
    if choice in (7, 8):
        return {k: _random_value(rng, depth + 1) for k in rng.sample(sorted(_ALL_KEYS), 3)}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


_ALL_KEYS = {key for data in GOOD.values() for key in data} | {"tries_left", "retry_after"}


def test_fuzz_random_bytes_raise_only_malformed() -> None:
    rng = random.Random(20240501)
    for _ in range(500):
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
        for frame in (raw, raw.decode("latin-1")):
            with contextlib.suppress(MalformedMessage):
                m.parse(frame)


def test_fuzz_mutated_messages_raise_only_malformed() -> None:
    rng = random.Random(7)
    accepted = 0
    for _ in range(1500):
        data = dict(GOOD[rng.choice(sorted(GOOD))])
        for _ in range(rng.randrange(1, 4)):
            action = rng.randrange(3)
            key = rng.choice(sorted(_ALL_KEYS))
            if action == 0:
                data.pop(key, None)
            else:
                data[key] = _random_value(rng)
        try:
            parsed = m.parse(json.dumps(data))
        except MalformedMessage as exc:
            assert exc.code is ErrorCode.BAD_MESSAGE
        else:
            accepted += 1
            # Whatever parses must serialize and parse back to itself.
            assert m.parse(m.serialize(parsed)) == parsed
    # The mutation keeps some messages valid, so both paths are exercised.
    assert 0 < accepted < 1500


def test_fuzz_truncated_frames_raise_only_malformed() -> None:
    for message in ALL_MESSAGES:
        text = m.serialize(message)
        for cut in range(len(text)):
            with pytest.raises(MalformedMessage):
                m.parse(text[:cut])


# -- camera, microphone, mute ------------------------------------------------------------


def test_old_wire_form_is_unchanged_without_the_new_fields() -> None:
    # Receivers and scripts written before camera and microphone see the same JSON.
    assert wire(m.Hello(name="Ann")) == {
        "type": "hello",
        "version": 1,
        "name": "Ann",
        "software": "montage-client",
    }
    assert wire(m.ShareState(state="sharing", width=1, height=2)) == {
        "type": "share",
        "state": "sharing",
        "width": 1,
        "height": 2,
    }


def test_share_without_camera_fields_reads_as_unknown() -> None:
    parsed = m.parse(dumps({"type": "share", "state": "sharing", "width": 1, "height": 1}))
    assert isinstance(parsed, m.ShareState)
    assert (parsed.camera, parsed.microphone) == (None, None)


@pytest.mark.parametrize(
    "features",
    [
        ["x"] * (m.MAX_FEATURES + 1),
        ["x" * (m.MAX_FEATURE_CHARS + 1)],
        [3],
        [None],
    ],
)
def test_bad_features_are_refused(features: list[Any]) -> None:
    reason = assert_malformed(dumps({**GOOD["hello"], "features": features}))
    assert "features" in reason


def test_unknown_features_are_kept_and_ignored() -> None:
    parsed = m.parse(dumps({**GOOD["hello"], "features": ["mute", "teleport"]}))
    assert isinstance(parsed, m.Hello) and parsed.features == ("mute", "teleport")


@pytest.mark.parametrize("device", ["camera", "screen", "x" * 1000])
def test_mute_of_anything_but_the_microphone_is_refused(device: str) -> None:
    reason = assert_malformed(dumps({"type": "mute", "device": device}))
    assert "cannot mute" in reason and len(reason) < 100


# -- view (the box a share is shown in) ------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height"),
    [(0, 540), (960, 0), (-1, 540), (m.MIN_VIEW_SIDE - 1, 540), (960, m.MAX_VIEW_SIDE + 1)],
)
def test_view_outside_the_sizes_a_screen_can_have_is_refused(width: int, height: int) -> None:
    reason = assert_malformed(dumps({"type": "view", "width": width, "height": height}))
    assert "view size" in reason


def test_view_on_the_wire() -> None:
    assert wire(m.View(width=960, height=508)) == {"type": "view", "width": 960, "height": 508}
