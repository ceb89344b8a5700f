"""macOS: may Montage record the screen? If not, say what to do instead of sharing wallpaper.

Since macOS 10.15 a program needs the person's consent ("Screen Recording" in
System Settings › Privacy & Security) to capture other programs' windows.
Without it, capture does not fail: it returns the desktop wallpaper and the
menu bar only, so the room would see an empty desktop and the person would not
know why. Before every share, `require_screen_capture` asks CoreGraphics
(`CGPreflightScreenCaptureAccess`, through ctypes: no pyobjc needed); when
access is missing it asks macOS to add Montage to the list
(`CGRequestScreenCaptureAccess`), opens the right System Settings pane and
raises `ScreenRecordingNotAllowed` with the sentence the window or the
command line shows. macOS applies a new consent only to a fresh start of the
program, so the sentence says to quit and reopen.

On other systems nothing is asked. The decision is `capture_decision`, a pure
function of what CoreGraphics answered, tested with fake answers on Linux.
"""

from __future__ import annotations

import enum
import logging
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from montage_core.protocol.errors import MontageError

logger = logging.getLogger(__name__)

# System Settings › Privacy & Security › Screen Recording (also System
# Preferences › Security & Privacy › Privacy on macOS 12 and earlier).
SETTINGS_URL = "x-apple.systempreferences:com.apple.preference.security?Privacy_ScreenCapture"
CORE_GRAPHICS = "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics"

NOT_ALLOWED = (
    "macOS has not allowed Montage to record the screen, so the room would see only your "
    "desktop background. In System Settings › Privacy & Security › Screen Recording "
    "(opened for you), switch on Montage, then quit Montage and open it again."
)
SETTINGS_NOT_OPENED = (
    "macOS has not allowed Montage to record the screen, so the room would see only your "
    "desktop background. Open System Settings › Privacy & Security › Screen Recording, "
    "switch on Montage, then quit Montage and open it again."
)


class ScreenRecordingNotAllowed(MontageError):
    """macOS withholds screen recording from Montage; the share does not start."""


class Decision(enum.Enum):
    SHARE = "share"  # allowed, or a system without this permission
    ASK = "ask"  # not allowed: ask macOS to list Montage, open the pane, say so


@dataclass(frozen=True)
class CaptureAccess:
    """What CoreGraphics offers; None where this macOS has no such function (before 10.15)."""

    preflight: Callable[[], bool] | None
    request: Callable[[], bool] | None


def capture_decision(platform: str, access: CaptureAccess | None) -> Decision:
    """Whether a share may start, from the platform and CoreGraphics' answer."""
    if platform != "darwin" or access is None or access.preflight is None:
        # Not macOS, or a macOS older than 10.15, which captures without asking.
        return Decision.SHARE
    return Decision.SHARE if access.preflight() else Decision.ASK


def require_screen_capture(
    platform: str | None = None,
    access: CaptureAccess | None = None,
    open_settings: Callable[[str], bool] | None = None,
) -> None:
    """Return when the screen may be captured; otherwise open the settings and raise."""
    platform = platform or sys.platform
    if platform != "darwin":
        return
    if access is None:
        access = core_graphics_access()
    if capture_decision(platform, access) is Decision.SHARE:
        return
    if access is not None and access.request is not None:
        # Puts Montage in the Screen Recording list (switched off), so the
        # person finds it there; it grants nothing by itself.
        access.request()
    opened = (open_settings or open_system_settings)(SETTINGS_URL)
    logger.warning("screen recording is not allowed for this program (settings opened: %s)", opened)
    raise ScreenRecordingNotAllowed(NOT_ALLOWED if opened else SETTINGS_NOT_OPENED)


def core_graphics_access() -> CaptureAccess | None:
    """CoreGraphics' two functions through ctypes (macOS only)."""
    import ctypes

    try:
        library = ctypes.cdll.LoadLibrary(CORE_GRAPHICS)
    except OSError as exc:
        logger.warning("cannot load CoreGraphics to check screen recording: %s", exc)
        return None

    def function(name: str) -> Callable[[], bool] | None:
        found = getattr(library, name, None)  # missing before macOS 10.15
        if found is None:
            return None
        found.restype = ctypes.c_bool
        found.argtypes = []
        return lambda: bool(found())

    return CaptureAccess(
        function("CGPreflightScreenCaptureAccess"), function("CGRequestScreenCaptureAccess")
    )


def open_system_settings(url: str) -> bool:
    """Open a System Settings pane with `open`; False when that did not work."""
    try:
        done = subprocess.run(["/usr/bin/open", url], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("could not open System Settings: %s", exc)
        return False
    return done.returncode == 0
