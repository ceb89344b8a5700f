"""Windows: declare per-monitor DPI awareness before anything measures a screen.

A Windows program that does not declare it is "DPI unaware": on a monitor
scaled to 150 % Windows hands it scaled-down coordinates, so mss would
capture a third of the screen less, at the wrong place, and a laptop with a
125 % panel beside a 100 % projector mixes both errors. The awareness is one
setting per process that can be set once, so `make_dpi_aware` runs first
thing in `montage-client` (cli.main), before Qt or mss look at a screen.

Per-monitor v2 is what Qt 6 asks for too (so Qt finds it already set and
keeps it). Older Windows lack the newer calls: Windows 8.1 has per-monitor
(v1) through shcore, Windows 7 only "system" awareness. "Access denied"
means the awareness was already set (by a manifest, or an earlier call) and
cannot change: that is fine as long as it was set.

The Windows calls are injected (`DpiCalls`) so the order of attempts and
each failure are tested on recorded answers without Windows.
"""

from __future__ import annotations

import enum
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

# windef.h / shellscalingapi.h / winerror.h
DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 = -4
PROCESS_PER_MONITOR_DPI_AWARE = 2
S_OK = 0
E_ACCESSDENIED = -2147024891  # 0x80070005 as the signed HRESULT ctypes returns
ERROR_ACCESS_DENIED = 5


class DpiAwareness(enum.Enum):
    PER_MONITOR_V2 = "per-monitor v2"
    PER_MONITOR = "per-monitor"
    SYSTEM = "system"
    ALREADY_SET = "already set"
    UNAWARE = "unaware"
    NOT_WINDOWS = "not Windows"


@dataclass(frozen=True)
class DpiCalls:
    """The three Windows calls (None where this Windows lacks one) and GetLastError."""

    set_context: Callable[[int], bool] | None  # user32.SetProcessDpiAwarenessContext (10 1703+)
    set_awareness: Callable[[int], int] | None  # shcore.SetProcessDpiAwareness (8.1+), HRESULT
    set_aware: Callable[[], bool] | None  # user32.SetProcessDPIAware (Vista+)
    last_error: Callable[[], int]


def make_dpi_aware(platform: str = sys.platform, calls: DpiCalls | None = None) -> DpiAwareness:
    """Declare the best DPI awareness this Windows offers; elsewhere do nothing."""
    if platform != "win32":
        return DpiAwareness.NOT_WINDOWS
    calls = calls if calls is not None else _windows_calls()
    result = _declare(calls)
    if result is DpiAwareness.UNAWARE:
        logger.warning(
            "Windows refused every DPI awareness setting: on a scaled monitor the "
            "shared picture may be cropped or blurred"
        )
    else:
        logger.debug("DPI awareness: %s", result.value)
    return result


def _declare(calls: DpiCalls) -> DpiAwareness:
    if calls.set_context is not None:
        if calls.set_context(DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2):
            return DpiAwareness.PER_MONITOR_V2
        if calls.last_error() == ERROR_ACCESS_DENIED:
            return DpiAwareness.ALREADY_SET
    if calls.set_awareness is not None:
        result = calls.set_awareness(PROCESS_PER_MONITOR_DPI_AWARE)
        if result == S_OK:
            return DpiAwareness.PER_MONITOR
        if result == E_ACCESSDENIED:
            return DpiAwareness.ALREADY_SET
    if calls.set_aware is not None and calls.set_aware():
        return DpiAwareness.SYSTEM
    return DpiAwareness.UNAWARE


def _windows_calls() -> DpiCalls:  # pragma: no cover - needs Windows
    import ctypes

    # Windows-only names, looked up so the module imports (and is tested) elsewhere.
    win_dll: Any = getattr(ctypes, "WinDLL")  # noqa: B009
    user32 = win_dll("user32", use_last_error=True)
    try:
        shcore = win_dll("shcore")
    except OSError:  # Windows before 8.1
        shcore = None

    def function(library: Any, name: str, restype: Any, argtypes: list[Any]) -> Any:
        found = getattr(library, name, None) if library is not None else None
        if found is not None:  # missing on a Windows older than the call
            found.restype, found.argtypes = restype, argtypes
        return found

    context = function(user32, "SetProcessDpiAwarenessContext", ctypes.c_bool, [ctypes.c_ssize_t])
    awareness = function(shcore, "SetProcessDpiAwareness", ctypes.c_long, [ctypes.c_int])
    aware = function(user32, "SetProcessDPIAware", ctypes.c_bool, [])
    return DpiCalls(
        set_context=(lambda value: bool(context(value))) if context is not None else None,
        set_awareness=(lambda value: int(awareness(value))) if awareness is not None else None,
        set_aware=(lambda: bool(aware())) if aware is not None else None,
        last_error=getattr(ctypes, "get_last_error"),  # noqa: B009
    )
