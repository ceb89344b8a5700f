"""Every place Montage reaches into another library's private names — and only here.

aiortc, aioice and slixmpp offer no hooks for what a screen share needs (our
encoders, a jitter buffer that releases at the marker, explicit TURN trust,
TURN and XMPP through a proxy). The modules in this folder change or read
their internals; nothing outside it may. Each module calls `require()` for
the libraries it touches before importing them, so a version it was not
written against is refused at import with a sentence, instead of failing
later in the middle of a share.

- `aiortc_codecs` (aiortc): `rtcrtpsender.get_encoder` (replaced),
  `H264Encoder._split_bitstream`, `Vp8Encoder.__target_bitrate`.
- `aiortc_jitter` (aiortc): `JitterBuffer._packets/_origin/_capacity`,
  `RtpPacket._data`, `RTCRtpReceiver.__jitter_buffer` (replaced, read).
- `aiortc_repair` (aiortc): `RTCDtlsTransport._register_rtp_receiver`
  (wrapped), `RTCDtlsTransport._rtp_router`, `RtpRouter.ssrc_table`,
  `RTCRtpSender._send_keyframe` (wrapped per sender), `RTP_HISTORY_SIZE` in
  `aiortc.rtcrtpsender` and `aiortc.rtcrtpreceiver` (raised),
  `RTCRtpReceiver.__nack_generator` (`missing`, `max_seq`), `__remote_streams`,
  `__rtx_ssrc`, `_send_rtcp_nack`.
- `aiortc_remb` (aiortc): `RTCRtpReceiver.__remote_bitrate_estimator`
  (replaced), `AimdRateControl.current_bitrate/current_bitrate_initialized/
  latest_estimated_throughput`.
- `aiortc_stats` (aiortc): `RTCRtpReceiver.__remote_streams`,
  `RTCRtpReceiver.__rtx_ssrc` (read).
- `aiortc_ice` (aiortc, aioice): `RTCIceGatherer._connection`,
  `Connection.turn_ssl`, `Connection._nominated`, `CandidatePair.protocol`,
  `StunProtocol.request` (wrapped); `aiortc.sdp` (undocumented) to read a
  BUNDLE offer's candidates.
- `aioice_turn` (aioice): `aioice.turn.create_turn_endpoint` (replaced),
  `TurnTransport._connect`.
- `slixmpp_tunnel` (slixmpp): `XMLStream._attempt_connection` (overridden),
  `_connect_loop_wait`, `_current_connection_attempt`.

`tests/test_thirdparty_contracts.py` exercises each of them without root.
"""

from __future__ import annotations

from importlib import metadata

# The release series each patch was written and tested against. Raising one is
# a deliberate act: read the library's changes to the names above, run the
# contract tests, then change the pin in pyproject.toml and this table together.
WRITTEN_AGAINST: dict[str, str] = {
    "aiortc": "1.16",
    "aioice": "0.13",
    "slixmpp": "1.17",
}


class UnsupportedDependency(ImportError):
    """An installed library is not the release series Montage's patches were written for."""

    def __init__(self, distribution: str, installed: str | None, series: str) -> None:
        found = f"version {installed}" if installed else "no copy of it"
        super().__init__(
            f"Montage needs {distribution} {series}.x, but this installation has {found}. "
            f"Montage adjusts some of {distribution}'s internals and was checked only "
            f"against {series}; reinstall Montage to get the version it expects."
        )
        self.distribution = distribution
        self.installed = installed


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def require(distribution: str) -> None:
    """Refuse, with a sentence, any release series of `distribution` not in the table."""
    series = WRITTEN_AGAINST[distribution]
    installed = installed_version(distribution)
    if installed is None or not _in_series(installed, series):
        raise UnsupportedDependency(distribution, installed, series)


def _in_series(version: str, series: str) -> bool:
    parts = version.split(".")
    return ".".join(parts[: series.count(".") + 1]) == series
