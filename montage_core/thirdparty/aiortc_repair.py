"""Loss repair that works: retransmissions that reach their receiver, keyframes on request.

Written against aiortc 1.16 (checked on import). Private names used:
`RTCDtlsTransport._register_rtp_receiver` (wrapped), `RTCDtlsTransport._rtp_router`,
`RtpRouter.ssrc_table`, `RTCRtpSender._send_keyframe` (wrapped per sender),
the module constants `aiortc.rtcrtpsender.RTP_HISTORY_SIZE` and
`aiortc.rtcrtpreceiver.RTP_HISTORY_SIZE` (raised), and, for `repeat_nacks`,
`RTCRtpReceiver.__nack_generator` (`NackGenerator.missing`, `.max_seq`),
`RTCRtpReceiver.__remote_streams`, `__rtx_ssrc` and `_send_rtcp_nack`.

Why, measured in the fault lab (docs/performance.md, "Faults"): aiortc routes
an incoming RTP packet by its SSRC, else by its payload type when exactly one
receiver has that type. It registers each receiver's media SSRC but never its
retransmission (RTX) SSRC, and our share has two video sections (screen and
camera) with the same payload types in one bundle — so every retransmitted
packet matched two receivers and was thrown away. NACKs went out, the sender
retransmitted, and nothing was ever repaired: each lost packet cost a
keyframe, each keyframe (a hundred packets at 1080p) lost a packet of its
own at 5 % loss, and delivery fell to 3.4 fps. Registering the RTX SSRC
(announced in the SDP's `ssrc-group:FID`) is the whole fix for that.

The sender keeps the last `HISTORY_PACKETS` packets for retransmission
(aiortc keeps 128: about 150 ms of a 1080p share, less than one round trip
on a slow Wi-Fi), and the receiver asks again for losses that far back.

aiortc's receiver sends a NACK only when a *new* gap appears; a lost
retransmission is asked for again only at the next new gap, which at 1 %
loss comes a quarter of a second later — past the jitter buffer's patience,
so it cost a keyframe and a 0.6 s freeze about once every 30 s (the fault
lab). `repeat_nacks` asks again for what is still missing every round trip.
"""

from __future__ import annotations

from . import require

require("aiortc")

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpSender, rtcdtlstransport, rtcrtpreceiver, rtcrtpsender

logger = logging.getLogger(__name__)

# A power of two (sequence numbers wrap at 65536). About 0.6 s of a busy
# 1080p share (~800 packets/s): a NACK, its retransmission and one more try
# fit even with 100 ms each way.
HISTORY_PACKETS = 512

_original_register: Any = None


def install_repair() -> None:
    """Make retransmissions reach their receiver and keep a longer history (idempotent)."""
    global _original_register
    transport_class = rtcdtlstransport.RTCDtlsTransport
    if _original_register is None:
        _original_register = transport_class._register_rtp_receiver

        def register(self: Any, receiver: Any, parameters: Any) -> None:
            _original_register(self, receiver, parameters)
            for encoding in parameters.encodings:
                if encoding.rtx is not None:
                    self._rtp_router.ssrc_table[encoding.rtx.ssrc] = receiver

        transport_class._register_rtp_receiver = register  # type: ignore[method-assign]
    rtcrtpsender.RTP_HISTORY_SIZE = HISTORY_PACKETS  # type: ignore[attr-defined]
    rtcrtpreceiver.RTP_HISTORY_SIZE = HISTORY_PACKETS  # type: ignore[attr-defined]


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call `callback` (on the loop) whenever the receiver asks `sender` for a keyframe.

    aiortc only marks the *next* encoded frame as a keyframe; a source that
    sends only when something changes (a still screen) should send one now.
    """
    request = sender._send_keyframe

    def send_keyframe() -> None:
        request()
        try:
            callback()
        except Exception:
            logger.exception("keyframe request handler failed")

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]


# Ask again for missing packets this often at least (and at most once a round trip).
NACK_REPEAT = 0.04
# Only packets this recent are asked for again: older ones the jitter buffer
# has given up on (0.25 s is about 100 packets of a busy 1080p share).
NACK_WINDOW = 100


async def repeat_nacks(receiver: Any, round_trip: Callable[[], float | None]) -> None:
    """Until cancelled: NACK again, each round trip, the recent packets still missing."""
    generator = getattr(receiver, "_RTCRtpReceiver__nack_generator", None)
    if generator is None:
        return  # an audio receiver: no NACKs
    retransmissions: dict[int, int] = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", {})
    while True:
        await asyncio.sleep(max(NACK_REPEAT, 1.5 * (round_trip() or 0.0)))
        top = generator.max_seq
        if top is None or not generator.missing:
            continue
        recent = sorted(s for s in generator.missing if (top - s) % 65536 < NACK_WINDOW)
        streams = getattr(receiver, "_RTCRtpReceiver__remote_streams", {})
        media = [ssrc for ssrc in streams if ssrc not in retransmissions]
        if recent and media:
            await receiver._send_rtcp_nack(media[0], recent)
