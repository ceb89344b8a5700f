"""The client's window under Xvfb says "Reconnecting…", then "Sharing" again, untouched.

The client runs as its own program (`tests/client_app_driver.py`: the real
windows, filled in and joined like a person would), the receiver as its own
program; the signalling goes through a relay the test cuts and restores.
What the person sees is read from screenshots of the client's display
(tesseract), not from the widgets.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.xvfb import Xvfb, stop_process
from tests.ocr import read_words
from tests.screens import screenshot
from tests.test_reconnect_share import CuttableLink

pytestmark = [pytest.mark.xvfb, pytest.mark.timeout(120)]
PIN = "1357"
ROOT = Path(__file__).resolve().parent.parent


class LinkThread:
    """A `CuttableLink` on its own event loop, so the test itself may block."""

    def __init__(self, target_port: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.link = asyncio.run_coroutine_threadsafe(
            CuttableLink(target_port).start(), self.loop
        ).result(10)

    def cut(self) -> None:
        self.loop.call_soon_threadsafe(self.link.cut)

    def restore(self) -> None:
        self.loop.call_soon_threadsafe(self.link.restore)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.link.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "montage_receiver",
            "--headless",
            "--status-json",
            "--bind=127.0.0.1",
            "--port=0",
            f"--pin={PIN}",
            "--name=Window Room",
            f"--data-dir={tmp_path / 'receiver'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    records: list[dict[str, Any]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            records.append(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    try:
        yield ready, records
    finally:
        stop_process(proc)


def words_on(display: Xvfb) -> list[str]:
    return [word.text for word in read_words(screenshot(display))]


def wait_for_words(display: Xvfb, found: Callable[[list[str]], bool], what: str) -> list[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        words = words_on(display)
        if found(words):
            return words
        time.sleep(0.3)
    raise AssertionError(f"the client's screen never showed {what}; last read: {words}")


def sharing(words: list[str]) -> bool:
    return "Sharing" in words and not reconnecting(words)


def reconnecting(words: list[str]) -> bool:
    return any(word.startswith("Reconnecting") for word in words)


def test_the_window_says_reconnecting_then_sharing_again_by_itself(
    receiver: tuple[dict[str, Any], list[dict[str, Any]]], tmp_path: Path
) -> None:
    ready, records = receiver
    link = LinkThread(ready["port"])
    try:
        with Xvfb(1280, 720) as display:
            client = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.client_app_driver",
                    f"--port={link.link.port}",
                    f"--meeting={ready['meeting_id']}",
                    f"--pin={PIN}",
                    "--name=Ada",
                ],
                cwd=ROOT,
                env=display.env(MONTAGE_CONFIG_DIR=str(tmp_path / "client")),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                wait_for_words(display, sharing, '"Sharing to Window Room"')
                link.cut()
                words = wait_for_words(display, reconnecting, '"Reconnecting…"')
                assert "Sharing" not in words
                link.restore()
                # Nobody touches anything: the bar comes back by itself.
                wait_for_words(display, sharing, '"Sharing" again')
            finally:
                stop_process(client)
            _, err = client.communicate()
            assert "Traceback" not in err, err
    finally:
        link.close()
    joined = [r for r in records if r["event"] == "presenter_joined"]
    assert [r["name"] for r in joined] == ["Ada"]  # one tile throughout, not a newcomer's
    stats = [p for r in records if r["event"] == "stats" for p in r["presenters"]]
    assert stats and stats[-1]["reconnects"] == 1 and stats[-1]["reconnecting"] is False
