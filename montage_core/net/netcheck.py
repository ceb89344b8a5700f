"""Say in words what works on the way to the cloud (`montage-client netcheck`, "Test connection").

Each step is one line: which route the cloud gets, whether the proxy answers,
whether it accepts our credentials (a tunnel to the cloud's port), whether
the cloud's REST API answers through it (`GET /v1/netcheck`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp

from montage_core.protocol.errors import MontageError

from .errors import ProxyAuthRefused, ProxyDenied, ProxyProblem
from .http import proxied_session
from .probes import Finding, turn_answers, xmpp_answers
from .refusals import os_reason
from .routes import ProxyResolver, Route, as_resolver
from .settings import ProxySettings
from .tunnel import open_tunnel

if TYPE_CHECKING:
    from montage_core.cloud.account import CloudAccount

logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0


async def netcheck(
    settings: ProxySettings | ProxyResolver,
    cloud_url: str | None,
    *,
    timeout: float = CHECK_TIMEOUT,  # noqa: ASYNC109  # seconds per step
    tls: ssl.SSLContext | None = None,
    xmpp: tuple[str, int] | None = None,
    xmpp_domain: str | None = None,
    turn: tuple[str, int] | None = None,
) -> list[Finding]:
    """The report for reaching `cloud_url` (and the XMPP service at `xmpp`) via `settings`."""
    resolver = as_resolver(settings)
    settings = resolver.settings
    findings: list[Finding] = []
    if cloud_url is None:
        findings.append(Finding(None, f"Proxy setting: {settings}."))
        endpoint = settings.endpoint
        if endpoint is not None:  # a manual proxy can be checked without a destination
            findings.append(await _proxy_answers(endpoint, timeout))
        findings.append(
            Finding(
                None,
                "Cloud: not checked (this computer is not enrolled with a cloud; "
                "on the command line, --cloud URL names one).",
            )
        )
        return findings
    parts = urlsplit(cloud_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        routes = await resolver.routes(cloud_url)
    except MontageError as exc:
        return [Finding(False, str(exc))]
    route = routes[0]
    findings.append(Finding(None, f"Proxy setting: {settings}; the cloud goes {_via(route)}."))
    tunnel_ok = True
    if route is not None:
        answers = await _proxy_answers(route, timeout)
        findings.append(answers)
        tunnel_ok = answers.ok is True
        if tunnel_ok:
            tunnel = await _tunnel(host, port, resolver, route, timeout)
            tunnel_ok = tunnel.ok is True
            findings.append(tunnel)
    if tunnel_ok:
        findings.append(await _rest(cloud_url, resolver, route, timeout, tls))
    else:
        findings.append(Finding(None, "Cloud REST: not checked (the proxy step above failed)."))
    if xmpp is None:
        findings.append(
            Finding(None, "XMPP: not checked (no XMPP service known: --xmpp HOST:PORT).")
        )
    else:
        domain = xmpp_domain or xmpp[0]
        findings.append(await xmpp_answers(*xmpp, domain, resolver, timeout, tls))
    if turn is None:
        findings.append(
            Finding(None, "TURN: not checked (the cloud named no TURN over TLS server).")
        )
    else:
        findings.append(await turn_answers(*turn, resolver, timeout, tls))
    return findings


async def netcheck_account(
    settings: ProxySettings | ProxyResolver,
    account: CloudAccount,
    *,
    timeout: float = CHECK_TIMEOUT,  # noqa: ASYNC109  # seconds per step
) -> list[Finding]:
    """The report for this computer's enrolled cloud: REST, its XMPP service, and the
    TURN over TLS server the cloud hands out (asked for through the same route)."""
    from montage_core.cloud.api import CloudApi

    resolver = as_resolver(settings)
    tls = account.tls()
    turn: tuple[str, int] | None = None
    try:
        secret = await asyncio.to_thread(account.secret)  # the keyring may block
        async with CloudApi(account.url, tls, secret, proxy=resolver) as api:
            credentials = await asyncio.wait_for(api.turn(), timeout)
        turn = credentials.turns_endpoint
    except (MontageError, TimeoutError) as exc:  # the REST step below says what failed
        logger.info("no TURN server to check: %s", exc)
    return await netcheck(
        resolver,
        account.url,
        timeout=timeout,
        tls=tls,
        xmpp=(account.xmpp_host, account.xmpp_port),
        xmpp_domain=account.jid.partition("@")[2],
        turn=turn,
    )


def _via(route: Route) -> str:
    return "direct (no proxy)" if route is None else f"through the {route}"


async def _proxy_answers(route: Route, seconds: float) -> Finding:
    assert route is not None
    try:
        async with asyncio.timeout(seconds):
            _reader, writer = await asyncio.open_connection(route.host, route.port)
    except TimeoutError:
        return Finding(False, f"The {route} did not answer within {seconds:g} seconds.")
    except OSError as exc:
        return Finding(False, f"The {route} could not be reached ({os_reason(exc)}).")
    writer.close()
    return Finding(True, f"The {route} is reachable.")


async def _tunnel(
    host: str, port: int, resolver: ProxyResolver, route: Route, seconds: float
) -> Finding:
    assert route is not None
    try:
        sock = await open_tunnel(host, port, resolver, timeout=seconds)
    except ProxyAuthRefused as exc:
        return Finding(False, f"Proxy authentication refused: {exc}")
    except ProxyDenied as exc:  # squid refuses a port before it asks who we are
        return Finding(False, f"Proxy tunnel refused: {exc}")
    except MontageError as exc:
        return Finding(False, str(exc))
    sock.close()
    what = "authentication accepted" if route.user else "no authentication needed"
    return Finding(True, f"Proxy {what}; it opens a tunnel to {host}:{port}.")


async def _rest(
    cloud_url: str,
    resolver: ProxyResolver,
    route: Route,
    seconds: float,
    tls: ssl.SSLContext | None,
) -> Finding:
    where = "through the proxy" if route is not None else "directly"
    try:
        async with (
            await proxied_session(cloud_url, resolver, timeout=seconds, tls=tls) as http,
            http.get("v1/netcheck") as response,
        ):
            body = await response.json(content_type=None) if response.status == 200 else {}
            status = response.status
    except ProxyProblem as exc:
        return Finding(False, f"Cloud REST not reachable: {exc}")
    except TimeoutError:
        return Finding(False, f"Cloud REST did not answer {where} within {seconds:g} seconds.")
    except aiohttp.ClientConnectorDNSError:
        host = urlsplit(cloud_url).hostname
        return Finding(False, f"Cloud REST not reachable {where}: no address found for {host}.")
    except aiohttp.ClientConnectorError as exc:
        return Finding(False, f"Cloud REST not reachable {where} ({os_reason(exc.os_error)}).")
    except (aiohttp.ClientError, ValueError) as exc:
        logger.info("netcheck REST failed: %r", exc)
        return Finding(False, f"Cloud REST not reachable {where} ({type(exc).__name__}).")
    if status == 200 and isinstance(body, dict) and body.get("service") == "montage-cloud":
        return Finding(True, f"Cloud REST reachable {where} ({cloud_url}).")
    return Finding(
        False,
        f"Something other than the Montage cloud answered {where} (HTTP {status}): "
        "a proxy or captive portal may be in the way.",
    )
