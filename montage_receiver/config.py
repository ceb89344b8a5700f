"""The receiver's settings, declared once with their defaults."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

from montage_core.cloud.secret_store import SecretStoreChoice
from montage_core.net import ProxySettings
from montage_core.protocol.messages import DEFAULT_PORT, MAX_NAME_CHARS

from .guarded_listener import StrangerLimits


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "montage-receiver"


def fresh_pin() -> str:
    return f"{secrets.randbelow(10_000):04d}"


def default_name() -> str:
    # Hostnames can exceed what the protocol carries as a room name.
    return socket.gethostname()[:MAX_NAME_CHARS]


@dataclass
class ReceiverConfig:
    name: str = field(default_factory=default_name)
    bind: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    # None: no PIN asked. Default: a fresh PIN for every meeting.
    pin: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    max_presenters: int = 4
    stats_interval: float = 1.0
    # Show the 10-digit local ID even when enrolled with a cloud.
    force_local: bool = False
    # False: never talk to a cloud (an enrolment is kept but not used).
    cloud: bool = True
    # Announce the room on the local network (mDNS/DNS-SD, docs/protocol.md).
    advertise: bool = True
    # Where a cloud enrolment's secrets go (montage_core/cloud/secret_store.py).
    secret_store: SecretStoreChoice = SecretStoreChoice.AUTO
    # How the cloud is reached (REST, XMPP, TURN); the password is in the keyring.
    proxy: ProxySettings = field(default_factory=lambda: ProxySettings.parse("system"))
    # How long a connection may take to say hello, how many one address may have in set-up.
    limits: StrangerLimits = field(default_factory=StrangerLimits)
