"""When a share that lost its connection tries again, and when it gives up.

The client's reconnection policy (docs/protocol.md §18), without I/O: the
adapter says when the share was lost and when an attempt failed, with the
time; the policy says when to try next, or that the window has passed and
with which sentence the share ends.

Attempts come quickly at first — most losses are blinks of a second or two,
and a restarted receiver is back within seconds — then every
`DELAYS[-1]` seconds until `window` seconds after the loss.
"""

from __future__ import annotations

from .errors import MontageError, ReceiverUnreachable

# Seconds before the 1st, 2nd, ... attempt; the last repeats.
DELAYS = (0.2, 0.5, 1.0, 2.0)
DEFAULT_WINDOW = 60.0


def transient(error: BaseException) -> bool:
    """Whether a share may get past `error` by trying again (a network, not a refusal)."""
    if isinstance(error, MontageError):
        return error.transient
    return isinstance(error, OSError | TimeoutError)


def describe_seconds(seconds: float) -> str:
    whole = round(seconds)
    if whole >= 120 and whole % 60 == 0:
        return f"{whole // 60} minutes"
    return f"{whole} second{'s' if whole != 1 else ''}"


class Reconnection:
    def __init__(self, window: float = DEFAULT_WINDOW, delays: tuple[float, ...] = DELAYS) -> None:
        self.window = window
        self.delays = delays
        self.since: float | None = None  # when the share was lost (None: not lost)
        self.attempts = 0
        self.count = 0  # times the share came back

    @property
    def enabled(self) -> bool:
        return self.window > 0

    @property
    def lost_now(self) -> bool:
        return self.since is not None

    def lost(self, now: float) -> None:
        """The share lost its connection (again, if already reconnecting)."""
        if self.since is None:
            self.since = now
            self.attempts = 0

    def next_try(self, now: float) -> float | None:
        """When to try next; None: the window has passed, give up."""
        assert self.since is not None, "not lost"
        deadline = self.since + self.window
        if now >= deadline:
            return None
        delay = self.delays[min(self.attempts, len(self.delays) - 1)]
        self.attempts += 1
        return min(now + delay, deadline)

    def resumed(self) -> None:
        self.since = None
        self.attempts = 0
        self.count += 1

    def give_up(self, where: str) -> ReceiverUnreachable:
        """The sentence the share ends with when the window passed."""
        return ReceiverUnreachable(
            f"Lost the connection to {where} and could not get it back within "
            f"{describe_seconds(self.window)}, so the share stopped. Check this "
            "computer's network and join again."
        )
