"""When to send a new picture of the screen, and how to encode it.

Plain logic with the clock passed in (tested without a screen). The capture
thread reports, every tick, how much of the screen changed; the pacer says
whether to send now and with which encoder hints.

Why rate-limit at all: encoding even an unchanged 1080p picture costs about
5 ms of CPU with libx264 (measured here; it must still look at every
macroblock), so a clock or a spinner in a corner would cost 15 % of a core at
30 fps. So:

- a large change (a new slide, scrolling, video) is sent at the full rate;
- a small change (typing, a cursor, a clock) is sent at `SMALL_FPS` while it
  is fresh, then at `AMBIENT_FPS` once small changes have gone on without a
  break for `AMBIENT_AFTER` seconds (an animation nobody is driving);
- nothing changed: the last picture is re-sent every `KEEPALIVE` seconds, so
  a lost packet or a keyframe request is repaired without waiting for the
  next change.

Quality modes: `motion` (smooth: full rate, fast encoding), `text` (sharp:
at most `TEXT_FPS`, sharper encoding), `auto` (sharp while the screen changes
now and then, smooth once large changes go on for `MOTION_AFTER` seconds).
"""

from __future__ import annotations

import enum

from montage_core.rtc.encode_hints import MOTION, TEXT, EncodeHints

LARGE_CHANGE = 0.02  # fraction of the screen
SMALL_FPS = 10.0
AMBIENT_FPS = 1.0
AMBIENT_AFTER = 2.0
QUIET_RESET = 1.0  # a pause this long makes the next small change fresh
KEEPALIVE = 1.0
IDLE_CHECK = 0.2  # how often a still screen is compared in full
# While nothing large moves, the screen is probed this often: each tick costs
# a thread wake-up and a column grab, and a large change is still caught
# within 1/IDLE_TICK_HZ (67 ms).
IDLE_TICK_HZ = 15.0
TEXT_FPS = 15.0
MOTION_AFTER = 1.0
# Switching hints rebuilds the encoder (a keyframe): not more often than this.
HINTS_HOLD = 3.0
# A large change is coded as a prediction from the old picture; when the
# screen then stands still, x264 never revisits those blocks and ghosts of
# the old content stay. Once large changes have stopped for this long, one
# keyframe redraws the picture sharp.
REFRESH_AFTER = 0.4


class Quality(enum.StrEnum):
    AUTO = "auto"
    TEXT = "text"
    MOTION = "motion"


class ChangePacer:
    def __init__(self, quality: Quality, fps: float) -> None:
        self.fps = fps
        self.set_quality(quality)
        self._pending = False  # a change not yet sent
        self._pending_large = False
        self._last_sent = float("-inf")
        self._last_change = float("-inf")
        self._small_since: float | None = None
        self._large_since: float | None = None
        self._last_large = float("-inf")
        self._hints_since = float("-inf")
        self._refresh_due = False

    def set_quality(self, quality: Quality) -> None:
        """Switch modes (the person's choice, live during a share)."""
        self.quality = quality
        self.full_fps = min(self.fps, TEXT_FPS) if quality is Quality.TEXT else self.fps
        self.hints: EncodeHints = MOTION if quality is Quality.MOTION else TEXT
        self._hints_since = float("-inf")

    def observe(self, changed: float, now: float) -> None:
        """Report what fraction of the screen changed since the last tick."""
        if now - self._last_large >= QUIET_RESET:
            self._large_since = None  # small changes do not keep "motion" alive
        if changed <= 0:
            if now - self._last_change >= QUIET_RESET:
                self._small_since = None
            return
        self._pending = True
        self._last_change = now
        if changed >= LARGE_CHANGE:
            self._pending_large = True
            self._last_large = now
            self._refresh_due = True
            if self._large_since is None:
                self._large_since = now
        elif self._small_since is None:
            self._small_since = now
        self._update_hints(now)

    def take_refresh(self, now: float) -> bool:
        """True, once, when the picture should be re-sent whole (see REFRESH_AFTER)."""
        if self._refresh_due and now - self._last_large >= REFRESH_AFTER:
            self._refresh_due = False
            return True
        return False

    def should_send(self, now: float) -> bool:
        since = now - self._last_sent
        if not self._pending:
            return since >= KEEPALIVE
        if self._pending_large:
            return since >= 1.0 / self.full_fps * 0.9
        fresh = self._small_since is None or now - self._small_since < AMBIENT_AFTER
        rate = min(self.full_fps, SMALL_FPS if fresh else AMBIENT_FPS)
        return since >= 1.0 / rate * 0.9

    def tick_interval(self, now: float) -> float:
        """How long the capture thread may sleep before looking again."""
        busy = now - self._last_large < QUIET_RESET or (
            self._small_since is not None and now - self._small_since < AMBIENT_AFTER
        )
        return 1.0 / self.fps if busy else 1.0 / min(self.fps, IDLE_TICK_HZ)

    def check_interval(self, now: float) -> float:
        """How long until the next full comparison of the screen is worth it."""
        if now - self._last_large < QUIET_RESET:
            return 0.0  # things move: look every tick
        if self._small_since is not None:
            if now - self._small_since < AMBIENT_AFTER:
                return 0.0  # fresh small changes (typing): look every tick
            return 1.0 / AMBIENT_FPS  # ambient: look only when a frame may go
        return IDLE_CHECK

    def sent(self, now: float) -> None:
        self._pending = self._pending_large = False
        self._last_sent = now

    def _update_hints(self, now: float) -> None:
        if self.quality is not Quality.AUTO or now - self._hints_since < HINTS_HOLD:
            return
        moving = self._large_since is not None and now - self._large_since >= MOTION_AFTER
        wanted = MOTION if moving else TEXT
        if wanted is not self.hints:
            self.hints = wanted
            self._hints_since = now
