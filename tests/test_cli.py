"""The scriptable interface, run as real programs: exit codes, stderr, status JSON."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.xvfb import Xvfb, workload_on
from montage_core.protocol.meeting_id import MeetingId

pytestmark = [pytest.mark.xvfb, pytest.mark.timeout(120)]
PIN = "1357"


@pytest.fixture(scope="module")
def screen() -> Iterator[Xvfb]:
    """A laptop screen with something moving on it (a still one sends ~1 fps)."""
    with Xvfb(800, 600) as display, workload_on(display, "scroll"):
        yield display


class Receiver:
    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.records: list[dict[str, Any]] = []
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "montage_receiver",
                "--headless",
                "--status-json",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
                "--stats-interval",
                "0.5",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.ready = json.loads(self.proc.stdout.readline())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.records.append(json.loads(line))

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["event"] == kind]

    def close(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
        _, err = self.proc.communicate(timeout=15)
        return err


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    rx = Receiver(tmp_path / "rx", "--pin", PIN, "--name", "CLI Room")
    yield rx
    assert "Traceback" not in rx.close()


def client(
    screen: Xvfb, tmp_path: Path, *args: str, port: int | None = None, background: bool = False
) -> Any:
    cmd = [sys.executable, "-m", "montage_client"]
    if port is not None:
        cmd += ["--port", str(port)]
    env = screen.env(MONTAGE_CONFIG_DIR=str(tmp_path / "client"))
    if background:
        return subprocess.Popen([*cmd, *args], env=env, stderr=subprocess.PIPE, text=True)
    return subprocess.run(
        [*cmd, *args], env=env, stderr=subprocess.PIPE, text=True, timeout=60, check=False
    )


def last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def wait_for(condition: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_ready_line_names_the_meeting(receiver: Receiver) -> None:
    ready = receiver.ready
    assert ready["event"] == "ready"
    assert MeetingId.parse(ready["meeting_id"]).address().exploded == "127.0.0.1"
    assert ready["pin"] == PIN and ready["room"] == "CLI Room"
    assert isinstance(ready["port"], int) and ready["port"] > 0


def test_no_pin_and_fresh_pin(tmp_path: Path) -> None:
    rx = Receiver(tmp_path / "a", "--no-pin")
    assert rx.ready["pin"] is None
    rx.close()
    rx = Receiver(tmp_path / "b")
    pin = rx.ready["pin"]
    assert isinstance(pin, str) and len(pin) == 4 and pin.isdigit()
    rx.close()


def test_bad_receiver_options_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "montage_receiver", "--headless", "--pin", "12"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "4 digits" in done.stderr


def test_join_shares_then_exits_0(screen: Xvfb, tmp_path: Path, receiver: Receiver) -> None:
    done = client(
        screen,
        tmp_path,
        "join",
        receiver.ready["meeting_id"],
        "--pin",
        PIN,
        "--name",
        "Ann",
        "--seconds",
        "2",
        port=receiver.ready["port"],
    )
    assert done.returncode == 0, done.stderr
    wait_for(lambda: receiver.events("presenter_left"))
    left = receiver.events("presenter_left")[-1]
    assert left["name"] == "Ann" and left["frames"] >= 20
    assert (left["width"], left["height"]) == (800, 600)
    stats = [p for r in receiver.events("stats") for p in r["presenters"]]
    assert any(p["fps"] > 5 for p in stats)
    # The name is remembered for next time.
    done = client(
        screen,
        tmp_path,
        "join",
        receiver.ready["meeting_id"],
        "--pin",
        PIN,
        "--seconds",
        "0.5",
        port=receiver.ready["port"],
    )
    assert done.returncode == 0, done.stderr
    wait_for(lambda: len(receiver.events("presenter_joined")) == 2)
    assert receiver.events("presenter_joined")[-1]["name"] == "Ann"


@pytest.mark.parametrize(
    ("meeting_id", "says"),
    [
        ("12345", "10 digits"),
        ("12a4567890", "only digits"),
        ("9999999999", "not a valid local meeting ID"),
        ("", "Enter the meeting ID"),
    ],
)
def test_invalid_meeting_id_exit_2(
    screen: Xvfb, tmp_path: Path, meeting_id: str, says: str
) -> None:
    done = client(screen, tmp_path, "join", meeting_id, "--pin", PIN)
    assert done.returncode == 2
    assert says in last_line(done.stderr)


def test_wrong_pin_exit_3(screen: Xvfb, tmp_path: Path, receiver: Receiver) -> None:
    done = client(
        screen,
        tmp_path,
        "join",
        receiver.ready["meeting_id"],
        "--pin",
        "0000",
        port=receiver.ready["port"],
    )
    assert done.returncode == 3
    assert last_line(done.stderr).endswith(
        "Wrong PIN. 4 tries left before this computer is locked out for a while."
    )


def test_missing_pin_exit_2(screen: Xvfb, tmp_path: Path, receiver: Receiver) -> None:
    done = client(
        screen, tmp_path, "join", receiver.ready["meeting_id"], port=receiver.ready["port"]
    )
    assert done.returncode == 2
    assert "needs the PIN" in last_line(done.stderr)


def test_unreachable_exit_4_names_the_address(screen: Xvfb, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    meeting_id = str(MeetingId.from_address("127.0.0.1"))
    done = client(screen, tmp_path, "join", meeting_id, "--pin", PIN, port=port)
    assert done.returncode == 4
    assert f"127.0.0.1:{port}" in last_line(done.stderr)


def test_missing_monitor_exit_2(screen: Xvfb, tmp_path: Path, receiver: Receiver) -> None:
    done = client(
        screen,
        tmp_path,
        "join",
        receiver.ready["meeting_id"],
        "--pin",
        PIN,
        "--monitor",
        "5",
        port=receiver.ready["port"],
    )
    assert done.returncode == 2
    assert "There is no screen 5" in last_line(done.stderr)


def test_ctrl_c_stops_cleanly(screen: Xvfb, tmp_path: Path, receiver: Receiver) -> None:
    proc = client(
        screen,
        tmp_path,
        "join",
        receiver.ready["meeting_id"],
        "--pin",
        PIN,
        "--name",
        "Bea",
        port=receiver.ready["port"],
        background=True,
    )
    wait_for(lambda: receiver.events("presenter_joined"))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    wait_for(lambda: receiver.events("presenter_left"))
    assert receiver.events("presenter_left")[-1]["reason"] == "presenter left (stopped)"


@pytest.mark.parametrize(
    ("how", "reconnect", "code", "says"),
    [
        # SIGTERM: it says goodbye, so the share is over (never reconnected).
        ("closes", "60", 1, "The receiver closed the meeting."),
        # Power cut: no goodbye. With reconnection off the client says so at once;
        # otherwise it tries again for --reconnect-seconds, then says why it stopped.
        ("vanishes", "0", 1, "Lost the connection to the receiver."),
        (
            "vanishes",
            "2",
            4,
            "could not get it back within 2 seconds, so the share stopped. "
            "Check this computer's network and join again.",
        ),
    ],
)
def test_receiver_ending_mid_share_is_reported(
    screen: Xvfb, tmp_path: Path, how: str, reconnect: str, code: int, says: str
) -> None:
    rx = Receiver(tmp_path / "rx", "--pin", PIN)
    proc = client(
        screen,
        tmp_path,
        "join",
        rx.ready["meeting_id"],
        "--pin",
        PIN,
        "--reconnect-seconds",
        reconnect,
        port=rx.ready["port"],
        background=True,
    )
    wait_for(lambda: rx.events("presenter_joined"))
    if how == "vanishes":
        rx.proc.kill()
    rx.close()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code
    assert last_line(err).endswith(says)
    if reconnect != "0" and how == "vanishes":
        assert "Reconnecting… (Lost the connection to the receiver.)" in err


def test_devices_lists_the_built_in_sources() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "montage_client", "devices"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Cameras:" in done.stdout and "Microphones:" in done.stdout
    assert "test: Test pattern (built in)" in done.stdout
    assert "test: 1 kHz tone (built in)" in done.stdout
    assert done.stderr == ""  # the media backend's chatter stays out of a script's way


def test_join_with_test_camera_and_microphone(
    screen: Xvfb, tmp_path: Path, receiver: Receiver
) -> None:
    done = client(
        screen,
        tmp_path,
        "join",
        receiver.ready["meeting_id"],
        "--pin",
        PIN,
        "--name",
        "Cam",
        "--camera",
        "test",
        "--mic",
        "test",
        "--seconds",
        "3",
        port=receiver.ready["port"],
    )
    assert done.returncode == 0, done.stderr
    stats = [p for r in receiver.events("stats") for p in r["presenters"] if p["name"] == "Cam"]
    live = [p for p in stats if p["camera_frames"] > 10 and p["audio_frames"] > 20]
    assert live, stats
    assert live[-1]["camera"] and live[-1]["microphone"]
    assert (live[-1]["camera_width"], live[-1]["camera_height"]) == (1280, 720)
    # lavfi's tone peaks at 1/8 of full scale, upmixed to stereo at -3 dB: RMS 0.0625.
    assert abs(live[-1]["audio_rms"] - 0.0625) < 0.01
    assert live[-1]["frames"] >= 1  # the screen, alongside (a still screen is sent sparingly)


def test_missing_camera_is_named_and_the_screen_is_shared(
    screen: Xvfb, tmp_path: Path, receiver: Receiver
) -> None:
    done = client(
        screen,
        tmp_path,
        "join",
        receiver.ready["meeting_id"],
        "--pin",
        PIN,
        "--name",
        "NoCam",
        "--camera",
        "/dev/video99",
        "--seconds",
        "2",
        port=receiver.ready["port"],
    )
    assert done.returncode == 0, done.stderr
    assert (
        "Camera “/dev/video99” is not connected. Check the cable or choose another camera. "
        "Sharing without it." in done.stderr
    )
    stats = [p for r in receiver.events("stats") for p in r["presenters"] if p["name"] == "NoCam"]
    assert stats and stats[-1]["frames"] >= 1 and not stats[-1]["camera"], stats
