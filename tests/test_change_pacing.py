"""The sending policy, with the clock in the test's hands."""

from __future__ import annotations

import pytest

from montage_client.core.change_pacing import (
    AMBIENT_AFTER,
    IDLE_CHECK,
    KEEPALIVE,
    TEXT_FPS,
    ChangePacer,
    Quality,
)
from montage_core.rtc.encode_hints import MOTION, TEXT

TICK = 1 / 30


def run(pacer: ChangePacer, seconds: float, changed: float, start: float = 0.0) -> list[float]:
    """Tick at 30 Hz reporting `changed` each tick; return the send times."""
    sent = []
    for i in range(round(seconds / TICK)):
        now = start + i * TICK
        pacer.observe(changed, now)
        if pacer.should_send(now):
            pacer.sent(now)
            sent.append(now)
    return sent


def rate(times: list[float], after: float = 0.0) -> float:
    times = [t for t in times if t >= after]
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def test_still_screen_sends_only_keepalives() -> None:
    pacer = ChangePacer(Quality.AUTO, 30)
    sent = run(pacer, 5.0, 0.0)
    assert 4 <= len(sent) <= 6
    assert rate(sent) == pytest.approx(1 / KEEPALIVE, rel=0.1)


def test_large_changes_go_at_full_rate_and_at_once() -> None:
    pacer = ChangePacer(Quality.MOTION, 30)
    run(pacer, 2.0, 0.0)
    sent = run(pacer, 2.0, 0.5, start=2.0)
    assert sent[0] == pytest.approx(2.0)  # the first changed tick
    assert rate(sent) == pytest.approx(30, rel=0.05)


def test_small_changes_fresh_then_ambient() -> None:
    pacer = ChangePacer(Quality.AUTO, 30)
    sent = run(pacer, 6.0, 0.001)
    fresh = [t for t in sent if t < AMBIENT_AFTER]
    assert rate(fresh) == pytest.approx(10, rel=0.15)
    assert rate(sent, after=AMBIENT_AFTER + 0.5) == pytest.approx(1.0, rel=0.15)
    assert pacer.check_interval(6.0) == pytest.approx(1.0)


def test_a_pause_makes_small_changes_fresh_again() -> None:
    pacer = ChangePacer(Quality.AUTO, 30)
    run(pacer, 4.0, 0.001)  # ambient by now
    run(pacer, 1.5, 0.0, start=4.0)  # quiet
    sent = run(pacer, 1.0, 0.001, start=5.5)
    assert rate(sent) == pytest.approx(10, rel=0.15)
    assert pacer.check_interval(5.6) == 0.0


def test_idle_screen_is_compared_a_few_times_a_second() -> None:
    pacer = ChangePacer(Quality.AUTO, 30)
    run(pacer, 3.0, 0.0)
    assert pacer.check_interval(3.0) == IDLE_CHECK


def test_text_mode_caps_the_rate_and_stays_sharp() -> None:
    pacer = ChangePacer(Quality.TEXT, 60)
    sent = run(pacer, 3.0, 0.5)
    assert rate(sent) <= TEXT_FPS * 1.05
    assert pacer.hints is TEXT


def test_auto_turns_to_motion_for_lasting_large_change_and_back() -> None:
    pacer = ChangePacer(Quality.AUTO, 30)
    assert pacer.hints is TEXT
    run(pacer, 0.5, 0.5)
    assert pacer.hints is TEXT  # a single change (a new slide) stays sharp
    run(pacer, 2.0, 0.5, start=0.5)
    assert pacer.hints is MOTION  # video or scrolling
    # Small changes (the strip, a clock) alone do not keep it in motion mode.
    run(pacer, 6.0, 0.001, start=2.5)
    assert pacer.hints is TEXT


def test_motion_mode_never_switches() -> None:
    pacer = ChangePacer(Quality.MOTION, 30)
    run(pacer, 3.0, 0.001)
    assert pacer.hints is MOTION


def test_probing_slows_down_only_while_nothing_moves() -> None:
    pacer = ChangePacer(Quality.AUTO, 30)
    run(pacer, 3.0, 0.0)
    assert pacer.tick_interval(3.0) == pytest.approx(1 / 15)
    pacer.observe(0.5, 3.0)  # a slide changes
    assert pacer.tick_interval(3.0) == pytest.approx(1 / 30)
    run(pacer, 4.0, 0.001, start=3.1)  # then only a clock ticks: ambient
    assert pacer.tick_interval(7.1) == pytest.approx(1 / 15)


def test_refresh_once_after_large_changes_settle() -> None:
    pacer = ChangePacer(Quality.AUTO, 30)
    run(pacer, 1.0, 0.0)
    pacer.observe(0.6, 1.0)  # a new slide
    assert not pacer.take_refresh(1.2)  # not while it may still be changing
    assert pacer.take_refresh(1.5)
    assert not pacer.take_refresh(1.6)  # once
    run(pacer, 2.0, 0.5, start=2.0)  # video: large changes go on
    assert not pacer.take_refresh(3.9)
    assert pacer.take_refresh(4.5)  # it stopped: refresh


def test_small_changes_never_ask_for_a_refresh() -> None:
    pacer = ChangePacer(Quality.AUTO, 30)
    run(pacer, 1.0, 0.0)
    run(pacer, 3.0, 0.001, start=1.0)
    assert not pacer.take_refresh(4.5)
