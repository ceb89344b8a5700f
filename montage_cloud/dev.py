"""`montage-cloud dev`: the whole cloud on loopback, for trying the cloud path on one machine.

Starts a real Prosody and a real coturn from deploy/'s templates and the REST
API wired to them (accounts through `ProsodyAdmin`, TURN credentials with
coturn's secret, the browser client's page and its guest bridge logged in to
Prosody), all with one throw-away CA. Prints their endpoints as one JSON line
on stdout, then runs until Ctrl-C or SIGTERM and stops everything.

It also serves a signed update repository at /updates/ with throw-away keys
(`updates` in the ready line: its URL, directory, keys and root.json), so a
person can publish a release with `montage-cloud admin release add … --repo
DIR --keys DIR` and watch an installed client update itself (docs/updates.md).

Secrets are not printed: the admin token is in a 0600 file whose path is
printed; the TURN secret and the XMPP admin password stay inside this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import signal
import socket
import ssl
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from montage_cloud.api import make_app
from montage_cloud.guest_bridge import BridgeLogin, GuestBridge, bridge_password
from montage_cloud.prosody_admin import ProsodyAdmin
from montage_cloud.releases.keys import ROLES, generate_key, key_path, load_key
from montage_cloud.releases.repository import ReleaseRepository
from montage_cloud.servers.config import write_private
from montage_cloud.servers.coturn import CoturnServer, TurnEndpoint
from montage_cloud.servers.prosody import ProsodyServer, XmppEndpoint
from montage_cloud.servers.tls import ThrowawayCertificates, make_throwaway_certificates
from montage_cloud.service import CloudConfig, CloudService
from montage_cloud.storage import open_storage
from montage_cloud.turn import TurnConfig

logger = logging.getLogger(__name__)

XMPP_DOMAIN = "localhost"
GUEST_BRIDGE_TIMEOUT = 20.0


def run_dev(
    *,
    workdir: Path | None = None,
    host: str = "127.0.0.1",
    api_port: int = 0,
    out: TextIO = sys.stdout,
    relay_denied_peers: Sequence[str] | None = None,
) -> int:
    """Run Prosody, coturn and the REST API until SIGINT/SIGTERM; return an exit code.

    `workdir` keeps the servers' files (config, logs, data, database) after
    exit; by default a temporary directory is used and removed. Returns 0
    after a clean stop, 130 if interrupted while still starting.
    `relay_denied_peers` replaces coturn's production peer policy (tests
    whose hosts sit in the RFC 2544 test range, which that policy denies).
    """
    try:
        return _run_dev(workdir, host, api_port, out, relay_denied_peers)
    except KeyboardInterrupt:
        # Ctrl-C before the API's signal handlers were installed: the
        # ExitStack has already stopped whatever had started.
        return 130


def _run_dev(
    workdir: Path | None,
    host: str,
    api_port: int,
    out: TextIO,
    relay_denied_peers: Sequence[str] | None = None,
) -> int:
    with contextlib.ExitStack() as stack:
        base = workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="montage-cloud-dev-"))
        )
        base.mkdir(parents=True, exist_ok=True)
        certs = make_throwaway_certificates(base / "tls", names=("localhost", host))
        # Entered in order, so left in reverse: API first, then coturn, then Prosody.
        xmpp = stack.enter_context(ProsodyServer(base / "prosody", certs, host=host))
        turn = stack.enter_context(
            CoturnServer(base / "coturn", certs, host=host, denied_peers=relay_denied_peers)
        )
        admin_token = secrets.token_urlsafe(32)
        token_file = base / "admin-token"
        write_private(token_file, admin_token + "\n")
        updates = _throwaway_repository(base / "updates")

        def announce(api_url: str) -> None:
            ready = _ready_line(base, certs, api_url, token_file, xmpp, turn)
            ready["updates"] = {
                "url": f"{api_url}/updates",
                "repo": str(updates.path),
                "keys": str(base / "updates" / "keys"),
                "root": str(updates.metadata_dir / "root.json"),
            }
            print(json.dumps(ready), file=out, flush=True)

        asyncio.run(
            _serve_api(
                base,
                certs,
                host,
                api_port,
                xmpp,
                turn,
                admin_token,
                updates.path,
                announce=announce,
            )
        )
    return 0


def _throwaway_repository(base: Path) -> ReleaseRepository:
    """A repository with fresh keys for every role (kept, with --workdir, across runs)."""
    repository = ReleaseRepository(base / "repo")
    if (repository.metadata_dir / "1.root.json").exists():
        return repository
    keys_dir = base / "keys"
    for role in ROLES:
        if not key_path(keys_dir, role).exists():
            generate_key(key_path(keys_dir, role))
    repository.create({role: load_key(key_path(keys_dir, role), role) for role in ROLES})
    return repository


def _ready_line(
    base: Path,
    certs: ThrowawayCertificates,
    api_url: str,
    token_file: Path,
    xmpp: XmppEndpoint,
    turn: TurnEndpoint,
) -> dict[str, Any]:
    return {
        "event": "ready",
        "api": {"url": api_url, "admin_token_file": str(token_file)},
        "xmpp": xmpp.public(),
        "turn": turn.public(),
        # The browser client's page (trust ca_cert in the browser first).
        "join": f"{api_url}/join",
        "ca_cert": str(certs.ca_cert),
        "database": str(base / "cloud.sqlite3"),
        "workdir": str(base),
    }


async def _serve_api(
    base: Path,
    certs: ThrowawayCertificates,
    host: str,
    port: int,
    xmpp: XmppEndpoint,
    turn: TurnEndpoint,
    admin_token: str,
    updates: Path,
    *,
    announce: Callable[[str], None],
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    admin = ProsodyAdmin(
        domain=xmpp.domain,
        host=xmpp.host,
        port=xmpp.port,
        admin_jid=xmpp.admin_jid,
        admin_password=xmpp.admin_password,
        ssl_context=certs.client_context(),
    )
    config = CloudConfig(
        xmpp_domain=xmpp.domain,
        # Devices are told where Prosody listens: no `--xmpp` needed on them.
        xmpp_host=xmpp.host,
        xmpp_port=xmpp.port,
        turn=TurnConfig(
            secret=turn.secret, host=turn.host, tls_port=turn.tls_port, port=turn.udp_port
        ),
        admin_token=admin_token,
    )
    bridge = GuestBridge(
        BridgeLogin(
            domain=xmpp.domain,
            host=xmpp.host,
            port=xmpp.port,
            password=bridge_password(xmpp.admin_password),
            ssl_context=certs.client_context(),
            admin=admin,
        )
    )
    storage = await open_storage(str(base / "cloud.sqlite3"))
    app = make_app(CloudService(storage, admin, config), updates=updates, bridge=bridge)
    runner = web.AppRunner(app, access_log=None)
    try:
        await runner.setup()
        bridge.start()
        # Guests can join from the moment the ready line is out.
        await asyncio.wait_for(bridge.connected_event.wait(), GUEST_BRIDGE_TIMEOUT)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(certs.server_cert, certs.server_key)
        sock = socket.create_server((host, port))
        await web.SockSite(runner, sock, ssl_context=tls).start()
        bound = int(sock.getsockname()[1])
        announce(f"https://{host}:{bound}")
        logger.info("montage-cloud dev is running; Ctrl-C stops it")
        await stop.wait()
        logger.info("stopping")
    finally:
        await runner.cleanup()
        await bridge.close()
        await admin.close()
        await storage.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def main() -> int:
    """`python -m montage_cloud.dev` until the CLI has a `dev` command."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return run_dev()


if __name__ == "__main__":
    raise SystemExit(main())
