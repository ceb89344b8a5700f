"""Enrolling a device with a Montage cloud (once, with a token from the administrator)."""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

from montage_core.net import ProxyResolver, ProxySettings
from montage_core.protocol.errors import InvalidInput

from .account import DEFAULT_XMPP_PORT, CloudAccount, split_host_port
from .api import CloudApi

logger = logging.getLogger(__name__)


async def enrol_device(
    path: Path,
    *,
    url: str,
    token: str,
    kind: str,
    name: str,
    ca_file: str | None = None,
    xmpp: str | None = None,
    proxy: ProxySettings | ProxyResolver | None = None,
) -> CloudAccount:
    """Enrol through `POST /v1/enrol`; keep the account at `path`, its secrets in the keyring.

    `xmpp` ("host:port") is where the cloud's XMPP service listens when it is
    not at the JID's domain on port 443 (a test or private cloud). `proxy` is
    how this computer reaches the cloud (None: directly).
    """
    if not url.startswith("https://"):
        raise InvalidInput("The cloud's address must start with https://.")
    token = token.strip()
    if not token:
        raise InvalidInput("Give the enrolment token from your administrator.")
    if ca_file is not None:
        ca_file = _usable_ca(ca_file)
    tls = ssl.create_default_context(cafile=ca_file)
    async with CloudApi(url, tls, proxy=proxy) as api:
        enrolment = await api.enrol(token, kind, name)
    domain = enrolment.jid.split("@", 1)[1]
    try:
        host, port = split_host_port(xmpp, DEFAULT_XMPP_PORT) if xmpp else (domain, 443)
    except ValueError:
        raise InvalidInput(f"--xmpp must be HOST:PORT, not {xmpp!r}.") from None
    account = CloudAccount(
        url=url.rstrip("/"),
        device_id=enrolment.device_id,
        kind=enrolment.kind,
        jid=enrolment.jid,
        xmpp_host=host,
        xmpp_port=port,
        ca_file=ca_file,
    )
    account.save(path, secret=enrolment.secret, xmpp_password=enrolment.xmpp_password)
    return account


def _usable_ca(ca_file: str) -> str:
    """The CA file's absolute path (kept in the account), if it holds a certificate."""
    absolute = os.path.abspath(ca_file)
    try:
        ssl.create_default_context(cafile=absolute)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"Cannot use {absolute} as a CA certificate: {exc}.") from None
    return absolute
