"""Local meeting IDs: the scramble, parsing what people type, and its messages."""

from __future__ import annotations

import ipaddress
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from montage_core.protocol.errors import InvalidInput, InvalidMeetingId
from montage_core.protocol.meeting_id import (
    INVERSE_MULTIPLIER,
    MULTIPLIER,
    CloudMeetingId,
    MeetingId,
    parse_meeting_id,
    scramble,
    unscramble,
)

# uint32 arrays are 4x faster here than uint64 (same functions, same results;
# test_uint64_arrays_agree_with_uint32 checks that).
CHUNK = 1 << 18


def _round_trips(first: int) -> bool:
    x = np.arange(first, first + CHUNK, dtype=np.uint32)
    y = scramble(x)
    return bool(np.array_equal(unscramble(y), x))


@pytest.mark.slow
def test_scramble_round_trips_every_32_bit_number() -> None:
    starts = range(0, 1 << 32, CHUNK)
    # numpy ufuncs release the GIL, so threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(_round_trips, starts))
    assert len(results) == (1 << 32) // CHUNK
    assert all(results)


def test_uint64_arrays_agree_with_uint32_and_stay_below_2_32() -> None:
    x64 = np.arange((1 << 32) - (1 << 20), 1 << 32, dtype=np.uint64)
    x64 = np.concatenate([np.arange(1 << 20, dtype=np.uint64), x64])
    y64 = scramble(x64)
    assert y64.dtype == np.uint64
    assert int(y64.max()) < 1 << 32
    assert np.array_equal(y64, scramble(x64.astype(np.uint32)).astype(np.uint64))
    assert np.array_equal(unscramble(y64), x64)


def test_scramble_is_not_the_identity_on_most_numbers() -> None:
    x = np.arange(1 << 16, dtype=np.uint32) * np.uint32(65521)
    assert np.count_nonzero(scramble(x) == x) <= 1


def test_constants_are_inverse() -> None:
    assert MULTIPLIER % 2 == 1
    assert (MULTIPLIER * INVERSE_MULTIPLIER) % (1 << 32) == 1
    assert (MULTIPLIER, INVERSE_MULTIPLIER) == (0x045D9F3B, 0x119DE1F3)


def test_python_ints_match_arrays() -> None:
    values = [0, 1, 0x7F000001, 0xC0A8010A, 0xFFFFFFFF]
    array = scramble(np.array(values, dtype=np.uint64))
    assert [scramble(v) for v in values] == array.tolist()
    assert [unscramble(scramble(v)) for v in values] == values


@pytest.mark.parametrize("bad", [-1, 1 << 32])
def test_scramble_rejects_numbers_outside_32_bits(bad: int) -> None:
    with pytest.raises(ValueError):
        scramble(bad)
    with pytest.raises(ValueError):
        unscramble(bad)


def test_scramble_rejects_signed_arrays() -> None:
    with pytest.raises(TypeError):
        scramble(np.arange(4, dtype=np.int64))  # type: ignore[type-var]


# Pinned so the scramble (part of the protocol, quoted in the docs) cannot
# change silently.
@pytest.mark.parametrize(
    ("number", "scrambled"),
    [
        (0, 0),
        (1, 824515495),
        (0x7F000001, 338398987),
        (0x12345678, 89967310),
        (0xFFFFFFFF, 539527247),
    ],
)
def test_known_scramble_values(number: int, scrambled: int) -> None:
    assert scramble(number) == scrambled
    assert unscramble(scrambled) == number


@pytest.mark.parametrize(
    ("ip", "digits"),
    [
        ("127.0.0.1", "0338398987"),
        ("192.168.1.10", "4172172018"),
        ("192.168.1.11", "1013120792"),
        ("10.0.0.1", "2890345309"),
        ("172.16.5.4", "2676660860"),
        ("1.0.0.0", "1076704904"),
        ("223.255.255.255", "3999742403"),
    ],
)
def test_known_meeting_ids(ip: str, digits: str) -> None:
    meeting = MeetingId.from_address(ip)
    assert meeting.digits == digits
    assert meeting.address() == ipaddress.IPv4Address(ip)
    assert MeetingId.parse(digits) == meeting


def _differing_positions(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def test_consecutive_addresses_give_unlike_ids() -> None:
    a = MeetingId.from_address("192.168.1.10").digits
    b = MeetingId.from_address("192.168.1.11").digits
    assert _differing_positions(a, b) >= 5
    differences = [
        _differing_positions(
            MeetingId.from_address(f"192.168.1.{i}").digits,
            MeetingId.from_address(f"192.168.1.{i + 1}").digits,
        )
        for i in range(1, 254)
    ]
    assert min(differences) >= 4
    assert sum(differences) / len(differences) >= 8


def test_loopback_round_trips() -> None:
    meeting = MeetingId.from_address(ipaddress.IPv4Address("127.0.0.1"))
    assert MeetingId.parse(str(meeting)).address() == ipaddress.IPv4Address("127.0.0.1")
    assert MeetingId.parse(meeting.display()).address() == ipaddress.IPv4Address("127.0.0.1")


def test_display_and_str() -> None:
    meeting = MeetingId.parse("4172172018")
    assert meeting.display() == "417 217 2018"
    assert str(meeting) == "4172172018"


@pytest.mark.parametrize(
    "typed",
    [
        "4172172018",
        "417 217 2018",
        "417-217-2018",
        "417.217.2018",
        "  417 217 2018\n",
        "\t417-217 2018 ",
        "4 1 7 2 1 7 2 0 1 8",
        "417--217..2018",
    ],
)
def test_accepted_formats(typed: str) -> None:
    meeting = MeetingId.parse(typed)
    assert meeting.digits == "4172172018"
    assert meeting.address() == ipaddress.IPv4Address("192.168.1.10")


@pytest.mark.parametrize("typed", ["", "   ", "\n", " - . "])
def test_empty_input_asks_for_the_id(typed: str) -> None:
    with pytest.raises(InvalidMeetingId) as caught:
        MeetingId.parse(typed)
    assert str(caught.value) == "Enter the meeting ID shown on the room's screen."


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("417217201x", "'x'"),
        ("abc", "'a'"),
        ("417_217_2018", "'_'"),
        ("417/217/2018", "'/'"),
        ("+4172172018", "'+'"),
        ("417217201٨", "'٨'"),  # an Arabic-Indic eight is a digit to Python, not to us
        ("4172\x00172018", "'\\x00'"),
    ],
)
def test_non_digits_are_named(typed: str, named: str) -> None:
    with pytest.raises(InvalidMeetingId) as caught:
        MeetingId.parse(typed)
    assert str(caught.value) == f"A meeting ID has only digits; {named} is not one."


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("4", "That meeting ID has 1 digit; a meeting ID has 6 or 10 digits."),
        ("417 217 201", "That meeting ID has 9 digits; a meeting ID has 6 or 10 digits."),
        ("41721720", "That meeting ID has 8 digits; a meeting ID has 6 or 10 digits."),
        ("41721720181", "That meeting ID has 11 digits; a meeting ID has 6 or 10 digits."),
        ("4172-1720-1823", "That meeting ID has 12 digits; a meeting ID has 6 or 10 digits."),
    ],
)
def test_wrong_length_says_how_many_digits(typed: str, message: str) -> None:
    with pytest.raises(InvalidMeetingId) as caught:
        MeetingId.parse(typed)
    assert str(caught.value) == message


@pytest.mark.parametrize("typed", ["123456", "123 456", "123-456", " 123.456\n"])
def test_six_digits_is_a_cloud_id(typed: str) -> None:
    meeting = parse_meeting_id(typed)
    assert meeting == CloudMeetingId("123456")
    assert isinstance(meeting, CloudMeetingId) and meeting.display() == "123 456"
    # The local parser names what it got instead of miscounting digits.
    with pytest.raises(InvalidMeetingId) as caught:
        MeetingId.parse(typed)
    assert str(caught.value) == "123 456 is a cloud meeting ID; this needs a 10-digit local ID."


def test_cloud_ids_never_start_with_zero() -> None:
    with pytest.raises(InvalidMeetingId) as caught:
        parse_meeting_id("012 345")
    assert str(caught.value) == (
        "012 345 is not a valid meeting ID: cloud meeting IDs never start with 0. "
        "Check the digits on the room's screen."
    )


def test_either_kind_parses_to_its_own_type() -> None:
    assert parse_meeting_id("417 217 2018") == MeetingId("4172172018")
    with pytest.raises(InvalidMeetingId, match="has 7 digits; a meeting ID has 6 or 10"):
        parse_meeting_id("1234567")


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("4294967296", "429 496 7296"),  # 2**32
        ("9999999999", "999 999 9999"),
        ("0000000000", "000 000 0000"),  # 0.0.0.0
        ("0824515495", "082 451 5495"),  # 0.0.0.1
        ("3300630901", "330 063 0901"),  # 224.0.0.1, multicast
        ("1911875153", "191 187 5153"),  # 240.0.0.1, reserved
        ("053-952-7247", "053 952 7247"),  # 255.255.255.255, broadcast
    ],
)
def test_ids_that_name_no_receiver(typed: str, shown: str) -> None:
    with pytest.raises(InvalidMeetingId) as caught:
        MeetingId.parse(typed)
    assert str(caught.value) == (
        f"{shown} is not a valid local meeting ID: check the digits on the room's screen."
    )


def test_errors_are_invalid_input_with_its_exit_code() -> None:
    with pytest.raises(InvalidInput) as caught:
        MeetingId.parse("x")
    assert caught.value.exit_code == 2


def test_constructor_validates_too() -> None:
    with pytest.raises(InvalidMeetingId):
        MeetingId("12345")
    with pytest.raises(InvalidMeetingId):
        MeetingId("9999999999")
    assert MeetingId("0338398987").address() == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize(
    "ip", ["0.0.0.0", "0.1.2.3", "224.0.0.251", "239.255.255.250", "240.0.0.1", "255.255.255.255"]
)
def test_from_address_refuses_unusable_addresses(ip: str) -> None:
    with pytest.raises(ValueError):
        MeetingId.from_address(ip)


def test_frozen() -> None:
    meeting = MeetingId.from_address("127.0.0.1")
    with pytest.raises(AttributeError):
        meeting.digits = "4172172018"  # type: ignore[misc]
