"""How both sides set up aiortc (written against aiortc 1.16)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCRtpSender,
    RTCRtpTransceiver,
)

from montage_core.thirdparty.aiortc_ice import TunedPeerConnection

if TYPE_CHECKING:  # the proxy stack is imported only by cloud meetings
    from montage_core.net import ProxyResolver

# Screen content: H264 first (hardware decoders everywhere, cheaper at 1080p
# here), VP8 as the fallback every WebRTC stack has.
PREFERRED_VIDEO_CODECS = ("video/H264", "video/VP8")


@dataclass(frozen=True)
class IceSettings:
    """Where ICE may look for paths besides the host's own addresses (cloud meetings).

    `turn_uri` is one TURN server (aiortc uses only one), normally
    `turns:host:443?transport=tcp`; `turn_tls` is the trust for its
    certificate — given explicitly, because aioice drops a `turns:` server it
    does not trust without a word. `relay_only` allows relayed paths only
    (iceTransportPolicy "relay"), for tests and for networks that must.
    `proxy`, when set, is the route to the TURN server: its TCP connection is
    then a tunnel through the proxy (montage_core.thirdparty.aioice_turn).
    """

    turn_uri: str | None = None
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    turn_tls: ssl.SSLContext | None = field(default=None, repr=False)
    relay_only: bool = False
    proxy: ProxyResolver | None = field(default=None, repr=False)


LOCAL_ONLY = IceSettings()


def make_peer_connection(ice: IceSettings = LOCAL_ONLY) -> TunedPeerConnection:
    # An explicit empty server list for local meetings: aiortc's default would
    # contact a public STUN server, which a local meeting must never need.
    servers = []
    if ice.turn_uri is not None:
        servers.append(
            RTCIceServer(urls=[ice.turn_uri], username=ice.username, credential=ice.password)
        )
    policy = RTCIceTransportPolicy.RELAY if ice.relay_only else RTCIceTransportPolicy.ALL
    configuration = RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)
    return TunedPeerConnection(configuration, turn_tls=ice.turn_tls, turn_proxy=ice.proxy)


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
