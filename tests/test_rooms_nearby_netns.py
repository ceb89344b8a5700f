"""Rooms near you: receivers announce themselves by mDNS, a client on the same link lists them.

Two network namespaces on one bridge (multicast is carried there, as on a
room's LAN): the receivers run as programs in one, `montage-client rooms`
in the other. One room asks for a PIN, so its meeting ID is announced; one
has advertising switched off in its configuration file and is not heard.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dev_cloud import read_line
from tests.netns import Bridge, unavailable_reason

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def link() -> Iterator[Bridge]:
    why_not = unavailable_reason()
    if why_not:
        pytest.skip(why_not)
    with Bridge("md") as bridge:
        yield bridge


def receiver(link: Bridge, tmp_path: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    log = (tmp_path / f"{port}.log").open("w")
    return subprocess.Popen(
        link.a.command(
            sys.executable, "-m", "montage_receiver.cli", "--headless", "--status-json",
            f"--bind={link.a.peer}", f"--port={port}", f"--data-dir={tmp_path / str(port)}",
            *extra,
        ),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )  # fmt: skip


def test_a_client_on_the_same_link_lists_the_rooms_that_announce_themselves(
    link: Bridge, tmp_path: Path
) -> None:
    quiet = tmp_path / "quiet.toml"
    quiet.write_text('name = "Quiet room"\nadvertise = false\n')
    rooms = [
        receiver(link, tmp_path, 8443, "--name=Board room", "--pin=1234"),
        receiver(link, tmp_path, 8444, f"--config={quiet}"),
    ]
    try:
        ready = [json.loads(read_line(process, 30)) for process in rooms]
        heard = subprocess.run(
            link.b.command(
                sys.executable, "-m", "montage_client.cli", "rooms", "--seconds=3", "--json"
            ),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
            check=False,
        )
        assert heard.returncode == 0, heard.stderr
        found = [json.loads(line) for line in heard.stdout.splitlines()]
        assert found == [
            {
                "name": "Board room",
                "pin_required": True,
                "meeting_id": ready[0]["meeting_id"],
                "host": link.a.peer,
                "port": 8443,
            }
        ]
        assert ready[1]["room"] == "Quiet room"  # running, only not announced
    finally:
        for process in rooms:
            process.terminate()
        for process in rooms:
            process.wait(20)
