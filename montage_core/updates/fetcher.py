"""python-tuf's transport, through the person's proxy (montage_core.net).

python-tuf's client is synchronous and calls `_fetch` for every file; it
runs in a worker thread (never on the window's loop). This fetcher gives
that thread a private asyncio loop and an aiohttp session made by
`proxied_session`, so metadata and releases take the same route as REST:
HTTP CONNECT with Basic auth, SOCKS5, PAC. It only moves bytes: every
check is python-tuf's.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import aiohttp
from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient import FetcherInterface

from montage_core.net import ProxyResolver, ProxySettings, proxied_session

logger = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
T = TypeVar("T")


class DownloadCut(ConnectionError):
    """The connection closed before the whole file arrived."""


class ProxiedFetcher(FetcherInterface):
    """Fetches `base_url`'s files; use from one thread, then `close()`."""

    def __init__(
        self,
        base_url: str,
        proxy: ProxySettings | ProxyResolver,
        *,
        ca_file: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.base_url = base_url
        self._proxy = proxy
        self._tls = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self._timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._session: aiohttp.ClientSession | None = None
        # Told about each chunk of a release's download (progress for the person).
        self.on_bytes: Callable[[int], None] | None = None

    def _fetch(self, url: str) -> Iterator[bytes]:
        response = self._run(self._open(url))  # connection errors surface here, wrapped
        return self._chunks(response)

    def _chunks(self, response: aiohttp.ClientResponse) -> Iterator[bytes]:
        try:
            while chunk := self._run(response.content.read(CHUNK_BYTES)):
                if self.on_bytes is not None:
                    self.on_bytes(len(chunk))
                yield chunk
        except aiohttp.ClientError as exc:  # the server went away mid-file
            raise DownloadCut(str(response.url)) from exc
        finally:
            response.release()

    async def _open(self, url: str) -> aiohttp.ClientResponse:
        if self._session is None:
            self._session = await proxied_session(
                self.base_url, self._proxy, timeout=self._timeout, tls=self._tls
            )
        # No total limit: a large release on a slow line may take minutes; a
        # stalled connection still ends after `timeout` seconds without data.
        limits = aiohttp.ClientTimeout(
            total=None, sock_connect=self._timeout, sock_read=self._timeout
        )
        try:
            response = await self._session.get(url, timeout=limits)
        except aiohttp.ClientError as exc:
            raise ConnectionError(str(exc) or type(exc).__name__) from exc
        if response.status >= 400:
            response.release()
            raise DownloadHTTPError(f"{url} answered {response.status}", response.status)
        return response

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coroutine)

    def close(self) -> None:
        if self._session is not None:
            self._run(self._session.close())
            self._session = None
        self._loop.close()
