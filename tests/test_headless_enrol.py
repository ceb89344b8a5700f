"""A meeting-room box with no keyring and no desktop session enrols with the cloud, restarts,
and logs in again; so does a client; neither is told where XMPP is (the enrolment answer says).

Real `montage_cloud.dev`; the receiver and the client run as programs with a
fresh HOME, keyring's "no backend" backend and no D-Bus session, as on a
fresh Debian box following the README.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from montage_core.cloud.account import CloudAccount
from montage_core.cloud.xmpp_signal import XmppSignalling
from tests.dev_cloud import dev_cloud, read_line
from tests.test_cloud_share import ROOT, Cloud, cloud_from

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with dev_cloud(tmp_path_factory.mktemp("cloud")) as (_process, ready):
        yield cloud_from(ready)


def fresh_box(home: Path) -> dict[str, str]:
    """The environment of a fresh machine: its own HOME, no keyring, no desktop session."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "DBUS_", "MONTAGE_"))}
    return env | {
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "PYTHONPATH": str(ROOT),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }


def start_receiver(env: dict[str, str], *args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "montage_receiver.cli", "--headless", "--status-json",
         "--bind=127.0.0.1", "--port=0", "--name=Box", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    line = read_line(process, 60)
    if not line:
        raise AssertionError(process.communicate(timeout=10)[1])
    return process, json.loads(line)


def stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    return stderr


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_box_without_a_keyring_enrols_restarts_and_logs_in_again(
    cloud: Cloud, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    env = fresh_box(home)
    token = asyncio.run(cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Box"}))["token"]
    data = home / ".local" / "share" / "montage-receiver"

    first, ready = start_receiver(
        env, f"--cloud={cloud.api}", f"--token={token}", f"--cloud-ca={cloud.ca}"
    )
    said = stop(first)
    assert ready["path"] == "cloud" and ready["cloud_error"] is None, said
    assert f"its cloud credentials are in {data / 'cloud-secrets.json'}" in said
    kept = json.loads((data / "cloud.json").read_text())
    assert f"{kept['xmpp_host']}:{kept['xmpp_port']}" == cloud.xmpp  # from the answer
    assert private(data / "cloud-secrets.json") and "mcd_" not in json.dumps(kept)

    again, ready_again = start_receiver(env)  # no --cloud, no --token: what was kept
    stop(again)
    assert ready_again["path"] == "cloud", ready_again
    assert ready_again["cloud_meeting_id"] != ready["cloud_meeting_id"]

    # The client's command on the same fresh box, and its XMPP login from what it kept.
    enrolled = subprocess.run(
        [sys.executable, "-m", "montage_client.cli", "enrol", f"--cloud={cloud.api}",
         f"--token={token}", f"--ca={cloud.ca}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    config = home / ".config" / "montage"
    assert f"its cloud credentials are in {config / 'cloud-secrets.json'}" in enrolled.stderr
    assert private(config / "cloud-secrets.json")
    account = CloudAccount.load(config / "cloud.json")
    assert account is not None and f"{account.xmpp_host}:{account.xmpp_port}" == cloud.xmpp

    async def log_in() -> None:
        session = await XmppSignalling.open(account)
        await session.close()

    asyncio.run(asyncio.wait_for(log_in(), 30))


def test_a_desktop_without_a_keyring_is_told_instead_of_a_silent_file(
    cloud: Cloud, tmp_path: Path
) -> None:
    env = fresh_box(tmp_path / "home") | {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}
    token = asyncio.run(cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Desk"}))["token"]
    refused = subprocess.run(
        [sys.executable, "-m", "montage_client.cli", "enrol", f"--cloud={cloud.api}",
         f"--token={token}", f"--ca={cloud.ca}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "montage-client: This computer has a desktop session but no keyring to keep the cloud "
        "credentials in. Install or unlock one (for example GNOME Keyring or KWallet) and enrol "
        "again, or choose --secret-store file to keep them in a file only this user can read."
    )
    assert not (tmp_path / "home" / ".config" / "montage").exists()


def test_in_the_window_a_desktop_without_a_keyring_is_told_then_chooses_the_file(
    cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: Any
) -> None:
    import keyring
    import keyring.backends.fail
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from tests.test_client_gui import Person, in_the_window, until

    config = tmp_path / "config"
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())

    async def scenario(person: Person) -> None:
        token = (await cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Desk"}))["token"]
        QTest.mouseClick(person.join.cloud_button, Qt.MouseButton.LeftButton)
        dialog = person.controller.cloud_dialog
        assert dialog is not None
        QTest.keyClicks(dialog.url_edit, cloud.api)
        QTest.keyClicks(dialog.token_edit, token)
        QTest.keyClicks(dialog.ca_edit, cloud.ca)
        QTest.mouseClick(dialog.enrol_button, Qt.MouseButton.LeftButton)
        await until(lambda: dialog.error_label.isVisible(), "the sentence", timeout=20)
        assert "no keyring" in dialog.error_label.text()
        assert 'choose "A file only your user can read" below' in dialog.error_label.text()
        assert not (config / "cloud.json").exists()
        dialog.store_combo.setCurrentIndex(dialog.store_combo.findData("file"))
        QTest.mouseClick(dialog.enrol_button, Qt.MouseButton.LeftButton)
        await until(lambda: "Enrolled" in dialog.status_label.text(), "enrolment", 20)
        assert private(config / "cloud-secrets.json")
        dialog.close_button.click()

    try:
        in_the_window(qapp, config, monkeypatch, scenario, timeout=60)
    finally:
        keyring.set_keyring(previous)
