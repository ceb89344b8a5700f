"""Which way each destination goes: DIRECT or through which proxy.

`ProxyResolver` turns the person's `ProxySettings` into an ordered list of
routes for one destination URL: the manual proxy, the answer of a PAC file
(pypac's parser; the file fetched by us with a short timeout), or the
system's settings (environment variables on Linux; on Windows and macOS the
OS settings as pypac and urllib read them).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
from pypac.parser import (  # type: ignore[import-untyped]  # pypac ships no types
    MalformedPacError,
    PACFile,
    parse_pac_value,
)

from .errors import InvalidProxySetting, PacUnavailable
from .settings import ProxyEndpoint, ProxyMode, ProxySettings, proxy_password

logger = logging.getLogger(__name__)

# A route is a proxy to go through, or None for DIRECT.
Route = ProxyEndpoint | None
DIRECT: Route = None

PAC_TIMEOUT = 5.0
PAC_MAX_BYTES = 1 << 20


def as_resolver(proxy: ProxySettings | ProxyResolver | None) -> ProxyResolver:
    """A resolver for `proxy` (None: direct); a resolver is kept, so its PAC file is
    fetched once however many connections use it."""
    if isinstance(proxy, ProxyResolver):
        return proxy
    return ProxyResolver(proxy or ProxySettings())


def route_name(route: Route) -> str:
    return "DIRECT" if route is None else str(route)


class ProxyResolver:
    """Routes per destination for one `ProxySettings`; the PAC file is fetched once."""

    def __init__(
        self,
        settings: ProxySettings,
        *,
        pac_timeout: float = PAC_TIMEOUT,
        environ: Mapping[str, str] | None = None,
        platform: str = sys.platform,
        password: str | None = None,
    ) -> None:
        """`password`, when given, is used for the settings' user instead of the keyring's
        (a password typed in the settings page and tested before it is saved)."""
        self.settings = settings
        self._password = password
        self.pac_timeout = pac_timeout
        self.environ = os.environ if environ is None else environ
        self.platform = platform
        self._pac: PACFile | None = None
        self._pac_looked_for = False  # WPAD finding nothing is an answer too: ask once
        self._pac_lock = asyncio.Lock()
        self._secrets: dict[tuple[str, str, int], str | None] = {}

    async def routes(self, url: str) -> tuple[Route, ...]:
        """Routes to try in order for `url` (e.g. "https://cloud:443/" or "tcp://host:5223")."""
        host = urlsplit(url).hostname or ""
        mode = self.settings.mode
        if mode is ProxyMode.NONE:
            routes: tuple[Route, ...] = (DIRECT,)
        elif mode in (ProxyMode.HTTP, ProxyMode.SOCKS5):
            routes = (self._with_password(self.settings.endpoint),)
        elif mode is ProxyMode.AUTO:
            routes = await self._pac_routes(url, host, self.settings.pac_url)
        else:
            routes = await self._system_routes(url, host)
        routes = tuple([await self._with_secret(route) for route in routes])
        logger.debug("routes for %s: %s", host, ", ".join(map(route_name, routes)))
        return routes

    async def _with_secret(self, route: Route) -> Route:
        """The route with its password attached, read once per proxy and user.

        Read here, in a worker thread, rather than when connecting: a keyring
        may block (D-Bus, an unlock prompt), and the event loop is also the
        window's thread.
        """
        if route is None or route.user is None or route.password is not None:
            return route
        key = (route.user, route.host, route.port)
        if key not in self._secrets:
            self._secrets[key] = await asyncio.to_thread(
                proxy_password, route.user, route.host, route.port, self.environ
            )
        found = self._secrets[key]
        return route if found is None else replace(route, password=found)

    def _with_password(self, endpoint: ProxyEndpoint | None) -> ProxyEndpoint | None:
        if endpoint is None or self._password is None or endpoint.user != self.settings.user:
            return endpoint
        return replace(endpoint, password=endpoint.password or self._password)

    def __repr__(self) -> str:  # the typed password stays out of any traceback
        return f"ProxyResolver({self.settings})"

    async def routes_for(self, host: str, port: int) -> tuple[Route, ...]:
        """Routes for a raw TCP destination; PAC files see it as an https URL,
        since what goes through is TLS (XMPP direct TLS, TURN over TLS, HTTPS)."""
        shown = f"[{host}]" if ":" in host else host
        return await self.routes(f"https://{shown}:{port}/")

    # -- PAC -------------------------------------------------------------------
    async def _pac_routes(self, url: str, host: str, pac_url: str | None) -> tuple[Route, ...]:
        pac = await self._load_pac(pac_url)
        if pac is None:
            return (DIRECT,)
        try:
            # The PAC's JavaScript may resolve names (dnsResolve, isInNet): keep it off the loop.
            answer = await asyncio.wait_for(
                asyncio.to_thread(pac.find_proxy_for_url, url, host), self.pac_timeout
            )
        except TimeoutError:
            raise PacUnavailable(
                f"The proxy auto-configuration file {_pac_name(pac_url)} did not decide a "
                f"route for {host} within {self.pac_timeout:g} seconds."
            ) from None
        except Exception as exc:  # dukpy raises its own JS errors
            logger.info("PAC FindProxyForURL failed: %s", exc)
            raise PacUnavailable(
                f"The proxy auto-configuration file {_pac_name(pac_url)} failed while choosing "
                f"a route for {host}: ask whoever runs it to check it."
            ) from None
        with warnings.catch_warnings():  # pypac warns on each entry it cannot read
            warnings.simplefilter("ignore")
            entries = parse_pac_value(str(answer or "DIRECT"))
        routes = [route for entry in entries for route in _route_from_url(entry)]
        user = self.settings.user
        if user is not None:
            # A PAC file names proxies but not who we are: the user from the
            # settings goes to every proxy it picks (password as for a manual one).
            routes = [
                r if r is None else self._with_password(replace(r, user=r.user or user))
                for r in routes
            ]
        return tuple(routes) or (DIRECT,)

    async def _load_pac(self, pac_url: str | None) -> PACFile | None:
        async with self._pac_lock:
            if not self._pac_looked_for:
                if pac_url is None:
                    self._pac = await self._discover_pac()
                else:
                    self._pac = _parse_pac(await self._fetch_pac(pac_url), pac_url)
                self._pac_looked_for = True
            return self._pac

    async def _fetch_pac(self, pac_url: str) -> str:
        # Fetched DIRECT: a PAC file cannot be behind the proxy it chooses.
        timeout = aiohttp.ClientTimeout(total=self.pac_timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.get(pac_url, allow_redirects=True) as response,
            ):
                if response.status != 200:
                    raise PacUnavailable(
                        f"The proxy auto-configuration file {pac_url} could not be fetched: "
                        f"the server answered {response.status} {response.reason or ''}".rstrip()
                        + "."
                    )
                body = await response.content.read(PAC_MAX_BYTES)
        except TimeoutError:
            raise PacUnavailable(
                f"The proxy auto-configuration file {pac_url} did not arrive within "
                f"{self.pac_timeout:g} seconds."
            ) from None
        except aiohttp.ClientError as exc:
            logger.info("PAC fetch failed: %r", exc)
            raise PacUnavailable(
                f"The proxy auto-configuration file {pac_url} could not be fetched "
                f"({_reason(exc)})."
            ) from None
        return body.decode("utf-8", "replace")

    async def _discover_pac(self) -> PACFile | None:
        """WPAD (and, on Windows/macOS, the OS's PAC setting) through pypac, in a thread:
        it uses blocking requests calls, each bounded by the timeout."""
        from pypac import get_pac  # type: ignore[import-untyped]

        os_settings = self.platform in ("win32", "darwin")
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(
                    get_pac,
                    from_os_settings=os_settings,
                    from_dns=True,
                    timeout=min(self.pac_timeout, 2.0),
                ),
                self.pac_timeout * 3,
            )
        except TimeoutError:
            logger.info("no PAC file found by WPAD in time; going direct")
            return None
        except MalformedPacError:
            raise PacUnavailable(
                "The proxy auto-configuration file found on this network cannot be read."
            ) from None

    # -- system settings -------------------------------------------------------
    async def _system_routes(self, url: str, host: str) -> tuple[Route, ...]:
        if self.platform in ("win32", "darwin"):
            # The OS may point at a PAC file; pypac reads that setting.
            pac = await self._load_pac(None)
            if pac is not None:
                return await self._pac_routes(url, host, None)
            proxies: Mapping[str, str] = urllib.request.getproxies()
            bypass = urllib.request.proxy_bypass(host)
        else:
            proxies = _environment_proxies(self.environ)
            bypass = bool(proxies.get("no")) and _bypass_environment(host, proxies=dict(proxies))
        if bypass:
            return (DIRECT,)
        wanted = ("http", "all") if url.startswith("http://") else ("https", "all")
        chosen = next((proxies[k] for k in wanted if proxies.get(k)), None)
        if chosen is None:
            return (DIRECT,)
        found = _route_from_url(chosen if "://" in chosen else f"http://{chosen}")
        if not found:
            raise InvalidProxySetting(
                "The system's proxy setting uses a kind of proxy Montage cannot use "
                "(only HTTP and SOCKS5): choose the proxy by hand."
            )
        return (found[0],)


def _bypass_environment(host: str, proxies: dict[str, str]) -> bool:
    # Public in urllib but missing from typeshed; NO_PROXY matching as curl does it.
    bypass: Any = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009
    return bool(bypass(host, proxies))


def _environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """Like urllib's getproxies_environment, for an injected environment;
    lower case wins, as in curl and urllib."""
    found: dict[str, str] = {}
    for key in ("https", "http", "all", "no"):
        for name in (f"{key}_proxy", f"{key.upper()}_PROXY"):
            value = environ.get(name, "").strip()
            if value:
                found[key] = value
                break
    return found


def _route_from_url(url: str) -> list[Route]:
    """A pypac/urllib proxy URL as a route; none for kinds we cannot use (SOCKS4, HTTPS)."""
    if url == "DIRECT":
        return [DIRECT]
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    kinds = {"http": "http", "socks5": "socks5", "socks5h": "socks5", "socks": "socks5"}
    try:
        port = parts.port
    except ValueError:
        port = None
    if scheme not in kinds or not parts.hostname:
        logger.warning("ignoring a proxy of a kind Montage cannot use: %s", parts.scheme)
        return []
    default = 1080 if kinds[scheme] == "socks5" else 8080
    endpoint = ProxyEndpoint(
        kinds[scheme],
        parts.hostname,
        port or default,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )
    return [endpoint]


def _parse_pac(text: str, pac_url: str) -> PACFile:
    try:
        return PACFile(text)
    except MalformedPacError as exc:
        logger.info("PAC file %s is malformed: %s", pac_url, exc)
        raise PacUnavailable(
            f"The proxy auto-configuration file {pac_url} is not a valid PAC file "
            "(no FindProxyForURL function that runs)."
        ) from None


def _pac_name(pac_url: str | None) -> str:
    return pac_url or "found on this network"


def _reason(exc: Any) -> str:
    os_error = getattr(exc, "os_error", None)
    if os_error is not None and getattr(os_error, "strerror", None):
        return str(os_error.strerror).lower()
    return type(exc).__name__
