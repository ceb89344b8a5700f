"""A jitter buffer that releases a frame at its marker and gives up on a lost packet.

Written against aiortc 1.16 (checked on import). Private names used:
`JitterBuffer._packets`, `._origin`, `._capacity`, `RtpPacket._data`, and the
receiver's `_RTCRtpReceiver__jitter_buffer`, which `tune_receivers` replaces
and `jitter_buffer_of` reads.

aiortc's jitter buffer hands a frame to the decoder only when the first
packet of the *next* frame arrives, adding a whole frame interval of latency
— and when the screen is still, holding the last change until something else
changes. Ours also completes a frame at its RTP marker bit (the last packet
of a frame), as RFC 6184 intends.

After a loss it could not repair, it hands the decoder nothing but a
keyframe: frames predicted from the lost one would only decode as garbage
(and the stamp of a test, or the text of a slide, unreadable) for a round
trip. The last good picture stays on the wall meanwhile.
"""

from __future__ import annotations

from . import require

require("aiortc")

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer, JitterFrame

# How long a frame may wait for a lost packet (its NACK and retransmission)
# while later packets keep arriving, before it is given up and a keyframe asked for.
GAP_PATIENCE = 0.25
# While waiting for that keyframe, ask again this often: the request (an RTCP
# packet) or the keyframe itself may be lost too.
KEYFRAME_RETRY = 0.5

_H264_IDR = 5
_VP8_START = b"\x9d\x01\x2a"


def is_keyframe(data: bytes) -> bool:
    """Whether a depayloaded frame starts a picture on its own (H264 IDR, VP8 key frame)."""
    if data[3:6] == _VP8_START and not data[0] & 1:
        return True  # VP8: the frame tag's P bit is clear and the start code follows
    # H264 as aiortc depayloads it: NAL units, each after a 00 00 00 01 start code.
    start = data.find(b"\x00\x00\x01")
    while start >= 0 and start + 3 < len(data):
        if data[start + 3] & 0x1F == _H264_IDR:
            return True
        start = data.find(b"\x00\x00\x01", start + 3)
    return False


@dataclass
class JitterCounts:
    """What the buffer saw, for a person's stats (read on the loop, like the buffer)."""

    frames: int = 0  # handed to the decoder
    keyframes: int = 0  # of which keyframes
    bytes: int = 0  # payload received (retransmissions included)
    # Times a loss could not be repaired and pictures were skipped until a keyframe.
    losses: int = 0
    withheld: int = 0  # frames not decoded while waiting for that keyframe


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
        self.counts = JitterCounts()
        # Since a loss that was not repaired: when the keyframe was last asked for.
        self._keyframe_asked: float | None = None

    @property
    def awaiting_keyframe(self) -> bool:
        return self._keyframe_asked is not None

    def add(self, packet: Any) -> tuple[bool, JitterFrame | None]:
        self.counts.bytes += len(packet.payload)
        # aiortc's own buffer asks for a keyframe when it had to throw packets
        # away (a jump in sequence numbers after a cut, an overflow).
        pli, frame = super().add(packet)
        if frame is None and self._blocked_by_a_hole(packet):
            now = self._clock()
            if self._blocked_since is None:
                self._blocked_since = now
            elif now - self._blocked_since >= GAP_PATIENCE:
                self._blocked_since = None
                self._drop_up_to(packet)
                pli, frame = True, self._remove_frame(packet.sequence_number)
        else:
            self._blocked_since = None
        return self._after_loss(pli, frame)

    def _after_loss(self, pli: bool, frame: JitterFrame | None) -> tuple[bool, JitterFrame | None]:
        """Hold back what cannot decode cleanly until a keyframe; ask for it again if late."""
        now = self._clock()
        if pli:
            if self._keyframe_asked is None:
                self.counts.losses += 1
            self._keyframe_asked = now
        key = frame is not None and is_keyframe(frame.data)
        if frame is not None and self._keyframe_asked is not None:
            if key:
                self._keyframe_asked = None
            else:
                self.counts.withheld += 1
                frame = None
        if self._keyframe_asked is not None and now - self._keyframe_asked >= KEYFRAME_RETRY:
            self._keyframe_asked = now
            pli = True
        if frame is not None:
            self.counts.frames += 1
            self.counts.keyframes += key
        return pli, frame

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


def jitter_buffer_of(receiver: Any) -> MarkerJitterBuffer | None:
    """The marker-aware buffer `tune_receivers` gave this video receiver, if any."""
    buffer = getattr(receiver, _JITTER_ATTRIBUTE, None)
    return buffer if isinstance(buffer, MarkerJitterBuffer) else None


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
