"""`montage-cloud`: run the REST API, and the administrator's commands against its database.

    montage-cloud serve [--host H] [--port N] [--tls-cert F --tls-key F] [--db PATH|DSN]
                        [--turn-secret S] [--turn-host H] [--admin-token T] ...
    montage-cloud admin [--db PATH|DSN] token --org NAME [--uses N] [--ttl S]
    montage-cloud admin [--db PATH|DSN] devices list [--json]
    montage-cloud admin [--db PATH|DSN] devices suspend|resume|delete DEVICE_ID
    montage-cloud admin release init|add|list|refresh|bundle|rotate ...   (docs/updates.md)
    montage-cloud admin [--db PATH|DSN] org NAME [--guests allow|deny]

Secrets (TURN secret, admin token) are better passed in the environment
(MONTAGE_CLOUD_TURN_SECRET, MONTAGE_CLOUD_ADMIN_TOKEN) than on the command
line, where other users of the machine can read them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import ssl
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from montage_cloud.errors import ApiError
from montage_cloud.guest_bridge import BridgeLogin, bridge_password
from montage_cloud.guests import GuestRules, GuestService
from montage_cloud.models import Device
from montage_cloud.prosody_admin import ProsodyAdmin
from montage_cloud.releases.command import add_release_commands, run_release
from montage_cloud.request_bodies import (
    DEFAULT_TOKEN_TTL,
    DEFAULT_TOKEN_USES,
    TokenRequest,
    org_name,
)
from montage_cloud.server import ServeOptions, serve
from montage_cloud.service import CloudConfig, CloudService
from montage_cloud.storage import StorageUnavailable, open_storage
from montage_cloud.turn import TurnConfig
from montage_cloud.xmpp_admin import MemoryXmppAdmin, XmppAdmin, default_xmpp_admin

logger = logging.getLogger(__name__)

EXIT_INVALID = 2


class UsageError(Exception):
    """The command line cannot work as given; the message says what to change."""


def default_database() -> str:
    if database := os.environ.get("MONTAGE_CLOUD_DB"):
        return database
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(data_home) / "montage-cloud" / "cloud.sqlite3")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="montage-cloud", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    database = argparse.ArgumentParser(add_help=False)
    database.add_argument(
        "--db",
        default=None,
        help="SQLite file or postgresql:// DSN (default: $MONTAGE_CLOUD_DB, else a SQLite"
        " file in ~/.local/share/montage-cloud)",
    )
    xmpp = argparse.ArgumentParser(add_help=False)
    xmpp.add_argument(
        "--xmpp-admin",
        metavar="JID",
        default=os.environ.get("MONTAGE_CLOUD_XMPP_ADMIN"),
        help="Prosody admin account that creates, disables and kicks device accounts"
        " (XEP-0133); its password comes from $MONTAGE_CLOUD_XMPP_ADMIN_PASSWORD."
        " Without it device accounts are not managed (a warning says so)",
    )
    xmpp.add_argument(
        "--xmpp-server",
        metavar="HOST:PORT",
        help="where Prosody takes direct-TLS logins (default: the admin JID's domain, 443)",
    )
    xmpp.add_argument("--xmpp-ca", type=Path, help="CA file to trust for Prosody's certificate")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", parents=[database, xmpp], help="run the REST API")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=None, help="443 with TLS, else 8080")
    serve_cmd.add_argument("--tls-cert", type=Path)
    serve_cmd.add_argument("--tls-key", type=Path)
    serve_cmd.add_argument("--turn-secret", default=os.environ.get("MONTAGE_CLOUD_TURN_SECRET"))
    serve_cmd.add_argument("--turn-host", help="TURN server name in the URIs handed out")
    serve_cmd.add_argument("--turn-tls-port", type=int, default=443)
    serve_cmd.add_argument("--turn-port", type=int, default=3478)
    serve_cmd.add_argument("--turn-ttl", type=int, default=3600, help="seconds")
    serve_cmd.add_argument("--xmpp-domain", default="montage.localhost")
    serve_cmd.add_argument(
        "--xmpp-public",
        metavar="HOST:PORT",
        help="where devices log in to XMPP, told in every enrolment answer"
        " (default: the XMPP domain on 443)",
    )
    serve_cmd.add_argument("--meeting-ttl", type=int, default=300, help="seconds")
    serve_cmd.add_argument(
        "--updates",
        type=Path,
        metavar="DIR",
        help="serve this update repository (`admin release init`) at /updates/",
    )
    serve_cmd.add_argument(
        "--guest-turn-ttl",
        type=int,
        default=GuestRules.turn_ttl,
        help="seconds a guest's TURN credentials last (the longest share through the relay)",
    )
    serve_cmd.add_argument(
        "--admin-token",
        default=os.environ.get("MONTAGE_CLOUD_ADMIN_TOKEN"),
        help="enables /v1/admin (default: $MONTAGE_CLOUD_ADMIN_TOKEN; none: admin API off)",
    )

    admin = commands.add_parser("admin", parents=[database, xmpp], help="administer devices")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    token = admin_commands.add_parser("token", help="issue an enrolment token")
    token.add_argument("--org", required=True)
    token.add_argument("--uses", type=int, default=DEFAULT_TOKEN_USES)
    token.add_argument("--ttl", type=int, default=DEFAULT_TOKEN_TTL, help="seconds")
    devices = admin_commands.add_parser("devices", help="list, suspend, resume, delete")
    device_commands = devices.add_subparsers(dest="devices_command", required=True)
    listing = device_commands.add_parser("list")
    listing.add_argument("--json", action="store_true", help="one JSON object per device")
    for action in ("suspend", "resume", "delete"):
        device_commands.add_parser(action).add_argument("device_id")
    add_release_commands(admin_commands)
    org = admin_commands.add_parser("org", help="show or change an organisation's settings")
    org.add_argument("org", help="the organisation's name, as in its enrolment tokens")
    org.add_argument(
        "--guests",
        choices=("allow", "deny"),
        help="whether guests may share to its rooms from the browser page (default: allow)",
    )

    dev = commands.add_parser(
        "dev", help="Prosody, coturn and the REST API on loopback with a throw-away CA"
    )
    dev.add_argument("--workdir", type=Path, help="keep the servers' files here")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=0, help="REST API port (default: any)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The server logs what it does; admin commands only say what went wrong.
    quiet = logging.INFO if args.command == "serve" else logging.WARNING
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else quiet,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "dev":
        from montage_cloud.dev import run_dev

        return run_dev(workdir=args.workdir, host=args.host, api_port=args.port)
    if args.command == "admin" and args.admin_command == "release":
        return run_release(args)  # files and keys only: no database, no XMPP
    database = args.db or default_database()
    try:
        if args.command == "serve":
            return _serve(args, database)
        return asyncio.run(_admin(args, database))
    except UsageError as error:
        print(f"montage-cloud: {error}", file=sys.stderr)
        return EXIT_INVALID
    except ApiError as error:
        print(f"montage-cloud: {error.message}", file=sys.stderr)
        return EXIT_INVALID if error.status in (400, 404) else 1
    except StorageUnavailable as exc:
        # The message names the file or says PostgreSQL, never the DSN (it may hold a password).
        print(f"montage-cloud: the database is not available: {exc}", file=sys.stderr)
        return 1
    except (OSError, ssl.SSLError) as exc:
        print(f"montage-cloud: cannot listen: {exc}", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace, database: str) -> int:
    if (args.tls_cert is None) != (args.tls_key is None):
        print("montage-cloud: give both --tls-cert and --tls-key, or neither.", file=sys.stderr)
        return EXIT_INVALID
    turn = None
    if args.turn_secret:
        if not args.turn_host:
            print("montage-cloud: --turn-secret needs --turn-host.", file=sys.stderr)
            return EXIT_INVALID
        turn = TurnConfig(
            secret=args.turn_secret,
            host=args.turn_host,
            tls_port=args.turn_tls_port,
            port=args.turn_port,
            ttl=args.turn_ttl,
        )
    xmpp_host, xmpp_port = None, 443
    if args.xmpp_public:
        xmpp_host, _, port_text = args.xmpp_public.rpartition(":")
        if not xmpp_host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            print("montage-cloud: --xmpp-public takes HOST:PORT.", file=sys.stderr)
            return EXIT_INVALID
        xmpp_port = int(port_text)
    config = CloudConfig(
        xmpp_domain=args.xmpp_domain,
        xmpp_host=xmpp_host,
        xmpp_port=xmpp_port,
        meeting_ttl=args.meeting_ttl,
        turn=turn,
        admin_token=args.admin_token,
    )
    port = args.port if args.port is not None else (443 if args.tls_cert else 8080)
    options = ServeOptions(
        host=args.host,
        port=port,
        database=database,
        config=config,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        updates=args.updates,
    )
    xmpp = xmpp_admin_from(args)
    bridge = None
    if isinstance(xmpp, ProsodyAdmin):  # guests need an XMPP server to reach receivers
        bridge = BridgeLogin(
            domain=xmpp.domain,
            host=xmpp.host,
            port=xmpp.port,
            password=bridge_password(xmpp.admin_password),
            ssl_context=xmpp.ssl_context,
            admin=xmpp,
        )
    guests = GuestRules(turn_ttl=args.guest_turn_ttl)
    asyncio.run(serve(options, xmpp=xmpp, bridge=bridge, guest_rules=guests))
    return 0


def xmpp_admin_from(args: argparse.Namespace) -> XmppAdmin:
    """Prosody's admin account if configured, else accounts are not managed."""
    if not args.xmpp_admin:
        logger.warning("no --xmpp-admin: device XMPP accounts are not created, disabled or kicked")
        return default_xmpp_admin()
    password = os.environ.get("MONTAGE_CLOUD_XMPP_ADMIN_PASSWORD")
    if not password:
        raise UsageError(
            "--xmpp-admin needs the admin password in $MONTAGE_CLOUD_XMPP_ADMIN_PASSWORD."
        )
    domain = args.xmpp_admin.split("@", 1)[-1].split("/", 1)[0]
    host, port = domain, 443
    if args.xmpp_server:
        host, _, port_text = args.xmpp_server.rpartition(":")
        if not host or not port_text.isdigit():
            raise UsageError("--xmpp-server takes HOST:PORT.")
        port = int(port_text)
    context = ssl.create_default_context(cafile=str(args.xmpp_ca) if args.xmpp_ca else None)
    return ProsodyAdmin(
        domain=domain,
        host=host,
        port=port,
        admin_jid=args.xmpp_admin,
        admin_password=password,
        ssl_context=context,
    )


async def _admin(args: argparse.Namespace, database: str) -> int:
    # Issuing a token touches no XMPP account: no warning that accounts are not managed.
    needs_xmpp = args.admin_command != "token" or args.xmpp_admin
    xmpp = xmpp_admin_from(args) if needs_xmpp else MemoryXmppAdmin()
    storage = await open_storage(database)
    try:
        service = CloudService(storage, xmpp, CloudConfig())
        if args.admin_command == "token":
            request = TokenRequest.from_wire({"org": args.org, "uses": args.uses, "ttl": args.ttl})
            issued = await service.issue_enrolment_token(request)
            expires = _when(issued.record.expires_at)
            print(
                f"Enrolment token for {request.org!r}: {request.uses} uses, expires {expires}.",
                file=sys.stderr,
            )
            print(issued.token)
            return 0
        if args.admin_command == "org":
            return await _org(service, args)
        if args.devices_command == "list":
            for device in await service.list_devices():
                print(json.dumps(device.to_wire()) if args.json else _device_line(device))
            return 0
        action = {
            "suspend": service.suspend_device,
            "resume": service.resume_device,
            "delete": service.delete_device,
        }[args.devices_command]
        print(_device_line(await action(args.device_id)))
        return 0
    finally:
        await storage.close()
        close = getattr(xmpp, "close", None)
        if close is not None:  # ProsodyAdmin holds an XMPP session
            await close()


async def _org(service: CloudService, args: argparse.Namespace) -> int:
    guests = GuestService(service)
    org = org_name(args.org)
    if args.guests is None:
        settings = await guests.org_settings(org)
    else:
        settings = await guests.set_guests_allowed(org, args.guests == "allow")
    allowed = "allowed" if settings.guests_allowed else "not allowed"
    print(f"{settings.org}: guests {allowed}")
    return 0


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _device_line(device: Device) -> str:
    return (
        f"{device.device_id}  {device.status.value:<9}  {device.kind.value:<8}"
        f"  {device.org}  {device.name}  (enrolled {_when(device.enrolled_at)})"
    )
