"""Connects the client's windows to the share: widgets in, core calls out.

The widgets only draw and emit what the person did; the share itself
(`ShareClient`) runs as an asyncio task on the same thread (qasync), and its
progress comes back here as plain updates. Nothing in this module blocks:
every wait is an `await`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject, QTimer

from montage_client.core.change_pacing import Quality
from montage_client.core.devices import Device, DeviceKind, list_devices
from montage_client.core.local_media import LocalMedia, MediaChange
from montage_client.core.screen_source import Grabber, Monitor, ScreenGrabber, list_monitors
from montage_client.core.share_client import (
    RECONNECTING,
    ChannelOpener,
    LinkQuality,
    Notice,
    PinWanted,
    Progress,
    Reconnecting,
    ShareClient,
    Sharing,
    Update,
)
from montage_client.settings import ClientSettings, config_dir
from montage_core.net import (
    PASSWORD_ENV,
    InvalidProxySetting,
    ProxyResolver,
    ProxySettings,
    store_proxy_password,
)
from montage_core.protocol.discovery import RoomAnnouncement
from montage_core.protocol.errors import DeviceUnavailable, MontageError, NotEnrolled
from montage_core.protocol.meeting_id import CloudMeetingId, MeetingId, parse_meeting_id
from montage_core.protocol.messages import DEFAULT_PORT
from montage_core.rtc.peer import LOCAL_ONLY, IceSettings

from .cloud_dialog import CloudAccountDialog
from .join_window import JoinWindow
from .media_controls import PREVIEW_SIZE, MediaControls
from .proxy_dialog import ProxyDialog
from .sharing_bar import SharingBar

if TYPE_CHECKING:
    from montage_client.core.room_finder import RoomsListener

logger = logging.getLogger(__name__)

GrabberFactory = Callable[[int], Grabber]
DeviceLister = Callable[[DeviceKind], list[Device]]


class RoomWatcher(Protocol):
    """Hears rooms announced nearby (`RoomFinder`); the controller starts and closes it."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


RoomWatcherFactory = Callable[["RoomsListener"], RoomWatcher]
PREVIEW_HZ = 15
PROXY_TEST_TIMEOUT = 5.0  # seconds per step of "Test connection", as netcheck's default


class ClientController(QObject):
    def __init__(
        self,
        join_window: JoinWindow,
        sharing_bar: SharingBar,
        settings: ClientSettings,
        *,
        port: int = DEFAULT_PORT,
        grabber_factory: GrabberFactory = lambda monitor: ScreenGrabber(monitor=monitor),
        monitor_lister: Callable[[], list[Monitor]] = list_monitors,
        device_lister: DeviceLister = list_devices,
        media: LocalMedia | None = None,
        room_watcher: RoomWatcherFactory | None = None,
    ) -> None:
        super().__init__()
        self.join_window = join_window
        self.sharing_bar = sharing_bar
        self.settings = settings
        self.port = port
        self.quality = Quality.AUTO  # the person's choice in the sharing bar
        self.grabber_factory = grabber_factory
        self.monitor_lister = monitor_lister
        self.client: ShareClient | None = None
        self.task: asyncio.Task[None] | None = None
        self.sharing = False
        self._pin: asyncio.Future[str] | None = None
        # Camera and microphone outlive a share: previewed before joining,
        # kept on across it. Both windows show the same controls.
        self.media = media or LocalMedia()
        self.device_lister = device_lister
        self.devices: dict[DeviceKind, list[Device]] = {kind: [] for kind in DeviceKind}
        self.chosen: dict[DeviceKind, int] = {kind: 0 for kind in DeviceKind}
        self.controls: tuple[MediaControls, ...] = (
            join_window.media_controls,
            sharing_bar.media_controls,
        )
        self._switching: set[asyncio.Task[None]] = set()
        self.media.subscribe(self._on_media)
        self._preview_timer = QTimer(self)
        self._preview_timer.setInterval(1000 // PREVIEW_HZ)
        self._preview_timer.timeout.connect(self._show_preview)
        self._preview_seq = -1
        for controls in self.controls:
            controls.camera_toggled.connect(lambda on: self._switch(DeviceKind.CAMERA, on))
            controls.microphone_toggled.connect(lambda on: self._switch(DeviceKind.MICROPHONE, on))
            controls.camera_chosen.connect(lambda i: self._choose(DeviceKind.CAMERA, i))
            controls.microphone_chosen.connect(lambda i: self._choose(DeviceKind.MICROPHONE, i))
        self.refresh_devices()

        join_window.set_name(settings.name)
        join_window.set_recent(
            [MeetingId(d).display() for d in settings.recent_meetings if _is_valid(d)]
        )
        join_window.join_requested.connect(self._on_join)
        join_window.cloud_settings_requested.connect(self.show_cloud_account)
        self.cloud_dialog: CloudAccountDialog | None = None
        self._enrol_task: asyncio.Task[None] | None = None
        join_window.network_settings_requested.connect(self.show_network_settings)
        self.network_dialog: ProxyDialog | None = None
        self._proxy_test: asyncio.Task[None] | None = None
        self._proxy_save: asyncio.Task[None] | None = None
        self._proxy_lookup: asyncio.Task[None] | None = None
        # "Rooms near you": discovery runs in its own threads (room_finder.py);
        # only the list arrives here. Ports of rooms heard, by meeting ID.
        self.nearby: list[RoomAnnouncement] = []
        self._nearby_ports: dict[str, int] = {}
        join_window.nearby_room_chosen.connect(self._on_nearby_chosen)
        self.room_watcher = room_watcher(self.show_nearby) if room_watcher else None
        self._watching: asyncio.Task[None] | None = None
        if self.room_watcher is not None:
            self._watching = asyncio.ensure_future(self.room_watcher.start())
        join_window.pin_entered.connect(self._on_pin)
        join_window.cancel_requested.connect(self.stop)
        sharing_bar.stop_requested.connect(self.stop)
        sharing_bar.pause_toggled.connect(self._on_pause)
        sharing_bar.monitor_selected.connect(self._on_monitor)
        sharing_bar.quality_selected.connect(self._on_quality)

    # -- from the widgets ---------------------------------------------------
    def _on_join(self, meeting_text: str, name: str) -> None:
        if self.task is not None and not self.task.done():
            return
        try:
            meeting = parse_meeting_id(meeting_text)
        except MontageError as exc:
            self.join_window.show_error(str(exc))
            return
        self.settings.name = name.strip()
        if isinstance(meeting, MeetingId):  # a cloud ID is for one meeting only
            self.settings.remember_meeting(str(meeting))
        self.settings.save()
        self.join_window.set_busy(True)
        self.task = asyncio.ensure_future(self._share(meeting, name.strip()))

    def _on_pin(self, pin: str) -> None:
        if self._pin is not None and not self._pin.done():
            self.join_window.set_busy(True)
            self._pin.set_result(pin)

    def _on_pause(self, paused: bool) -> None:
        if self.client is not None:
            self.client.pause(paused)
            self.sharing_bar.set_status(self._status_text(paused))

    def _on_quality(self, value: str) -> None:
        self.quality = Quality(value)
        if self.client is not None:
            self.client.set_quality(self.quality)

    def _on_monitor(self, index: int) -> None:
        if self.client is not None:
            self.client.select_monitor(index)

    # -- rooms near you ----------------------------------------------------------
    def show_nearby(self, rooms: list[RoomAnnouncement]) -> None:
        """The rooms announced on this network now (from the room watcher)."""
        self.nearby = rooms
        lines = []
        for room in rooms:
            if room.meeting_id is None:
                lines.append(f"{room.name} — type the ID on its screen")
                continue
            shown = parse_meeting_id(room.meeting_id).display()
            lines.append(f"{room.name} — {shown}{'' if room.pin_required else ' (no PIN)'}")
        self.join_window.set_nearby(lines)

    def _on_nearby_chosen(self, row: int) -> None:
        if not 0 <= row < len(self.nearby):
            return
        room = self.nearby[row]
        if room.meeting_id is None:
            self.join_window.show_notice(
                f"{room.name} does not announce its meeting ID: type the one on its screen."
            )
            self.join_window.meeting_edit.setFocus()
            return
        # A local ID names the address, not the port: remember the port it announced.
        self._nearby_ports[room.meeting_id] = room.port
        self.join_window.set_meeting_id(parse_meeting_id(room.meeting_id).display())

    # -- camera and microphone ------------------------------------------------
    def refresh_devices(self) -> None:
        """Fill the pickers from the devices present now (names as the system shows them)."""
        for kind in DeviceKind:
            try:
                present = self.device_lister(kind)
            except Exception as exc:
                logger.warning("cannot list %ss: %s", kind.value, exc)
                present = []
            on = self.media.sources[kind]
            current = next(
                (i for i, d in enumerate(present) if on is not None and d == on.device),
                next((i for i, d in enumerate(present) if d.default), 0),
            )
            self.devices[kind] = present
            self.chosen[kind] = current
            names = [d.name for d in present]
            for controls in self.controls:
                if kind is DeviceKind.CAMERA:
                    controls.set_cameras(names, current)
                else:
                    controls.set_microphones(names, current)

    def _switch(self, kind: DeviceKind, on: bool) -> None:
        present = self.devices[kind]
        device = present[self.chosen[kind]] if on and present else None
        self._run_switch(kind, device)

    def _choose(self, kind: DeviceKind, index: int) -> None:
        if not 0 <= index < len(self.devices[kind]):
            return
        self.chosen[kind] = index
        for controls in self.controls:
            combo = (
                controls.camera_combo if kind is DeviceKind.CAMERA else controls.microphone_combo
            )
            combo.setCurrentIndex(index)
        if self.media.sources[kind] is not None:
            self._run_switch(kind, self.devices[kind][index])

    def _run_switch(self, kind: DeviceKind, device: Device | None) -> None:
        for controls in self.controls:
            controls.show_problem("")
        # Opening a device runs in a worker thread; the window stays live.
        task = asyncio.ensure_future(self._switch_now(kind, device))
        self._switching.add(task)
        task.add_done_callback(self._switching.discard)

    async def _switch_now(self, kind: DeviceKind, device: Device | None) -> None:
        try:
            await self.media.switch(kind, device)
        except DeviceUnavailable:
            pass  # _on_media shows the sentence
        except Exception as exc:
            logger.exception("switching the %s failed", kind.value)
            for controls in self.controls:
                controls.show_problem(f"The {kind.value} could not be switched: {exc}")

    def _on_media(self, change: MediaChange) -> None:
        on = change.device is not None
        for controls in self.controls:
            if change.kind is DeviceKind.CAMERA:
                controls.set_camera_on(on)
            else:
                controls.set_microphone_on(on)
            if change.problem is not None:
                controls.show_problem(str(change.problem))
        if change.kind is DeviceKind.CAMERA:
            camera = self.media.camera
            if camera is not None:
                # The capture thread scales the preview, not the GUI thread.
                camera.preview_size = PREVIEW_SIZE
                self._preview_seq = -1
                self._preview_timer.start()
            else:
                self._preview_timer.stop()

    def _show_preview(self) -> None:
        camera = self.media.camera
        if camera is None or camera.preview is None or camera.preview_seq == self._preview_seq:
            return
        self._preview_seq = camera.preview_seq
        for controls in self.controls:
            if controls.isVisible():
                controls.preview.show_frame(camera.preview)

    # -- the cloud account page ------------------------------------------------
    def show_cloud_account(self) -> None:
        from montage_core.cloud.account import ACCOUNT_FILE, CloudAccount

        if self.cloud_dialog is None:
            self.cloud_dialog = CloudAccountDialog(self.join_window)
            self.cloud_dialog.enrol_requested.connect(self._on_enrol)
        account = CloudAccount.load(config_dir() / ACCOUNT_FILE)
        self.cloud_dialog.show_account(
            account.url if account else None, account.device_id if account else None
        )
        self.cloud_dialog.show()

    def _on_enrol(self, url: str, token: str, ca_file: str, xmpp: str, store: str) -> None:
        if self._enrol_task is not None and not self._enrol_task.done():
            return
        assert self.cloud_dialog is not None
        self.cloud_dialog.set_busy(True)
        self._enrol_task = asyncio.ensure_future(self._enrol(url, token, ca_file, xmpp, store))

    async def _enrol(self, url: str, token: str, ca_file: str, xmpp: str, store: str) -> None:
        import socket

        from montage_core.cloud.account import ACCOUNT_FILE
        from montage_core.cloud.enrol import enrol_device
        from montage_core.cloud.secret_store import FILE_CHOICE, SecretStoreChoice

        dialog = self.cloud_dialog
        assert dialog is not None
        try:
            account = await enrol_device(
                config_dir() / ACCOUNT_FILE,
                url=url,
                token=token,
                kind="client",
                name=(self.settings.name or socket.gethostname())[:64] or "Montage client",
                ca_file=ca_file or None,
                xmpp=xmpp or None,
                proxy=self.settings.proxy_settings(),
                secret_store=SecretStoreChoice(store),
            )
        except MontageError as exc:
            # The store's sentences name the command line's flag; here the choice is below.
            dialog.show_error(
                str(exc).replace(FILE_CHOICE, 'choose "A file only your user can read" below')
            )
            return
        except Exception as exc:
            logger.exception("enrolment failed")
            dialog.show_error(f"Enrolment failed: {exc}")
            return
        dialog.show_enrolled(account.url, account.device_id)

    # -- the network (proxy) page ------------------------------------------------
    def show_network_settings(self) -> None:
        if self.network_dialog is None:
            self.network_dialog = ProxyDialog(self.join_window)
            self.network_dialog.test_requested.connect(self._on_proxy_test)
            self.network_dialog.save_requested.connect(self._on_proxy_save)
            self.network_dialog.finished.connect(self._on_network_closed)
        elif self.network_dialog.isVisible():  # already open: keep what is being typed
            self.network_dialog.raise_()
            self.network_dialog.activateWindow()
            return
        settings = self.settings.proxy_settings()
        # The saved text itself when it is valid: it keeps the quoting of an unusual user.
        spec = self.settings.proxy if _parses(self.settings.proxy) else str(settings)
        self.network_dialog.show_setting(spec, password_stored=False)
        self.network_dialog.show()
        if settings.user is not None:
            # Asking the keyring may block (D-Bus, an unlock prompt): not on this thread.
            if self._proxy_lookup is not None:
                self._proxy_lookup.cancel()
            self._proxy_lookup = asyncio.ensure_future(self._show_password_stored(settings))

    async def _show_password_stored(self, settings: ProxySettings) -> None:
        from montage_core.net.settings import proxy_password

        assert settings.user is not None and self.network_dialog is not None
        try:
            stored = await asyncio.to_thread(
                proxy_password, settings.user, settings.host, settings.port
            )
        except Exception as exc:  # a broken keyring backend: say nothing is stored
            logger.info("cannot ask the keyring for the proxy password: %s", type(exc).__name__)
            return
        self.network_dialog.set_password_stored(stored is not None)

    def _on_proxy_test(self, spec: str, password: str) -> None:
        assert self.network_dialog is not None
        # A new test replaces one still running: only the latest choice's answer matters.
        if self._proxy_test is not None:
            self._proxy_test.cancel()
        self.network_dialog.set_busy(True)
        self._proxy_test = asyncio.ensure_future(self._test_proxy(spec, password))

    async def _test_proxy(self, spec: str, password: str) -> None:
        from montage_core.cloud.account import ACCOUNT_FILE, CloudAccount
        from montage_core.net.netcheck import netcheck, netcheck_account

        dialog = self.network_dialog
        assert dialog is not None
        try:
            # A typed password is tested as it is, before it is saved anywhere.
            resolver = ProxyResolver(ProxySettings.parse(spec), password=password or None)
            account = await asyncio.to_thread(CloudAccount.load, config_dir() / ACCOUNT_FILE)
            if account is None:  # nothing to reach yet; the findings say so
                findings = await netcheck(resolver, None)
            else:
                findings = await netcheck_account(resolver, account, timeout=PROXY_TEST_TIMEOUT)
        except MontageError as exc:
            dialog.show_error(str(exc))
            return
        except Exception as exc:
            logger.exception("the proxy test failed")
            # The type only on screen: a library's message might quote a request.
            dialog.show_error(f"The test stopped on an unexpected error ({type(exc).__name__}).")
            return
        dialog.show_findings([(finding.ok, finding.text) for finding in findings])

    def _on_proxy_save(self, spec: str, password: str) -> None:
        if self._proxy_save is not None and not self._proxy_save.done():
            return
        self._proxy_save = asyncio.ensure_future(self._save_proxy(spec, password))

    async def _save_proxy(self, spec: str, password: str) -> None:
        dialog = self.network_dialog
        assert dialog is not None
        try:
            settings = ProxySettings.parse(spec)
        except InvalidProxySetting as exc:
            dialog.show_error(str(exc))
            return
        # The setting holds no password (parse refuses one), so it may go to the file.
        self.settings.proxy = spec
        self.settings.save()
        if not password or settings.user is None:
            dialog.show_saved()
            return
        try:
            await asyncio.to_thread(
                store_proxy_password, settings.user, settings.host, settings.port, password
            )
        except Exception as exc:  # keyring errors, and backends' own (D-Bus, locked)
            # The type only: a backend's message is not ours to vouch for.
            logger.warning("cannot store the proxy password: %s", type(exc).__name__)
            dialog.show_saved()
            dialog.show_error(
                "The proxy setting is saved, but its password could not be stored in this "
                f"computer's keyring ({type(exc).__name__}). Unlock or install a keyring and "
                f"save again, or give the password in {PASSWORD_ENV}."
            )
            return
        dialog.show_saved(password_stored=True)

    def _on_network_closed(self) -> None:
        # A test nobody will read is not left running (its connections, its timeouts).
        for task in (self._proxy_test, self._proxy_lookup):
            if task is not None:
                task.cancel()
        if self.network_dialog is not None:
            self.network_dialog.set_busy(False)

    def close(self) -> None:
        """The app is closing: stop the share and let the devices go."""
        self.stop()
        self._on_network_closed()
        self._preview_timer.stop()
        self.media.close()

    async def stop_watching(self) -> None:
        """Stop listening for rooms nearby (its threads end)."""
        watcher, self.room_watcher = self.room_watcher, None
        if watcher is not None:
            if self._watching is not None:
                await asyncio.wait([self._watching])
            await watcher.close()

    def stop(self) -> None:
        """Stop (while sharing) or cancel (while connecting)."""
        if self.client is not None and self.sharing:
            self.client.request_stop()
        elif self.task is not None and not self.task.done():
            self.task.cancel()

    # -- the share ----------------------------------------------------------
    async def _share(self, meeting: MeetingId | CloudMeetingId, name: str) -> None:
        monitor = 1

        def make_client(
            open_channel: ChannelOpener | None = None, ice: IceSettings = LOCAL_ONLY
        ) -> ShareClient:
            self.client = ShareClient(
                meeting,
                name,
                self.grabber_factory(monitor),
                self._ask_pin,
                port=self._nearby_ports.get(str(meeting), self.port),
                quality=self.quality,
                on_update=self._on_update,
                media=self.media,
                open_channel=open_channel,
                ice=ice,
            )
            return self.client

        error: str | None = None
        notice = "You stopped sharing."
        try:
            if isinstance(meeting, CloudMeetingId):
                await self._share_to_cloud(meeting, make_client)
            else:
                await make_client().run()
        except asyncio.CancelledError:
            notice = "Cancelled."
        except MontageError as exc:
            error = str(exc)
        except Exception as exc:
            logger.exception("share failed")
            error = f"Something went wrong: {exc}"
        finally:
            self.client = None
            self.sharing = False
            self.sharing_bar.show_notice("")
            self.sharing_bar.hide()
            self.join_window.reset()
            self.join_window.show()
        if error is None:
            self.join_window.show_notice(notice)
        else:
            self.join_window.show_error(error)

    async def _share_to_cloud(
        self,
        meeting: CloudMeetingId,
        make_client: Callable[[ChannelOpener, IceSettings], ShareClient],
    ) -> None:
        from montage_client.core.cloud_join import share_to_cloud_meeting
        from montage_core.cloud.account import ACCOUNT_FILE, CloudAccount

        account = CloudAccount.load(config_dir() / ACCOUNT_FILE)
        if account is None:
            raise NotEnrolled(
                f"{meeting.display()} is a cloud meeting, and this computer is not enrolled with "
                "a Montage cloud. Ask your administrator for an enrolment token."
            )
        self.join_window.show_progress(f"Looking up meeting {meeting.display()}…")
        await share_to_cloud_meeting(
            account, meeting, make_client, proxy=self.settings.proxy_settings()
        )

    async def _ask_pin(self, wanted: PinWanted) -> str:
        self._pin = asyncio.get_running_loop().create_future()
        self.join_window.set_busy(False)
        self.join_window.ask_pin(wanted.message)
        try:
            return await self._pin
        finally:
            self._pin = None

    def _on_update(self, update: Update) -> None:
        if isinstance(update, Notice):
            self.sharing_bar.show_notice(update.text)
        elif isinstance(update, Progress):
            self.join_window.show_progress(update.text)
        elif isinstance(update, Reconnecting):
            # The share goes on by itself; the bar says so, nobody has to do anything.
            self.sharing_bar.set_status(RECONNECTING)
            self.sharing_bar.set_link(None)
            self.sharing_bar.show_notice(update.reason)
        elif isinstance(update, LinkQuality):
            self.sharing_bar.set_link(update.grade.value, _link_detail(update))
        elif isinstance(update, Sharing) and self.sharing:
            # Back after reconnecting: the same share, paused or not as it was.
            self._room, self._path = update.room, update.path
            self.sharing_bar.show_notice("")
            self.sharing_bar.set_status(
                self._status_text(self.sharing_bar.pause_button.isChecked())
            )
        elif isinstance(update, Sharing):
            self.sharing = True
            self._room, self._path = update.room, update.path
            self.join_window.hide()
            self.sharing_bar.set_paused(False)
            self.sharing_bar.set_quality(self.quality)
            self.sharing_bar.set_status(self._status_text(False))
            self.sharing_bar.show()
            self._monitors_task = asyncio.ensure_future(self._fill_monitors())

    async def _fill_monitors(self) -> None:
        try:
            monitors = await asyncio.to_thread(self.monitor_lister)
        except Exception as exc:
            logger.warning("cannot list monitors: %s", exc)
            return
        client = self.client
        if client is not None:
            current = getattr(client.source.grabber, "monitor", 1)
            self.sharing_bar.set_monitors(monitors, current)

    def _status_text(self, paused: bool) -> str:
        where = f"{getattr(self, '_room', '')} ({getattr(self, '_path', 'Local')})"
        return f"Paused — {where}" if paused else f"Sharing to {where}"


def _link_detail(update: LinkQuality) -> str:
    parts = []
    if update.loss_pct is not None:
        parts.append(f"{update.loss_pct:.1f} % lost")
    if update.rtt_ms is not None:
        parts.append(f"{update.rtt_ms:.0f} ms round trip")
    return ", ".join(parts)


def _parses(spec: str) -> bool:
    try:
        ProxySettings.parse(spec)
    except InvalidProxySetting:
        return False
    return True


def _is_valid(digits: str) -> bool:
    try:
        MeetingId.parse(digits)
    except MontageError:
        return False
    return True
