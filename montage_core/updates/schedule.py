"""When a running program looks for updates: at start and once a day, only while idle.

A check never runs while a share is being set up or shown (`busy()`): it
waits for the program to be idle first. The check itself runs in a worker
thread, so even a slow update server never holds up the program's loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from montage_core.protocol.errors import MontageError

logger = logging.getLogger(__name__)

DAY = 24 * 3600.0
IDLE_POLL = 5.0
T = TypeVar("T")


async def until_idle(busy: Callable[[], bool], poll: float = IDLE_POLL) -> None:
    # Polled: "busy" is the program's own state (a share being set up or shown),
    # and a look every few seconds costs nothing beside an event in every app.
    while busy():  # noqa: ASYNC110
        await asyncio.sleep(poll)


async def check_periodically(
    check: Callable[[], Awaitable[T | None]],
    on_found: Callable[[T], None],
    busy: Callable[[], bool],
    *,
    interval: float = DAY,
    poll: float = IDLE_POLL,
) -> None:
    """Run `check` now and every `interval` seconds, each time once idle; report finds.

    A failed check (no network, a refusal) is logged and tried again next
    time: nobody asked for it, so nobody is interrupted with it.
    """
    while True:
        await until_idle(busy, poll)
        try:
            found = await check()
        except MontageError as exc:
            logger.info("update check: %s", exc)
        else:
            if found is not None:
                on_found(found)
        await asyncio.sleep(interval)
