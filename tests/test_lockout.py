"""Per-source PIN-guess lockout, driven by an injected clock."""

from __future__ import annotations

import pytest

from montage_core.protocol.lockout import Lockout

SRC = "192.0.2.1"
OTHER = "192.0.2.2"
DAY = 24 * 3600.0


def fail(lockout: Lockout, source: str, now: float) -> float | None:
    """One wrong PIN: the attempt starts, then is settled as a failure."""
    lockout.record_attempt(source, now)
    return lockout.settle_failure(source, now)


def lock(lockout: Lockout, source: str = SRC, now: float = 0.0) -> float:
    """Fail until locked; return the lockout length."""
    for _ in range(lockout.max_failures - 1):
        assert fail(lockout, source, now) is None
    locked_for = fail(lockout, source, now)
    assert locked_for is not None
    return locked_for


def test_defaults() -> None:
    lockout = Lockout()
    assert lockout.max_failures == 5
    assert lockout.base_delay == 30.0
    assert lockout.max_delay == 3600.0
    assert lockout.forget_after == DAY


def test_unknown_source_has_all_tries_and_no_wait() -> None:
    lockout = Lockout()
    assert lockout.tries_left(SRC, 0.0) == 5
    assert lockout.retry_after(SRC, 0.0) is None
    assert lockout.settle_failure(SRC, 0.0) is None


def test_tries_left_counts_down_with_each_failure() -> None:
    lockout = Lockout()
    for expected in (4, 3, 2, 1):
        assert fail(lockout, SRC, 10.0) is None
        assert lockout.tries_left(SRC, 10.0) == expected
        assert lockout.retry_after(SRC, 10.0) is None
    assert fail(lockout, SRC, 10.0) == 30.0
    assert lockout.tries_left(SRC, 10.0) == 0


def test_attempt_counts_as_failure_as_soon_as_it_starts() -> None:
    lockout = Lockout()
    lockout.record_attempt(SRC, 0.0)
    assert lockout.tries_left(SRC, 0.0) == 4
    # Dropping the connection without settling does not give the try back.
    lockout.record_attempt(SRC, 1.0)
    assert lockout.tries_left(SRC, 1.0) == 3


def test_unsettled_attempts_count_toward_the_lock() -> None:
    lockout = Lockout()
    for _ in range(4):
        lockout.record_attempt(SRC, 0.0)  # abandoned attempts
    assert fail(lockout, SRC, 0.0) == 30.0


def test_tries_left_never_negative() -> None:
    lockout = Lockout()
    for _ in range(9):
        lockout.record_attempt(SRC, 0.0)
    assert lockout.tries_left(SRC, 0.0) == 0


def test_fifth_failure_locks_for_exactly_30_seconds() -> None:
    lockout = Lockout()
    t0 = 1000.0
    assert lock(lockout, now=t0) == 30.0
    assert lockout.retry_after(SRC, t0) == pytest.approx(30.0)
    assert lockout.retry_after(SRC, t0 + 0.5) == pytest.approx(29.5)
    assert lockout.retry_after(SRC, t0 + 10) == pytest.approx(20.0)
    assert lockout.retry_after(SRC, t0 + 29.9) == pytest.approx(0.1)
    assert lockout.retry_after(SRC, t0 + 30) is None
    assert lockout.retry_after(SRC, t0 + 31) is None


def test_each_failure_after_a_lockout_doubles_up_to_one_hour() -> None:
    lockout = Lockout()
    now = 0.0
    assert lock(lockout, now=now) == 30.0
    expected = [60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0, 3600.0, 3600.0]
    delay = 30.0
    for want in expected:
        now += delay  # wait out the lockout exactly
        assert lockout.retry_after(SRC, now) is None
        # One more wrong PIN is enough to lock again.
        assert lockout.tries_left(SRC, now) == 0
        delay_or_none = fail(lockout, SRC, now)
        assert delay_or_none == want
        assert lockout.retry_after(SRC, now) == pytest.approx(want)
        assert delay_or_none is not None
        delay = delay_or_none


def test_custom_limits() -> None:
    lockout = Lockout(max_failures=2, base_delay=5.0, max_delay=12.0)
    assert fail(lockout, SRC, 0.0) is None
    assert fail(lockout, SRC, 0.0) == 5.0
    assert fail(lockout, SRC, 5.0) == 10.0
    assert fail(lockout, SRC, 15.0) == 12.0
    assert fail(lockout, SRC, 27.0) == 12.0


def test_success_resets_the_record() -> None:
    lockout = Lockout()
    for _ in range(4):
        fail(lockout, SRC, 0.0)
    lockout.record_attempt(SRC, 0.0)
    lockout.record_success(SRC)
    assert lockout.tries_left(SRC, 0.0) == 5
    # A full five more are needed to lock, and the delay starts at 30 s again.
    assert lock(lockout, now=1.0) == 30.0


def test_success_after_a_lockout_resets_the_doubling() -> None:
    lockout = Lockout()
    lock(lockout, now=0.0)
    assert fail(lockout, SRC, 30.0) == 60.0
    lockout.record_attempt(SRC, 90.0)
    lockout.record_success(SRC)
    assert lockout.retry_after(SRC, 90.0) is None
    assert lock(lockout, now=90.0) == 30.0


def test_success_for_unknown_source_is_harmless() -> None:
    lockout = Lockout()
    lockout.record_success("never-seen")
    assert lockout.tries_left("never-seen", 0.0) == 5


def test_sources_are_independent() -> None:
    lockout = Lockout()
    lock(lockout, SRC, 0.0)
    assert lockout.retry_after(SRC, 1.0) is not None
    assert lockout.retry_after(OTHER, 1.0) is None
    assert lockout.tries_left(OTHER, 1.0) == 5
    assert fail(lockout, OTHER, 1.0) is None
    assert lockout.tries_left(OTHER, 1.0) == 4
    lockout.record_success(OTHER)
    assert lockout.retry_after(SRC, 1.0) == pytest.approx(29.0)
    lockout.record_success(SRC)
    assert lockout.tries_left(OTHER, 1.0) == 5


def test_failures_are_forgotten_after_24_hours_idle() -> None:
    lockout = Lockout()
    for _ in range(4):
        fail(lockout, SRC, 100.0)
    assert lockout.tries_left(SRC, 100.0 + DAY) == 1  # exactly 24 h: still remembered
    assert lockout.tries_left(SRC, 100.0 + DAY + 1) == 5


def test_idle_time_counts_from_the_last_attempt() -> None:
    lockout = Lockout()
    fail(lockout, SRC, 0.0)
    fail(lockout, SRC, DAY - 10)  # activity keeps the record alive
    assert lockout.tries_left(SRC, DAY + 100) == 3
    assert lockout.tries_left(SRC, 2 * DAY - 10 + 1) == 5


def test_lockout_history_is_forgotten_a_day_after_the_lock_ends() -> None:
    lockout = Lockout()
    lock(lockout, now=0.0)
    assert fail(lockout, SRC, 30.0) == 60.0  # locked until 90
    assert fail(lockout, SRC, 90.0) == 120.0  # locked until 210
    assert lockout.tries_left(SRC, 210.0 + DAY) == 0
    # Forgotten: a fresh start with five tries and a 30 s first lockout.
    later = 210.0 + DAY + 1
    assert lockout.tries_left(SRC, later) == 5
    assert lockout.retry_after(SRC, later) is None
    assert lock(lockout, now=later) == 30.0


def test_long_lock_is_not_forgotten_while_it_lasts() -> None:
    lockout = Lockout(forget_after=60.0, base_delay=100.0)
    t0 = 0.0
    lock(lockout, now=t0)
    # 60 s after the last attempt the source is still locked, so still remembered.
    assert lockout.retry_after(SRC, t0 + 90.0) == pytest.approx(10.0)
    assert lockout.tries_left(SRC, t0 + 100.0 + 60.0) == 0
    assert lockout.tries_left(SRC, t0 + 100.0 + 61.0) == 5
