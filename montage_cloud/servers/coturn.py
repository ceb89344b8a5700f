"""A real coturn on loopback, configured from deploy/, in a throw-away directory."""

from __future__ import annotations

import logging
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from montage_cloud.servers.config import (
    PRODUCTION_DENIED_PEERS,
    CoturnSettings,
    write_private,
)
from montage_cloud.servers.process import ServerError, ServerProcess, free_port
from montage_cloud.servers.tls import ThrowawayCertificates

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TurnEndpoint:
    """Where a running coturn listens and the secret its credentials are made with."""

    host: str
    tls_port: int
    udp_port: int
    realm: str
    secret: str = field(repr=False)
    ca_cert: Path

    @property
    def uris(self) -> list[str]:
        return [
            f"turns:{self.host}:{self.tls_port}?transport=tcp",
            f"turn:{self.host}:{self.udp_port}?transport=udp",
        ]

    def public(self) -> dict[str, object]:
        """What may be printed: everything but the shared secret."""
        return {
            "uris": self.uris,
            "realm": self.realm,
            "ca_cert": str(self.ca_cert),
        }


class CoturnServer:
    """Renders the template and runs `turnserver -c` on loopback.

    Loopback peers are allowed by default (the relay tests talk to 127.0.0.1,
    which the production peer policy denies); `allow_loopback_peers=False`
    runs the production policy. The shared secret is fresh per server.
    """

    def __init__(
        self,
        workdir: Path,
        certs: ThrowawayCertificates,
        *,
        host: str = "127.0.0.1",
        tls_port: int | None = None,
        udp_port: int | None = None,
        realm: str = "montage.test",
        secret: str | None = None,
        allow_loopback_peers: bool = True,
        denied_peers: Sequence[str] | None = None,
    ) -> None:
        if shutil.which("turnserver") is None:
            raise ServerError("coturn is not installed (apt-get install coturn)")
        self.workdir = workdir
        self._certs = certs
        self._host = host
        self._tls_port = tls_port or free_port(host)
        self._udp_port = udp_port or free_port(host)
        self._realm = realm
        self._secret = secret or secrets.token_urlsafe(32)
        self._allow_loopback_peers = allow_loopback_peers
        # None: the production policy. Tests whose peers sit in the ranges set
        # aside for network testing (RFC 2544) pass a narrower list.
        self._denied_peers = denied_peers
        self._config = workdir / "turnserver.conf"
        self._process = ServerProcess(
            "coturn",
            ["turnserver", "-c", str(self._config)],
            log_file=workdir / "turnserver.log",
            cwd=workdir,
        )

    @property
    def endpoint(self) -> TurnEndpoint:
        return TurnEndpoint(
            host=self._host,
            tls_port=self._tls_port,
            udp_port=self._udp_port,
            realm=self._realm,
            secret=self._secret,
            ca_cert=self._certs.ca_cert,
        )

    def _settings(self) -> CoturnSettings:
        return CoturnSettings(
            realm=self._realm,
            static_auth_secret=self._secret,
            certificate=self._certs.server_cert,
            key=self._certs.server_key,
            pid_file=self.workdir / "turnserver.pid",
            log_file=self.workdir / "turnserver.log",
            userdb=self.workdir / "turndb",
            listening_ips=(self._host,),
            relay_ips=(self._host,),
            listening_port=self._udp_port,
            tls_listening_port=self._tls_port,
            # A small range is plenty for tests and keeps clear of other users.
            min_port=50000 + self._tls_port % 300 * 50,
            max_port=50000 + self._tls_port % 300 * 50 + 49,
            allow_loopback_peers=self._allow_loopback_peers,
            denied_peers=(
                PRODUCTION_DENIED_PEERS if self._denied_peers is None else tuple(self._denied_peers)
            ),
        )

    def start(self) -> TurnEndpoint:
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_private(self._config, self._settings().render())
        self._process.start([(self._host, self._tls_port)])
        return self.endpoint

    def stop(self) -> None:
        self._process.stop()

    def __enter__(self) -> TurnEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
