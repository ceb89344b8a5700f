"""`montage-receiver`: the meeting-room display, with or without a window."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from montage_core.cloud.account import ACCOUNT_FILE, CloudAccount
from montage_core.cloud.enrol import enrol_device
from montage_core.cloud.secret_store import SecretStoreChoice
from montage_core.net import InvalidProxySetting, ProxySettings
from montage_core.protocol.errors import InvalidInput, MontageError
from montage_core.protocol.messages import DEFAULT_PORT, MAX_NAME_CHARS
from montage_core.protocol.pin_auth import valid_pin

from . import __version__
from .config import ReceiverConfig, default_data_dir, default_name, fresh_pin
from .config_file import read_config_file
from .meeting import Meeting, open_meeting
from .service import CloudMeetingEnded, ServiceEvent
from .status import StatusReporter
from .updates import ReceiverUpdates, UpdateOptions

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    # Settings that the configuration file may also give default to None here:
    # a flag given on the command line overrides the file, an absent one does not.
    parser = argparse.ArgumentParser(
        prog="montage-receiver",
        description="Show a meeting ID and PIN, and the screens people share to this room.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="read the room's settings from this file (deploy/receiver/receiver.toml shows them); "
        "flags given here override it",
    )
    parser.add_argument("--headless", action="store_true", help="run without a window")
    parser.add_argument(
        "--status-json",
        action="store_true",
        help="print one JSON object per line on stdout (ready, joins, stats)",
    )
    parser.add_argument("--name", help="room name shown on screen (default: the host name)")
    parser.add_argument(
        "--bind",
        metavar="ADDR",
        help="IPv4 address to listen on (default: all; the meeting ID "
        "names this address, or the primary one)",
    )
    parser.add_argument(
        "--port", type=int, help=f"TLS port for presenters (default {DEFAULT_PORT})"
    )
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument("--pin", help="use this 4-digit PIN instead of a fresh one")
    pin.add_argument(
        "--no-pin", action="store_true", default=None, help="do not ask presenters for a PIN"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where the receiver keeps its certificate and enrolment "
        "(default ~/.local/share/montage-receiver)",
    )
    parser.add_argument(
        "--stats-interval",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between stats lines with --status-json",
    )
    parser.add_argument(
        "--windowed", action="store_true", help="a normal window instead of full screen"
    )
    parser.add_argument(
        "--advertise",
        action=argparse.BooleanOptionalAction,
        help="announce this room on the local network so clients list it (default: on)",
    )
    cloud = parser.add_argument_group("cloud meetings (6-digit IDs)")
    cloud.add_argument("--cloud", metavar="URL", help="the Montage cloud's API to enrol with")
    cloud.add_argument(
        "--token", help="enrolment token from the administrator (once, with --cloud)"
    )
    cloud.add_argument(
        "--cloud-ca", metavar="FILE", help="also trust this CA for the cloud (private clouds)"
    )
    cloud.add_argument(
        "--xmpp",
        metavar="HOST:PORT",
        help="override where the cloud's XMPP service is (the cloud says so at enrolment)",
    )
    cloud.add_argument(
        "--secret-store",
        choices=[choice.value for choice in SecretStoreChoice],
        help="where the cloud credentials are kept: keyring, or file (readable only by this "
        "user, in the data directory); default auto: the keyring where there is one, a file "
        "on a box with no keyring and no desktop session",
    )
    cloud.add_argument(
        "--force-local",
        action=argparse.BooleanOptionalAction,
        help="show the 10-digit local meeting ID even when enrolled with a cloud",
    )
    cloud.add_argument(
        "--no-cloud",
        dest="use_cloud",
        action="store_false",
        default=None,
        help="never talk to a cloud, even when enrolled",
    )
    cloud.add_argument(
        "--proxy",
        metavar="SPEC",
        help="how to reach the cloud: none, system (default), auto (WPAD), "
        "pac+https://host/proxy.pac, http://[user@]host:port or socks5://[user@]host:port; "
        "the password comes from the keyring or MONTAGE_PROXY_PASSWORD",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    parser.add_argument("--version", action="version", version=f"montage-receiver {__version__}")
    _add_update_options(parser)
    return parser


def _add_update_options(parser: argparse.ArgumentParser) -> None:
    """Signed updates (docs/updates.md): `update …`, and what the running receiver does."""
    from montage_core.updates.command import add_update_command

    updates = parser.add_argument_group("updates")
    updates.add_argument(
        "--auto-update",
        action="store_true",
        help="install a newer signed version (online, or on a USB drive) as soon as no one "
        "is presenting, and restart into it",
    )
    updates.add_argument(
        "--updates-from",
        action="append",
        type=Path,
        metavar="DIR",
        help="also look for update files (*.montage-update) in DIR (default: removable "
        "drives where udisks mounts them)",
    )
    add_update_command(parser.add_subparsers(dest="command"))


def config_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ReceiverConfig:
    """The file's settings (with --config) under the flags given on the command line."""
    file: dict[str, Any] = read_config_file(args.config) if args.config is not None else {}
    if args.pin is not None and not valid_pin(args.pin):
        parser.error("--pin must be exactly 4 digits")
    if args.port is not None and not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    if args.no_pin:
        pin: str | None = None
    elif args.pin is not None:
        pin = args.pin
    else:
        wanted = file.get("pin", True)  # true: fresh; false: none; "1234": fixed
        pin = fresh_pin() if wanted is True else (wanted or None)
    # The protocol carries at most MAX_NAME_CHARS; longer would break every join.
    name = " ".join((args.name or file.get("name") or default_name()).split())[:MAX_NAME_CHARS]
    if not name:
        parser.error("--name must not be empty")
    if args.proxy is not None:
        try:
            proxy = ProxySettings.parse(args.proxy)
        except InvalidProxySetting as exc:
            parser.error(str(exc))
    else:
        proxy = file.get("proxy") or ProxySettings.parse("system")

    def chosen(flag: Any, key: str, default: Any) -> Any:
        return flag if flag is not None else file.get(key, default)

    return ReceiverConfig(
        name=name,
        bind=chosen(args.bind, "bind", "0.0.0.0"),
        port=chosen(args.port, "port", DEFAULT_PORT),
        pin=pin,
        data_dir=Path(chosen(args.data_dir, "data_dir", default_data_dir())),
        stats_interval=args.stats_interval,
        force_local=chosen(args.force_local, "force_local", False),
        cloud=chosen(args.use_cloud, "cloud", True),
        advertise=chosen(args.advertise, "advertise", True),
        secret_store=SecretStoreChoice(chosen(args.secret_store, "secret_store", "auto")),
        proxy=proxy,
    )


async def cloud_account(args: argparse.Namespace, config: ReceiverConfig) -> CloudAccount | None:
    """The receiver's enrolment: made now with --cloud/--token, else the one kept."""
    path = config.data_dir / ACCOUNT_FILE
    if not config.cloud:
        if args.token is not None or args.cloud is not None:
            raise InvalidInput(
                "The cloud is off for this receiver (cloud = false, or --no-cloud): it cannot "
                "enrol. Turn the cloud on to use --cloud and --token."
            )
        return None
    if args.token is not None:
        if args.cloud is None:
            raise MontageError("--token needs --cloud URL: the cloud to enrol with.")
        enrolled = await enrol_device(
            path,
            url=args.cloud,
            token=args.token,
            kind="receiver",
            name=config.name,
            ca_file=args.cloud_ca,
            xmpp=args.xmpp,
            proxy=config.proxy,
            secret_store=config.secret_store,
        )
        print(
            f"Enrolled this receiver as {enrolled.device_id}; its cloud credentials are in "
            f"{enrolled.store().describe()}.",
            file=sys.stderr,
            flush=True,
        )
        return enrolled
    account = CloudAccount.load(path)
    if account is None and args.cloud is not None:
        raise MontageError(
            "This receiver is not enrolled yet: add --token with an enrolment token from "
            "your administrator."
        )
    return account


async def run_headless(
    config: ReceiverConfig, status_json: bool, args: argparse.Namespace | None = None
) -> int:
    # Handlers first: a SIGTERM right after the ready line still closes the meeting cleanly.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    cloud = await cloud_account(args, config) if args is not None else None
    meeting = await open_meeting(config, cloud)
    reporter = _start_reporting(meeting, status_json, config)
    options = update_options(args, config) if args is not None else None
    updates = ReceiverUpdates(
        options or UpdateOptions(status_json=status_json),
        meeting,
        show=None,
        request_restart=stop.set,
    )
    updates.start()
    try:
        await stop.wait()
    finally:
        updates.stop()
        if reporter:
            reporter.stop()
        await meeting.close()
    if updates.restart_pending:
        updates.restart()  # replaces this process with the new version
    return 0


def update_options(args: argparse.Namespace, config: ReceiverConfig) -> UpdateOptions:
    return UpdateOptions(
        auto_update=args.auto_update,
        folders=list(args.updates_from or []),
        proxy=config.proxy,
        status_json=args.status_json,
    )


def _start_reporting(
    meeting: Meeting, status_json: bool, config: ReceiverConfig
) -> StatusReporter | None:
    if status_json:
        reporter = StatusReporter(meeting, sys.stdout, config.stats_interval)
        reporter.start()
        return reporter
    pin = f", PIN {meeting.pin}" if meeting.pin else " (no PIN)"
    print(f"Meeting ID {meeting.display_id()}{pin}, port {meeting.port}", flush=True)
    if meeting.cloud_error is not None:
        print(f"Local meeting only: {meeting.cloud_error}", flush=True)

    def on_event(event: ServiceEvent) -> None:
        if isinstance(event, CloudMeetingEnded):
            print(f"Local meeting only: {event.reason}", flush=True)
            print(f"Meeting ID {meeting.display_id()}{pin}, port {meeting.port}", flush=True)

    meeting.service.subscribe(on_event)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        # aioice/aiortc are chatty at INFO about every candidate pair.
        for noisy in ("aioice", "aiortc"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command == "update":
        return _update(args, parser)
    try:
        config = config_from(args, parser)
        if args.headless:
            with contextlib.suppress(KeyboardInterrupt):
                return asyncio.run(run_headless(config, args.status_json, args))
            return 0
        from .gui_app import run_gui

        # Enrolment talks to the cloud before the window's loop exists.
        cloud = asyncio.run(cloud_account(args, config))
        return run_gui(
            config,
            cloud=cloud,
            status_json=args.status_json,
            windowed=args.windowed,
            start_reporting=_start_reporting,
            updates=update_options(args, config),
        )
    except InvalidInput as exc:
        print(f"montage-receiver: {exc}", file=sys.stderr)
        return 2
    except MontageError as exc:
        print(f"montage-receiver: {exc}", file=sys.stderr)
        return 1


def _update(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from montage_core.updates.command import run_update_command

    try:
        # The way out the receiver itself uses: --proxy, else its configuration file's, else system.
        proxy = config_from(args, parser).proxy
        return run_update_command(args, app="montage-receiver", installed=__version__, proxy=proxy)
    except MontageError as exc:
        print(f"montage-receiver: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
