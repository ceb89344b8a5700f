"""`montage-client`: the GUI with no arguments, or scriptable sub-commands.

    montage-client                      open the window
    montage-client join ID [options]    share without a window (10-digit or 6-digit ID)
    montage-client enrol --cloud URL --token T   enrol this computer with a Montage cloud
    montage-client monitors             list the screens that can be shared
    montage-client devices              list the cameras and microphones
    montage-client rooms                list the rooms announced on this network
    montage-client update --check|--install|--from FILE   signed updates (docs/updates.md)

`join` exit codes: 0 shared and stopped, 2 invalid input (including an
unknown or ended cloud meeting, or not enrolled), 3 wrong PIN or locked out
(or the room's PIN changed while reconnecting), 4 receiver or cloud
unreachable (including a lost share that did not come back within
--reconnect-seconds), 5 this device was suspended or removed by the
organisation, 1 anything else. The last line on stderr says why in words.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

# Light: only the enum (no aiortc, no capture code).
from montage_client.core.change_pacing import Quality
from montage_core.protocol.errors import (
    DeviceUnavailable,
    InvalidInput,
    MontageError,
    NotEnrolled,
    PinRequired,
    WrongPin,
)
from montage_core.protocol.meeting_id import CloudMeetingId, parse_meeting_id
from montage_core.protocol.messages import DEFAULT_PORT, MAX_HOLD_SECONDS
from montage_core.protocol.pin_auth import valid_pin
from montage_core.protocol.reconnect import DEFAULT_WINDOW

from . import __version__
from .core.dpi_awareness import make_dpi_aware
from .settings import ClientSettings, chosen_proxy, config_dir

if TYPE_CHECKING:
    from montage_client.core.devices import Device

logger = logging.getLogger(__name__)

NETCHECK_TIMEOUT = 5.0  # seconds per step, as montage_core.net.netcheck's default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="montage-client", description="Share your screen to a meeting room."
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"receiver's port (default {DEFAULT_PORT})"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    parser.add_argument("--version", action="version", version=f"montage-client {__version__}")
    commands = parser.add_subparsers(dest="command")
    join = commands.add_parser("join", help="share this screen without opening a window")
    join.add_argument(
        "meeting_id", help="the meeting ID on the room's screen (10 digits, or 6 for the cloud)"
    )
    join.add_argument("--pin", help="the 4-digit PIN on the room's screen")
    join.add_argument("--name", help="your name, shown under your screen (remembered)")
    join.add_argument("--monitor", type=int, default=1, help="which screen to share (1, 2, …)")
    join.add_argument(
        "--seconds",
        type=float,
        default=0,
        help="stop after this many seconds (default: until Ctrl-C)",
    )
    join.add_argument("--fps", type=float, default=30.0, help="capture rate (default 30)")
    join.add_argument(
        "--quality",
        choices=[q.value for q in Quality],
        default=Quality.AUTO.value,
        help="text: sharp, up to 15 fps; motion: smooth, full rate; auto (default): sharp "
        "while the screen is mostly still, smooth while large areas move",
    )
    join.add_argument(
        "--camera",
        metavar="DEVICE",
        help="also share this camera: a number or name from `devices`, or `test`",
    )
    join.add_argument(
        "--mic",
        metavar="DEVICE",
        help="also share this microphone: a number or name from `devices`, or `test`",
    )
    join.add_argument(
        "--reconnect-seconds",
        type=float,
        default=DEFAULT_WINDOW,
        metavar="S",
        help="when the connection is lost, keep trying to get it back for this long "
        f"(default {DEFAULT_WINDOW:.0f}; 0: stop at once)",
    )
    join.add_argument(
        "--force-relay",
        action="store_true",
        help="cloud meetings: send media only through the cloud's relay (TURN)",
    )
    enrol = commands.add_parser("enrol", help="enrol this computer with a Montage cloud")
    enrol.add_argument("--cloud", required=True, metavar="URL", help="the cloud's API address")
    enrol.add_argument("--token", required=True, help="enrolment token from your administrator")
    enrol.add_argument("--ca", metavar="FILE", help="also trust this CA for the cloud")
    enrol.add_argument(
        "--xmpp",
        metavar="HOST:PORT",
        help="override where the cloud's XMPP service is (the cloud says so at enrolment)",
    )
    enrol.add_argument(
        "--secret-store",
        choices=["auto", "keyring", "file"],
        default="auto",
        help="where the cloud credentials are kept: keyring, or file (readable only by you, "
        "beside cloud.json); default auto: the keyring where there is one, a file on a "
        "machine with no keyring and no desktop session",
    )
    enrol.add_argument("--name", help="this computer's name in the organisation's device list")
    _add_netcheck(commands)
    for command in (join, enrol):
        _add_proxy_option(command)
    password = commands.add_parser(
        "proxy-password",
        help="store the proxy's password in this computer's keyring (asked for, not echoed)",
    )
    _add_proxy_option(password)
    from montage_core.updates.command import add_update_command

    _add_proxy_option(add_update_command(commands))
    commands.add_parser("monitors", help="list the screens that can be shared")
    commands.add_parser("devices", help="list the cameras and microphones")
    rooms = commands.add_parser("rooms", help="list the rooms announced on this network")
    rooms.add_argument("--seconds", type=float, default=3.0, help="how long to listen (default 3)")
    rooms.add_argument("--json", action="store_true", help="one JSON object per room")
    return parser


def _add_netcheck(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `netcheck` sub-command's options (here: the proxy stack loads only to run it)."""
    check = commands.add_parser("netcheck", help="say what works on the way to the cloud")
    _add_proxy_option(check)
    check.add_argument("--cloud", metavar="URL", help="the cloud's API address (default: enrolled)")
    check.add_argument("--xmpp", metavar="HOST:PORT", help="the XMPP service (default: enrolled)")
    check.add_argument("--turn", metavar="HOST:PORT", help="the TURN over TLS (turns:) service")
    check.add_argument("--ca", metavar="FILE", help="also trust this CA for the cloud")
    check.add_argument("--timeout", type=float, default=NETCHECK_TIMEOUT, help="seconds per step")


def _add_proxy_option(parser: argparse.ArgumentParser) -> None:
    """`--proxy SPEC`, the same for every command that reaches the cloud."""
    parser.add_argument(
        "--proxy",
        metavar="SPEC",
        help="none, system, auto (WPAD), pac+https://host/proxy.pac, "
        "http://[user@]host:port or socks5://[user@]host:port (default: the client's "
        "saved setting, else system); the password comes from the keyring or "
        "MONTAGE_PROXY_PASSWORD",
    )


def _store_proxy_password(args: argparse.Namespace) -> int:
    """For a command line only (a receiver, a script): the keyring entry the
    window's Network page would write. The password is read from the terminal
    without echo, or as one line from standard input when it is not a terminal."""
    from montage_core.net import store_proxy_password

    endpoint = chosen_proxy(args.proxy).endpoint
    if endpoint is None or endpoint.user is None:
        raise InvalidInput(
            "A password belongs to a proxy with a user: give --proxy "
            "http://user@host:port or socks5://user@host:port."
        )
    if sys.stdin.isatty():
        secret = getpass.getpass(f"Password for {endpoint.user} at the {endpoint}: ")
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        raise InvalidInput("No password was given; nothing was stored.")
    try:
        store_proxy_password(endpoint.user, endpoint.host, endpoint.port, secret)
    except Exception as exc:  # keyring's errors and its backends' own (D-Bus, locked)
        raise MontageError(
            f"This computer's keyring could not store the password ({type(exc).__name__}); "
            "set MONTAGE_PROXY_PASSWORD instead."
        ) from None
    print(f"Stored the password for {endpoint.user} at the {endpoint}.", file=sys.stderr)
    return 0


def _fail(exc: MontageError) -> int:
    print(f"montage-client: {exc}", file=sys.stderr)
    return exc.exit_code


def _chosen_devices(args: argparse.Namespace) -> list[Device]:
    """The devices named on the command line (before the loop starts: listing uses Qt)."""
    from montage_client.core.devices import DeviceKind, resolve

    chosen = []
    for kind, text in ((DeviceKind.CAMERA, args.camera), (DeviceKind.MICROPHONE, args.mic)):
        if text is not None:
            _ensure_qt_core()
            chosen.append(resolve(kind, text))
    return chosen


def _ensure_qt_core() -> None:
    # QMediaDevices asks the platform's media backend, which wants an application object.
    try:
        from PySide6.QtCore import QCoreApplication, QtMsgType, qInstallMessageHandler
    except ImportError:
        return

    def to_log(kind: QtMsgType, _context: object, text: str) -> None:
        # The media backend reports every sound server it could not reach;
        # a script's stderr should keep only our own last line.
        logger.debug("Qt (%s): %s", kind.name, text)

    qInstallMessageHandler(to_log)
    if QCoreApplication.instance() is None:
        _ensure_qt_core.app = QCoreApplication(sys.argv[:1])  # type: ignore[attr-defined]


async def _join(args: argparse.Namespace, devices: list[Device]) -> int:
    from montage_client.core.local_media import LocalMedia
    from montage_client.core.screen_source import ScreenGrabber
    from montage_client.core.share_client import (
        RECONNECTING,
        Notice,
        PinWanted,
        Progress,
        Reconnecting,
        ShareClient,
        Sharing,
        Update,
    )

    meeting = parse_meeting_id(args.meeting_id)
    settings = ClientSettings.load()
    name = (args.name or settings.name or getpass.getuser()).strip()
    if not name:
        raise InvalidInput("Give your name with --name so the room knows who is sharing.")
    if args.pin is not None and not valid_pin(args.pin.strip()):
        raise InvalidInput("The PIN is the 4 digits shown on the room's screen.")
    if args.seconds < 0 or args.fps <= 0:
        raise InvalidInput("--seconds must be 0 or more and --fps more than 0.")
    if not 0 <= args.reconnect_seconds <= MAX_HOLD_SECONDS:
        raise InvalidInput(f"--reconnect-seconds must be 0 to {MAX_HOLD_SECONDS}.")
    asked = 0

    async def give_pin(wanted: PinWanted) -> str:
        nonlocal asked
        asked += 1
        if args.pin is None:
            raise PinRequired("This meeting needs the PIN shown on the room's screen: add --pin.")
        if asked > 1:  # a script cannot type a second PIN
            raise WrongPin(wanted.message or "Wrong PIN.", wanted.tries_left or 0)
        return str(args.pin).strip()

    timed = False

    def report(update: Update) -> None:
        nonlocal timed
        if isinstance(update, Progress | Notice):
            print(update.text, file=sys.stderr, flush=True)
        elif isinstance(update, Reconnecting):
            print(f"{RECONNECTING} ({update.reason})", file=sys.stderr, flush=True)
        elif isinstance(update, Sharing):
            print(
                f"Sharing to {update.room} ({update.path}), {update.width}×{update.height}",
                file=sys.stderr,
                flush=True,
            )
            if args.seconds and not timed:  # counted from the first start, not a resume
                timed = True
                asyncio.get_running_loop().call_later(args.seconds, stop)

    media = LocalMedia()
    for device in devices:
        try:
            await media.switch(device.kind, device)
        except DeviceUnavailable as exc:
            # The screen is what matters: share it anyway and say why not the rest.
            print(f"{exc} Sharing without it.", file=sys.stderr, flush=True)

    def make_client(**cloud: Any) -> ShareClient:
        return ShareClient(
            meeting,
            name,
            ScreenGrabber(monitor=args.monitor),
            give_pin,
            port=args.port,
            fps=args.fps,
            quality=Quality(args.quality),
            on_update=report,
            media=media,
            reconnect_seconds=args.reconnect_seconds,
            **cloud,
        )

    client: ShareClient | None = None

    def stop() -> None:
        if client is not None:
            client.request_stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    if args.name:
        settings.name = name
    if not isinstance(meeting, CloudMeetingId):  # recent: local IDs (a cloud ID is one-off)
        settings.remember_meeting(str(meeting))
    settings.save()
    try:
        if isinstance(meeting, CloudMeetingId):
            from montage_client.core.cloud_join import share_to_cloud_meeting
            from montage_core.cloud.account import ACCOUNT_FILE, CloudAccount

            account = CloudAccount.load(config_dir() / ACCOUNT_FILE)
            if account is None:
                raise NotEnrolled(
                    f"{meeting.display()} is a cloud meeting, and this computer is not enrolled "
                    "with a Montage cloud: run `montage-client enrol --cloud URL --token T` "
                    "with a token from your administrator."
                )

            def cloud_client(open_channel: Any, ice: Any) -> ShareClient:
                nonlocal client
                client = make_client(open_channel=open_channel, ice=ice)
                return client

            await share_to_cloud_meeting(
                account,
                meeting,
                cloud_client,
                force_relay=args.force_relay,
                proxy=chosen_proxy(args.proxy),
            )
        else:
            client = make_client()
            await client.run()
    finally:
        media.close()
    print("Stopped sharing.", file=sys.stderr)
    return 0


async def _enrol(args: argparse.Namespace) -> int:
    import socket

    from montage_core.cloud.account import ACCOUNT_FILE
    from montage_core.cloud.enrol import enrol_device
    from montage_core.cloud.secret_store import SecretStoreChoice

    name = (args.name or socket.gethostname()).strip()[:64] or "Montage client"
    account = await enrol_device(
        config_dir() / ACCOUNT_FILE,
        url=args.cloud,
        token=args.token,
        kind="client",
        name=name,
        ca_file=args.ca,
        xmpp=args.xmpp,
        proxy=chosen_proxy(args.proxy),
        secret_store=SecretStoreChoice(args.secret_store),
    )
    print(
        f"Enrolled this computer as {account.device_id} with {account.url}; its cloud "
        f"credentials are in {account.store().describe()}.",
        file=sys.stderr,
    )
    return 0


async def _rooms(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from montage_client.core.room_finder import RoomFinder

    if not 0 < args.seconds <= 60:
        raise InvalidInput("--seconds must be more than 0 and at most 60.")
    finder = RoomFinder(lambda rooms: None)
    await finder.start()
    try:
        await asyncio.sleep(args.seconds)
        rooms = finder.rooms
    finally:
        await finder.close()
    for room in rooms:
        if args.json:
            print(json.dumps(asdict(room)))
        else:
            shown = (
                parse_meeting_id(room.meeting_id).display()
                if room.meeting_id
                else "(ID on the wall)"
            )
            pin = "PIN" if room.pin_required else "no PIN"
            print(f"{room.name}: {shown}, {pin}, at {room.host}:{room.port}")
    if not rooms and not args.json:
        print("No rooms announced themselves on this network.", file=sys.stderr)
    return 0


def _monitors() -> int:
    from montage_client.core.screen_source import list_monitors

    for monitor in list_monitors():
        print(f"{monitor.index}: {monitor.width}x{monitor.height} at {monitor.left},{monitor.top}")
    return 0


def _devices() -> int:
    from montage_client.core.devices import DeviceKind, list_devices, synthetic_device

    _ensure_qt_core()
    for kind, title in ((DeviceKind.CAMERA, "Cameras"), (DeviceKind.MICROPHONE, "Microphones")):
        print(f"{title}:")
        present = list_devices(kind)
        for number, device in enumerate(present, start=1):
            default = " (default)" if device.default else ""
            print(f"  {number}: {device.name}{default}  [{device.id}]")
        if not present:
            print(f"  no {kind.value} found")
        print(f"  test: {synthetic_device(kind).name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # Windows: before Qt or mss measure any screen (dpi_awareness.py says why).
    make_dpi_aware()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "join":
            devices = _chosen_devices(args)
            with contextlib.suppress(KeyboardInterrupt):
                return asyncio.run(_join(args, devices))
            return 0
        if args.command == "enrol":
            return asyncio.run(_enrol(args))
        if args.command == "netcheck":
            from montage_client.netcheck_command import run as run_netcheck

            return run_netcheck(args)
        if args.command == "update":
            from montage_core.updates.command import run_update_command

            proxy = chosen_proxy(args.proxy)
            return run_update_command(
                args, app="montage-client", installed=__version__, proxy=proxy
            )
        if args.command == "proxy-password":
            return _store_proxy_password(args)
        if args.command == "rooms":
            return asyncio.run(_rooms(args))
        if args.command == "monitors":
            return _monitors()
        if args.command == "devices":
            return _devices()
        from montage_client.ui.app import run_app

        return run_app(port=args.port)
    except MontageError as exc:
        return _fail(exc)
    except Exception as exc:  # the last line must still say why, in words
        logger.debug("unexpected failure", exc_info=True)
        print(f"montage-client: unexpected error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
