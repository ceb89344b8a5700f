"""A cloud-enrolled receiver that reports what it shows: the stamp on each presenter's frames.

Run as a program (in a network namespace) by the proxy share tests: it
enrols with `--token`, opens a cloud meeting exactly as `montage-receiver
--headless` does (the real service, proxy included), prints one `ready`
JSON line with the 6-digit ID, then for every decoded frame a `frame` line:
the presenter's name and the age of the timestamp strip read from the
picture (`null` when the strip cannot be read). Stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bench.probe import read_luma_stamp
from bench.stamp import now_ms
from montage_core.cloud.enrol import enrol_device
from montage_core.net import ProxySettings
from montage_receiver.config import ReceiverConfig
from montage_receiver.meeting import open_meeting
from montage_receiver.service import PresenterAdded, ServiceEvent


def stamp_age(frame: Any) -> int | None:
    plane = frame.planes[0]
    luma = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:, : frame.width]
    stamp = read_luma_stamp(luma)
    return None if stamp is None else (now_ms() - stamp) & 0xFFFFFFFF


async def serve(args: argparse.Namespace) -> None:
    proxy = ProxySettings.parse(args.proxy)
    config = ReceiverConfig(
        name=args.name,
        bind=args.bind,
        port=args.port,
        pin=args.pin,
        data_dir=Path(args.data_dir),
        proxy=proxy,
    )
    account = await enrol_device(
        config.data_dir / "cloud.json",
        url=args.cloud,
        token=args.token,
        kind="receiver",
        name=args.name,
        ca_file=args.ca,
        xmpp=args.xmpp,
        proxy=proxy,
    )
    meeting = await open_meeting(config, account)

    def attach(event: ServiceEvent) -> None:
        if isinstance(event, PresenterAdded):
            name = event.presenter.name

            def on_frame(frame: Any) -> None:
                line = {"event": "frame", "name": name, "age_ms": stamp_age(frame)}
                print(json.dumps(line), flush=True)

            event.presenter.on_frame = on_frame

    meeting.service.subscribe(attach)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    cloud_id = meeting.cloud_meeting_id
    ready = {
        "event": "ready",
        "cloud_meeting_id": None if cloud_id is None else cloud_id.digits,
        "cloud_error": meeting.cloud_error,
    }
    print(json.dumps(ready), flush=True)
    await done.wait()
    await meeting.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option in ("--cloud", "--token", "--ca", "--xmpp", "--bind", "--data-dir", "--pin"):
        parser.add_argument(option, required=True)
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--name", default="Proxy Room")
    parser.add_argument("--proxy", default="none")
    # The receiver's own log goes to stderr, which the tests keep in a file.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
