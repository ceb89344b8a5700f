"""A device's enrolment with a Montage cloud: where the cloud is, who this device is.

What is not secret (the API's URL, the device ID, its XMPP address, where
XMPP listens, an extra CA to trust, where the secrets are) is kept in a small
JSON file beside the app's other files. The two secrets — the device secret
for the REST API and the XMPP password — go to the device's secret store
(`secret_store.py`: the OS keyring, or on a headless box a file only its user
can read) and nowhere else: never that JSON file, never a log line, never an
exception text.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from montage_core.protocol.errors import NotEnrolled

from .secret_store import SecretStore, store_for

logger = logging.getLogger(__name__)

ACCOUNT_FILE = "cloud.json"
# Production XMPP listens for direct TLS on 443 at the JID's domain (docs/deploy.md).
DEFAULT_XMPP_PORT = 443


@dataclass(frozen=True)
class CloudAccount:
    """One enrolled device. Secrets are read from its secret store when asked for."""

    url: str  # the REST API, e.g. https://api.example.com
    device_id: str
    kind: str  # "client" or "receiver"
    jid: str  # bare XMPP address: <device_id>@<domain>
    xmpp_host: str
    xmpp_port: int = DEFAULT_XMPP_PORT
    ca_file: str | None = None  # a private cloud's CA; None: the system's trust store
    secrets_file: str | None = None  # the private file holding the secrets; None: the keyring

    def tls(self) -> ssl.SSLContext:
        """Trust for the REST API, XMPP and TURN over TLS: names checked, CA as configured."""
        return ssl.create_default_context(cafile=self.ca_file)

    def secret(self) -> str:
        return self._read("secret")

    def xmpp_password(self) -> str:
        return self._read("xmpp-password")

    # -- storage ---------------------------------------------------------------
    def store(self) -> SecretStore:
        return store_for(self.secrets_file)

    def save(self, path: Path, *, secret: str, xmpp_password: str) -> None:
        """Keep the secrets in the account's store, then the rest in `path`."""
        store = self.store()
        store.write(self._key("secret"), secret)
        store.write(self._key("xmpp-password"), xmpp_password)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        logger.info("enrolled as %s with %s", self.device_id, self.url)

    @classmethod
    def load(cls, path: Path) -> CloudAccount | None:
        """The enrolment kept at `path`, or None if this device is not enrolled."""
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                url=str(data["url"]),
                device_id=str(data["device_id"]),
                kind=str(data["kind"]),
                jid=str(data["jid"]),
                xmpp_host=str(data["xmpp_host"]),
                xmpp_port=int(data["xmpp_port"]),
                ca_file=None if data.get("ca_file") is None else str(data["ca_file"]),
                secrets_file=(
                    None if data.get("secrets_file") is None else str(data["secrets_file"])
                ),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable cloud enrolment %s: %s", path, exc)
            return None

    def forget(self, path: Path) -> None:
        """Remove the enrolment: the file and both secrets."""
        store = self.store()
        for what in ("secret", "xmpp-password"):
            store.delete(self._key(what))
        path.unlink(missing_ok=True)

    def _key(self, what: str) -> str:
        return f"{self.device_id}/{what}"

    def _read(self, what: str) -> str:
        store = self.store()
        value = store.read(self._key(what))
        if value is None:
            raise NotEnrolled(
                f"This device's cloud credentials are missing from {store.describe()}; enrol "
                f"it again with {self.url}."
            )
        return value


def split_host_port(text: str, default_port: int) -> tuple[str, int]:
    """'host', 'host:port' or '[v6]:port' → (host, port); ValueError if malformed."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or str(default_port)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, str(default_port)
    number = int(port)
    if not host or not 0 < number < 65536:
        raise ValueError(f"not host:port: {text!r}")
    return host, number
