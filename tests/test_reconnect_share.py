"""A share that survives losing its connection: receiver core and client core on loopback.

The signalling goes through a small TCP relay the test can cut (every
connection reset, new ones refused) and restore; media goes straight over
loopback as in any local share. The fault lab (test_fault_lab.py) does the
same to the whole network between namespaces; this file covers each rule
quickly: resume with the same tile and media, a restarted receiver, a new
PIN, the room's Stop while away, giving up, and no reconnection when off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from montage_client.core.share_client import Reconnecting, Sharing
from montage_core.protocol.client_session import PIN_CHANGED
from montage_core.protocol.errors import (
    ConnectionLost,
    PinChanged,
    ReceiverUnreachable,
    ShareEnded,
)
from montage_receiver.config import ReceiverConfig
from montage_receiver.meeting import Meeting, open_meeting
from montage_receiver.presenter import Presenter
from montage_receiver.service import PresenterChanged, PresenterRemoved, ServiceEvent
from tests.synthetic_screen import StampGrabber
from tests.test_local_share import PIN, Presenting, frames_reach, presenter_named, run

pytestmark = pytest.mark.timeout(120)


class CuttableLink:
    """A TCP relay to the receiver's port that the test can cut and restore."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.WriteTransport] = set()

    async def start(self) -> CuttableLink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._transports |= {writer.transport, up_writer.transport}  # type: ignore[arg-type]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        """Every connection reset at once; new ones refused until `restore`."""
        self.cut_off = True
        for transport in self._transports:
            transport.abort()
        self._transports.clear()

    def restore(self) -> None:
        self.cut_off = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()


async def open_room(tmp_path: Path, port: int = 0, pin: str | None = PIN) -> Meeting:
    config = ReceiverConfig(
        name="Test Room", bind="127.0.0.1", port=port, pin=pin, data_dir=tmp_path / "receiver"
    )
    return await open_meeting(config)


async def crash(mt: Meeting) -> None:
    """The receiver dies: its connections drop with no `bye`, its media with them."""
    service: Any = mt.service
    for conn in list(service._connections):
        if conn.pc is not None:
            await conn.pc.close()
        conn.ws._req.transport.abort()  # as the kernel does for a killed process
    await service.listener.close()  # the port is free again
    await service._runner.cleanup()


async def until(check: Any, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def updates_of(ann: Presenting, kind: type) -> list[Any]:
    return [u for u in ann.updates if isinstance(u, kind)]


def test_a_lost_connection_is_resumed_with_the_same_tile_and_media(tmp_path: Path) -> None:
    async def scenario() -> None:
        mt = await open_room(tmp_path)
        link = await CuttableLink(mt.port).start()
        events: list[ServiceEvent] = []
        mt.service.subscribe(events.append)
        try:
            grabber = StampGrabber(busy=True)
            ann = Presenting(mt, "Ann", port=link.port, reconnect_seconds=30, grabber=grabber)
            await ann.sharing()
            p = await presenter_named(mt, "Ann")
            await frames_reach(p, 10)
            link.cut()
            await until(lambda: updates_of(ann, Reconnecting), "the client to say Reconnecting")
            await until(lambda: p.reconnecting, "the tile to be marked reconnecting")
            assert p.snapshot(time.monotonic())["reconnecting"] is True
            # The media session did not go away with the signalling: pictures still come.
            before = p.frames
            await frames_reach(p, before + 10)
            link.restore()
            await until(lambda: len(updates_of(ann, Sharing)) == 2, "the share to resume")
            assert not p.reconnecting and p.reconnects == 1
            assert mt.service.presenters == [p]  # the same tile, not a newcomer's
            assert not any(isinstance(e, PresenterRemoved) for e in events)
            assert any(isinstance(e, PresenterChanged) and e.presenter is p for e in events)
            await frames_reach(p, p.frames + 10)
            # What --status-json says about the link (docs/protocol.md §11).
            snapshot = p.snapshot(time.monotonic())
            assert snapshot["reconnects"] == 1 and snapshot["reconnecting"] is False
            assert snapshot["keyframes"] >= 1 and snapshot["bitrate_kbps"] > 0
            assert snapshot["loss_pct"] == 0.0 and snapshot["rtt_ms"] is not None
            ann.client.request_stop()
            assert await ann.outcome() is None
        finally:
            await link.close()
            await mt.service.close()

    run(scenario())


def test_a_restarted_receiver_with_the_same_pin_is_rejoined(tmp_path: Path) -> None:
    async def scenario() -> None:
        first = await open_room(tmp_path)
        port = first.port
        ann = Presenting(first, "Ann", reconnect_seconds=30, grabber=StampGrabber(busy=True))
        await ann.sharing()
        await frames_reach(await presenter_named(first, "Ann"), 5)
        await crash(first)
        await until(lambda: updates_of(ann, Reconnecting), "the client to say Reconnecting")
        await asyncio.sleep(1.0)
        second = await open_room(tmp_path, port=port)  # same address, port and PIN
        ready = time.monotonic()
        try:
            p = await presenter_named(second, "Ann", timeout=10)
            await frames_reach(p, 5)
            assert time.monotonic() - ready < 5
            assert len(updates_of(ann, Sharing)) == 2 and p.reconnects == 0  # a new tile
            ann.client.request_stop()
            assert await ann.outcome() is None
        finally:
            await second.service.close()

    run(scenario())


def test_a_restarted_receiver_with_a_new_pin_ends_the_share_saying_why(tmp_path: Path) -> None:
    async def scenario() -> None:
        first = await open_room(tmp_path)
        port = first.port
        ann = Presenting(first, "Ann", reconnect_seconds=30)
        await ann.sharing()
        await crash(first)
        await until(lambda: updates_of(ann, Reconnecting), "the client to say Reconnecting")
        second = await open_room(tmp_path, port=port, pin="9999")
        try:
            error = await ann.outcome(timeout=10)
            assert isinstance(error, PinChanged) and str(error) == PIN_CHANGED
            assert second.service.presenters == []
        finally:
            await second.service.close()

    run(scenario())


def test_a_presenter_the_room_stopped_while_away_is_told_when_back(tmp_path: Path) -> None:
    async def scenario() -> None:
        mt = await open_room(tmp_path)
        link = await CuttableLink(mt.port).start()
        try:
            ann = Presenting(mt, "Ann", port=link.port, reconnect_seconds=30)
            await ann.sharing()
            p = await presenter_named(mt, "Ann")
            link.cut()
            await until(lambda: p.reconnecting, "the tile to be marked reconnecting")
            assert await mt.service.stop_presenter(p.id)
            assert mt.service.presenters == []  # the tile goes at once
            link.restore()
            error = await ann.outcome(timeout=10)
            assert isinstance(error, ShareEnded) and str(error) == "The room stopped your share."
        finally:
            await link.close()
            await mt.service.close()

    run(scenario())


def test_a_share_that_cannot_come_back_in_time_gives_up_and_frees_its_tile(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        mt = await open_room(tmp_path)
        link = await CuttableLink(mt.port).start()
        try:
            ann = Presenting(mt, "Ann", port=link.port, reconnect_seconds=2)
            await ann.sharing()
            await presenter_named(mt, "Ann")
            link.cut()
            started = time.monotonic()
            error = await ann.outcome(timeout=10)
            assert isinstance(error, ReceiverUnreachable) and error.exit_code == 4
            assert "could not get it back within 2 seconds" in str(error)
            assert time.monotonic() - started < 5
            await until(lambda: mt.service.presenters == [], "the tile to be freed", 5)
        finally:
            await link.close()
            await mt.service.close()

    run(scenario())


def test_with_reconnection_off_a_lost_connection_ends_the_share(tmp_path: Path) -> None:
    async def scenario() -> None:
        mt = await open_room(tmp_path)
        link = await CuttableLink(mt.port).start()
        try:
            ann = Presenting(mt, "Ann", port=link.port, reconnect_seconds=0)
            await ann.sharing()
            await presenter_named(mt, "Ann")
            link.cut()
            error = await ann.outcome(timeout=10)
            assert isinstance(error, ConnectionLost)
            assert str(error) == "Lost the connection to the receiver."
            await until(lambda: mt.service.presenters == [], "the tile to be freed", 5)
        finally:
            await link.close()
            await mt.service.close()

    run(scenario())


class StillGrabber(StampGrabber):
    """A screen where nothing moves: one picture, sent again once a second."""

    def grab(self, region: tuple[int, int, int, int] | None = None) -> Any:
        width, height = self.size()
        frame = np.full((height, width, 4), 120, dtype=np.uint8)
        if region is None:
            return frame
        left, top, w, h = region
        return np.ascontiguousarray(frame[top : top + h, left : left + w])


def test_a_still_screen_answers_a_keyframe_request_within_a_frame_interval(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        mt = await open_room(tmp_path)
        keyframes: list[float] = []
        try:
            ann = Presenting(mt, "Ann", grabber=StillGrabber())
            await ann.sharing()
            p: Presenter = await presenter_named(mt, "Ann")
            await frames_reach(p, 2, timeout=10)  # keep-alives, one a second
            p.on_frame = lambda frame: (
                keyframes.append(time.monotonic()) if frame.key_frame else None
            )
            await asyncio.sleep(0.3)  # between two keep-alives
            (conn,) = [c for c in mt.service._connections if c.presenter is p]  # type: ignore[attr-defined]
            receiver = conn.pc.getTransceivers()[0].receiver
            (ssrc,) = [s for s in receiver._RTCRtpReceiver__remote_streams if s]
            asked = time.monotonic()
            await receiver._send_rtcp_pli(ssrc)
            await until(lambda: keyframes, "a keyframe", 2)
            assert keyframes[0] - asked < 1 / 30 + 0.1  # one frame interval, plus the trip
            ann.client.request_stop()
            assert await ann.outcome() is None
        finally:
            await mt.service.close()

    run(scenario())
