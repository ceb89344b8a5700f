"""One media session of a share: a peer connection with screen, camera and microphone.

A share keeps its media session across a lost signalling connection: the
pictures still flow while the client reconnects, and when the receiver
still holds the share the same session is offered again (nothing is
renegotiated). When the session itself has failed — ICE gave up, the
laptop moved to another network, the receiver restarted — a new one is
made; aiortc has no ICE restart (docs/protocol.md §18 says why a new peer
connection, and what it costs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiortc import RTCSessionDescription

from montage_core.protocol.errors import ShareEnded
from montage_core.protocol.pin_auth import dtls_fingerprints
from montage_core.rtc.link_quality import Grade, grade
from montage_core.rtc.peer import (
    IceSettings,
    make_peer_connection,
    prefer_audio_codecs,
    prefer_screen_codecs,
)
from montage_core.signal_channel import PATH_RELAYED, PATH_RELAYED_PROXY, SignalChannel
from montage_core.thirdparty.aiortc_ice import uses_relay
from montage_core.thirdparty.aiortc_repair import on_keyframe_request

from .device_track import DeviceTrack
from .local_media import LocalMedia
from .screen_source import ScreenSource
from .screen_track import ScreenTrack

logger = logging.getLogger(__name__)

StateListener = Callable[["ShareMedia", str], None]


class ShareMedia:
    """A peer connection sending the screen, and the camera and microphone when on.

    `on_state(media, state)` hears the connection state ("connected",
    "failed", …) on the loop.
    """

    def __init__(
        self,
        source: ScreenSource,
        ice: IceSettings,
        on_state: StateListener,
        media: LocalMedia | None = None,
    ) -> None:
        self.ice = ice
        self.pc = make_peer_connection(ice)
        self.camera_track = DeviceTrack("video")
        self.audio_track = DeviceTrack("audio")
        self.connected_once = False
        # The order of the m-lines is part of the protocol: screen video,
        # camera video, then audio. All three are negotiated now, so turning
        # the camera or microphone on later changes no SDP.
        screen = self.pc.addTransceiver(ScreenTrack(source), direction="sendonly")
        prefer_screen_codecs(screen)
        # A still screen answers a keyframe request now, not at its next keep-alive.
        on_keyframe_request(screen.sender, source.send_again)
        self._screen_sender = screen.sender
        camera = self.pc.addTransceiver(self.camera_track, direction="sendonly")
        prefer_screen_codecs(camera)  # a camera is video like any other: same codec order
        audio = self.pc.addTransceiver(self.audio_track, direction="sendonly")
        prefer_audio_codecs(audio)
        self.attach(media)

        @self.pc.on("connectionstatechange")
        def changed() -> None:
            state = self.pc.connectionState
            if state == "connected":
                self.connected_once = True
            on_state(self, state)

    def attach(self, media: LocalMedia | None) -> None:
        """Send from the camera and microphone that are on now (None: neither)."""
        self.camera_track.attach(media.camera if media is not None else None)
        self.audio_track.attach(media.microphone if media is not None else None)

    async def offer(self) -> str:
        """Gather and return the SDP offer; ShareEnded if there is nothing to offer."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        if not self.offers_candidates:
            # Nothing to offer (behind a proxy: no relay through it). ICE would
            # wait for ever on an empty check list; say why now.
            raise self.failure(shared=False)
        return str(self.pc.localDescription.sdp)

    @property
    def offered(self) -> str:
        """The offer this session was made with (offered again to resume it)."""
        return str(self.pc.localDescription.sdp)

    @property
    def offers_candidates(self) -> bool:
        """Whether gathering found anything to offer (host, server-reflexive or relay)."""
        description = self.pc.localDescription
        return description is not None and "a=candidate:" in description.sdp

    @property
    def working(self) -> bool:
        """Connected now: worth offering again to a receiver that still holds the share."""
        return self.pc.connectionState == "connected" and self.pc.remoteDescription is not None

    def answers(self, sdp: str) -> bool:
        """Whether `sdp` is the answer this session already has (the receiver kept it too)."""
        remote = self.pc.remoteDescription
        if remote is None:
            return False
        try:
            return dtls_fingerprints(remote.sdp) == dtls_fingerprints(sdp)
        except ValueError:
            return False

    async def accept(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))

    @property
    def connected(self) -> bool:
        return self.pc.connectionState == "connected"

    def path(self, channel: SignalChannel) -> str:
        if not uses_relay(self.pc):
            return channel.path
        return PATH_RELAYED_PROXY if self.ice.proxy is not None else PATH_RELAYED

    def failure(self, *, shared: bool) -> ShareEnded:
        """Why media does not flow, in a sentence."""
        if shared or self.connected_once:
            return ShareEnded("Lost the media connection to the receiver.")
        # Never connected. aioice hides why it found no relay; the proxy route kept it.
        route = self.pc.turn_route
        problems = route.problems if route is not None else []
        if problems:
            return ShareEnded(
                f"No media path to the receiver: the cloud's relay could not be reached "
                f"through the proxy. {problems[-1]}"
            )
        if not self.offers_candidates:
            return ShareEnded(
                "No media path to the receiver could be found: this computer has no network "
                "address to send media from."
            )
        return ShareEnded("No media path to the receiver could be found.")

    async def quality(self) -> tuple[Grade, float | None, float | None]:
        """How the screen's stream is doing, from the receiver's reports (RTCP)."""
        loss = rtt = None
        for stats in (await self._screen_sender.getStats()).values():
            if stats.type == "remote-inbound-rtp":
                loss = 100.0 * (stats.fractionLost or 0) / 256
                rtt = None if stats.roundTripTime is None else stats.roundTripTime * 1000
        return grade(loss, rtt), loss, rtt

    async def close(self) -> None:
        self.camera_track.attach(None)
        self.audio_track.attach(None)
        await self.pc.close()
