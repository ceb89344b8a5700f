"""What the browser tests share: a receiver enrolled to `montage-cloud dev`, the page, waiting.

The receiver is the real program (`montage-receiver --status-json`), with its
window on an Xvfb display when a test looks at the room's screen, headless
otherwise; its status lines are collected as they come. A guest is Debian's
Chromium at `<cloud>/join`, driven by Playwright as a person would use it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from bench.xvfb import Xvfb, stop_process
from tests.dev_cloud import collect_json, read_line
from tests.test_cloud_share import Cloud

ROOT = Path(__file__).resolve().parents[2]
ORG = "Guest Test Org"


def admin(cloud: Cloud, method: str, path: str, body: Any = None) -> Any:
    """An admin API call, on a thread of its own: Playwright's loop may own this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, cloud.admin(method, path, body)).result(timeout=30)


def enrolment_token(cloud: Cloud, org: str = ORG) -> str:
    token: str = admin(cloud, "POST", "/v1/admin/enrolment-tokens", {"org": org})["token"]
    return token


def allow_guests(cloud: Cloud, allowed: bool, org: str = ORG) -> None:
    admin(cloud, "PUT", f"/v1/admin/orgs/{org}", {"guests_allowed": allowed})


class RoomReceiver:
    """`montage-receiver` enrolled with the cloud; `events` fills with its status lines."""

    def __init__(
        self,
        cloud: Cloud,
        data_dir: Path,
        *,
        pin: str | None,
        display: Xvfb | None = None,
        name: str = "Guest Room",
        wrap: Sequence[str] = (),
        bind: str = "127.0.0.1",
        extra: Sequence[str] = (),
    ) -> None:
        self.events: list[dict[str, Any]] = []
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / "receiver.log"
        command = [
            sys.executable,
            "-m",
            "montage_receiver",
            "--status-json",
            f"--bind={bind}",
            "--port=0",
            f"--data-dir={data_dir}",
            f"--name={name}",
            f"--cloud={cloud.api}",
            f"--token={enrolment_token(cloud)}",
            f"--cloud-ca={cloud.ca}",
            f"--xmpp={cloud.xmpp}",
            "--stats-interval=0.5",
            *([f"--pin={pin}"] if pin is not None else ["--no-pin"]),
            *([] if display is not None else ["--headless"]),
            *extra,
        ]
        env = display.env() if display is not None else dict(os.environ)
        env |= {
            "PYTHONPATH": str(ROOT),
            "PYTHON_KEYRING_BACKEND": "tests.memory_keyring.MemoryKeyring",
        }
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                [*wrap, *command],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )
        line = read_line(self.process, 60)
        assert line, self.log.read_text()
        self.ready: dict[str, Any] = json.loads(line)
        assert self.ready["path"] == "cloud", self.ready
        self.meeting_id: str = self.ready["cloud_meeting_id"]
        self._reader = threading.Thread(
            target=collect_json, args=(self.process, self.events), daemon=True
        )
        self._reader.start()

    def presenters(self) -> list[dict[str, Any]]:
        """The presenters of the newest stats line."""
        stats = [e for e in list(self.events) if e["event"] == "stats"]
        return list(stats[-1]["presenters"]) if stats else []

    def presenter(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.presenters() if p["name"] == name), None)

    def left(self, name: str) -> dict[str, Any] | None:
        gone = [e for e in list(self.events) if e["event"] == "presenter_left"]
        return next((e for e in gone if e["name"] == name), None)

    def stop(self) -> str:
        stop_process(self.process, wait=20)
        self._reader.join(10)
        return self.log.read_text()


@contextmanager
def room_receiver(cloud: Cloud, data_dir: Path, **options: Any) -> Iterator[RoomReceiver]:
    receiver = RoomReceiver(cloud, data_dir, **options)
    try:
        yield receiver
    finally:
        log = receiver.stop()
        assert "Traceback" not in log, log


def open_join_page(page: Page, join_url: str) -> None:
    page.goto(join_url)
    page.wait_for_selector("#status[data-state=idle]")


def share_as(page: Page, meeting_id: str, name: str, pin: str | None) -> None:
    """Type the ID and the name, press Share, type the PIN when asked, press Share again."""
    page.fill("#meeting-id", f"{meeting_id[:3]} {meeting_id[3:]}")
    page.fill("#name", name)
    page.click("#share")
    if pin is not None:
        page.wait_for_selector("#pin", state="visible", timeout=15_000)
        assert page.get_attribute("#status", "data-state") == "need_pin"
        page.fill("#pin", pin)
        page.click("#share")


def status(page: Page) -> tuple[str, str, str]:
    """(state, error kind, sentence) of the page's #status."""
    element = page.locator("#status")
    return (
        element.get_attribute("data-state") or "",
        element.get_attribute("data-error") or "",
        element.inner_text(),
    )


def status_seq(page: Page) -> int:
    """How many states the page has shown so far."""
    return int(page.get_attribute("#status", "data-seq") or 0)


def wait_for_news(page: Page, after: int, timeout: float = 30) -> tuple[str, str, str]:
    """The page's first settled status shown after state number `after`."""
    page.wait_for_function(
        """(after) => {
            const status = document.getElementById("status");
            const passing = ["joining", "picking", "connecting"].includes(status.dataset.state);
            return Number(status.dataset.seq) > after && !passing;
        }""",
        arg=after,
        timeout=timeout * 1000,
    )
    return status(page)


def wait_for_state(page: Page, *states: str, timeout: float = 30) -> tuple[str, str, str]:
    selector = ", ".join(f"#status[data-state={state}]" for state in states)
    page.wait_for_selector(selector, timeout=timeout * 1000)
    return status(page)
