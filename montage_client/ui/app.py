"""Starts the client's GUI: one QApplication, asyncio on the Qt thread (qasync)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING

from montage_client.settings import ClientSettings
from montage_core.protocol.messages import DEFAULT_PORT

if TYPE_CHECKING:
    from montage_client.core.devices import Device, DeviceKind

    from .controller import ClientController
    from .join_window import JoinWindow
    from .sharing_bar import SharingBar
    from .update_controller import UpdateController


def build(port: int = DEFAULT_PORT) -> tuple[ClientController, JoinWindow, SharingBar]:
    """Make the windows and their controller (the QApplication must exist)."""
    from PySide6.QtMultimedia import QMediaDevices

    from montage_client.core.devices import list_devices, synthetic_device
    from montage_client.core.room_finder import RoomFinder

    from .controller import ClientController
    from .join_window import JoinWindow
    from .sharing_bar import SharingBar

    def devices(kind: DeviceKind) -> list[Device]:
        present = list_devices(kind)
        # The built-in test pattern and tone, for demos on machines without devices.
        if os.environ.get("MONTAGE_TEST_DEVICES"):
            present.append(synthetic_device(kind))
        return present

    join_window, sharing_bar = JoinWindow(), SharingBar()
    controller = ClientController(
        join_window,
        sharing_bar,
        ClientSettings.load(),
        port=port,
        device_lister=devices,
        room_watcher=RoomFinder,  # "Rooms near you"
    )
    # A camera plugged in (or out) shows up in the pickers at once.
    watcher = QMediaDevices(controller)
    watcher.videoInputsChanged.connect(controller.refresh_devices)
    watcher.audioInputsChanged.connect(controller.refresh_devices)
    return controller, join_window, sharing_bar


def run_app(port: int = DEFAULT_PORT) -> int:
    import qasync
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Montage")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    controller, join_window, _bar = build(port)
    join_window.show()
    updates = watch_for_updates(controller, join_window)
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    with loop:
        if updates is not None:
            updates.start()
        loop.run_until_complete(closed.wait())
        if updates is not None:
            updates.close()
        controller.close()
        loop.run_until_complete(controller.stop_watching())
    return 0


def watch_for_updates(
    controller: ClientController, join_window: JoinWindow
) -> UpdateController | None:
    """Update checks for an installed client (None for a developer's checkout)."""
    from montage_client import __version__
    from montage_client.settings import chosen_proxy
    from montage_core.updates.watch import UpdateWatch

    from .update_controller import UpdateController

    def sharing() -> bool:  # joining, asking for the PIN or sharing
        return controller.task is not None and not controller.task.done()

    watch = UpdateWatch.for_running(
        "montage-client", __version__, chosen_proxy(None), lambda _offer: None, sharing
    )
    if watch is None:
        return None
    return UpdateController(watch, join_window.update_banner, before_restart=controller.close)
