"""Our aiortc tuning: the H264 encoder and the marker-aware jitter buffer."""

from __future__ import annotations

import fractions
from dataclasses import replace

import av
import numpy as np
from aiortc.codecs.h264 import H264Decoder, h264_depayload
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket

from montage_core.rtc.encode_hints import MOTION, TEXT, EncodeHints
from montage_core.thirdparty.aiortc_codecs import ScreenH264Encoder
from montage_core.thirdparty.aiortc_jitter import (
    GAP_PATIENCE,
    KEYFRAME_RETRY,
    MarkerJitterBuffer,
    is_keyframe,
)


def picture(value: int, hints: EncodeHints, pts: int) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(
        np.full((360 * 3 // 2, 640), value, dtype=np.uint8), format="yuv420p"
    )
    frame.pts, frame.time_base = pts, fractions.Fraction(1, 90_000)
    frame.opaque = hints
    return frame


def send(encoder: ScreenH264Encoder, decoder: H264Decoder, frame: av.VideoFrame) -> bool:
    """Encode, packetise, depacketise and decode one frame; was it a keyframe?"""
    payloads, timestamp = encoder.encode(frame)
    data = b"".join(h264_depayload(payload) for payload in payloads)
    (decoded,) = decoder.decode(JitterFrame(data, timestamp))
    assert isinstance(decoded, av.VideoFrame)
    assert (decoded.width, decoded.height) == (640, 360)
    return bool(decoded.key_frame)


def test_refresh_sends_a_keyframe_without_rebuilding() -> None:
    encoder, decoder = ScreenH264Encoder(), H264Decoder()
    assert send(encoder, decoder, picture(10, TEXT, 0))  # the first picture
    codec = encoder.codec
    assert not send(encoder, decoder, picture(60, TEXT, 3000))
    assert send(encoder, decoder, picture(60, replace(TEXT, refresh=True), 6000))
    assert not send(encoder, decoder, picture(60, TEXT, 9000))
    assert encoder.codec is codec  # same encoder: no rebuild for a refresh


def test_other_settings_rebuild_and_small_remb_steps_do_not() -> None:
    encoder, decoder = ScreenH264Encoder(), H264Decoder()
    send(encoder, decoder, picture(10, TEXT, 0))
    codec = encoder.codec
    encoder.target_bitrate = int(encoder.target_bitrate * 0.8)  # REMB moves a little
    send(encoder, decoder, picture(20, TEXT, 3000))
    assert encoder.codec is codec
    send(encoder, decoder, picture(30, MOTION, 6000))  # text → motion
    assert encoder.codec is not codec


def packet(seq: int, timestamp: int, marker: bool) -> RtpPacket:
    pkt = RtpPacket(payload_type=96, sequence_number=seq, timestamp=timestamp, marker=int(marker))
    pkt._data = bytes([seq % 256])  # type: ignore[attr-defined]
    return pkt


def test_marker_releases_a_frame_at_its_last_packet() -> None:
    ours = MarkerJitterBuffer(capacity=128, is_video=True)
    theirs = JitterBuffer(capacity=128, is_video=True)
    for seq, marker in [(1, False), (2, False), (3, True)]:
        _, ours_frame = ours.add(packet(seq, 9000, marker))
        _, their_frame = theirs.add(packet(seq, 9000, marker))
    assert ours_frame is not None and ours_frame.data == bytes([1, 2, 3])
    # aiortc's own buffer waits for the next frame to begin.
    assert their_frame is None
    _, their_frame = theirs.add(packet(4, 12000, True))
    assert their_frame is not None and their_frame.data == bytes([1, 2, 3])


def test_a_gap_holds_the_frame_back() -> None:
    ours = MarkerJitterBuffer(capacity=128, is_video=True)
    ours.add(packet(1, 9000, False))
    _, frame = ours.add(packet(3, 9000, True))  # packet 2 is missing
    assert frame is None
    _, frame = ours.add(packet(2, 9000, False))  # it arrives (retransmission)
    assert frame is not None and frame.data == bytes([1, 2, 3])


def keyframe_packet(seq: int, timestamp: int) -> RtpPacket:
    """A one-packet frame holding an H264 IDR picture (as aiortc depayloads it)."""
    pkt = RtpPacket(payload_type=96, sequence_number=seq, timestamp=timestamp, marker=1)
    pkt._data = b"\x00\x00\x00\x01\x65" + bytes([seq % 256])  # type: ignore[attr-defined]
    return pkt


def test_a_packet_that_never_comes_back_costs_a_keyframe_not_a_frozen_picture() -> None:
    now = [0.0]
    ours = MarkerJitterBuffer(capacity=512, is_video=True, clock=lambda: now[0])
    ours.add(packet(1, 9000, False))
    ours.add(packet(3, 9000, True))  # packet 2 is lost for good
    # Later frames arrive; within the patience the broken one is still waited for.
    pli, frame = ours.add(packet(4, 12000, True))
    assert (pli, frame) == (False, None)
    now[0] = 0.1
    assert ours.add(packet(5, 15000, True)) == (False, None)
    # Past it: the broken frame and those referring to it are dropped and a
    # keyframe is asked for; no backlog is left to add latency. Frames predicted
    # from the lost one would decode as garbage: none is decoded until the keyframe.
    now[0] = 0.1 + GAP_PATIENCE
    pli, frame = ours.add(packet(6, 18000, True))
    assert pli is True and frame is None
    assert ours.awaiting_keyframe
    pli, frame = ours.add(packet(7, 21000, True))
    assert pli is False and frame is None
    pli, frame = ours.add(keyframe_packet(8, 24000))
    assert pli is False and frame is not None and frame.timestamp == 24000
    assert not ours.awaiting_keyframe
    pli, frame = ours.add(packet(9, 27000, True))
    assert frame is not None and frame.timestamp == 27000
    counts = ours.counts
    assert (counts.losses, counts.withheld, counts.keyframes) == (1, 2, 1)


def test_a_lost_keyframe_request_is_repeated() -> None:
    now = [0.0]
    ours = MarkerJitterBuffer(capacity=512, is_video=True, clock=lambda: now[0])
    ours.add(packet(1, 9000, False))
    ours.add(packet(3, 9000, True))
    ours.add(packet(4, 12000, True))
    now[0] = GAP_PATIENCE
    assert ours.add(packet(5, 15000, True)) == (True, None)
    now[0] += KEYFRAME_RETRY / 2
    assert ours.add(packet(6, 18000, True)) == (False, None)
    now[0] += KEYFRAME_RETRY / 2
    # No keyframe yet: the request (or the keyframe) was lost; ask again.
    assert ours.add(packet(7, 21000, True)) == (True, None)


def test_keyframes_are_told_apart() -> None:
    assert is_keyframe(b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88")
    assert not is_keyframe(b"\x00\x00\x00\x01\x41\x9a\x00\x00\x00\x01\x41\x9b")
    assert is_keyframe(b"\x50\x42\x00\x9d\x01\x2a\x80\x07")  # VP8 key frame
    assert not is_keyframe(b"\x51\x42\x00\x9d\x01\x2a")  # VP8 inter frame
    assert not is_keyframe(b"")


def test_waiting_for_the_rest_of_a_frame_is_not_a_loss() -> None:
    now = [0.0]
    ours = MarkerJitterBuffer(capacity=512, is_video=True, clock=lambda: now[0])
    ours.add(packet(1, 9000, False))
    now[0] = 5.0  # a slow sender, no hole: nothing is given up
    assert ours.add(packet(2, 9000, False)) == (False, None)
    pli, frame = ours.add(packet(3, 9000, True))
    assert pli is False and frame is not None and frame.data == bytes([1, 2, 3])
