"""Render the Prosody and coturn configuration templates in `deploy/`.

One settings dataclass per server; `render()` fills the template and refuses
to leave a placeholder unfilled. Production and the loopback dev/test setup
use the same templates: only the values differ (ports, certificates,
`run_as_root`, which relay peers are allowed).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

# The repository's deploy/ directory. An installed wheel does not carry it:
# production renders from a checkout (see docs/deploy.md).
DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
PROSODY_TEMPLATE = DEPLOY_DIR / "prosody" / "prosody.cfg.lua.template"
PROSODY_MODULES = DEPLOY_DIR / "prosody" / "modules"
COTURN_TEMPLATE = DEPLOY_DIR / "coturn" / "turnserver.conf.template"

# Peers a production relay must not reach: this host, private networks, link-
# local, carrier-grade NAT and other special ranges (RFC 6890). Without this a
# TURN allocation is a free tunnel into the operator's own network.
PRODUCTION_DENIED_PEERS: tuple[str, ...] = (
    "0.0.0.0-0.255.255.255",
    "10.0.0.0-10.255.255.255",
    "100.64.0.0-100.127.255.255",
    "127.0.0.0-127.255.255.255",
    "169.254.0.0-169.254.255.255",
    "172.16.0.0-172.31.255.255",
    "192.0.0.0-192.0.0.255",
    "192.0.2.0-192.0.2.255",
    "192.88.99.0-192.88.99.255",
    "192.168.0.0-192.168.255.255",
    "198.18.0.0-198.19.255.255",
    "198.51.100.0-198.51.100.255",
    "203.0.113.0-203.0.113.255",
    "240.0.0.0-255.255.255.255",
    "::1",
    "64:ff9b::-64:ff9b::ffff:ffff",
    "::ffff:0.0.0.0-::ffff:255.255.255.255",
    "100::-100::ffff:ffff:ffff:ffff",
    "2001::-2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
    "2002::-2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
)


class TemplateError(ValueError):
    """A template or a value that cannot be rendered into a working config."""


def _fill(template: Path, values: dict[str, str]) -> str:
    try:
        return string.Template(template.read_text(encoding="utf-8")).substitute(values)
    except KeyError as exc:
        raise TemplateError(f"{template.name}: no value for placeholder {exc}") from exc


def _lua_string(value: str) -> str:
    # Values land inside "..." in Lua; refuse what would break out of them.
    if any(ch in value for ch in '"\\\n\r'):
        raise TemplateError(f"unsafe character in Prosody setting {value!r}")
    return value


def _lua_list(values: Sequence[str | int]) -> str:
    return "; ".join(str(v) if isinstance(v, int) else f'"{_lua_string(v)}"' for v in values)


def _conf_value(value: str) -> str:
    # coturn reads one option per line; a newline would inject another option.
    if any(ch in value for ch in "\n\r") or not value:
        raise TemplateError("empty value or line break in a coturn setting")
    return value


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a file others cannot read (it may hold a secret); never world-readable."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode & 0o770)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), mode & 0o770)  # also when the file already existed
        f.write(text)


@dataclass(frozen=True)
class ProsodySettings:
    """Values for deploy/prosody/prosody.cfg.lua.template."""

    domain: str
    admin_jid: str
    certificate: Path
    key: Path
    data_dir: Path
    pid_file: Path
    log_file: Path
    certificates_dir: Path = Path("/etc/prosody/certs")
    plugin_dir: Path = PROSODY_MODULES
    c2s_direct_tls_ports: Sequence[int] = (443, 5223)
    interfaces: Sequence[str] = ("*",)
    log_level: str = "info"
    # Only for throw-away dev/test servers: CI runs everything as root.
    run_as_root: bool = False
    template: Path = PROSODY_TEMPLATE

    def render(self) -> str:
        if not self.c2s_direct_tls_ports:
            raise TemplateError("Prosody needs at least one direct TLS port")
        return _fill(
            self.template,
            {
                "run_as_root": "true" if self.run_as_root else "false",
                "pid_file": _lua_string(str(self.pid_file)),
                "data_dir": _lua_string(str(self.data_dir)),
                "log_level": _lua_string(self.log_level),
                "log_file": _lua_string(str(self.log_file)),
                "admin_jid": _lua_string(self.admin_jid),
                "c2s_direct_tls_ports": _lua_list(list(self.c2s_direct_tls_ports)),
                "interfaces": _lua_list(list(self.interfaces)),
                "certificate": _lua_string(str(self.certificate)),
                "key": _lua_string(str(self.key)),
                "certificates_dir": _lua_string(str(self.certificates_dir)),
                "plugin_dir": _lua_string(str(self.plugin_dir)),
                "domain": _lua_string(self.domain),
            },
        )


@dataclass(frozen=True)
class CoturnSettings:
    """Values for deploy/coturn/turnserver.conf.template."""

    realm: str
    static_auth_secret: str = field(repr=False)
    certificate: Path
    key: Path
    pid_file: Path
    log_file: Path
    userdb: Path
    listening_ips: Sequence[str] = ()
    relay_ips: Sequence[str] = ()
    # "public" or "public/private" when coturn sits behind 1:1 NAT (cloud VMs).
    external_ips: Sequence[str] = ()
    listening_port: int = 3478
    tls_listening_port: int = 443
    min_port: int = 49152
    max_port: int = 65535
    user_quota: int = 12
    total_quota: int = 1200
    # Only for throw-away loopback tests: lets the relay reach 127.0.0.1.
    allow_loopback_peers: bool = False
    denied_peers: Sequence[str] = PRODUCTION_DENIED_PEERS
    template: Path = COTURN_TEMPLATE

    def _peer_policy(self) -> str:
        lines = []
        for peer in self.denied_peers:
            if self.allow_loopback_peers and _is_loopback_range(peer):
                # A denied range wins over allow-loopback-peers in coturn.
                continue
            lines.append(f"denied-peer-ip={_conf_value(peer)}")
        if self.allow_loopback_peers:
            lines.append("allow-loopback-peers")
        return "\n".join(lines)

    def render(self) -> str:
        if len(self.static_auth_secret) < 16:
            raise TemplateError("the TURN shared secret is too short (at least 16 characters)")
        if self.min_port > self.max_port:
            raise TemplateError("coturn min-port is above max-port")

        def lines(option: str, values: Sequence[str]) -> str:
            return "\n".join(f"{option}={_conf_value(v)}" for v in values)

        return _fill(
            self.template,
            {
                "static_auth_secret": _conf_value(self.static_auth_secret),
                "realm": _conf_value(self.realm),
                "listening_ips": lines("listening-ip", self.listening_ips),
                "relay_ips": lines("relay-ip", self.relay_ips),
                "external_ips": lines("external-ip", self.external_ips),
                "listening_port": str(self.listening_port),
                "tls_listening_port": str(self.tls_listening_port),
                "certificate": _conf_value(str(self.certificate)),
                "key": _conf_value(str(self.key)),
                "min_port": str(self.min_port),
                "max_port": str(self.max_port),
                "user_quota": str(self.user_quota),
                "total_quota": str(self.total_quota),
                "peer_policy": self._peer_policy(),
                "pid_file": _conf_value(str(self.pid_file)),
                "log_file": _conf_value(str(self.log_file)),
                "userdb": _conf_value(str(self.userdb)),
            },
        )


def _is_loopback_range(peer: str) -> bool:
    first = peer.split("-", 1)[0]
    try:
        return ipaddress.ip_address(first).is_loopback
    except ValueError:
        return False
