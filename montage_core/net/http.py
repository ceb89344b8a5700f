"""aiohttp sessions whose requests take the same route as `open_tunnel`.

HTTP proxies use aiohttp's own `proxy=` (CONNECT for https, absolute-URI
requests for http) with the Basic credentials in Proxy-Authorization, set by
a client middleware so they never reach the destination server. SOCKS5 uses
aiohttp-socks' ProxyConnector. Either way the middleware turns the proxy's
refusals into our `ProxyProblem` sentences. The route is chosen once, for
the session's base URL: a session talks to one service.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

import aiohttp
import aiohttp_socks
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from multidict import CIMultiDict
from python_socks import ProxyType

from .errors import ProxyProblem
from .refusals import auth_refused, http_refusal, os_reason, refusal, timed_out, unreachable
from .routes import ProxyResolver, as_resolver, route_name
from .settings import ProxyEndpoint, ProxySettings

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


async def proxied_session(
    base_url: str,
    settings: ProxySettings | ProxyResolver,
    *,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109  # bounds more than one await
    tls: ssl.SSLContext | None = None,
    **session_options: Any,
) -> aiohttp.ClientSession:
    """A ClientSession for `base_url` through the route the settings choose for it."""
    resolver = as_resolver(settings)
    routes = await resolver.routes(base_url)
    route = routes[0]  # no fail-over mid-session; open_tunnel does that for raw sockets
    logger.debug("REST to %s via %s", base_url, route_name(route))
    limits = aiohttp.ClientTimeout(total=timeout, sock_connect=timeout)
    # aiohttp wants a base with a path to end in "/"; requests then name paths
    # relative to it ("v1/netcheck"), or use absolute URLs.
    base = base_url if base_url.endswith("/") else base_url + "/"
    common: dict[str, Any] = {"base_url": base, "timeout": limits, **session_options}
    if route is None:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls or True), **common)
    password = route.secret()
    middleware = _ProxyMiddleware(route, password, timeout)
    if route.scheme == "http":
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls or True),
            proxy=f"http://{_bracketed(route.host)}:{route.port}",
            middlewares=(middleware,),
            **common,
        )
    connector = aiohttp_socks.ProxyConnector(
        route.host,
        route.port,
        ProxyType.SOCKS5,
        username=route.user if password is not None else None,
        password=password,
        rdns=True,
        ssl=tls or True,
    )
    return aiohttp.ClientSession(connector=connector, middlewares=(middleware,), **common)


class _ProxyMiddleware:
    """Adds the proxy's credentials and says in words what the proxy refused."""

    def __init__(self, proxy: ProxyEndpoint, password: str | None, timeout: float) -> None:
        self.proxy = proxy
        self._password = password
        self.timeout = timeout

    def __repr__(self) -> str:  # the password stays out of any traceback
        return f"_ProxyMiddleware({self.proxy})"

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        url = request.url
        destination = f"{url.host}:{url.port}"
        if self.proxy.scheme == "http" and self.proxy.user and self._password is not None:
            credentials = aiohttp.encode_basic_auth(self.proxy.user, self._password)
            if request.is_ssl():  # goes in the CONNECT, which only the proxy sees
                headers: CIMultiDict[str] = CIMultiDict(request.proxy_headers or {})
                headers["Proxy-Authorization"] = credentials
                request.proxy_headers = headers
            else:  # a plain request is sent to the proxy itself, which strips the header
                request.headers["Proxy-Authorization"] = credentials
        try:
            response = await handler(request)
        except ProxyProblem:
            raise
        except aiohttp.ClientHttpProxyError as exc:  # CONNECT refused (https)
            raise http_refusal(
                self.proxy, exc.status, exc.message, destination, self._password is not None
            ) from None
        except aiohttp.ClientProxyConnectionError as exc:
            raise unreachable(self.proxy, os_reason(exc.os_error)) from None
        except aiohttp_socks.ProxyConnectionError as exc:
            logger.info("SOCKS5 proxy unreachable: %s", exc)
            raise unreachable(self.proxy, _socks_why(str(exc))) from None
        except aiohttp_socks.ProxyTimeoutError:
            raise timed_out(self.proxy, self.timeout, destination) from None
        except aiohttp_socks.ProxyError as exc:
            raise refusal(
                self.proxy, str(exc), exc.error_code, destination, self._password is not None
            ) from None
        except TimeoutError:
            raise timed_out(self.proxy, self.timeout, destination) from None
        if response.status == 407:
            # Plain-http requests go through the proxy as requests, not CONNECT, so its
            # refusal arrives as a response; only a proxy ever answers 407.
            response.release()
            raise auth_refused(self.proxy, self._password is not None)
        return response


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _socks_why(message: str) -> str:
    # aiohttp-socks keeps only python-socks' text: "... [Connection refused]".
    if "[" in message and message.endswith("]"):
        return message.rsplit("[", 1)[1].rstrip("]").lower()
    return "no answer"
