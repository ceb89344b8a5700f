"""ICE as a share needs it: explicit trust for the TURN server, the proxy route, the path.

Written against aiortc 1.16 and aioice 0.13 (checked on import). Private
names used: `RTCIceGatherer._connection` (aioice's `Connection`),
`Connection.turn_ssl` as aiortc sets it, `Connection._nominated` (the
selected pair per component), `CandidatePair.protocol`, and
`StunProtocol.request` (wrapped, to time each STUN transaction).

aiortc hands aioice `turn_ssl=True` for a `turns:` server, i.e. the
process-wide trust store, and aioice gives up on a server it does not trust
without any error. `TunedPeerConnection` puts the explicit trust the cloud
account carries into each ICE connection before it gathers; `uses_relay`
reads which candidate pair ICE selected, so the person is told when media
goes through the relay; `ice_round_trip` reads how long the last STUN
transaction on it took (ICE's consent checks, every ~5 s, RFC 7675): the
round-trip time of the media path, measured by either side alone — the
receiver sends no media, so RTCP gives it none. With `turn_proxy`,
gathering runs inside an `aioice_turn` route, so the TURN connection is
tunnelled through the proxy.
Video receivers get the marker-aware jitter buffer (`aiortc_jitter`), and
retransmissions reach them (`aiortc_repair`).

aiortc 1.16 also loses remote candidates of a BUNDLE offer: it keys them by
ICE transport before merging the bundled transports, so the shared transport
keeps only the last m-section's candidates. Chromium (bundlePolicy
max-bundle) puts its candidates in the first m-section only, so aiortc got
none: fine on a LAN, where Chromium's checks teach aioice its address, but
through a relay aioice never opens a permission for the browser and the
share cannot start. `TunedPeerConnection` gives the shared transport every
bundled m-section's candidates (`aiortc.sdp` parses them).
"""

from __future__ import annotations

from . import require

require("aiortc")
require("aioice")

import ssl
import time
from typing import TYPE_CHECKING, Any

import aioice.ice
from aiortc import RTCPeerConnection
from aiortc.sdp import SessionDescription

from .aiortc_jitter import tune_receivers
from .aiortc_remb import start_estimates_at_lan_speed
from .aiortc_repair import install_repair

if TYPE_CHECKING:  # the proxy stack is imported only when TURN goes through a proxy
    from montage_core.net.routes import ProxyResolver

    from .aioice_turn import TurnRoute


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
        install_repair()
        _time_stun_transactions()
        super().__init__(configuration)
        self._turn_tls = turn_tls
        # Set for a browser sender: its first REMB (montage_core.thirdparty.aiortc_remb).
        self.remb_start: int | None = None
        self.turn_route: TurnRoute | None = None
        if turn_proxy is not None:
            from . import aioice_turn as turn_tunnel

            turn_tunnel.install()
            self.turn_route = turn_tunnel.TurnRoute(turn_proxy)

    async def setRemoteDescription(self, sessionDescription: Any) -> None:  # noqa: N802, N803
        await super().setRemoteDescription(sessionDescription)
        await _add_bundled_candidates(self, sessionDescription.sdp)
        tune_receivers(self)
        if self.remb_start is not None:
            start_estimates_at_lan_speed(self, self.remb_start)

    async def setLocalDescription(self, sessionDescription: Any = None) -> None:  # noqa: N802, N803
        # Gathering (and so the TURN allocation) happens inside this call.
        if self._turn_tls is not None:
            for connection in _ice_connections(self):
                if connection.turn_ssl is True:
                    connection.turn_ssl = self._turn_tls
        if self.turn_route is None:
            await super().setLocalDescription(sessionDescription)
            return
        from .aioice_turn import turn_route

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


async def _add_bundled_candidates(pc: RTCPeerConnection, sdp: str) -> None:
    """Give a BUNDLE group's shared ICE transport the candidates of all its m-sections."""
    description = SessionDescription.parse(sdp)
    bundle = next((g for g in description.group if g.semantic == "BUNDLE"), None)
    if bundle is None or not bundle.items:
        return
    primary = next((t for t in pc.getTransceivers() if t.mid == bundle.items[0]), None)
    if primary is None or primary.receiver.transport is None:
        return
    ice = primary.receiver.transport.transport
    for media in description.media:
        if media.rtp.muxId in bundle.items:
            for candidate in media.ice_candidates:
                # aioice ignores a candidate it already has, and aiortc ignores
                # any after end-of-candidates.
                await ice.addRemoteCandidate(candidate)


def uses_relay(pc: RTCPeerConnection) -> bool:
    """Whether ICE's selected candidate pair goes through a TURN relay (either end)."""
    for connection in _ice_connections(pc):
        # aioice keeps the selected pair per component in `_nominated`.
        for pair in connection._nominated.values():
            if "relay" in (pair.local_candidate.type, pair.remote_candidate.type):
                return True
    return False


# Set on each aioice StunProtocol: seconds its last answered transaction took.
_RTT_ATTRIBUTE = "montage_round_trip"
_original_request: Any = None


def _time_stun_transactions() -> None:
    """Wrap aioice's STUN transaction to keep its duration on the protocol (idempotent)."""
    global _original_request
    if _original_request is not None:
        return
    _original_request = aioice.ice.StunProtocol.request

    async def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        result = await _original_request(self, *args, **kwargs)
        setattr(self, _RTT_ATTRIBUTE, time.monotonic() - started)
        return result

    aioice.ice.StunProtocol.request = request  # type: ignore[method-assign]


def ice_round_trip(pc: RTCPeerConnection) -> float | None:
    """Seconds the last STUN transaction on the selected pair took (None before one)."""
    times = [
        getattr(pair.protocol, _RTT_ATTRIBUTE, None)
        for connection in _ice_connections(pc)
        for pair in connection._nominated.values()
    ]
    known = [t for t in times if t is not None]
    return min(known) if known else None
