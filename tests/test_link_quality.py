"""The link's figures as a person reads them: loss, bitrate, freezes and the bar's mark."""

from __future__ import annotations

import pytest

from montage_core.rtc.link_quality import FreezeCounter, Grade, LinkMeter, grade


def test_loss_and_bitrate_over_the_window() -> None:
    meter = LinkMeter(window=10)
    assert meter.loss_pct is None and meter.bitrate_kbps is None and meter.rtt_ms is None
    meter.add(0.0, received=0, lost=0, bytes_=0)
    meter.add(1.0, received=950, lost=50, bytes_=500_000, rtt=0.012)
    assert meter.loss_pct == pytest.approx(5.0)
    assert meter.bitrate_kbps == pytest.approx(4000)
    assert meter.rtt_ms == pytest.approx(12)
    # Old samples leave the window: a loss long gone no longer counts.
    for second in range(2, 25):
        meter.add(float(second), received=950 * second, lost=50, bytes_=500_000 * second)
    assert meter.loss_pct == 0.0
    assert meter.rtt_ms == pytest.approx(12)  # the last one measured


def test_a_still_screen_is_not_a_freeze_but_held_back_pictures_are() -> None:
    freezes = FreezeCounter()
    for second in range(5):  # one picture a second, sent a second apart
        freezes.shown(float(second), sent=float(second))
    assert freezes.freezes == 0
    freezes.shown(5.0, sent=4.05)  # sent right after the last, shown a second late
    assert freezes.freezes == 1
    freezes.shown(6.0, sent=5.05, lost_since_last=True)  # a loss between: counts too
    assert freezes.freezes == 2
    freezes.shown(6.4, sent=5.06, lost_since_last=True)  # a short gap never does
    assert freezes.freezes == 2


@pytest.mark.parametrize(
    ("loss", "rtt", "mark"),
    [
        (None, None, Grade.GOOD),
        (0.5, 20, Grade.GOOD),
        (3, 20, Grade.FAIR),
        (0, 200, Grade.FAIR),
        (12, 20, Grade.POOR),
        (1, 450, Grade.POOR),
    ],
)
def test_the_mark_follows_what_a_person_would_notice(
    loss: float | None, rtt: float | None, mark: Grade
) -> None:
    assert grade(loss, rtt) is mark
