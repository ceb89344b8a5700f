"""The client's window, run as its own program on an X display and used like a person would.

    python -m tests.client_app_driver --port P --meeting ID --pin PIN --name NAME

builds the real windows and controller (`montage_client.ui.app.build`), types
the meeting ID, the name and the PIN into the join window and clicks Join, then
leaves the share alone: a test watches the display (screenshots) and the
network, and ends it with SIGTERM. The screen shared is this display's.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import qasync
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from montage_client.ui.app import build


async def person(args: argparse.Namespace, done: asyncio.Event) -> None:
    controller, join_window, _bar = build(args.port)
    join_window.show()
    QTest.keyClicks(join_window.meeting_edit, args.meeting)
    join_window.name_edit.clear()
    QTest.keyClicks(join_window.name_edit, args.name)
    QTest.mouseClick(join_window.join_button, Qt.MouseButton.LeftButton)
    while not join_window.pin_edit.isVisible():
        await asyncio.sleep(0.1)
    QTest.keyClicks(join_window.pin_edit, args.pin)
    QTest.mouseClick(join_window.join_button, Qt.MouseButton.LeftButton)
    print("joined", flush=True)
    await done.wait()
    controller.close()
    if controller.task is not None:
        await asyncio.wait([controller.task], timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--meeting", required=True)
    parser.add_argument("--pin", required=True)
    parser.add_argument("--name", default="Ada")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    with loop:
        loop.run_until_complete(person(args, done))
    return 0


if __name__ == "__main__":
    sys.exit(main())
