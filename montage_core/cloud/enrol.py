"""Enrolling a device with a Montage cloud (once, with a token from the administrator)."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from pathlib import Path

from montage_core.net import ProxyResolver, ProxySettings
from montage_core.protocol.errors import InvalidInput

from .account import DEFAULT_XMPP_PORT, CloudAccount, split_host_port
from .api import CloudApi, Enrolment
from .secret_store import SECRETS_FILE, FileStore, SecretStoreChoice, choose_store

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
    secret_store: SecretStoreChoice = SecretStoreChoice.AUTO,
) -> CloudAccount:
    """Enrol through `POST /v1/enrol`; keep the account at `path`, its secrets in the store.

    Where XMPP listens comes from the enrolment answer; `xmpp` ("host:port")
    overrides it (a cloud that does not say, or a path only this device
    knows). `proxy` is how this computer reaches the cloud (None: directly).
    `secret_store` chooses where the two secrets go (see `secret_store.py`);
    the store is chosen before the token is spent, so a refusal costs nothing.
    """
    if not url.startswith("https://"):
        raise InvalidInput("The cloud's address must start with https://.")
    token = token.strip()
    if not token:
        raise InvalidInput("Give the enrolment token from your administrator.")
    override = None
    if xmpp:
        try:
            override = split_host_port(xmpp, DEFAULT_XMPP_PORT)
        except ValueError:
            raise InvalidInput(f"--xmpp must be HOST:PORT, not {xmpp!r}.") from None
    if ca_file is not None:
        ca_file = _usable_ca(ca_file)
    # Keyring look-ups may block (D-Bus, an unlock prompt): not on the loop, a window's thread.
    store = await asyncio.to_thread(choose_store, secret_store, path.parent / SECRETS_FILE)
    tls = ssl.create_default_context(cafile=ca_file)
    async with CloudApi(url, tls, proxy=proxy) as api:
        enrolment = await api.enrol(token, kind, name)
    host, port = override or _xmpp_endpoint(enrolment)
    account = CloudAccount(
        url=url.rstrip("/"),
        device_id=enrolment.device_id,
        kind=enrolment.kind,
        jid=enrolment.jid,
        xmpp_host=host,
        xmpp_port=port,
        ca_file=ca_file,
        secrets_file=str(store.path.absolute()) if isinstance(store, FileStore) else None,
    )
    await asyncio.to_thread(
        account.save, path, secret=enrolment.secret, xmpp_password=enrolment.xmpp_password
    )
    return account


def _xmpp_endpoint(enrolment: Enrolment) -> tuple[str, int]:
    """Where XMPP listens: as the cloud said, else the JID's domain on 443 (XEP-0368's default)."""
    if enrolment.xmpp_host is not None and enrolment.xmpp_port is not None:
        return enrolment.xmpp_host, enrolment.xmpp_port
    return enrolment.jid.split("@", 1)[1], DEFAULT_XMPP_PORT


def _usable_ca(ca_file: str) -> str:
    """The CA file's absolute path (kept in the account), if it holds a certificate."""
    absolute = os.path.abspath(ca_file)
    try:
        ssl.create_default_context(cafile=absolute)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"Cannot use {absolute} as a CA certificate: {exc}.") from None
    return absolute
