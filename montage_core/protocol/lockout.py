"""Per-source limit on PIN guesses, with a growing lockout.

A 4-digit PIN has 10,000 values, so guesses must be scarce: after
`max_failures` wrong PINs from one source, that source is locked out for
`base_delay` seconds, and each further failure after a lockout doubles the
delay (up to `max_delay`). A correct PIN clears the record. An attempt counts
as a failure as soon as it starts (the PAKE message arrives) and is cleared
only by success, so dropping the connection mid-attempt does not give free
guesses. Attempts still in flight count too, so opening many connections at
once buys no extra guesses; once the tries are used up, the next attempt
starts the lockout at once, and after a lockout only one attempt at a time
is allowed. Time is passed in, never read, so tests control it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Record:
    failures: int = 0
    in_flight: int = 0
    locked_until: float = 0.0
    delay: float = 0.0
    last_seen: float = 0.0


class Lockout:
    def __init__(
        self,
        max_failures: int = 5,
        base_delay: float = 30.0,
        max_delay: float = 3600.0,
        forget_after: float = 24 * 3600.0,
    ) -> None:
        self.max_failures = max_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self._records: dict[str, _Record] = {}

    def retry_after(self, source: str, now: float) -> float | None:
        """Seconds until `source` may try again, or None if it may now."""
        record = self._get(source, now)
        if record and record.locked_until > now:
            return record.locked_until - now
        return None

    def tries_left(self, source: str, now: float) -> int:
        record = self._get(source, now)
        if record is None:
            return self.max_failures
        return max(0, self.max_failures - record.failures)

    def record_attempt(self, source: str, now: float) -> float | None:
        """Start an attempt, counted as failed until `record_success`.

        Returns None if the attempt may go ahead, else the seconds to wait.
        """
        wait = self.retry_after(source, now)
        if wait is not None:
            return wait
        record = self._get(source, now) or self._records.setdefault(source, _Record())
        record.last_seen = now
        if record.failures >= self.max_failures:
            single_try_after_lockout = record.delay > 0 and record.in_flight == 0
            if not single_try_after_lockout:
                return self._lock(record, now)
        record.failures += 1
        record.in_flight += 1
        return None

    def settle_failure(self, source: str, now: float) -> float | None:
        """The attempt failed (or was abandoned): lock the source if out of tries.

        Returns the lockout in seconds if one starts now, else None.
        """
        record = self._get(source, now)
        if record is None:
            return None
        record.in_flight = max(0, record.in_flight - 1)
        if record.failures < self.max_failures or record.locked_until > now:
            return None
        return self._lock(record, now)

    def _lock(self, record: _Record, now: float) -> float:
        record.delay = min(self.max_delay, record.delay * 2 if record.delay else self.base_delay)
        record.locked_until = now + record.delay
        return record.delay

    def record_success(self, source: str) -> None:
        self._records.pop(source, None)

    def _get(self, source: str, now: float) -> _Record | None:
        record = self._records.get(source)
        if record and now - max(record.last_seen, record.locked_until) > self.forget_after:
            del self._records[source]
            return None
        return record
