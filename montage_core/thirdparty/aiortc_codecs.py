"""Our screen encoders, put where aiortc's senders pick their encoder.

Written against aiortc 1.16 (checked on import). Private names used:
`aiortc.rtcrtpsender.get_encoder` (replaced: aiortc has no other hook),
`H264Encoder._split_bitstream`, and `Vp8Encoder.__target_bitrate`.

aiortc's H264 encoder uses libx264's default preset ("medium": far too slow
for 1080p on a laptop), level 3.1 (720p), a 3 Mbit/s cap, and rebuilds the
codec — forcing a keyframe — on every REMB change above 10 %. Ours encodes
with a fast preset and constant quality capped by the REMB estimate, and
rebuilds only for a large, lasting change. A track says how its pictures
should be encoded by attaching `EncodeHints` to each frame (`frame.opaque`);
frames without hints get `MOTION`. Audio keeps aiortc's encoders.
"""

from __future__ import annotations

from . import require

require("aiortc")

import fractions
import logging
import time
from collections.abc import Iterator

import av
from aiortc import rtcrtpsender
from aiortc.codecs import get_encoder as aiortc_get_encoder
from aiortc.codecs.base import Encoder
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from montage_core.rtc.encode_hints import MOTION, EncodeHints

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
