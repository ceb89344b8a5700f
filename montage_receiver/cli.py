"""`montage-receiver`: the meeting-room display, with or without a window."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from montage_client.protocol.errors import MontageError
from montage_client.protocol.messages import DEFAULT_PORT, MAX_NAME_CHARS
from montage_client.protocol.pin_auth import valid_pin

from .config import ReceiverConfig, default_data_dir, default_name, fresh_pin
from .meeting import Meeting, open_meeting
from .status import StatusReporter

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="montage-receiver",
        description="Show a meeting ID and PIN, and the screens people share to this room.",
    )
    parser.add_argument("--headless", action="store_true", help="run without a window")
    parser.add_argument(
        "--status-json",
        action="store_true",
        help="print one JSON object per line on stdout (ready, joins, stats)",
    )
    parser.add_argument("--name", default=default_name(), help="room name shown on screen")
    parser.add_argument(
        "--bind",
        default="0.0.0.0",
        metavar="ADDR",
        help="IPv4 address to listen on (default: all; the meeting ID "
        "names this address, or the primary one)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"TLS port for presenters (default {DEFAULT_PORT})",
    )
    pin = parser.add_mutually_exclusive_group()
    pin.add_argument("--pin", help="use this 4-digit PIN instead of a fresh one")
    pin.add_argument("--no-pin", action="store_true", help="do not ask presenters for a PIN")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="where the receiver keeps its certificate",
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
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    return parser


def config_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ReceiverConfig:
    if args.pin is not None and not valid_pin(args.pin):
        parser.error("--pin must be exactly 4 digits")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    pin = None if args.no_pin else (args.pin or fresh_pin())
    # The protocol carries at most MAX_NAME_CHARS; longer would break every join.
    name = " ".join(args.name.split())[:MAX_NAME_CHARS]
    if not name:
        parser.error("--name must not be empty")
    return ReceiverConfig(
        name=name,
        bind=args.bind,
        port=args.port,
        pin=pin,
        data_dir=args.data_dir,
        stats_interval=args.stats_interval,
    )


async def run_headless(config: ReceiverConfig, status_json: bool) -> int:
    meeting = await open_meeting(config)
    reporter = _start_reporting(meeting, status_json, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        if reporter:
            reporter.stop()
        await meeting.service.close()
    return 0


def _start_reporting(
    meeting: Meeting, status_json: bool, config: ReceiverConfig
) -> StatusReporter | None:
    if status_json:
        reporter = StatusReporter(meeting, sys.stdout, config.stats_interval)
        reporter.start()
        return reporter
    pin = f", PIN {meeting.pin}" if meeting.pin else " (no PIN)"
    print(f"Meeting ID {meeting.meeting_id.display()}{pin}, port {meeting.port}", flush=True)
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
    config = config_from(args, parser)
    try:
        if args.headless:
            with contextlib.suppress(KeyboardInterrupt):
                return asyncio.run(run_headless(config, args.status_json))
            return 0
        from .gui_app import run_gui

        return run_gui(
            config,
            status_json=args.status_json,
            windowed=args.windowed,
            start_reporting=_start_reporting,
        )
    except MontageError as exc:
        print(f"montage-receiver: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
