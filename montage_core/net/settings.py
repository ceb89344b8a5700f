"""Which proxy to use: the `ProxySettings` model, its command-line form, and its password.

The password is never part of the settings (nor of the command line, where
process lists and shell history would show it): it comes from the
environment variable MONTAGE_PROXY_PASSWORD or the OS keyring.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import quote, unquote, urlsplit

import keyring
import keyring.errors

from .errors import InvalidProxySetting

logger = logging.getLogger(__name__)

PASSWORD_ENV = "MONTAGE_PROXY_PASSWORD"
KEYRING_SERVICE = "montage-proxy"

FORMS = (
    "none, system, auto (WPAD), http://[user@]host:port, socks5://[user@]host:port or "
    "pac+https://host/proxy.pac"
)


class ProxyMode(StrEnum):
    NONE = "none"  # always direct
    SYSTEM = "system"  # the OS settings (on Linux: HTTPS_PROXY, ALL_PROXY, NO_PROXY)
    AUTO = "auto"  # a PAC file: from `pac_url`, or found by WPAD when it is None
    HTTP = "http"  # HTTP CONNECT
    SOCKS5 = "socks5"


@dataclass(frozen=True)
class ProxyEndpoint:
    """One proxy to go through. `password` is set only when it came with the URL
    (a system setting such as HTTPS_PROXY=http://user:pw@host:port)."""

    scheme: str  # "http" or "socks5"
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)

    def __str__(self) -> str:
        kind = "HTTP" if self.scheme == "http" else "SOCKS5"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{kind} proxy {host}:{self.port}"

    def secret(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The password for `user`, or None when there is no user or no password to be found."""
        if self.user is None:
            return None
        if self.password is not None:
            return self.password
        return proxy_password(self.user, self.host, self.port, environ)


@dataclass(frozen=True)
class ProxySettings:
    """The person's choice; `host`, `port`, `user` for HTTP/SOCKS5, `pac_url` for AUTO."""

    mode: ProxyMode = ProxyMode.NONE
    host: str = ""
    port: int = 0
    user: str | None = None
    pac_url: str | None = None

    @classmethod
    def parse(cls, text: str) -> ProxySettings:
        """Read the command-line form (`FORMS`); InvalidProxySetting says what is wrong."""
        spec = text.strip()
        lowered = spec.lower()
        if lowered in ("none", "system"):
            return cls(ProxyMode(lowered))
        if lowered == "auto":  # a PAC file found by WPAD
            return cls(ProxyMode.AUTO)
        if lowered.startswith(("pac+http://", "pac+https://")):
            pac_url = spec[len("pac+") :]
            if not urlsplit(pac_url).hostname:
                raise InvalidProxySetting(f"The PAC address {pac_url!r} names no host.")
            return cls(ProxyMode.AUTO, pac_url=pac_url)
        if lowered.startswith(("http://", "socks5://")):
            return cls._manual(spec)
        raise InvalidProxySetting(
            f"{_shown(spec)!r} is not a proxy setting Montage understands: use {FORMS}."
        )

    @classmethod
    def _manual(cls, spec: str) -> ProxySettings:
        parts = urlsplit(spec)
        if parts.password is not None:
            # Refused rather than used: it is already in the shell history, but
            # accepting it would teach people to keep doing it.
            raise InvalidProxySetting(
                "Do not put the proxy password in the proxy setting: store it in the "
                f"keyring or set {PASSWORD_ENV}."
            )
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None or port == 0:
            raise InvalidProxySetting(
                f"{_shown(spec)!r} needs the proxy's host and port, e.g. "
                f"{parts.scheme}://proxy.example.org:{3128 if parts.scheme == 'http' else 1080}."
            )
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise InvalidProxySetting(
                f"{_shown(spec)!r} has a path; a proxy setting is only "
                f"{parts.scheme}://[user@]host:port."
            )
        user = unquote(parts.username) if parts.username else None
        return cls(ProxyMode(parts.scheme.lower()), parts.hostname, port, user)

    @property
    def endpoint(self) -> ProxyEndpoint | None:
        """The manual proxy (HTTP or SOCKS5), or None for the other modes."""
        if self.mode in (ProxyMode.HTTP, ProxyMode.SOCKS5):
            return ProxyEndpoint(self.mode.value, self.host, self.port, self.user)
        return None

    def __str__(self) -> str:
        """The command-line form; it never holds a password."""
        if self.mode is ProxyMode.AUTO:
            return f"pac+{self.pac_url}" if self.pac_url else "auto"
        if self.endpoint is not None:
            user = f"{quote(self.user, safe='')}@" if self.user else ""
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"{self.mode.value}://{user}{host}:{self.port}"
        return self.mode.value


def keyring_name(user: str, host: str, port: int) -> str:
    """The keyring entry's user name: one password per proxy and user."""
    return f"{user}@{host}:{port}"


def proxy_password(
    user: str, host: str, port: int, environ: Mapping[str, str] | None = None
) -> str | None:
    """MONTAGE_PROXY_PASSWORD if set (scripts, CI), else the OS keyring's entry."""
    env = os.environ if environ is None else environ
    if env.get(PASSWORD_ENV):
        return env[PASSWORD_ENV]
    try:
        return keyring.get_password(KEYRING_SERVICE, keyring_name(user, host, port))
    except keyring.errors.KeyringError as exc:  # no keyring on a bare server
        logger.info("no keyring to read the proxy password from: %s", type(exc).__name__)
        return None


def store_proxy_password(user: str, host: str, port: int, password: str) -> None:
    keyring.set_password(KEYRING_SERVICE, keyring_name(user, host, port), password)


def _shown(spec: str) -> str:
    """The setting as it may appear in a message: anything after a ':' in the user part
    could be a password typed by mistake, so it is cut out."""
    scheme, sep, rest = spec.partition("://")
    if sep and "@" in rest:
        userinfo, _, hostpart = rest.rpartition("@")
        return f"{scheme}://{userinfo.split(':', 1)[0]}@{hostpart}"
    return spec
