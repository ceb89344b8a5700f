"""The receiver with its full-screen window: Qt and asyncio on one thread (qasync).

The window only draws and reports clicks; this module connects it to the
meeting's service (events in, stop requests out).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from typing import Any

from montage_core.cloud.account import CloudAccount

from .config import ReceiverConfig
from .meeting import Meeting, open_meeting
from .service import (
    CloudMeetingEnded,
    PresenterAdded,
    PresenterChanged,
    PresenterRemoved,
    ServiceEvent,
)
from .updates import ReceiverUpdates, UpdateOptions


def run_gui(
    config: ReceiverConfig,
    *,
    cloud: CloudAccount | None = None,
    status_json: bool,
    windowed: bool,
    start_reporting: Callable[[Meeting, bool, ReceiverConfig], Any],
    updates: UpdateOptions | None = None,
) -> int:
    import qasync
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QKeySequence, QShortcut
    from PySide6.QtWidgets import QApplication

    from .ui.audio_output import AudioOutput
    from .ui.window import ReceiverWindow

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Montage Receiver")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    async def serve() -> int:
        meeting = await open_meeting(config, cloud)
        window = ReceiverWindow(config.name, meeting.display_id(), meeting.pin)
        audio = AudioOutput()
        finished = asyncio.Event()

        def on_event(event: ServiceEvent) -> None:
            if isinstance(event, PresenterAdded):
                window.add_presenter(event.presenter)
                audio.attach(event.presenter)
            elif isinstance(event, PresenterRemoved):
                audio.detach(event.presenter)
                window.remove_presenter(event.presenter.id)
            elif isinstance(event, PresenterChanged):
                window.update_presenter(event.presenter)
            elif isinstance(event, CloudMeetingEnded):
                window.set_meeting_id(meeting.display_id())

        meeting.service.subscribe(on_event)
        window.stop_requested.connect(
            lambda pid: asyncio.ensure_future(meeting.service.stop_presenter(pid))
        )
        window.mute_requested.connect(
            lambda pid, muted: asyncio.ensure_future(meeting.service.set_muted(pid, muted))
        )
        window.view_changed.connect(
            lambda pid, width, height: asyncio.ensure_future(
                meeting.service.show_in(pid, width, height)
            )
        )
        quit_shortcut = QShortcut(QKeySequence("Ctrl+Q"), window)
        quit_shortcut.activated.connect(window.close)
        app.lastWindowClosed.connect(finished.set)
        # Python runs signal handlers only between bytecodes; a idle timer
        # gives it the chance while Qt's loop is in C.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: finished.set())
        wake = QTimer()
        wake.start(200)
        wake.timeout.connect(lambda: None)

        reporter = start_reporting(meeting, status_json, config)
        updater = ReceiverUpdates(
            updates or UpdateOptions(status_json=status_json),
            meeting,
            show=lambda offer: window.show_update_notice(f"{offer.headline}."),
            request_restart=finished.set,
        )
        window.update_install_requested.connect(updater.install_offered)
        updater.start()
        if windowed:
            window.resize(1280, 720)
            window.show()
        else:
            # Bare X servers (kiosks, Xvfb) have no window manager to honour
            # showFullScreen, so size the window to the screen as well.
            screen = app.primaryScreen()
            if screen is not None:
                window.setGeometry(screen.geometry())
            window.showFullScreen()
        try:
            await finished.wait()
        finally:
            wake.stop()
            updater.stop()
            if reporter is not None:
                reporter.stop()
            await meeting.close()
            audio.close()
            window.shutdown()
            window.close()
        if updater.restart_pending:
            updater.restart()  # replaces this process with the new version
        return 0

    with loop:
        code: int = loop.run_until_complete(serve())
    return code
