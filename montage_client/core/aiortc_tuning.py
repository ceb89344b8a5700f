"""What we change in aiortc for screen sharing — all of it, in this one module.

Written against aiortc 1.16 (pinned in pyproject.toml); every reach into its
internals is named here, so an upgrade is checked in one place.

Sender (`install_encoders`): aiortc's H264 encoder uses libx264's default
preset ("medium": far too slow for 1080p on a laptop), level 3.1 (720p), a
3 Mbit/s cap, and rebuilds the codec — forcing a keyframe — on every REMB
change above 10 %. Ours encodes with a fast preset and constant quality
capped by the REMB estimate, and rebuilds only for a large, lasting change.
aiortc picks encoders with `rtcrtpsender.get_encoder`; we replace that one
function (aiortc offers no other hook) and keep its behaviour for audio.
A track says how its pictures should be encoded by attaching `EncodeHints`
to each frame (`frame.opaque`); frames without hints get `MOTION`.

Receiver (`tune_receivers`): aiortc's jitter buffer hands a frame to the
decoder only when the first packet of the *next* frame arrives, adding a
whole frame interval of latency — and when the screen is still, holding the
last change until something else changes. Ours also completes a frame at
its RTP marker bit (the last packet of a frame), as RFC 6184 intends.

ICE (`TunedPeerConnection`): aiortc hands aioice `turn_ssl=True` for a
`turns:` server, i.e. the process-wide trust store, and aioice gives up on a
server it does not trust without any error. We put the explicit trust the
cloud account carries into each ICE connection before it gathers; and
`uses_relay` reads which candidate pair ICE selected, so the person is told
when media goes through the relay. With `turn_proxy`, gathering runs inside
a `montage_client.net.turn` route, so the TURN connection is tunnelled
through the proxy.
"""

from __future__ import annotations

import fractions
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import av
from aiortc import RTCPeerConnection, rtcrtpsender
from aiortc.codecs import get_encoder as aiortc_get_encoder
from aiortc.codecs.base import Encoder
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from .encode_hints import MOTION, EncodeHints

if TYPE_CHECKING:  # the proxy stack is imported only when TURN goes through a proxy
    from montage_client.net.routes import ProxyResolver
    from montage_client.net.turn import TurnRoute

logger = logging.getLogger(__name__)

MIN_BITRATE = 1_000_000
MAX_BITRATE = 16_000_000
START_BITRATE = 8_000_000
# REMB moves the cap freely; the encoder is rebuilt (a keyframe) only when
# the cap moves this much, and not more often than this.
REBUILD_RATIO = 0.5
REBUILD_INTERVAL = 5.0
FRAME_RATE = 60  # the encoder's nominal rate; pts carry the real timing


def _clamp(bitrate: int) -> int:
    return max(MIN_BITRATE, min(MAX_BITRATE, bitrate))


class ScreenH264Encoder(H264Encoder):
    """aiortc's H264 encoder (packetisation kept) with our codec settings."""

    def __init__(self) -> None:
        super().__init__()
        self._target = START_BITRATE
        self._built_for: tuple[int, int, EncodeHints, int] | None = None
        self._built_at = 0.0

    # aiortc's sender sets this from each REMB message.
    @property
    def target_bitrate(self) -> int:
        return self._target

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self._target = _clamp(bitrate)

    def _needs_rebuild(self, frame: av.VideoFrame, hints: EncodeHints) -> bool:
        if self.codec is None or self._built_for is None:
            return True
        width, height, built_hints, bitrate = self._built_for
        if (frame.width, frame.height, hints.codec_settings) != (
            width,
            height,
            built_hints.codec_settings,
        ):
            return True
        moved = abs(self._target - bitrate) / bitrate
        return moved > REBUILD_RATIO and time.monotonic() - self._built_at > REBUILD_INTERVAL

    def _build(self, frame: av.VideoFrame, hints: EncodeHints) -> None:
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height = frame.width, frame.height
        codec.pix_fmt = "yuv420p"
        codec.framerate = fractions.Fraction(FRAME_RATE, 1)
        codec.time_base = fractions.Fraction(1, FRAME_RATE)
        codec.profile = "Baseline"  # what the SDP's profile-level-id 42e0xx promises
        codec.options = {
            "preset": hints.preset,
            "tune": "zerolatency",  # no lookahead, no B-frames, sliced threads
            "crf": str(hints.crf),
            # The cap follows REMB; a small buffer keeps a burst (a new slide)
            # from swamping the link for long.
            "maxrate": str(self._target),
            "bufsize": str(self._target // 2),
            "level": "4.2",  # 1080p60
            # Keyframes come on request (PLI); this only bounds recovery
            # when a request itself is lost.
            "g": str(FRAME_RATE * 10),
        }
        self.codec = codec
        self.buffer_data = b""
        self.buffer_pts = None
        self._built_for = (frame.width, frame.height, hints, self._target)
        self._built_at = time.monotonic()
        logger.debug(
            "x264 %dx%d %s crf %d cap %.1f Mbit/s",
            frame.width,
            frame.height,
            hints.preset,
            hints.crf,
            self._target / 1e6,
        )

    def _encode_frame(self, frame: av.VideoFrame, force_keyframe: bool) -> Iterator[bytes]:
        hints = frame.opaque if isinstance(frame.opaque, EncodeHints) else MOTION
        if self._needs_rebuild(frame, hints):
            self._build(frame, hints)
        assert self.codec is not None
        frame.pict_type = (
            av.video.frame.PictureType.I
            if force_keyframe or hints.refresh
            else av.video.frame.PictureType.NONE
        )
        data = b"".join(bytes(packet) for packet in self.codec.encode(frame))
        if data:
            yield from self._split_bitstream(data)


class ScreenVp8Encoder(Vp8Encoder):
    """aiortc's VP8 encoder with a bitrate range fit for 1080p screens."""

    def __init__(self) -> None:
        super().__init__()
        self._target = START_BITRATE // 2

    @property
    def target_bitrate(self) -> int:
        return self._target

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        # Quantised so REMB's small moves do not rebuild the codec each time
        # (aiortc rebuilds on any change above 10 %).
        step = 500_000
        self._target = _clamp(round(bitrate / step) * step)
        # aiortc also reads its private copy when sizing the rate buffer.
        self._Vp8Encoder__target_bitrate = self._target


def screen_get_encoder(codec: RTCRtpCodecParameters) -> Encoder:
    mime = codec.mimeType.lower()
    if mime == "video/h264":
        return ScreenH264Encoder()
    if mime == "video/vp8":
        return ScreenVp8Encoder()
    encoder: Encoder = aiortc_get_encoder(codec)
    return encoder


def install_encoders() -> None:
    """Make aiortc's senders use our encoders (idempotent)."""
    if rtcrtpsender.get_encoder is not screen_get_encoder:  # type: ignore[attr-defined]
        rtcrtpsender.get_encoder = screen_get_encoder  # type: ignore[attr-defined]


# How long a frame may wait for a lost packet (its NACK and retransmission)
# while later packets keep arriving, before it is given up and a keyframe asked for.
GAP_PATIENCE = 0.25


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's jitter buffer, also completing a frame at its marker packet.

    And giving up on a frame whose lost packet does not come back within
    `GAP_PATIENCE` seconds: aiortc's buffer waits until 512 packets have
    piled up behind the hole (seconds of a frozen picture at screen-share
    rates; a lost keyframe packet on a relay froze a test share for good) and
    only then asks for a keyframe. Ours drops the broken frame and those
    after it, which refer to it, and asks (PLI) at once; the sender answers
    with a keyframe within a round trip.
    """

    def __init__(
        self, *args: Any, clock: Callable[[], float] = time.monotonic, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock
        self._blocked_since: float | None = None

    def add(self, packet: Any) -> tuple[bool, JitterFrame | None]:
        pli, frame = super().add(packet)
        if frame is not None or not self._blocked_by_a_hole(packet):
            self._blocked_since = None
            return pli, frame
        now = self._clock()
        if self._blocked_since is None:
            self._blocked_since = now
            return pli, None
        if now - self._blocked_since < GAP_PATIENCE:
            return pli, None
        self._blocked_since = None
        self._drop_up_to(packet)
        return True, self._remove_frame(packet.sequence_number)

    def _blocked_by_a_hole(self, newest: Any) -> bool:
        """Whether the oldest frame lacks a packet that a later one has overtaken."""
        if self._origin is None:
            return False
        head = self._packets[self._origin % self._capacity]
        if head is not None and head.timestamp == newest.timestamp and not newest.marker:
            # The oldest frame is still arriving (the usual case, so kept cheap):
            # a hole in it counts once its end or the next frame has come.
            return False
        span = (newest.sequence_number - self._origin) % 65536
        for count in range(min(span, self.capacity)):
            if self._packets[(self._origin + count) % self._capacity] is None:
                return True
        return False

    def _drop_up_to(self, newest: Any) -> None:
        """Remove every packet older than `newest`'s frame: the broken frame, and the
        frames after it, which refer to it and would only decode as garbage (and, one
        frame released per packet, would add their count to the latency for good)."""
        assert self._origin is not None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is not None and packet.timestamp == newest.timestamp:
                self.remove(count)
                return

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets: list[Any] = []
        timestamp: int | None = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self._capacity]  # type: ignore[operator]
            if packet is None:
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                # The frame ended without its marker reaching us: the next
                # frame's start proves it complete (aiortc's original rule).
                return self._take(packets, timestamp, count)
            packets.append(packet)
            if packet.marker:
                return self._take(packets, timestamp, count + 1)
        return None

    def _take(self, packets: list[Any], timestamp: int, count: int) -> JitterFrame:
        frame = JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)
        self.remove(count)
        return frame


# The receiver's private attribute holding its jitter buffer (aiortc 1.16).
_JITTER_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"


class TunedPeerConnection(RTCPeerConnection):
    """A peer connection whose video receivers release frames at the marker.

    `turn_tls`, when given, is the only trust used for a `turns:` server;
    `turn_proxy`, when given, is the route its connection takes.
    """

    def __init__(
        self,
        configuration: Any = None,
        *,
        turn_tls: ssl.SSLContext | None = None,
        turn_proxy: ProxyResolver | None = None,
    ) -> None:
        super().__init__(configuration)
        self._turn_tls = turn_tls
        self.turn_route: TurnRoute | None = None
        if turn_proxy is not None:
            from montage_client.net import turn as turn_tunnel

            turn_tunnel.install()
            self.turn_route = turn_tunnel.TurnRoute(turn_proxy)

    async def setRemoteDescription(self, sessionDescription: Any) -> None:  # noqa: N802, N803
        await super().setRemoteDescription(sessionDescription)
        tune_receivers(self)

    async def setLocalDescription(self, sessionDescription: Any = None) -> None:  # noqa: N802, N803
        # Gathering (and so the TURN allocation) happens inside this call.
        if self._turn_tls is not None:
            for connection in _ice_connections(self):
                if connection.turn_ssl is True:
                    connection.turn_ssl = self._turn_tls
        if self.turn_route is None:
            await super().setLocalDescription(sessionDescription)
            return
        from montage_client.net.turn import turn_route

        with turn_route(self.turn_route):
            await super().setLocalDescription(sessionDescription)


def _ice_connections(pc: RTCPeerConnection) -> list[Any]:
    """The aioice `Connection` behind each transceiver (aiortc 1.16 attributes)."""
    connections = []
    for transceiver in pc.getTransceivers():
        transport = transceiver.sender.transport  # RTCDtlsTransport
        if transport is None:
            continue
        connection = transport.transport.iceGatherer._connection
        if connection not in connections:
            connections.append(connection)
    return connections


def uses_relay(pc: RTCPeerConnection) -> bool:
    """Whether ICE's selected candidate pair goes through a TURN relay (either end)."""
    for connection in _ice_connections(pc):
        # aioice keeps the selected pair per component in `_nominated`.
        for pair in connection._nominated.values():
            if "relay" in (pair.local_candidate.type, pair.remote_candidate.type):
                return True
    return False


def tune_receivers(pc: RTCPeerConnection) -> None:
    """Give every video receiver of `pc` the marker-aware jitter buffer.

    Call after setRemoteDescription (which creates the receivers) and before
    media flows (which starts with the answer).
    """
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind != "video" or not hasattr(receiver, _JITTER_ATTRIBUTE):
            continue
        old: JitterBuffer = getattr(receiver, _JITTER_ATTRIBUTE)
        setattr(
            receiver, _JITTER_ATTRIBUTE, MarkerJitterBuffer(capacity=old.capacity, is_video=True)
        )
