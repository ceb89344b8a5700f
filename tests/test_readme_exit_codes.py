"""The README's table of `montage-client join` exit codes says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from montage_core.protocol import errors

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_codes() -> dict[int, str]:
    """Exit code → the words the README's "Exit codes:" paragraph gives it."""
    text = README.read_text()
    paragraph = text[text.index("Exit codes:") :].split("\n\n")[0]
    parts = re.split(r"\*\*(\d)\*\*", " ".join(paragraph.split()))
    return {int(code): words for code, words in zip(parts[1::2], parts[2::2], strict=True)}


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (errors.InvalidMeetingId("x"), "meeting ID"),
        (errors.PinRequired("x"), "missing PIN"),
        (errors.MeetingNotFound("x"), "unknown or ended cloud meeting"),
        (errors.NotEnrolled("x"), "not enrolled"),
        (errors.WrongPin("x", 4), "wrong PIN"),
        (errors.LockedOut("x", 30.0), "locked out"),
        (errors.ReceiverUnreachable("x"), "receiver"),
        (errors.CloudUnavailable("x"), "cloud unreachable"),
        (errors.DeviceRevoked("x"), "suspended or removed"),
        (errors.ReceiverRefused("x"), "room full"),
        (errors.ShareEnded("x"), "connection lost"),
        (errors.ConnectionLost("x"), "connection lost"),
        (errors.PinChanged("x"), "PIN changed while reconnecting"),
    ],
)
def test_each_error_exits_with_the_code_the_readme_gives_it(
    error: errors.MontageError, words: str
) -> None:
    assert words in documented_codes()[error.exit_code]
