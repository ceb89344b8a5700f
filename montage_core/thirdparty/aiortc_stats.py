"""What an aiortc video receiver counted about the stream it receives.

Written against aiortc 1.16 (checked on import). Private names used:
`RTCRtpReceiver.__remote_streams` (per-SSRC `StreamStatistics`) and
`RTCRtpReceiver.__rtx_ssrc` (retransmission SSRC → media SSRC).

aiortc's public `getStats()` keeps one `inbound-rtp` entry per receiver, not
per SSRC: the retransmission stream's figures overwrite the media stream's,
so its loss reads nonsense. The media stream's own counters are what a
person's "loss" is: packets the network lost before any repair.
"""

from __future__ import annotations

from . import require

require("aiortc")

from typing import Any

_STREAMS = "_RTCRtpReceiver__remote_streams"
_RTX = "_RTCRtpReceiver__rtx_ssrc"


def media_counts(receiver: Any) -> tuple[int, int] | None:
    """(packets received, packets lost) of the media stream, or None before its first packet."""
    streams: dict[int, Any] = getattr(receiver, _STREAMS, {})
    retransmissions: dict[int, int] = getattr(receiver, _RTX, {})
    media = [s for ssrc, s in streams.items() if ssrc not in retransmissions]
    if not media:
        return None
    stream = max(media, key=lambda s: s.packets_received)
    return int(stream.packets_received), int(stream.packets_lost)
