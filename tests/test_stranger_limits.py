"""Limits on strangers: silent connections are closed on time, one address cannot hold many,
and a presenter already sharing does not notice a flood."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path

import pytest

from montage_receiver.guarded_listener import StrangerLimits
from tests.synthetic_screen import StampGrabber
from tests.test_local_share import Presenting, meeting, presenter_named, run

pytestmark = pytest.mark.timeout(90)

SETUP_TIMEOUT = 3.0  # shorter than the 10 s default, so the test stays short
PER_SOURCE = 8
FLOOD = 150
STRANGER = "127.0.0.2"  # another source address on loopback; the presenter is 127.0.0.1


def test_a_flood_of_silent_connections_is_closed_on_time_while_a_presenter_shares(
    tmp_path: Path,
) -> None:
    limits = StrangerLimits(setup_timeout=SETUP_TIMEOUT, max_setup_per_source=PER_SOURCE)
    no_check = ssl.create_default_context()
    no_check.check_hostname = False
    no_check.verify_mode = ssl.CERT_NONE

    async def silent(port: int, tls: bool) -> tuple[float, bool]:
        """Connect and say nothing; return (seconds until the receiver closed it, got TLS)."""
        start = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1",
                port,
                local_addr=(STRANGER, 0),
                ssl=no_check if tls else None,
                ssl_handshake_timeout=30 if tls else None,
            )
        except (OSError, ssl.SSLError):
            return time.monotonic() - start, False  # refused during the handshake
        try:
            await asyncio.wait_for(reader.read(), 30)  # b"" or a reset when closed
        except (OSError, ssl.SSLError):
            pass
        finally:
            writer.close()
        return time.monotonic() - start, tls

    async def scenario() -> None:
        async with meeting(tmp_path, limits=limits) as mt:
            ann = Presenting(mt, "Ann", grabber=StampGrabber(busy=True))
            await ann.sharing()
            presenter = await presenter_named(mt, "Ann")
            await asyncio.sleep(0.5)
            before = presenter.frames
            listener = mt.service.listener
            assert listener is not None
            flood = [
                asyncio.ensure_future(silent(mt.port, tls=index % 2 == 0)) for index in range(FLOOD)
            ]
            most_in_setup = 0
            frames = [before]
            while not all(task.done() for task in flood):
                most_in_setup = max(most_in_setup, listener.in_setup(STRANGER))
                frames.append(presenter.frames)
                await asyncio.sleep(0.25)
            results = [task.result() for task in flood]
            # Another presenter from the flooded address gets in once the silent ones are gone.
            bob = Presenting(mt, "Bob")
            await bob.sharing()

            assert most_in_setup <= PER_SOURCE
            assert listener.refused >= FLOOD - PER_SOURCE
            # Each was either refused at once (a second at most: a SYN the full backlog
            # dropped is sent again after one), or let in, held until the limit, then closed.
            times = sorted(seconds for seconds, _ in results)
            held = [s for s in times if s > 1.5]
            assert PER_SOURCE <= len(held) <= 2 * PER_SOURCE, times
            assert all(SETUP_TIMEOUT - 0.5 < s < SETUP_TIMEOUT + 1.5 for s in held), times
            assert any(got_tls for seconds, got_tls in results if seconds > 1.5)
            # The presenter kept sharing throughout: frames rose in every second.
            per_second = [frames[i + 4] - frames[i] for i in range(0, len(frames) - 4, 4)]
            assert per_second and min(per_second) >= 5, per_second
            assert presenter.frames > before
            assert not ann.task.done()

    run(scenario())
