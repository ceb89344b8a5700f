"""Run the API until SIGINT/SIGTERM: open storage, listen (TLS optional), print a ready line."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from montage_cloud.api import make_app
from montage_cloud.guest_bridge import BridgeLogin, GuestBridge
from montage_cloud.guests import GuestRules, GuestService
from montage_cloud.service import CloudConfig, CloudService
from montage_cloud.storage import open_storage
from montage_cloud.xmpp_admin import XmppAdmin, default_xmpp_admin

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    database: str
    config: CloudConfig
    tls_cert: Path | None = None
    tls_key: Path | None = None
    updates: Path | None = None  # the update repository served at /updates/


def _tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def serve(
    options: ServeOptions,
    xmpp: XmppAdmin | None = None,
    *,
    randbelow: Callable[[int], int] = secrets.randbelow,
    stop: asyncio.Event | None = None,
    bridge: BridgeLogin | None = None,
    guest_rules: GuestRules | None = None,
) -> None:
    """Serve until `stop` is set or, without one, until SIGINT or SIGTERM.

    With a `bridge` login (an XMPP server), guests can share from /join.
    """
    storage = await open_storage(options.database)
    service = CloudService(
        storage, xmpp or default_xmpp_admin(), options.config, randbelow=randbelow
    )
    guest_bridge = GuestBridge(bridge) if bridge is not None else None
    app = make_app(
        service,
        updates=options.updates,
        guests=GuestService(service, guest_rules),
        bridge=guest_bridge,
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    if guest_bridge is not None:
        guest_bridge.start()
    try:
        tls = None
        if options.tls_cert is not None and options.tls_key is not None:
            tls = _tls_context(options.tls_cert, options.tls_key)
        # Our own socket, so that port 0 (tests) tells which port it got.
        family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
        sock = socket.create_server((options.host, options.port), family=family)
        port = int(sock.getsockname()[1])
        await web.SockSite(runner, sock, ssl_context=tls).start()
        scheme = "https" if tls else "http"
        url = f"{scheme}://{options.host}:{port}"
        logger.info("montage-cloud listening on %s", url)
        # One JSON line on stdout so that scripts and tests learn the port.
        print(json.dumps({"event": "ready", "url": url, "port": port}), flush=True)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        logger.info("stopping")
    finally:
        await runner.cleanup()
        if guest_bridge is not None:
            await guest_bridge.close()
        await storage.close()
