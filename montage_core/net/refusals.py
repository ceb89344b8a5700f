"""What a proxy's refusal means for the person: python-socks / aiohttp answers → our errors.

Shared by the tunnel (python-socks) and REST (aiohttp, aiohttp-socks) paths so
both say the same sentence for the same refusal. Written against
python-socks 3.2 and aiohttp-socks 0.12, whose SOCKS5 authentication failures
carry no code, only the text matched below.
"""

from __future__ import annotations

import os

from .errors import (
    ProxyAuthRefused,
    ProxyCannotReach,
    ProxyDenied,
    ProxyProblem,
    ProxyTimeout,
    ProxyUnreachable,
)
from .settings import PASSWORD_ENV, ProxyEndpoint

# RFC 1928 reply codes that mean "I will not" rather than "I could not".
SOCKS_NOT_ALLOWED = 2
SOCKS_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


def os_reason(exc: BaseException | None) -> str:
    """ "connection refused", from the errno: asyncio's messages carry addresses instead."""
    number = getattr(exc, "errno", None)
    if isinstance(number, int) and number > 0:
        return os.strerror(number).lower()
    return (getattr(exc, "strerror", None) or "no answer").lower()


def unreachable(proxy: ProxyEndpoint, why: str) -> ProxyUnreachable:
    return ProxyUnreachable(
        f"The {proxy} could not be reached ({why}). Check the proxy's address and port "
        "in the proxy settings, or ask your network administrator.",
        str(proxy),
    )


def timed_out(proxy: ProxyEndpoint, seconds: float, destination: str) -> ProxyTimeout:
    return ProxyTimeout(
        f"The {proxy} did not open a connection to {destination} within {seconds:g} seconds.",
        str(proxy),
    )


def auth_refused(proxy: ProxyEndpoint, password_given: bool) -> ProxyAuthRefused:
    if proxy.user is None:
        text = (
            f"The {proxy} asks for a user name and password: give the user in the proxy "
            f"setting ({proxy.scheme}://user@{proxy.host}:{proxy.port})."
        )
    elif not password_given:
        text = (
            f"The {proxy} asks for a password for user {proxy.user!r} and none was found: "
            f"store it in the keyring (Settings › Proxy) or set {PASSWORD_ENV}."
        )
    else:
        text = f"The {proxy} refused the user name {proxy.user!r} or its password."
    return ProxyAuthRefused(text, str(proxy))


def http_refusal(
    proxy: ProxyEndpoint, status: int, reason: str, destination: str, password_given: bool
) -> ProxyProblem:
    """A CONNECT answered with `status` instead of 200."""
    said = f"HTTP {status} {reason}".rstrip()
    if status == 407:
        return auth_refused(proxy, password_given)
    if status in (502, 503, 504):
        return ProxyCannotReach(f"The {proxy} could not reach {destination} ({said}).", str(proxy))
    return ProxyDenied(
        f"The {proxy} refused to open a connection to {destination} ({said}).", str(proxy)
    )


def socks_refusal(
    proxy: ProxyEndpoint, message: str, code: int | None, destination: str, password_given: bool
) -> ProxyProblem:
    """A SOCKS5 handshake that failed with python-socks' `message` / reply `code`."""
    lowered = message.lower()
    if "authentication failure" in lowered or "no acceptable authentication" in lowered:
        return auth_refused(proxy, password_given)
    if code == SOCKS_NOT_ALLOWED:
        return ProxyDenied(
            f"The {proxy} refused to open a connection to {destination} "
            f"(SOCKS5: {SOCKS_REPLIES[code]}).",
            str(proxy),
        )
    if code in SOCKS_REPLIES:
        return ProxyCannotReach(
            f"The {proxy} could not reach {destination} (SOCKS5: {SOCKS_REPLIES[code]}).",
            str(proxy),
        )
    return ProxyDenied(
        f"The {proxy} did not open a connection to {destination} ({message}).", str(proxy)
    )


def refusal(
    proxy: ProxyEndpoint, message: str, code: int | None, destination: str, password_given: bool
) -> ProxyProblem:
    """python-socks' ProxyError for either kind of proxy."""
    if proxy.scheme == "http" and code is not None:
        reason = message.split(" ", 1)[1] if " " in message else ""
        return http_refusal(proxy, code, reason, destination, password_given)
    return socks_refusal(proxy, message, code, destination, password_given)
