"""How well a share's link is doing, in figures a person or an admin can read.

Plain arithmetic with the clock passed in (no aiortc here): the adapters feed
it the counters aiortc keeps (packets received and lost, bytes) and the
round-trip time, and read back rates over the last few seconds.

- `LinkMeter`: loss (%) and bitrate (kbit/s) over a sliding window.
- `FreezeCounter`: pictures that stood still for more than half a second
  while the sender was sending (not a still screen's pauses).
- `grade`: the small mark in the sharing bar.
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass

# Rates are over this many seconds: long enough to read, short enough to move.
WINDOW = 10.0
# A gap between two pictures longer than this is a freeze (if the sender sent meanwhile).
FREEZE_GAP = 0.5


@dataclass(frozen=True)
class _Sample:
    at: float
    received: int
    lost: int
    bytes: int


class LinkMeter:
    """Loss and bitrate from cumulative counters, over the last `window` seconds."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._samples: collections.deque[_Sample] = collections.deque()
        self.rtt: float | None = None

    def add(
        self, now: float, received: int, lost: int, bytes_: int, rtt: float | None = None
    ) -> None:
        self._samples.append(_Sample(now, received, lost, bytes_))
        while len(self._samples) > 2 and now - self._samples[1].at >= self.window:
            self._samples.popleft()
        if rtt is not None:
            self.rtt = rtt

    def _span(self) -> tuple[_Sample, _Sample] | None:
        if len(self._samples) < 2:
            return None
        return self._samples[0], self._samples[-1]

    @property
    def loss_pct(self) -> float | None:
        """Share of packets the network lost (before any repair), in %."""
        span = self._span()
        if span is None:
            return None
        first, last = span
        lost = max(0, last.lost - first.lost)
        expected = max(0, last.received - first.received) + lost
        return 100.0 * lost / expected if expected else 0.0

    @property
    def bitrate_kbps(self) -> float | None:
        span = self._span()
        if span is None or span[1].at <= span[0].at:
            return None
        first, last = span
        return 8 * max(0, last.bytes - first.bytes) / (last.at - first.at) / 1000

    @property
    def rtt_ms(self) -> float | None:
        return None if self.rtt is None else self.rtt * 1000


class FreezeCounter:
    """Counts pictures that stood still too long while the sender went on sending.

    `shown(now, sent)`: a picture was shown at `now` (seconds, receiver clock)
    that the sender captured at `sent` (seconds, sender clock: the RTP
    timestamp). A gap over `FREEZE_GAP` counts when the sender's own gap was
    shorter by more than that (the network held pictures back), or when a
    loss could not be repaired in between (`lost_since_last`): a still
    screen's one picture a second is not a freeze.
    """

    def __init__(self, gap: float = FREEZE_GAP) -> None:
        self.gap = gap
        self.freezes = 0
        self._last: tuple[float, float] | None = None

    def shown(self, now: float, sent: float | None, lost_since_last: bool = False) -> None:
        last = self._last
        self._last = (now, sent if sent is not None else now)
        if last is None:
            return
        waited = now - last[0]
        if waited <= self.gap:
            return
        sender_gap = (sent - last[1]) if sent is not None else 0.0
        if lost_since_last or waited - sender_gap > self.gap:
            self.freezes += 1


class Grade(enum.Enum):
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


def grade(loss_pct: float | None, rtt_ms: float | None) -> Grade:
    """The sharing bar's mark: what a person would notice, not what a network engineer would.

    Below 2 % loss and 150 ms round trip nothing shows; up to 10 % and 400 ms
    repairs keep the picture whole but it may lag or stutter; beyond that it
    visibly suffers.
    """
    loss = loss_pct or 0.0
    rtt = rtt_ms or 0.0
    if loss >= 10 or rtt >= 400:
        return Grade.POOR
    if loss >= 2 or rtt >= 150:
        return Grade.FAIR
    return Grade.GOOD
