"""6-digit cloud meeting IDs: their format and how candidates are drawn.

A cloud ID never starts with 0, so it stays 6 digits if software or a person
treats it as a number, and it cannot be mistaken for a 10-digit local ID.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

MEETING_ID_PATTERN = r"^[1-9][0-9]{5}$"
_MEETING_ID_RE = re.compile(MEETING_ID_PATTERN)
_LOWEST = 100_000
_COUNT = 900_000


def is_meeting_id(text: str) -> bool:
    return _MEETING_ID_RE.fullmatch(text) is not None


def random_meeting_id(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    # Unguessable rather than sequential: a resolvable ID reveals a receiver's
    # LAN endpoints, so neighbours in time should not be neighbours in number.
    return str(_LOWEST + randbelow(_COUNT))
