"""Windows code paths tested without Windows, on recorded or fake answers.

- DPI awareness: the order of attempts on Windows 10+, 8.1 and 7, "already
  set", and that `montage-client` declares it before anything measures a screen.
- Monitors at negative coordinates (a screen left of or above the main one):
  listing, grabbing, regions and the capture thread take the right pixels.
- DirectShow cameras and microphones: the names Qt lists are what dshow opens.
- The system proxy: the registry's PAC address (read through pypac, with a
  fake `winreg`) and the registry's proxy server (urllib's recorded answer).

docs/packaging.md lists what only a real Windows would show.
"""

from __future__ import annotations

import asyncio
import builtins
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from montage_client import cli
from montage_client.core import devices as devices_module
from montage_client.core.devices import Device, DeviceKind, camera_spec, microphone_spec
from montage_client.core.dpi_awareness import (
    DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2,
    E_ACCESSDENIED,
    ERROR_ACCESS_DENIED,
    PROCESS_PER_MONITOR_DPI_AWARE,
    DpiAwareness,
    DpiCalls,
    make_dpi_aware,
)
from montage_client.core.screen_source import ScreenGrabber, ScreenSource, list_monitors
from montage_core.net import DIRECT, InvalidProxySetting, ProxyEndpoint, ProxyMode, ProxyResolver
from montage_core.net import ProxySettings as Settings

# -- DPI awareness -------------------------------------------------------------------------


class Windows:
    """Records the DPI calls; each answers as a given Windows version would."""

    def __init__(
        self,
        context: bool | None = True,
        awareness: int | None = 0,
        aware: bool | None = True,
        last_error: int = 0,
    ) -> None:
        self.calls: list[tuple[str, Any]] = []
        self._context, self._awareness, self._aware = context, awareness, aware
        self._last_error = last_error

    def dpi_calls(self) -> DpiCalls:
        def context(value: int) -> bool:
            self.calls.append(("SetProcessDpiAwarenessContext", value))
            return bool(self._context)

        def awareness(value: int) -> int:
            self.calls.append(("SetProcessDpiAwareness", value))
            assert self._awareness is not None
            return self._awareness

        def aware() -> bool:
            self.calls.append(("SetProcessDPIAware", None))
            return bool(self._aware)

        return DpiCalls(
            set_context=context if self._context is not None else None,
            set_awareness=awareness if self._awareness is not None else None,
            set_aware=aware if self._aware is not None else None,
            last_error=lambda: self._last_error,
        )


@pytest.mark.parametrize(
    ("windows", "result", "calls"),
    [
        # Windows 10 1703 and later: per-monitor v2 at the first call.
        (Windows(), DpiAwareness.PER_MONITOR_V2, ["SetProcessDpiAwarenessContext"]),
        # Windows 8.1: no awareness contexts; shcore's per-monitor.
        (
            Windows(context=None),
            DpiAwareness.PER_MONITOR,
            ["SetProcessDpiAwareness"],
        ),
        # Windows 7: only system awareness.
        (
            Windows(context=None, awareness=None),
            DpiAwareness.SYSTEM,
            ["SetProcessDPIAware"],
        ),
        # Set already (a manifest, or Qt first): Windows says access denied.
        (
            Windows(context=False, last_error=ERROR_ACCESS_DENIED),
            DpiAwareness.ALREADY_SET,
            ["SetProcessDpiAwarenessContext"],
        ),
        (
            Windows(context=None, awareness=E_ACCESSDENIED),
            DpiAwareness.ALREADY_SET,
            ["SetProcessDpiAwareness"],
        ),
        # A v2 refusal for another reason falls back to the older calls.
        (
            Windows(context=False, last_error=87, awareness=0),
            DpiAwareness.PER_MONITOR,
            ["SetProcessDpiAwarenessContext", "SetProcessDpiAwareness"],
        ),
        (
            Windows(context=False, last_error=87, awareness=-2147024809, aware=False),
            DpiAwareness.UNAWARE,
            ["SetProcessDpiAwarenessContext", "SetProcessDpiAwareness", "SetProcessDPIAware"],
        ),
    ],
)
def test_dpi_awareness_attempts(windows: Windows, result: DpiAwareness, calls: list[str]) -> None:
    assert make_dpi_aware("win32", windows.dpi_calls()) is result
    assert [name for name, _ in windows.calls] == calls
    values = dict(windows.calls)
    if "SetProcessDpiAwarenessContext" in values:
        assert values["SetProcessDpiAwarenessContext"] == DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2
    if "SetProcessDpiAwareness" in values:
        assert values["SetProcessDpiAwareness"] == PROCESS_PER_MONITOR_DPI_AWARE


def test_dpi_awareness_elsewhere_calls_nothing() -> None:
    windows = Windows()
    assert make_dpi_aware("linux", windows.dpi_calls()) is DpiAwareness.NOT_WINDOWS
    assert make_dpi_aware("darwin", windows.dpi_calls()) is DpiAwareness.NOT_WINDOWS
    assert windows.calls == []


# -- monitors at negative coordinates --------------------------------------------------------

# mss's monitors on a Windows laptop (1920x1080 at 0,0) with a 2560x1440
# screen to its left, 360 px higher: Windows puts the main screen at 0,0 and
# the others at negative coordinates. [0] is the whole virtual desktop.
RECORDED_MONITORS = [
    {"left": -2560, "top": -360, "width": 4480, "height": 1440},
    {"left": 0, "top": 0, "width": 1920, "height": 1080},
    {"left": -2560, "top": -360, "width": 2560, "height": 1440},
]
LEFT_SCREEN_BGRA = (200, 30, 30, 255)  # blue-ish
MAIN_SCREEN_BGRA = (30, 30, 200, 255)  # red-ish


class VirtualDesktop:
    """An mss stand-in over a painted virtual desktop: grabs outside it fail, as BitBlt does."""

    def __init__(self) -> None:
        self.monitors = RECORDED_MONITORS
        whole = RECORDED_MONITORS[0]
        self.origin = (whole["left"], whole["top"])
        self.pixels = np.zeros((whole["height"], whole["width"], 4), np.uint8)
        for monitor, colour in zip(
            RECORDED_MONITORS[1:], (MAIN_SCREEN_BGRA, LEFT_SCREEN_BGRA), strict=True
        ):
            x, y = monitor["left"] - self.origin[0], monitor["top"] - self.origin[1]
            self.pixels[y : y + monitor["height"], x : x + monitor["width"]] = colour
        self.requests: list[dict[str, int]] = []

    def grab(self, monitor: dict[str, int]) -> Any:
        self.requests.append(dict(monitor))
        x, y = monitor["left"] - self.origin[0], monitor["top"] - self.origin[1]
        if x < 0 or y < 0:
            raise OSError("BitBlt outside the virtual desktop")
        area = self.pixels[y : y + monitor["height"], x : x + monitor["width"]]
        assert area.shape[:2] == (monitor["height"], monitor["width"])
        return type("Shot", (), {"raw": area.tobytes(), **_size(area)})()

    def close(self) -> None:
        pass

    def __enter__(self) -> VirtualDesktop:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _size(area: np.ndarray[Any, Any]) -> dict[str, int]:
    return {"width": area.shape[1], "height": area.shape[0]}


@pytest.fixture
def desktop(monkeypatch: pytest.MonkeyPatch) -> VirtualDesktop:
    import mss

    painted = VirtualDesktop()
    monkeypatch.setattr(mss, "MSS", lambda *a, **k: painted)
    return painted


def test_monitors_left_of_and_above_the_main_one_are_listed(desktop: VirtualDesktop) -> None:
    monitors = list_monitors()
    assert [(m.index, m.left, m.top, m.width, m.height) for m in monitors] == [
        (1, 0, 0, 1920, 1080),
        (2, -2560, -360, 2560, 1440),
    ]
    assert monitors[1].label() == "Screen 2 (2560×1440)"


def test_grabbing_a_screen_at_negative_coordinates(desktop: VirtualDesktop) -> None:
    grabber = ScreenGrabber(monitor=2)
    grabber.open()
    assert grabber.size() == (2560, 1440)
    whole = grabber.grab()
    assert whole.shape == (1440, 2560, 4)
    assert tuple(whole[0, 0]) == tuple(whole[-1, -1]) == LEFT_SCREEN_BGRA
    # A changed region (the pacer's small updates) is relative to the monitor.
    part = grabber.grab((100, 50, 64, 32))
    assert desktop.requests[-1] == {"left": -2460, "top": -310, "width": 64, "height": 32}
    assert np.all(part == LEFT_SCREEN_BGRA)
    # Switching to the main screen takes its pixels, not the left screen's.
    grabber.select(1)
    assert tuple(grabber.grab()[0, 0]) == MAIN_SCREEN_BGRA


def test_capture_thread_shares_the_left_screen(desktop: VirtualDesktop) -> None:
    source = ScreenSource(ScreenGrabber(monitor=2), fps=10)

    async def first() -> Any:
        await source.start()
        try:
            return (await source.next_frame(0))[1]
        finally:
            source.stop()

    frame = asyncio.run(first())
    assert (frame.width, frame.height) == (1920, 1080)  # 2560x1440, scaled to the share's limit
    rgb = frame.to_ndarray(format="rgb24")
    blue, red = LEFT_SCREEN_BGRA[0], LEFT_SCREEN_BGRA[2]
    for y, x in ((0, 0), (540, 960), (1079, 1919)):
        assert abs(int(rgb[y, x, 2]) - blue) < 8 and abs(int(rgb[y, x, 0]) - red) < 8


def test_monitors_command_shows_negative_positions_after_dpi_awareness(
    desktop: VirtualDesktop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    order: list[str] = []
    monkeypatch.setattr(cli, "make_dpi_aware", lambda: order.append("dpi"))
    original_grab = desktop.grab

    def grab(monitor: dict[str, int]) -> Any:
        order.append("grab")
        return original_grab(monitor)

    desktop.grab = grab  # type: ignore[method-assign]
    import mss

    real = mss.MSS

    def measured(*args: Any, **kwargs: Any) -> Any:
        order.append("screens measured")
        return real(*args, **kwargs)

    monkeypatch.setattr(mss, "MSS", measured)
    assert cli.main(["monitors"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1: 1920x1080 at 0,0",
        "2: 2560x1440 at -2560,-360",
    ]
    assert order == ["dpi", "screens measured"]


# -- DirectShow devices -----------------------------------------------------------------------


class QtDevice:
    """A QCameraDevice/QAudioDevice as Qt reports one on Windows."""

    def __init__(self, ident: bytes, description: str) -> None:
        self._id, self._description = ident, description

    def id(self) -> Any:
        return type("QByteArray", (), {"data": lambda _self: self._id})()

    def description(self) -> str:
        return self._description


# Recorded from Qt's Windows backend: ids are device paths, names what people see.
WINDOWS_CAMERAS = [
    QtDevice(rb"\\?\usb#vid_046d&pid_085c&mi_00#7&2f1e5b0&0&0000#{e5323777}\global", "C922 Pro"),
    QtDevice(rb"\\?\usb#vid_04f2&pid_b6dd&mi_00#6&1a2b3c&0&0000#{e5323777}\global", "HD Webcam"),
]
WINDOWS_MICROPHONES = [
    QtDevice(b"{0.0.1.00000000}.{8d6b5a9e}", "Microphone Array (Realtek(R) Audio)"),
]


def test_dshow_opens_what_qt_lists_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6 import QtMultimedia

    class MediaDevices:
        videoInputs = staticmethod(lambda: WINDOWS_CAMERAS)  # noqa: N815 (Qt's names)
        audioInputs = staticmethod(lambda: WINDOWS_MICROPHONES)  # noqa: N815
        defaultVideoInput = staticmethod(lambda: WINDOWS_CAMERAS[1])  # noqa: N815
        defaultAudioInput = staticmethod(lambda: WINDOWS_MICROPHONES[0])  # noqa: N815

    monkeypatch.setattr(QtMultimedia, "QMediaDevices", MediaDevices)
    monkeypatch.setattr(devices_module, "_platform", lambda: "windows")
    cameras = devices_module.list_devices(DeviceKind.CAMERA)
    # dshow opens devices by the name Windows shows, not Qt's device path.
    assert [(c.name, c.id, c.default) for c in cameras] == [
        ("HD Webcam", "HD Webcam", True),
        ("C922 Pro", "C922 Pro", False),
    ]
    spec = camera_spec(cameras[0], platform="windows")
    assert (spec.file, spec.format) == ("video=HD Webcam", "dshow")
    assert spec.attempts == ({"video_size": "1280x720", "framerate": "30", "rtbufsize": "64M"},)
    mics = devices_module.list_devices(DeviceKind.MICROPHONE)
    assert mics[0].id == "Microphone Array (Realtek(R) Audio)"
    mic = microphone_spec(mics[0], platform="windows")
    assert (mic.file, mic.format) == ("audio=Microphone Array (Realtek(R) Audio)", "dshow")
    # A number picks from the same list a person sees in `montage-client devices`.
    assert devices_module.resolve(DeviceKind.CAMERA, "2", cameras).name == "C922 Pro"
    assert devices_module.resolve(DeviceKind.CAMERA, "c922", cameras).name == "C922 Pro"


def test_dshow_camera_keeps_its_name_verbatim() -> None:
    odd = Device(DeviceKind.CAMERA, "Logi Cam (2) ü", "Logi Cam (2) ü")
    assert camera_spec(odd, platform="windows").file == "video=Logi Cam (2) ü"


# -- the system proxy on Windows --------------------------------------------------------------

INTERNET_SETTINGS = r"Software\Microsoft\Windows\CurrentVersion\Internet Settings"
PAC = """
function FindProxyForURL(url, host) {
  if (dnsDomainIs(host, ".corp.test")) return "DIRECT";
  return "PROXY proxy.corp.test:8080; DIRECT";
}
"""


class FakeWinreg:
    """winreg over a recorded registry: {(hive, path): {value name: value}}."""

    HKEY_CURRENT_USER = 1
    HKEY_LOCAL_MACHINE = 2

    def __init__(self, values: dict[tuple[int, str], dict[str, Any]]) -> None:
        self.values = values
        self.read: list[tuple[int, str, str]] = []

    def OpenKey(self, hive: int, path: str) -> Any:  # noqa: N802 (winreg's name)
        if (hive, path) not in self.values:
            raise FileNotFoundError(path)
        registry = self

        class Key:
            def __enter__(self) -> Key:
                return self

            def __exit__(self, *exc: object) -> None:
                pass

            def query(self, name: str) -> tuple[Any, int]:
                registry.read.append((hive, path, name))
                found = registry.values[(hive, path)]
                if name not in found:
                    raise FileNotFoundError(name)
                return found[name], 1

        return Key()

    def QueryValueEx(self, key: Any, name: str) -> tuple[Any, int]:  # noqa: N802
        result: tuple[Any, int] = key.query(name)
        return result


@pytest.fixture
def pac_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = PAC.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ns-proxy-autoconfig")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/corp.pac"
    finally:
        server.shutdown()


def windows_registry(monkeypatch: pytest.MonkeyPatch, registry: FakeWinreg) -> None:
    """pypac as it runs on Windows: its registry reads go to `registry`."""
    import pypac.api
    import pypac.os_settings

    monkeypatch.setattr(pypac.os_settings, "ON_WINDOWS", True)
    monkeypatch.setattr(pypac.api, "ON_WINDOWS", True)
    monkeypatch.setattr(pypac.os_settings, "winreg", registry)
    # Windows' name for OSError, which pypac catches; absent elsewhere.
    monkeypatch.setattr(builtins, "WindowsError", OSError, raising=False)
    # WPAD by DNS is not what these tests are about (tests/test_proxy_wpad.py).
    monkeypatch.setattr(pypac.api, "proxy_urls_from_dns", lambda *a, **k: [])


def system_routes(host: str) -> tuple[Any, ...]:
    resolver = ProxyResolver(Settings(ProxyMode.SYSTEM), platform="win32", environ={})
    return asyncio.run(resolver.routes_for(host, 443))


def test_windows_pac_address_from_the_registry(
    monkeypatch: pytest.MonkeyPatch, pac_server: str
) -> None:
    """Internet Options › LAN settings › "Use automatic configuration script"."""
    registry = FakeWinreg({(FakeWinreg.HKEY_CURRENT_USER, INTERNET_SETTINGS): {}})
    registry.values[(FakeWinreg.HKEY_CURRENT_USER, INTERNET_SETTINGS)]["AutoConfigURL"] = pac_server
    windows_registry(monkeypatch, registry)
    monkeypatch.setattr(urllib.request, "getproxies", lambda: pytest.fail("PAC comes first"))
    assert system_routes("cloud.example.net") == (
        ProxyEndpoint("http", "proxy.corp.test", 8080),
        DIRECT,
    )
    assert system_routes("api.corp.test") == (DIRECT,)
    assert (FakeWinreg.HKEY_CURRENT_USER, INTERNET_SETTINGS, "AutoConfigURL") in registry.read


# What urllib.request.getproxies() returns on Windows (Python 3.11) for the
# registry's ProxyEnable=1 and these ProxyServer values.
RECORDED_GETPROXIES = {
    "proxy.corp.test:8080": {
        "http": "http://proxy.corp.test:8080",
        "https": "http://proxy.corp.test:8080",
        "ftp": "http://proxy.corp.test:8080",
    },
    "http=web.corp.test:3128;https=tls.corp.test:3129": {
        "http": "http://web.corp.test:3128",
        "https": "http://tls.corp.test:3129",
    },
    "socks=socks.corp.test:1080": {
        "socks": "socks://socks.corp.test:1080",
        "http": "socks4://socks.corp.test:1080",
        "https": "socks4://socks.corp.test:1080",
    },
}


@pytest.mark.parametrize(
    ("proxy_server", "expected"),
    [
        ("proxy.corp.test:8080", ProxyEndpoint("http", "proxy.corp.test", 8080)),
        (
            "http=web.corp.test:3128;https=tls.corp.test:3129",
            ProxyEndpoint("http", "tls.corp.test", 3129),
        ),
    ],
)
def test_windows_proxy_server_without_a_pac(
    monkeypatch: pytest.MonkeyPatch, proxy_server: str, expected: ProxyEndpoint
) -> None:
    windows_registry(monkeypatch, FakeWinreg({}))  # no AutoConfigURL anywhere
    monkeypatch.setattr(urllib.request, "getproxies", lambda: RECORDED_GETPROXIES[proxy_server])
    # ProxyOverride "<local>;*.corp.test", as urllib's proxy_bypass_registry reads it.
    monkeypatch.setattr(
        urllib.request, "proxy_bypass", lambda host: "." not in host or host.endswith(".corp.test")
    )
    assert system_routes("cloud.example.net") == (expected,)
    assert system_routes("intranet") == (DIRECT,)
    assert system_routes("files.corp.test") == (DIRECT,)


def test_windows_socks4_setting_is_refused_with_a_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    windows_registry(monkeypatch, FakeWinreg({}))
    monkeypatch.setattr(
        urllib.request, "getproxies", lambda: RECORDED_GETPROXIES["socks=socks.corp.test:1080"]
    )
    monkeypatch.setattr(urllib.request, "proxy_bypass", lambda host: False)
    with pytest.raises(InvalidProxySetting, match="choose the proxy by hand"):
        system_routes("cloud.example.net")
