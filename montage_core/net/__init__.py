"""Every outbound TCP connection's way out: direct, or through an HTTP, SOCKS5 or PAC proxy.

`ProxySettings` is the person's choice; `ProxyResolver` decides the route per
destination; `open_tunnel` gives a connected socket for XMPP and TURN over
TLS; `proxied_session` gives an aiohttp session for REST. See docs/proxies.md.
"""

from .errors import (
    ConnectFailed,
    InvalidProxySetting,
    PacUnavailable,
    ProxyAuthRefused,
    ProxyCannotReach,
    ProxyDenied,
    ProxyProblem,
    ProxyTimeout,
    ProxyUnreachable,
)
from .http import proxied_session
from .routes import DIRECT, ProxyResolver, Route, as_resolver
from .settings import PASSWORD_ENV, ProxyEndpoint, ProxyMode, ProxySettings, store_proxy_password
from .tunnel import connect_through, open_tunnel

__all__ = [
    "DIRECT",
    "PASSWORD_ENV",
    "ConnectFailed",
    "InvalidProxySetting",
    "PacUnavailable",
    "ProxyAuthRefused",
    "ProxyCannotReach",
    "ProxyDenied",
    "ProxyEndpoint",
    "ProxyMode",
    "ProxyProblem",
    "ProxyResolver",
    "ProxySettings",
    "ProxyTimeout",
    "ProxyUnreachable",
    "Route",
    "as_resolver",
    "connect_through",
    "open_tunnel",
    "proxied_session",
    "store_proxy_password",
]
