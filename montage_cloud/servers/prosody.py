"""A real Prosody on loopback, configured from deploy/, in a throw-away directory."""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from montage_cloud.servers.config import ProsodySettings, write_private
from montage_cloud.servers.process import ServerError, ServerProcess, free_port
from montage_cloud.servers.tls import ThrowawayCertificates

logger = logging.getLogger(__name__)

ADMIN_USER = "montage-admin"


@dataclass(frozen=True)
class XmppEndpoint:
    """Where and as whom to reach a running Prosody."""

    domain: str
    host: str
    port: int
    admin_jid: str
    admin_password: str
    ca_cert: Path

    def public(self) -> dict[str, object]:
        """What may be printed: everything but the admin password."""
        return {
            "domain": self.domain,
            "host": self.host,
            "port": self.port,
            "transport": "direct-tls",
            "admin_jid": self.admin_jid,
            "ca_cert": str(self.ca_cert),
        }


class ProsodyServer:
    """Renders the template, creates the admin account, runs `prosody -F`.

    `run_as_root` is set here and only here: Prosody refuses to run as root
    without it, and CI is root. Production renders with it off (docs/deploy.md).
    """

    def __init__(
        self,
        workdir: Path,
        certs: ThrowawayCertificates,
        *,
        domain: str = "localhost",
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        if shutil.which("prosody") is None or shutil.which("prosodyctl") is None:
            raise ServerError("Prosody is not installed (apt-get install prosody)")
        self.workdir = workdir
        self._certs = certs
        self._domain = domain
        self._host = host
        self._port = port or free_port(host)
        self._admin_password = _admin_password(workdir / "xmpp-admin-password")
        self._config = workdir / "prosody.cfg.lua"
        self._process = ServerProcess(
            "prosody",
            ["prosody", "--config", str(self._config), "-F"],
            log_file=workdir / "prosody.log",
            cwd=workdir,
        )

    @property
    def endpoint(self) -> XmppEndpoint:
        return XmppEndpoint(
            domain=self._domain,
            host=self._host,
            port=self._port,
            admin_jid=f"{ADMIN_USER}@{self._domain}",
            admin_password=self._admin_password,
            ca_cert=self._certs.ca_cert,
        )

    def _settings(self) -> ProsodySettings:
        return ProsodySettings(
            domain=self._domain,
            admin_jid=f"{ADMIN_USER}@{self._domain}",
            certificate=self._certs.server_cert,
            key=self._certs.server_key,
            certificates_dir=self._certs.server_cert.parent,
            data_dir=self.workdir / "data",
            pid_file=self.workdir / "prosody.pid",
            log_file=self.workdir / "prosody.log",
            c2s_direct_tls_ports=(self._port,),
            interfaces=(self._host,),
            run_as_root=True,
        )

    def _create_admin(self) -> None:
        # prosodyctl is Prosody's own documented way to add an account while
        # the server is stopped; the password goes through stdin, not argv.
        # A work directory used before already has the account (a restarted
        # `montage-cloud dev --workdir`): it gets this run's password instead.
        result = self._prosodyctl("adduser")
        if result.returncode != 0 and "exists" in result.stdout + result.stderr:
            result = self._prosodyctl("passwd")
        if result.returncode != 0:
            raise ServerError(
                f"prosodyctl could not set up the admin account: {result.stdout}{result.stderr}"
            )

    def _prosodyctl(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["prosodyctl", "--config", str(self._config), command, self.endpoint.admin_jid],
            input=f"{self._admin_password}\n{self._admin_password}\n",
            capture_output=True,
            text=True,
            cwd=self.workdir,
            check=False,
            timeout=30,
        )

    def start(self) -> XmppEndpoint:
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        write_private(self._config, self._settings().render())
        self._create_admin()
        self._process.start([(self._host, self._port)])
        return self.endpoint

    def stop(self) -> None:
        self._process.stop()

    def __enter__(self) -> XmppEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _admin_password(path: Path) -> str:
    """The admin password kept in the work directory (private), made on first use.

    Kept so a restarted dev cloud's accounts derived from it (the guest
    bridge's) still log in, instead of being replaced after a failed login.
    """
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, password + "\n")
    return password
