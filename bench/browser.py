"""Debian's Chromium, driven by Playwright, as a person at the join page would use it.

Shared by the browser tests and the benchmark's `browser` row. No browser is
downloaded: Playwright drives /usr/bin/chromium. It runs with a window on an
Xvfb display (headless Chromium cannot capture an X screen), and its screen
picker is answered by `--auto-select-desktop-capture-source`, which picks the
whole screen the way a person clicking "Entire screen" would.

The cloud's certificate is trusted the way an administrator would trust a
private CA: in the NSS database Chromium reads on Linux
(`$HOME/.pki/nssdb`), with `certutil`. No certificate check is switched off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Playwright, sync_playwright

from bench.xvfb import Xvfb

CHROMIUM = "/usr/bin/chromium"
# Quiet Chromium: no calls home (this machine's network refuses them, noisily),
# no first-run UI, no GPU on Xvfb.
QUIET_FLAGS = (
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-quic",
    "--disable-gpu",
    "--no-default-browser-check",
    "--password-store=basic",
)
# The picker answered as a person would, and the window kept off the corners
# where the workload paints its timestamp strips.
CAPTURE_FLAGS = (
    "--auto-select-desktop-capture-source=Entire screen",
    "--window-position=360,200",
    "--window-size=560,640",
)
# A synthetic camera (a moving pattern) and microphone (a beep): Chromium's own.
FAKE_DEVICES = "--use-fake-device-for-media-stream"


class BrowserUnavailable(RuntimeError):
    pass


def trust_ca(home: Path, ca_cert: Path, nickname: str = "montage-cloud-dev") -> None:
    """Make `ca_cert` a trusted CA for a Chromium run with HOME=`home`."""
    if shutil.which("certutil") is None:
        raise BrowserUnavailable("certutil is missing (apt-get install libnss3-tools)")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    database = f"sql:{nssdb}"
    if not (nssdb / "cert9.db").exists():
        subprocess.run(["certutil", "-N", "-d", database, "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", database, "-n", nickname, "-t", "C,,", "-i", str(ca_cert)],
        check=True,
    )


def netns_launcher(namespace: str, directory: Path) -> Path:
    """An executable that runs Chromium inside network namespace `namespace`."""
    script = directory / f"chromium-in-{namespace}"
    script.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n')
    script.chmod(0o755)
    return script


@contextmanager
def chromium(
    display: Xvfb,
    home: Path,
    *,
    fake_devices: bool = False,
    executable: Path | str = CHROMIUM,
    extra_flags: Sequence[str] = (),
) -> Iterator[Browser]:
    """Chromium with a window on `display`, its profile under `home`."""
    if not Path(CHROMIUM).exists():
        raise BrowserUnavailable("Chromium is missing (apt-get install chromium)")
    flags = [*QUIET_FLAGS, *CAPTURE_FLAGS, *extra_flags]
    if fake_devices:
        flags.append(FAKE_DEVICES)
    if os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
    env = display.env(HOME=str(home))
    with sync_playwright() as playwright:
        browser = _launch(playwright, executable, flags, env)
        try:
            yield browser
        finally:
            browser.close()


def _launch(
    playwright: Playwright, executable: Path | str, flags: list[str], env: dict[str, str]
) -> Browser:
    launch_env: dict[str, str | float | bool] = dict(env)
    return playwright.chromium.launch(
        executable_path=str(executable), headless=False, args=flags, env=launch_env
    )
