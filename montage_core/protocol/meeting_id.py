"""Local meeting IDs: the receiver's IPv4 address as 10 scrambled digits.

A receiver without the cloud (or with "force local meetings" set) shows a
10-digit meeting ID. It is the receiver's IPv4 address read as a 32-bit
unsigned number ``a`` (``a = int(ipaddress.IPv4Address(ip))``), scrambled to
``s = scramble(a)`` and written in decimal, zero-padded to 10 digits
(``2**32 - 1 = 4294967295`` has 10 digits). A client reverses the steps and
connects straight to the address. 6-digit IDs are cloud meeting IDs
(`CloudMeetingId`): the client resolves them through the cloud's REST API.
`parse_meeting_id` reads either kind from what a person typed.

The scramble is part of the protocol; every step is a bijection on 32-bit
numbers, so the whole is one too. All arithmetic is modulo ``2**32``::

    M = MULTIPLIER = 0x045D9F3B         # odd, so invertible modulo 2**32
    M_INV = INVERSE_MULTIPLIER = 0x119DE1F3   # M * M_INV == 1 (mod 2**32)

    scramble(x):                        unscramble(y):
        x ^= x >> 16                        y ^= y >> 16
        x = (x * M) mod 2**32               y = (y * M_INV) mod 2**32
        x ^= x >> 16                        y ^= y >> 16
        x = (x * M) mod 2**32               y = (y * M_INV) mod 2**32
        x ^= x >> 16                        y ^= y >> 16

``x ^= x >> 16`` is its own inverse on 32-bit numbers, so ``unscramble`` is
``scramble`` with ``M`` replaced by ``M_INV``. The steps mix every input bit
into every output bit, so neighbouring addresses (``192.168.1.10`` and
``192.168.1.11``) get IDs that share few digits. Known values:
``scramble(0x7F000001) == 338398987``, so 127.0.0.1 shows ``033 839 8987``;
192.168.1.10 shows ``417 217 2018`` and 192.168.1.11 shows ``101 312 0792``.

An ID is valid only if it is 10 digits, below ``2**32``, and names a usable
unicast host: not in 0.0.0.0/8, multicast 224.0.0.0/4 or reserved
240.0.0.0/4 (which holds the broadcast address 255.255.255.255).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

from montage_core.protocol.errors import InvalidMeetingId

__all__ = [
    "INVERSE_MULTIPLIER",
    "MULTIPLIER",
    "CloudMeetingId",
    "MeetingId",
    "parse_meeting_id",
    "scramble",
    "unscramble",
]

MULTIPLIER = 0x045D9F3B  # M in the module docstring
INVERSE_MULTIPLIER = 0x119DE1F3  # M_INV
_MASK = 0xFFFFFFFF
_DIGITS = 10
_CLOUD_DIGITS = 6
# Ignored when a person types or pastes an ID ("123 456 7890", "123-456-7890").
_SEPARATORS = frozenset(" -.")
_UNUSABLE = (
    ipaddress.IPv4Network("0.0.0.0/8"),
    ipaddress.IPv4Network("224.0.0.0/4"),
    ipaddress.IPv4Network("240.0.0.0/4"),
)

_Words = TypeVar("_Words", np.uint32, np.uint64)


def _check_words(x: int | npt.NDArray[np.uint32] | npt.NDArray[np.uint64]) -> None:
    if isinstance(x, np.ndarray):
        if x.dtype not in (np.uint32, np.uint64):
            raise TypeError(f"scramble needs uint32 or uint64 arrays, not {x.dtype}")
    elif not 0 <= x <= _MASK:
        raise ValueError(f"{x} is not a 32-bit unsigned number")


def _mix(x: Any, multiplier: int) -> Any:
    # Any: numpy's stubs type uint >> int as signed; the values stay unsigned.
    x = x ^ (x >> 16)
    x = (x * multiplier) & _MASK
    x = x ^ (x >> 16)
    x = (x * multiplier) & _MASK
    return x ^ (x >> 16)


@overload
def scramble(x: int) -> int: ...
@overload
def scramble(x: npt.NDArray[_Words]) -> npt.NDArray[_Words]: ...
def scramble(x: int | npt.NDArray[_Words]) -> int | npt.NDArray[_Words]:
    """Map a 32-bit number (or a uint32/uint64 array of them) to its meeting number.

    Works unchanged on Python ints and numpy arrays: uint64 holds a 32-bit
    product without overflow, uint32 wraps modulo 2**32 by itself.
    """
    _check_words(x)
    result: int | npt.NDArray[_Words] = _mix(x, MULTIPLIER)
    return result


@overload
def unscramble(y: int) -> int: ...
@overload
def unscramble(y: npt.NDArray[_Words]) -> npt.NDArray[_Words]: ...
def unscramble(y: int | npt.NDArray[_Words]) -> int | npt.NDArray[_Words]:
    """The inverse of `scramble`: ``unscramble(scramble(x)) == x``."""
    _check_words(y)
    result: int | npt.NDArray[_Words] = _mix(y, INVERSE_MULTIPLIER)
    return result


def _is_usable_host(address: ipaddress.IPv4Address) -> bool:
    return not any(address in network for network in _UNUSABLE)


def _quote(char: str) -> str:
    return f"'{char}'" if char.isprintable() else ascii(char)


def _not_valid(digits: str) -> InvalidMeetingId:
    shown = f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    return InvalidMeetingId(
        f"{shown} is not a valid local meeting ID: check the digits on the room's screen."
    )


@dataclass(frozen=True)
class MeetingId:
    """A local (10-digit) meeting ID; construct with `parse` or `from_address`."""

    digits: str

    def __post_init__(self) -> None:
        if len(self.digits) != _DIGITS or not all(c in "0123456789" for c in self.digits):
            raise InvalidMeetingId(
                f"A meeting ID has {_DIGITS} digits; {self.digits!r} is not one."
            )
        number = int(self.digits)
        if number > _MASK or not _is_usable_host(ipaddress.IPv4Address(unscramble(number))):
            raise _not_valid(self.digits)

    @classmethod
    def parse(cls, text: str) -> MeetingId:
        """Read a local ID as a person typed it; raise InvalidMeetingId with a sentence for them.

        Whitespace, hyphens and dots are ignored: ``1234567890``,
        ``123 456 7890`` and ``123-456-7890`` are the same ID. A 6-digit
        (cloud) ID is refused here; `parse_meeting_id` accepts both kinds.
        """
        meeting = parse_meeting_id(text)
        if isinstance(meeting, CloudMeetingId):
            raise InvalidMeetingId(
                f"{meeting.display()} is a cloud meeting ID; this needs a 10-digit local ID."
            )
        return meeting

    @classmethod
    def from_address(cls, ip: str | ipaddress.IPv4Address) -> MeetingId:
        """The ID a receiver at `ip` shows; ValueError if `ip` is not a usable host."""
        address = ipaddress.IPv4Address(ip)
        if not _is_usable_host(address):
            raise ValueError(f"{address} is not a unicast host address a client could reach")
        return cls(f"{scramble(int(address)):0{_DIGITS}d}")

    def address(self) -> ipaddress.IPv4Address:
        """The receiver's IPv4 address this ID names."""
        return ipaddress.IPv4Address(unscramble(int(self.digits)))

    def display(self) -> str:
        """The ID grouped for reading aloud: ``"123 456 7890"``."""
        return f"{self.digits[:3]} {self.digits[3:6]} {self.digits[6:]}"

    def __str__(self) -> str:
        return self.digits


@dataclass(frozen=True)
class CloudMeetingId:
    """A cloud (6-digit) meeting ID, resolved through the cloud's REST API.

    The cloud hands them out: 6 digits, never starting with 0 (so that a
    dropped leading zero cannot turn one into another).
    """

    digits: str

    def __post_init__(self) -> None:
        if len(self.digits) != _CLOUD_DIGITS or not all(c in "0123456789" for c in self.digits):
            raise InvalidMeetingId(
                f"A cloud meeting ID has {_CLOUD_DIGITS} digits; {self.digits!r} is not one."
            )
        if self.digits[0] == "0":
            raise InvalidMeetingId(
                f"{self.display()} is not a valid meeting ID: cloud meeting IDs never start "
                "with 0. Check the digits on the room's screen."
            )

    def display(self) -> str:
        """The ID grouped for reading aloud: ``"123 456"``."""
        return f"{self.digits[:3]} {self.digits[3:]}"

    def __str__(self) -> str:
        return self.digits


def parse_meeting_id(text: str) -> MeetingId | CloudMeetingId:
    """Read a meeting ID of either kind as a person typed it.

    10 digits: a local meeting (`MeetingId`); 6 digits: a cloud meeting
    (`CloudMeetingId`). Anything else raises InvalidMeetingId with a sentence.
    """
    kept = [c for c in text if not (c.isspace() or c in _SEPARATORS)]
    if not kept:
        raise InvalidMeetingId("Enter the meeting ID shown on the room's screen.")
    for char in kept:
        if char not in "0123456789":
            raise InvalidMeetingId(f"A meeting ID has only digits; {_quote(char)} is not one.")
    count = len(kept)
    if count == _CLOUD_DIGITS:
        return CloudMeetingId("".join(kept))
    if count != _DIGITS:
        typed = f"{count} digit" if count == 1 else f"{count} digits"
        raise InvalidMeetingId(
            f"That meeting ID has {typed}; a meeting ID has {_CLOUD_DIGITS} or {_DIGITS} digits."
        )
    return MeetingId("".join(kept))
