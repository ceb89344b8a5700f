"""Offline updates: a receiver updated from a file on a USB drive.

Bundles are made with the administrator's command from real repositories;
the receiver verifies them against the keys it was installed with. One
bundle comes from another repository (other keys), one holds an older
version, one is for the client: each is refused with its sentence and the
installed receiver still runs. A running receiver watching a folder finds a
bundle dropped there and, with --auto-update, restarts into it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.xvfb import stop_process
from montage_core.updates.errors import BadBundle, BadSignature, Rollback
from tests.dev_cloud import read_line
from tests.update_rig import ROOT, ReleaseRepository, Repo, archives, install, run

RECEIVER = "montage-receiver"


def _cloud(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "montage_cloud", "admin", "release", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def _repository(base: Path) -> Repo:
    _cloud("init", "--repo", str(base / "repo"), "--keys", str(base / "keys"))
    return Repo(ReleaseRepository(base / "repo"), base / "keys", "https://127.0.0.1:9", None)


def _bundle(repo: Repo, app: str, version: str, out: Path) -> Path:
    where = ("--repo", str(repo.repository.path), "--keys", str(repo.keys_dir))
    _cloud("bundle", "--app", app, "--version", version, "--out", str(out), *where)
    return out


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("bundles")
    built = archives(base / "dist", RECEIVER, "0.0.9", "0.1.0", "0.2.0")
    client = archives(base / "dist", "montage-client", "0.2.0")
    ours, theirs = _repository(base / "ours"), _repository(base / "theirs")
    for repo in (ours, theirs):
        where = ("--repo", str(repo.repository.path), "--keys", str(repo.keys_dir))
        _cloud("add", str(built["0.2.0"]), "--version", "0.2.0", *where)
    where = ("--repo", str(ours.repository.path), "--keys", str(ours.keys_dir))
    _cloud("add", str(built["0.0.9"]), "--version", "0.0.9", *where)
    _cloud("add", str(client["0.2.0"]), "--version", "0.2.0", *where)
    junk = base / "junk.montage-update"
    junk.write_bytes(b"not a bundle at all" * 100)
    return {
        "ours": ours,
        "archive": built["0.1.0"],
        "0.2.0": _bundle(ours, RECEIVER, "0.2.0", base / "receiver-0.2.0.montage-update"),
        "other repository": _bundle(theirs, RECEIVER, "0.2.0", base / "theirs.montage-update"),
        "older version": _bundle(ours, RECEIVER, "0.0.9", base / "receiver-0.0.9.montage-update"),
        "client's bundle": _bundle(ours, "montage-client", "0.2.0", base / "c.montage-update"),
        "not a bundle": junk,
    }


@pytest.fixture
def receiver(tmp_path: Path, bundles: dict[str, Any]) -> Path:
    return install(tmp_path / "montage", RECEIVER, bundles["archive"], bundles["ours"])


def test_a_receiver_updates_from_a_bundle_and_restarts_into_it(
    receiver: Path, bundles: dict[str, Any]
) -> None:
    update = run(receiver, RECEIVER, "update", "--from", str(bundles["0.2.0"]))
    assert update.returncode == 0, update.stderr
    assert update.stdout.strip() == f"{RECEIVER} 0.2.0"
    assert run(receiver, RECEIVER, "--version").stdout.strip() == f"{RECEIVER} 0.2.0"


REFUSALS = {
    "other repository": (BadSignature, "not signed by the release keys this copy of Montage"),
    "older version": (Rollback, "holds Montage 0.0.9, which is not newer than the 0.1.0"),
    "client's bundle": (BadBundle, "holds montage-client (source), not montage-receiver"),
    "not a bundle": (BadBundle, "is not a Montage update file"),
}


@pytest.mark.parametrize("bundle", list(REFUSALS))
def test_a_wrong_bundle_is_refused_and_the_receiver_still_runs(
    bundle: str, receiver: Path, bundles: dict[str, Any]
) -> None:
    refusal, words = REFUSALS[bundle]
    update = run(receiver, RECEIVER, "update", "--from", str(bundles[bundle]))
    assert update.returncode == refusal.exit_code, update.stderr
    last = update.stderr.strip().splitlines()[-1]
    assert last.startswith("montage-receiver: ") and words in last, last
    assert run(receiver, RECEIVER, "--version").stdout.strip() == f"{RECEIVER} 0.1.0"
    assert sorted(p.name for p in (receiver / "versions").iterdir()) == ["0.1.0"]


@pytest.fixture
def running_receiver(
    receiver: Path, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    drive = tmp_path / "usb"
    drive.mkdir()
    process = subprocess.Popen(
        [
            *(sys.executable, str(receiver / "launch.py"), RECEIVER, "--headless"),
            *("--status-json", "--bind", "127.0.0.1", "--port", "0", "--no-pin"),
            *("--proxy", "none", "--data-dir", str(tmp_path / "data")),
            *("--stats-interval", "3600", "--updates-from", str(drive), "--auto-update"),
        ],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "receiver.log").open("w"),
        text=True,
        cwd=tmp_path,
    )
    try:
        yield process, drive
    finally:
        stop_process(process)


def _next_event(
    process: subprocess.Popen[str], log: Path | None = None, timeout: float = 30
) -> dict[str, Any]:
    try:
        line = read_line(process, timeout)
    except AssertionError:
        line = ""
    if not line:
        said = log.read_text()[-3000:] if log is not None and log.exists() else ""
        state = "running" if process.poll() is None else f"exited ({process.poll()})"
        raise AssertionError(
            f"no event from the receiver in {timeout} s ({state}); it logged:\n{said}"
        )
    return dict(json.loads(line))


def test_a_running_receiver_finds_a_bundle_on_a_drive_and_updates_itself(
    running_receiver: tuple[subprocess.Popen[str], Path], bundles: dict[str, Any]
) -> None:
    process, drive = running_receiver
    log = drive.parent / "receiver.log"
    ready = _next_event(process, log)
    assert (ready["event"], ready["version"]) == ("ready", "0.1.0")
    # A stranger's file first: it is refused quietly (the log says why), nothing changes.
    shutil.copy(bundles["other repository"], drive / "theirs.montage-update")
    shutil.copy(bundles["0.2.0"], drive / "montage-receiver.montage-update")
    events = [_next_event(process, log)]
    events += [_next_event(process, log) for _ in range(2)]
    assert events[0] == {"event": "update_available", "version": "0.2.0", "source": "file"}
    assert events[1] == {"event": "update_installed", "version": "0.2.0"}
    # The same process, restarted into the new version with the same arguments.
    assert (events[2]["event"], events[2]["version"]) == ("ready", "0.2.0")
    assert process.poll() is None


def test_after_a_key_is_replaced_the_receiver_follows_the_new_root(
    tmp_path: Path, bundles: dict[str, Any]
) -> None:
    repo = _repository(tmp_path / "rotating")
    receiver = install(tmp_path / "montage", RECEIVER, bundles["archive"], repo)
    where = ("--repo", str(repo.repository.path), "--keys", str(repo.keys_dir))
    _cloud("rotate", "targets", *where)  # root version 2 names a new targets key
    _cloud("renew-root", *where)  # version 3: the same keys for another year
    built = archives(tmp_path / "dist", RECEIVER, "0.2.0")
    _cloud("add", str(built["0.2.0"]), "--version", "0.2.0", *where)
    bundle = _bundle(repo, RECEIVER, "0.2.0", tmp_path / "r.montage-update")
    update = run(receiver, RECEIVER, "update", "--from", str(bundle))
    assert update.returncode == 0, update.stderr
    assert update.stdout.strip() == f"{RECEIVER} 0.2.0"
    trusted = receiver / "update" / "metadata" / "root_history"
    assert sorted(p.name for p in trusted.iterdir()) == [f"{n}.root.json" for n in (1, 2, 3)]
