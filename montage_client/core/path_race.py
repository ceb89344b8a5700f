"""Racing two ways to the receiver, in the manner of Happy Eyeballs (RFC 8305).

A cloud meeting can be reached two ways: straight over the LAN (the
receiver's own TLS WebSocket) or through the cloud's XMPP service. Both are
started together. The LAN is preferred, because it needs no cloud on the way
and is faster once there, so it is waited for a short head start after the
cloud is ready (RFC 8305's "connection attempt delay", 250 ms), but never
longer: a LAN address that cannot be reached costs the join nothing more.

- LAN answers first (or within the head start): the LAN; the cloud attempt is
  left running for the caller (it still brings news of revocation).
- The cloud is ready and the head start is over: the cloud; the LAN attempt
  is cancelled.
- One fails: the other, however long it takes. Both fail: the cloud's error
  (it says more than "not on this network").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

# RFC 8305 §5: the recommended Connection Attempt Delay.
HEAD_START = 0.25

Lan = TypeVar("Lan")
Cloud = TypeVar("Cloud")


@dataclass(frozen=True)
class RaceResult(Generic[Lan, Cloud]):
    lan: Lan | None  # the LAN's answer, when the LAN won
    cloud: Cloud | None  # the cloud's, when the cloud won


async def race(
    lan: Awaitable[Lan | None],
    cloud: asyncio.Future[Cloud],
    *,
    head_start: float = HEAD_START,
    discard_lan: Callable[[Lan], Awaitable[None]] | None = None,
) -> RaceResult[Lan, Cloud]:
    """Run the LAN attempt beside `cloud` (already started); return whichever wins.

    `lan` gives None when the LAN cannot be used. `cloud` is never cancelled
    here: when the LAN wins it goes on for the caller to use or close.
    `discard_lan` closes a LAN answer that arrived after the cloud had won.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    lan_task: asyncio.Future[Lan | None] = asyncio.ensure_future(lan)
    try:
        either: set[asyncio.Future[Any]] = {lan_task, cloud}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not lan_task.done() and _succeeded(cloud):
            # The cloud is ready first: the LAN keeps its head start, no more.
            wait = started + head_start - loop.time()
            if wait > 0:
                await asyncio.wait({lan_task}, timeout=wait)
            if not lan_task.done():
                logger.info("the cloud answered first; not waiting for the LAN")
                await _cancel(lan_task, discard_lan)
                return RaceResult(None, cloud.result())
        answer = await lan_task  # done, or the cloud failed: the LAN is all there is
        if answer is not None:
            return RaceResult(answer, None)
        return RaceResult(None, await asyncio.shield(cloud))
    except BaseException:
        await _cancel(lan_task, discard_lan)
        raise


def _succeeded(future: asyncio.Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


async def _cancel(
    task: asyncio.Future[Lan | None], discard: Callable[[Lan], Awaitable[None]] | None
) -> None:
    task.cancel()
    await asyncio.wait({task})
    if task.cancelled() or task.exception() is not None:
        return
    answer = task.result()  # it won the race against its own cancellation
    if answer is not None and discard is not None:
        with contextlib.suppress(Exception):
            await discard(answer)
