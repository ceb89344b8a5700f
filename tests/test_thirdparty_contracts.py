"""Contract tests for montage_core/thirdparty/: each reach into aiortc, aioice or slixmpp.

When a library changes one of the private names a patch relies on, one of
these fails, naming the patch. They need no root: real aiortc peers on
loopback, a real coturn and a real Prosody started here. The behaviour the
patches exist for is tested elsewhere (test_encoder_tuning, the share tests).
"""

from __future__ import annotations

import asyncio
import fractions
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aioice.turn
import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpSender, rtcrtpreceiver, rtcrtpsender

from montage_cloud.servers.coturn import CoturnServer, TurnEndpoint
from montage_cloud.servers.prosody import ProsodyServer, XmppEndpoint
from montage_cloud.servers.tls import ThrowawayCertificates, make_throwaway_certificates
from montage_cloud.turn import TurnConfig, issue_turn_credentials
from montage_core import thirdparty
from montage_core.net import ConnectFailed, ProxySettings, as_resolver
from montage_core.rtc.peer import make_peer_connection
from montage_core.thirdparty import (
    aioice_turn,
    aiortc_codecs,
    aiortc_ice,
    aiortc_jitter,
    aiortc_repair,
    aiortc_stats,
)
from montage_core.xmpp_session import close_session, open_session

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 30) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


# --- versions ----------------------------------------------------------------


def test_require_accepts_the_series_written_against(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(thirdparty, "installed_version", lambda name: "1.16.7")
    thirdparty.require("aiortc")


@pytest.mark.parametrize("found", ["1.17.0", "1.1", "2.16.0", None])
def test_require_refuses_another_series_with_a_sentence(
    monkeypatch: pytest.MonkeyPatch, found: str | None
) -> None:
    monkeypatch.setattr(thirdparty, "installed_version", lambda name: found)
    with pytest.raises(thirdparty.UnsupportedDependency) as refused:
        thirdparty.require("aiortc")
    assert str(refused.value).startswith("Montage needs aiortc 1.16.x, but this installation has")
    assert (found or "no copy of it") in str(refused.value)


@pytest.mark.parametrize(
    ("module", "library"),
    [
        ("aiortc_codecs", "aiortc"),
        ("aiortc_jitter", "aiortc"),
        ("aiortc_repair", "aiortc"),
        ("aiortc_stats", "aiortc"),
        ("aiortc_ice", "aioice"),
        ("aioice_turn", "aioice"),
        ("slixmpp_tunnel", "slixmpp"),
    ],
)
def test_each_patch_refuses_at_import_a_version_it_was_not_written_against(
    module: str, library: str
) -> None:
    code = (
        "from importlib import metadata\n"
        "real = metadata.version\n"
        f"metadata.version = lambda name: '99.0.0' if name == {library!r} else real(name)\n"
        f"import montage_core.thirdparty.{module}\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert f"Montage needs {library} " in result.stderr
    assert "this installation has version 99.0.0" in result.stderr


def test_the_table_names_every_patch_module() -> None:
    doc = thirdparty.__doc__ or ""
    modules = {p.stem for p in Path(thirdparty.__file__).parent.glob("*.py")} - {"__init__"}
    assert modules == {m for m in modules if f"`{m}`" in doc}


# --- aiortc: encoders, jitter buffer, ICE ------------------------------------


class _MovingPicture(MediaStreamTrack):
    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._count = 0

    async def recv(self) -> av.VideoFrame:
        await asyncio.sleep(1 / 30)
        self._count += 1
        picture = np.full((240 * 3 // 2, 320), self._count * 7 % 256, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        frame.pts, frame.time_base = self._count * 3000, fractions.Fraction(1, 90_000)
        return frame


async def _share(codec: str) -> tuple[RTCPeerConnection, RTCPeerConnection, Any]:
    """Two tuned peers on loopback, one sending a moving picture; returns once it arrives."""
    aiortc_codecs.install_encoders()
    sender, receiver = make_peer_connection(), make_peer_connection()
    transceiver = sender.addTransceiver(_MovingPicture(), direction="sendonly")
    transceiver.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == codec]
    )
    arrived: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    receiver.on("track", arrived.set_result)
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    track = await arrived
    frame = await asyncio.wait_for(track.recv(), 10)
    return sender, receiver, frame


@pytest.mark.parametrize(
    ("codec", "encoder"),
    [
        ("video/H264", aiortc_codecs.ScreenH264Encoder),
        ("video/VP8", aiortc_codecs.ScreenVp8Encoder),
    ],
)
def test_senders_pick_our_encoder_and_receivers_get_our_jitter_buffer(
    codec: str, encoder: type
) -> None:
    async def body() -> None:
        sender, receiver, frame = await _share(codec)
        try:
            assert (frame.width, frame.height) == (320, 240)
            (sending,) = sender.getTransceivers()
            # aiortc keeps the encoder it got from `rtcrtpsender.get_encoder` here.
            assert isinstance(sending.sender._RTCRtpSender__encoder, encoder)
            (receiving,) = receiver.getTransceivers()
            buffer = getattr(receiving.receiver, aiortc_jitter._JITTER_ATTRIBUTE)
            assert isinstance(buffer, aiortc_jitter.MarkerJitterBuffer)
        finally:
            await sender.close()
            await receiver.close()

    run(body())


def test_the_selected_pair_is_read_from_ice() -> None:
    async def body() -> None:
        sender, receiver, _ = await _share("video/H264")
        try:
            for pc in (sender, receiver):
                connections = aiortc_ice._ice_connections(pc)
                assert connections, "no aioice Connection behind the transceivers"
                assert all(c._nominated for c in connections), "no nominated pair"
                assert aiortc_ice.uses_relay(pc) is False  # host candidates on loopback
        finally:
            await sender.close()
            await receiver.close()

    run(body())


async def _share_beside_a_camera() -> tuple[RTCPeerConnection, RTCPeerConnection, Any, Any]:
    """A screen and a camera section with the same codecs in one bundle, as a share has."""
    aiortc_codecs.install_encoders()
    sender, receiver = make_peer_connection(), make_peer_connection()
    codecs = [
        c
        for c in RTCRtpSender.getCapabilities("video").codecs
        if c.mimeType in ("video/H264", "video/rtx")
    ]
    for _ in range(2):
        sender.addTransceiver(_MovingPicture(), direction="sendonly").setCodecPreferences(codecs)
    arrived: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()
    receiver.on("track", lambda track: arrived.done() or arrived.set_result(track))
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    await asyncio.wait_for((await arrived).recv(), 10)
    screen_sender = sender.getTransceivers()[0].sender
    screen_receiver = receiver.getTransceivers()[0].receiver
    return sender, receiver, screen_sender, screen_receiver


def test_a_retransmission_reaches_its_receiver_beside_another_video_section() -> None:
    async def body() -> None:
        sender, receiver, screen_sender, screen_receiver = await _share_beside_a_camera()
        try:
            history = screen_sender._RTCRtpSender__rtp_history
            sent = next(iter(history.values())).sequence_number
            await screen_sender._retransmit(sent)  # as aiortc does for a NACK
            streams = screen_receiver._RTCRtpReceiver__remote_streams
            deadline = time.monotonic() + 5
            while screen_sender._rtx_ssrc not in streams:
                assert time.monotonic() < deadline, "the retransmission never arrived"
                await asyncio.sleep(0.02)
            # The media stream's own counters, without the retransmissions.
            counts = aiortc_stats.media_counts(screen_receiver)
            assert counts is not None and counts[0] > 0
            assert counts[0] == streams[screen_sender._ssrc].packets_received
            assert aiortc_repair.HISTORY_PACKETS == rtcrtpsender.RTP_HISTORY_SIZE
            assert aiortc_repair.HISTORY_PACKETS == rtcrtpreceiver.RTP_HISTORY_SIZE
        finally:
            await sender.close()
            await receiver.close()

    run(body())


def test_missing_packets_are_asked_for_again_until_they_come() -> None:
    async def body() -> None:
        sender, receiver, screen_sender, screen_receiver = await _share_beside_a_camera()
        repeating: asyncio.Future[None] | None = None
        try:
            history = screen_sender._RTCRtpSender__rtp_history
            newest = max(history.values(), key=lambda p: p.sequence_number).sequence_number
            # As if that packet had been lost and its first NACK (or its RTX) too.
            screen_receiver._RTCRtpReceiver__nack_generator.missing.add(newest)
            repeating = asyncio.ensure_future(
                aiortc_repair.repeat_nacks(screen_receiver, lambda: 0.001)
            )
            streams = screen_receiver._RTCRtpReceiver__remote_streams
            deadline = time.monotonic() + 5
            while screen_sender._rtx_ssrc not in streams:
                assert time.monotonic() < deadline, "nothing asked for the missing packet"
                await asyncio.sleep(0.02)
        finally:
            if repeating is not None:
                repeating.cancel()
            await sender.close()
            await receiver.close()

    run(body())


def test_a_keyframe_request_reaches_the_source_and_the_round_trip_is_read() -> None:
    async def body() -> None:
        sender, receiver, screen_sender, screen_receiver = await _share_beside_a_camera()
        try:
            asked = asyncio.Event()
            aiortc_repair.on_keyframe_request(screen_sender, asked.set)
            await screen_receiver._send_rtcp_pli(screen_sender._ssrc)
            await asyncio.wait_for(asked.wait(), 5)
            assert isinstance(
                aiortc_jitter.jitter_buffer_of(screen_receiver), aiortc_jitter.MarkerJitterBuffer
            )
            for pc in (sender, receiver):
                rtt = aiortc_ice.ice_round_trip(pc)
                assert rtt is not None and 0 <= rtt < 1  # from ICE's own checks, on loopback
        finally:
            await sender.close()
            await receiver.close()

    run(body())


def test_vp8_encoder_keeps_aiortcs_private_bitrate_in_step() -> None:
    encoder = aiortc_codecs.ScreenVp8Encoder()
    encoder.target_bitrate = 3_200_000
    assert encoder._Vp8Encoder__target_bitrate == encoder.target_bitrate == 3_000_000
    picture = av.VideoFrame.from_ndarray(
        np.zeros((240 * 3 // 2, 320), dtype=np.uint8), format="yuv420p"
    )
    picture.pts, picture.time_base = 0, fractions.Fraction(1, 90_000)
    payloads, _ = encoder.encode(picture)
    assert payloads
    assert encoder.codec is not None and encoder.codec.bit_rate == 3_000_000


# --- aioice: TURN over TLS on a socket we open --------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCertificates:
    return make_throwaway_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def turn_server(
    tmp_path_factory: pytest.TempPathFactory, certs: ThrowawayCertificates
) -> Iterator[TurnEndpoint]:
    with CoturnServer(tmp_path_factory.mktemp("coturn"), certs) as endpoint:
        yield endpoint


def _turn_login(endpoint: TurnEndpoint) -> tuple[str, str]:
    config = TurnConfig(
        secret=endpoint.secret,
        host=endpoint.host,
        tls_port=endpoint.tls_port,
        port=endpoint.udp_port,
        ttl=600,
    )
    credentials = issue_turn_credentials(config, "contract", now=time.time())
    return credentials.username, credentials.password


async def _allocate(
    endpoint: TurnEndpoint, certs: ThrowawayCertificates, transport: str = "tcp"
) -> tuple[str, int]:
    username, password = _turn_login(endpoint)
    port = endpoint.tls_port if transport == "tcp" else endpoint.udp_port
    turn, _ = await aioice.turn.create_turn_endpoint(
        asyncio.DatagramProtocol,
        (endpoint.host, port),
        username,
        password,
        ssl=certs.client_context() if transport == "tcp" else None,
        transport=transport,
    )
    try:
        relayed: tuple[str, int] = turn.get_extra_info("sockname")
        return relayed
    finally:
        turn.close()


def test_turn_over_tls_allocates_on_our_socket_inside_a_route(
    turn_server: TurnEndpoint, certs: ThrowawayCertificates
) -> None:
    aioice_turn.install()
    assert aioice.turn.create_turn_endpoint is aioice_turn.create_turn_endpoint
    route = aioice_turn.TurnRoute(as_resolver(ProxySettings.parse("none")))

    async def body() -> tuple[str, int]:
        with aioice_turn.turn_route(route):
            return await _allocate(turn_server, certs)

    host, port = run(body())
    assert host == "127.0.0.1" and port > 0
    assert route.problems == []


def test_without_a_route_aioices_own_function_allocates(
    turn_server: TurnEndpoint, certs: ThrowawayCertificates
) -> None:
    aioice_turn.install()
    host, _ = run(_allocate(turn_server, certs))
    assert host == "127.0.0.1"


def test_udp_turn_inside_a_route_is_refused_and_kept_as_the_reason(
    turn_server: TurnEndpoint, certs: ThrowawayCertificates
) -> None:
    aioice_turn.install()
    route = aioice_turn.TurnRoute(as_resolver(ProxySettings.parse("none")))

    async def body() -> None:
        with aioice_turn.turn_route(route):
            await _allocate(turn_server, certs, transport="udp")

    with pytest.raises(ConnectFailed, match="over UDP only"):
        run(body())
    assert [type(p) for p in route.problems] == [ConnectFailed]


# --- slixmpp: the XMPP connection on a socket we open -------------------------


@pytest.fixture(scope="module")
def xmpp(
    tmp_path_factory: pytest.TempPathFactory, certs: ThrowawayCertificates
) -> Iterator[XmppEndpoint]:
    with ProsodyServer(tmp_path_factory.mktemp("prosody"), certs) as endpoint:
        yield endpoint


def test_xmpp_logs_in_over_a_socket_we_opened(
    xmpp: XmppEndpoint, certs: ThrowawayCertificates
) -> None:
    opened: list[tuple[str, int]] = []

    async def open_socket(host: str, port: int) -> socket.socket:
        opened.append((host, port))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        return sock

    async def body() -> str:
        client = await open_session(
            xmpp.admin_jid,
            xmpp.admin_password,
            host=xmpp.host,
            port=xmpp.port,
            ssl_context=certs.client_context(),
            open_socket=open_socket,
        )
        try:
            return str(client.boundjid.bare)
        finally:
            await close_session(client)

    assert run(body()) == xmpp.admin_jid
    assert opened == [(xmpp.host, xmpp.port)]
