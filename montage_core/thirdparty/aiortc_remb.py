"""A receiver bandwidth estimate (REMB) that starts at LAN speed, for browser senders.

Written against aiortc 1.16 (checked on import). Private names used:
`RTCRtpReceiver.__remote_bitrate_estimator` (replaced), and the estimator's
`rate_control` fields `current_bitrate`, `current_bitrate_initialized` and
`latest_estimated_throughput`.

aiortc's estimator says nothing for its first 3 s, then starts from what it
measured arriving — which is only what the sender chose to send. Chromium,
without transport-wide feedback (aiortc has none), takes a REMB as its
target only in its first 2 s ("start phase") and otherwise climbs from
300 kbit/s by about 8 % a second: measured here, a 1080p screen stuck near
260 kbit/s and 1 fps. This estimator is initialised at `start_bitrate`, so
the first REMB goes out with the first packets, inside Chromium's start
phase; after that it is aiortc's own AIMD control, so queueing delay on a
slower path (a relay across the internet) still brings it down. The
browser's encodings (maxBitrate) cap what it actually sends.
"""

from __future__ import annotations

from . import require

require("aiortc")

from aiortc import RTCPeerConnection
from aiortc.rate import RemoteBitrateEstimator

# What a meeting-room LAN carries without effort: the screen's 20 Mbit/s cap,
# a camera and a voice. Chromium reads a REMB as its total for the connection.
LAN_START_BITRATE = 25_000_000

# The receiver's private attribute holding its estimator (aiortc 1.16).
_ESTIMATOR_ATTRIBUTE = "_RTCRtpReceiver__remote_bitrate_estimator"


class LanStartEstimator(RemoteBitrateEstimator):
    """aiortc's estimator, already initialised at `start_bitrate`."""

    def __init__(self, start_bitrate: int = LAN_START_BITRATE) -> None:
        super().__init__()
        control = self.rate_control
        control.current_bitrate = start_bitrate
        control.latest_estimated_throughput = start_bitrate
        control.current_bitrate_initialized = True


def start_estimates_at_lan_speed(pc: RTCPeerConnection, start_bitrate: int) -> None:
    """Give every video receiver of `pc` an estimator starting at `start_bitrate`.

    Call after setRemoteDescription (which creates the receivers) and before
    media flows.
    """
    for transceiver in pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind == "video" and getattr(receiver, _ESTIMATOR_ATTRIBUTE, None):
            setattr(receiver, _ESTIMATOR_ATTRIBUTE, LanStartEstimator(start_bitrate))
