"""slixmpp on a socket we open: the XMPP connection through a proxy tunnel.

Written against slixmpp 1.17 (checked on import). Private names used:
`XMLStream._attempt_connection` (overridden), `_connect_loop_wait` and
`_current_connection_attempt`.
"""

from __future__ import annotations

from . import require

require("slixmpp")

import asyncio
import logging
import socket
from typing import Any

from slixmpp import ClientXMPP

from montage_core.xmpp_session import SocketOpener

logger = logging.getLogger(__name__)


class TunnelledClientXMPP(ClientXMPP):
    """A client whose TCP connection comes from `open_socket` (e.g. a proxy tunnel).

    slixmpp has no proxy support and connects with `loop.create_connection(host,
    port)` in `XMLStream._attempt_connection`; that one method is replaced here
    (written against slixmpp 1.17) to hand the same call a ready socket
    (`sock=`), with TLS on top as before. Everything else is slixmpp's own.
    """

    def __init__(self, jid: str, password: str, open_socket: SocketOpener, **options: Any):
        super().__init__(jid, password, **options)
        self._open_socket = open_socket

    async def _attempt_connection(
        self, host: str, port: int, tls: bool, server_hostname: str | None
    ) -> bool:
        self.event_when_connected = "connected"
        self._connect_loop_wait += 1
        ssl_context = self.get_ssl_context() if tls else None
        if self._current_connection_attempt is None:
            return False
        sock: socket.socket | None = None
        try:
            sock = await self._open_socket(host, port)
            await self.loop.create_connection(
                lambda: self, sock=sock, ssl=ssl_context, server_hostname=server_hostname
            )
        except asyncio.CancelledError:
            if sock is not None:
                sock.close()
            raise
        except Exception as exc:  # the proxy's refusal (a sentence), or TLS/OS errors
            logger.debug("XMPP connection through the tunnel failed: %s", exc)
            if sock is not None:
                sock.close()
            self.event("connection_failed", exc)
            return False
        self._connect_loop_wait = 0
        return True
