"""Receiver core and client core on loopback: real TLS, real aiortc, real SPAKE2."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.stamp import decode_stamp, latency_ms
from montage_client.core.change_pacing import Quality
from montage_client.core.share_client import PinWanted, ShareClient, Sharing, Update
from montage_core.protocol import messages as m
from montage_core.protocol.errors import (
    LockedOut,
    ReceiverRefused,
    ReceiverUnreachable,
    ShareEnded,
    WrongPin,
)
from montage_receiver.config import ReceiverConfig
from montage_receiver.meeting import Meeting, open_meeting
from montage_receiver.presenter import Presenter
from tests.synthetic_screen import StampGrabber

PIN = "4321"
pytestmark = pytest.mark.timeout(120)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 90))  # type: ignore[arg-type]


@asynccontextmanager
async def meeting(tmp_path: Path, pin: str | None = PIN, **kw: Any) -> AsyncIterator[Meeting]:
    config = ReceiverConfig(
        name="Test Room", bind="127.0.0.1", port=0, pin=pin, data_dir=tmp_path / "receiver", **kw
    )
    opened = await open_meeting(config)
    try:
        yield opened
    finally:
        await opened.service.close()


def pins(*typed: str) -> Callable[[PinWanted], Awaitable[str]]:
    """A person who types these PINs in turn, then gives up (as the CLI does)."""
    queue = list(typed)
    asked: list[PinWanted] = []

    async def provide(wanted: PinWanted) -> str:
        asked.append(wanted)
        if not queue:
            raise WrongPin(wanted.message or "Wrong PIN.", wanted.tries_left or 0)
        return queue.pop(0)

    provide.asked = asked  # type: ignore[attr-defined]
    return provide


class Presenting:
    """A ShareClient running as a task, with what it reported."""

    def __init__(
        self,
        mt: Meeting,
        name: str,
        pin: str | None = PIN,
        grabber: StampGrabber | None = None,
        **kw: Any,
    ) -> None:
        self.updates: list[Update] = []
        self.grabber = grabber or StampGrabber()
        self.client = ShareClient(
            mt.meeting_id,
            name,
            self.grabber,
            pins(pin) if pin else pins(),
            port=kw.pop("port", mt.port),  # another port: a relay in front of the receiver
            on_update=self.updates.append,
            **kw,
        )
        self.task = asyncio.ensure_future(self.client.run())

    async def sharing(self, timeout: float = 15) -> Sharing:
        async def wait() -> Sharing:
            while True:
                if self.task.done():
                    self.task.result()  # raises why it ended
                    raise AssertionError("share ended before it started")
                for update in self.updates:
                    if isinstance(update, Sharing):
                        return update
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(wait(), timeout)

    async def outcome(self, timeout: float = 20) -> BaseException | None:
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except Exception as exc:  # the reason the share ended
            return exc
        return None


async def presenter_named(mt: Meeting, name: str, timeout: float = 15) -> Presenter:
    async def wait() -> Presenter:
        while True:
            for p in mt.service.presenters:
                if p.name == name:
                    return p
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(wait(), timeout)


async def frames_reach(p: Presenter, count: int, timeout: float = 15) -> None:
    async def wait() -> None:
        while p.frames < count:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


def test_frames_arrive_with_a_recent_stamp(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path) as mt:
            ann = Presenting(mt, "Ann")
            sharing = await ann.sharing()
            assert (sharing.room, sharing.path) == ("Test Room", "Local")
            p = await presenter_named(mt, "Ann")
            await frames_reach(p, 20)
            assert (p.width, p.height) == (640, 360)
            rgb = p.latest.to_ndarray(format="rgb24")
            stamp = decode_stamp(rgb)
            assert stamp is not None, "receiver's frame does not carry the shared strip"
            assert latency_ms(stamp) < 2000
            ann.client.request_stop()
            assert await ann.outcome() is None
            await asyncio.sleep(0.2)
            assert mt.service.presenters == []

    run(scenario())


def test_no_pin_meeting_never_asks_for_one(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path, pin=None) as mt:
            bob = Presenting(mt, "Bob", pin=None)
            await bob.sharing()
            assert bob.client._pin_provider.asked == []  # type: ignore[attr-defined]
            bob.client.request_stop()
            assert await bob.outcome() is None

    run(scenario())


def test_wrong_pin_then_lockout(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path) as mt:
            mallory = Presenting(mt, "Mallory", pin="0000")
            error = await mallory.outcome()
            assert isinstance(error, WrongPin) and error.exit_code == 3
            assert error.tries_left == 4 and "4 tries left" in str(error)
            for _ in range(4):
                error = await Presenting(mt, "Mallory", pin="0000").outcome()
            assert isinstance(error, LockedOut) and error.exit_code == 3
            assert 25 <= error.retry_after <= 30 and "30 seconds" in str(error)
            # Locked out even with the right PIN now: the lock is per source.
            error = await Presenting(mt, "Mallory", pin=PIN).outcome()
            assert isinstance(error, LockedOut)
            assert mt.service.presenters == []

    run(scenario())


def test_pin_retry_on_same_connection(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path) as mt:
            grabber = StampGrabber()
            client = ShareClient(mt.meeting_id, "Cat", grabber, pins("1111", PIN), port=mt.port)
            task = asyncio.ensure_future(client.run())
            p = await presenter_named(mt, "Cat")
            await frames_reach(p, 5)
            asked = client._pin_provider.asked  # type: ignore[attr-defined]
            assert len(asked) == 2 and asked[1].tries_left == 4
            client.request_stop()
            await task

    run(scenario())


def test_stop_by_room_reaches_the_client(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path) as mt:
            dan = Presenting(mt, "Dan")
            await dan.sharing()
            p = await presenter_named(mt, "Dan")
            assert await mt.service.stop_presenter(p.id)
            error = await dan.outcome()
            assert isinstance(error, ShareEnded)
            assert str(error) == "The room stopped your share."
            assert mt.service.presenters == []

    run(scenario())


def test_closing_the_meeting_tells_everyone(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path) as mt:
            eve = Presenting(mt, "Eve")
            await eve.sharing()
            await mt.service.close()
            error = await eve.outcome()
            assert isinstance(error, ShareEnded)
            assert str(error) == "The receiver closed the meeting."

    run(scenario())


def test_fifth_presenter_is_told_the_room_is_full(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path, max_presenters=2) as mt:
            first = Presenting(mt, "One", grabber=StampGrabber(((640, 360),)))
            second = Presenting(mt, "Two", grabber=StampGrabber(((640, 360),)))
            await first.sharing()
            await second.sharing()
            error = await Presenting(mt, "Three").outcome()
            assert isinstance(error, ReceiverRefused) and "full" in str(error)
            names = sorted(p.name for p in mt.service.presenters)
            assert names == ["One", "Two"]
            for who in (first, second):
                who.client.request_stop()
                assert await who.outcome() is None

    run(scenario())


@pytest.mark.parametrize(("quality", "low", "high"), [("text", 8, 16), ("motion", 24, 32)])
def test_quality_sets_the_frame_rate_of_a_busy_screen(
    tmp_path: Path, quality: str, low: float, high: float
) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path) as mt:
            ivy = Presenting(mt, "Ivy", grabber=StampGrabber(busy=True), quality=Quality(quality))
            await ivy.sharing()
            p = await presenter_named(mt, "Ivy")
            await frames_reach(p, 10)
            start, t0 = p.frames, time.monotonic()
            await asyncio.sleep(2.0)
            fps = (p.frames - start) / (time.monotonic() - t0)
            assert low <= fps <= high, f"{quality}: {fps:.1f} fps"
            ivy.client.request_stop()
            assert await ivy.outcome() is None

    run(scenario())


def test_pause_and_monitor_switch_reach_the_receiver(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path) as mt:
            grabber = StampGrabber(((640, 360), (800, 600)))
            fay = Presenting(mt, "Fay", grabber=grabber)
            await fay.sharing()
            p = await presenter_named(mt, "Fay")
            await frames_reach(p, 5)
            fay.client.pause(True)
            for _ in range(100):
                if p.share_state == "paused":
                    break
                await asyncio.sleep(0.05)
            assert p.share_state == "paused"
            frozen = p.frames
            await asyncio.sleep(0.5)
            assert p.frames <= frozen + 2  # in-flight frames only
            fay.client.pause(False)
            fay.client.select_monitor(2)
            for _ in range(200):
                if (p.width, p.height) == (800, 600):
                    break
                await asyncio.sleep(0.05)
            assert (p.width, p.height) == (800, 600)
            assert p.share_state == "sharing"
            fay.client.request_stop()
            assert await fay.outcome() is None

    run(scenario())


def test_bad_frames_are_refused_without_disturbing_others(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path) as mt:
            gus = Presenting(mt, "Gus")
            await gus.sharing()
            p = await presenter_named(mt, "Gus")
            await frames_reach(p, 5)
            url = f"wss://127.0.0.1:{mt.port}{m.SIGNAL_PATH}"
            async with aiohttp.ClientSession() as http:
                cases = [
                    ("{not json", "bad_message"),
                    (json.dumps({"type": "offer", "sdp": "x", "confirm": "AA=="}), "unexpected"),
                    (json.dumps({"type": "hello", "name": "x" * 70_000}), "too_large"),
                ]
                for payload, code in cases:
                    async with http.ws_connect(url, ssl=False) as ws:
                        await ws.send_str(payload)
                        reply = json.loads((await ws.receive(timeout=5)).data)
                        assert (reply["type"], reply["code"], reply["fatal"]) == (
                            "error",
                            code,
                            True,
                        )
                        closing = await ws.receive(timeout=5)
                        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                # Far beyond the transport limit: dropped by the WebSocket layer.
                async with http.ws_connect(url, ssl=False) as ws:
                    await ws.send_str("x" * (1024 * 1024))
                    closing = await ws.receive(timeout=5)
                    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            before = p.frames
            await frames_reach(p, before + 15)
            assert [q.name for q in mt.service.presenters] == ["Gus"]
            gus.client.request_stop()
            assert await gus.outcome() is None

    run(scenario())


def test_unreachable_receiver_names_the_address(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with meeting(tmp_path) as mt:
            port = mt.port
        client = ShareClient(mt.meeting_id, "Hal", StampGrabber(), pins(PIN), port=port)
        with pytest.raises(ReceiverUnreachable) as caught:
            await client.run()
        assert f"127.0.0.1:{port}" in str(caught.value)
        assert caught.value.exit_code == 4

    run(scenario())


def test_vp8_fallback_carries_the_screen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer without H264: the share falls back to VP8 and still reads right."""
    from montage_core.rtc import peer as rtc

    monkeypatch.setattr(rtc, "PREFERRED_VIDEO_CODECS", ("video/VP8",))

    async def scenario() -> None:
        async with meeting(tmp_path) as mt:
            vic = Presenting(mt, "Vic", grabber=StampGrabber(busy=True))
            await vic.sharing()
            p = await presenter_named(mt, "Vic")
            await frames_reach(p, 20)
            (conn,) = [c for c in mt.service._connections if c.pc is not None]
            offer = conn.pc.remoteDescription.sdp
            screen_section = offer.split("m=video")[1]
            assert "VP8/90000" in screen_section and "H264" not in screen_section
            stamp = decode_stamp(p.latest.to_ndarray(format="rgb24"))
            assert stamp is not None and latency_ms(stamp) < 2000
            vic.client.request_stop()
            assert await vic.outcome() is None

    run(scenario())
