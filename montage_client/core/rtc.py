"""How both sides set up aiortc (written against aiortc 1.16)."""

from __future__ import annotations

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCRtpTransceiver

from .aiortc_tuning import TunedPeerConnection

# Screen content: H264 first (hardware decoders everywhere, cheaper at 1080p
# here), VP8 as the fallback every WebRTC stack has.
PREFERRED_VIDEO_CODECS = ("video/H264", "video/VP8")


def make_peer_connection() -> RTCPeerConnection:
    # An explicit empty server list: aiortc's default would contact a public
    # STUN server, which a local meeting must never need.
    return TunedPeerConnection(RTCConfiguration(iceServers=[]))


def prefer_screen_codecs(transceiver: RTCRtpTransceiver) -> None:
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    ordered = [c for name in PREFERRED_VIDEO_CODECS for c in capabilities if c.mimeType == name]
    # Retransmission (rtx) must stay listed or NACK-based repair is lost.
    ordered += [c for c in capabilities if c.mimeType == "video/rtx"]
    transceiver.setCodecPreferences(ordered)


def prefer_audio_codecs(transceiver: RTCRtpTransceiver) -> None:
    # Opus at 48 kHz for speech; G.711 stays listed as the fallback.
    capabilities = RTCRtpSender.getCapabilities("audio").codecs
    opus = [c for c in capabilities if c.mimeType == "audio/opus"]
    transceiver.setCodecPreferences(opus + [c for c in capabilities if c not in opus])
