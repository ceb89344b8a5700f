"""Cloud meetings end to end: real REST API, real Prosody, real coturn, real aiortc.

`montage_cloud.dev` runs the whole cloud on loopback (as a person would try
it); receivers and clients here are the real code enrolled with it, their
secrets in an in-memory keyring. The receiver's advertised LAN endpoint is a
closed port unless a test wants the LAN path, so signalling goes over XMPP.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from bench.stamp import decode_stamp, latency_ms
from montage_client.core.cloud_join import share_to_cloud_meeting
from montage_client.core.share_client import ChannelOpener, ShareClient, Sharing, Update
from montage_core.cloud.account import CloudAccount
from montage_core.cloud.api import REMOVED, SUSPENDED
from montage_core.cloud.enrol import enrol_device
from montage_core.cloud.xmpp_signal import XmppSignalling
from montage_core.protocol.errors import (
    DeviceRevoked,
    LockedOut,
    MeetingNotFound,
    NotEnrolled,
    WrongPin,
)
from montage_core.protocol.meeting_id import CloudMeetingId
from montage_core.rtc.peer import IceSettings
from montage_receiver.config import ReceiverConfig
from montage_receiver.meeting import Meeting, open_meeting
from montage_receiver.service import CloudMeetingEnded
from tests.dev_cloud import dev_cloud, read_line
from tests.memory_keyring import MemoryKeyring
from tests.synthetic_screen import StampGrabber
from tests.test_local_share import PIN, frames_reach, pins, presenter_named

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.timeout(240), pytest.mark.slow, pytest.mark.usefixtures("memory_keyring")]


def run(coro: Any, timeout: float = 120) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


# --- the cloud ----------------------------------------------------------------


@dataclass(frozen=True)
class Cloud:
    api: str
    ca: str
    xmpp: str  # host:port
    admin_token: str

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        tls = ssl.create_default_context(cafile=self.ca)
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls)) as http,
            http.request(method, self.api + path, json=body, headers=headers) as response,
        ):
            assert response.status < 300, await response.text()
            return await response.json()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with dev_cloud(tmp_path_factory.mktemp("cloud")) as (_process, ready):
        yield cloud_from(ready)


def cloud_from(ready: dict[str, Any]) -> Cloud:
    return Cloud(
        api=ready["api"]["url"],
        ca=ready["ca_cert"],
        xmpp=f"{ready['xmpp']['host']}:{ready['xmpp']['port']}",
        admin_token=Path(ready["api"]["admin_token_file"]).read_text().strip(),
    )


async def enrol(cloud: Cloud, where: Path, kind: str, name: str) -> CloudAccount:
    token = (await cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Test Org"}))["token"]
    return await enrol_device(
        where / f"{kind}-{secrets.token_hex(3)}.json",
        url=cloud.api,
        token=token,
        kind=kind,
        name=name,
        ca_file=cloud.ca,
        xmpp=cloud.xmpp,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def cloud_receiver(
    cloud: Cloud, tmp_path: Path, *, lan: bool = False, **config: Any
) -> AsyncIterator[Meeting]:
    account = await enrol(cloud, tmp_path, "receiver", "Cloud Room")
    opened = await open_meeting(
        ReceiverConfig(
            name="Cloud Room",
            bind="127.0.0.1",
            port=0,
            pin=PIN,
            data_dir=tmp_path / "receiver",
            **config,
        ),
        account,
        # A closed port: the LAN path fails at once, as from another network.
        advertise=None if lan else [f"127.0.0.1:{closed_port()}"],
    )
    try:
        yield opened
    finally:
        await opened.close()


class CloudPresenting:
    """A share to a cloud meeting running as a task, with what it reported."""

    def __init__(
        self,
        account: CloudAccount,
        meeting: CloudMeetingId,
        name: str,
        *,
        pin: str = PIN,
        force_relay: bool = False,
    ) -> None:
        self.updates: list[Update] = []
        self.client: ShareClient | None = None

        def make(open_channel: ChannelOpener, ice: IceSettings) -> ShareClient:
            self.client = ShareClient(
                meeting,
                name,
                # A busy screen: frames keep coming at the full rate, so
                # counting them does not depend on the pacer's still-screen rates.
                StampGrabber(busy=True),
                pins(pin),
                on_update=self.updates.append,
                open_channel=open_channel,
                ice=ice,
            )
            return self.client

        self.task = asyncio.ensure_future(
            share_to_cloud_meeting(account, meeting, make, force_relay=force_relay)
        )

    async def sharing(self, timeout: float = 30) -> Sharing:
        async def wait() -> Sharing:
            while True:
                if self.task.done():
                    self.task.result()
                    raise AssertionError("share ended before it started")
                for update in self.updates:
                    if isinstance(update, Sharing):
                        return update
                await asyncio.sleep(0.02)

        return await asyncio.wait_for(wait(), timeout)

    def stop(self) -> None:
        assert self.client is not None
        self.client.request_stop()

    async def outcome(self, timeout: float = 20) -> BaseException | None:
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except Exception as exc:
            return exc
        return None


# --- tests --------------------------------------------------------------------


def test_enrolment_keeps_secrets_in_the_keyring_only(
    cloud: Cloud, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    account = run(enrol(cloud, tmp_path, "client", "Laptop"))
    stored = {key[1]: value for key, value in memory_keyring.entries.items()}
    assert set(stored) == {f"{account.device_id}/secret", f"{account.device_id}/xmpp-password"}
    assert stored[f"{account.device_id}/secret"].startswith("mcd_")
    (kept,) = tmp_path.glob("client-*.json")
    text = kept.read_text()
    assert all(value not in text for value in stored.values())
    assert CloudAccount.load(kept) == account
    assert account.secret() == stored[f"{account.device_id}/secret"]


def test_share_over_xmpp_when_the_lan_path_is_closed(
    cloud: Cloud,
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("montage_client", "montage_receiver", "slixmpp", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=name)

    async def scenario() -> None:
        async with cloud_receiver(cloud, tmp_path) as mt:
            assert mt.path == "cloud" and mt.cloud_meeting_id is not None
            assert mt.display_id() == mt.cloud_meeting_id.display()
            account = await enrol(cloud, tmp_path, "client", "Ann's laptop")
            started = time.monotonic()
            ann = CloudPresenting(account, mt.cloud_meeting_id, "Ann")
            sharing = await ann.sharing()
            assert (sharing.room, sharing.path) == ("Cloud Room", "Cloud")
            p = await presenter_named(mt, "Ann")
            # PIN lockout counts the client's account, whatever its resource.
            assert p.source == account.jid
            await frames_reach(p, 20, timeout=30)
            stamp = decode_stamp(p.latest.to_ndarray(format="rgb24"))
            assert stamp is not None and latency_ms(stamp) < 2000
            # The LAN attempt gave up quickly (the closed port refuses at once).
            assert time.monotonic() - started < 25
            ann.stop()
            assert await ann.outcome() is None
            await asyncio.sleep(0.3)
            assert mt.service.presenters == []

    run(scenario())
    assert memory_keyring.entries
    for secret in memory_keyring.entries.values():
        assert secret not in caplog.text
    # The messages really went over XMPP in the registered namespace.
    assert "urn:montage:signal:1" in caplog.text


def test_lan_endpoint_is_used_when_reachable(cloud: Cloud, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with cloud_receiver(cloud, tmp_path, lan=True) as mt:
            assert mt.cloud_meeting_id is not None
            account = await enrol(cloud, tmp_path, "client", "Bob's laptop")
            bob = CloudPresenting(account, mt.cloud_meeting_id, "Bob")
            assert (await bob.sharing()).path == "Local"
            p = await presenter_named(mt, "Bob")
            assert p.source == "127.0.0.1"
            await frames_reach(p, 10, timeout=30)
            bob.stop()
            assert await bob.outcome() is None

    run(scenario())


def test_pin_lockout_counts_the_device_account_not_its_session(
    cloud: Cloud, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with cloud_receiver(cloud, tmp_path) as mt:
            assert mt.cloud_meeting_id is not None
            account = await enrol(cloud, tmp_path, "client", "Mallory's laptop")
            for tries_left in (4, 3, 2, 1):
                error = await CloudPresenting(
                    account, mt.cloud_meeting_id, "Mallory", pin="0000"
                ).outcome()
                assert isinstance(error, WrongPin) and error.tries_left == tries_left
            error = await CloudPresenting(
                account, mt.cloud_meeting_id, "Mallory", pin="0000"
            ).outcome()
            assert isinstance(error, LockedOut)
            # Every attempt was a new XMPP session (a new resource); the lock
            # holds the account, so the right PIN does not help now either.
            error = await CloudPresenting(account, mt.cloud_meeting_id, "Mallory").outcome()
            assert isinstance(error, LockedOut)
            # Another device is not affected.
            other = await enrol(cloud, tmp_path, "client", "Nia's laptop")
            nia = CloudPresenting(other, mt.cloud_meeting_id, "Nia")
            assert (await nia.sharing()).path == "Cloud"
            nia.stop()
            assert await nia.outcome() is None

    run(scenario())


def test_forced_relay_goes_through_turn_over_tls(cloud: Cloud, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with cloud_receiver(cloud, tmp_path) as mt:
            assert mt.cloud_meeting_id is not None
            account = await enrol(cloud, tmp_path, "client", "Cat's laptop")
            cat = CloudPresenting(account, mt.cloud_meeting_id, "Cat", force_relay=True)
            assert (await cat.sharing()).path == "Relayed"
            p = await presenter_named(mt, "Cat")
            await frames_reach(p, 20, timeout=30)
            cat.stop()
            assert await cat.outcome() is None

    run(scenario())


def test_suspending_the_client_mid_share_ends_it_and_resuming_restores_it(
    cloud: Cloud, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with cloud_receiver(cloud, tmp_path) as mt:
            assert mt.cloud_meeting_id is not None
            account = await enrol(cloud, tmp_path, "client", "Lost laptop")
            dan = CloudPresenting(account, mt.cloud_meeting_id, "Dan")
            await dan.sharing()
            p = await presenter_named(mt, "Dan")
            await frames_reach(p, 5, timeout=30)
            suspended = time.monotonic()
            await cloud.admin("POST", f"/v1/admin/devices/{account.device_id}/suspend")
            error = await dan.outcome(timeout=15)
            assert time.monotonic() - suspended < 10
            assert isinstance(error, DeviceRevoked) and str(error) == SUSPENDED
            assert error.exit_code == 5
            # It stays refused: REST and XMPP both give the same reason.
            again = await CloudPresenting(account, mt.cloud_meeting_id, "Dan").outcome()
            assert isinstance(again, DeviceRevoked) and str(again) == SUSPENDED
            # The receiver let go of the presenter.
            await asyncio.sleep(0.5)
            deadline = time.monotonic() + 15
            while mt.service.presenters and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert mt.service.presenters == []

            # Resumed, the same credentials work again.
            await cloud.admin("POST", f"/v1/admin/devices/{account.device_id}/resume")
            back = CloudPresenting(account, mt.cloud_meeting_id, "Dan")
            assert (await back.sharing()).path == "Cloud"
            back.stop()
            assert await back.outcome() is None

            await cloud.admin("DELETE", f"/v1/admin/devices/{account.device_id}")
            gone = await CloudPresenting(account, mt.cloud_meeting_id, "Dan").outcome()
            assert isinstance(gone, DeviceRevoked) and str(gone) == REMOVED

    run(scenario())


def test_unknown_and_ended_meeting_ids_are_explained(cloud: Cloud, tmp_path: Path) -> None:
    async def scenario() -> None:
        account = await enrol(cloud, tmp_path, "client", "Eve's laptop")
        async with cloud_receiver(cloud, tmp_path) as mt:
            assert mt.cloud_meeting_id is not None
            ended = mt.cloud_meeting_id
        unknown = CloudMeetingId(str(100000 + (int(ended.digits) + 450000) % 900000))
        error = await CloudPresenting(account, unknown, "Eve").outcome()
        assert isinstance(error, MeetingNotFound) and error.exit_code == 2
        assert str(error) == (
            f"There is no meeting {unknown.display()}. "
            "Check the ID shown on the meeting-room display."
        )
        error = await CloudPresenting(account, ended, "Eve").outcome()
        assert isinstance(error, MeetingNotFound)
        assert str(error) == (
            f"Meeting {ended.display()} has ended. "
            "Use the ID now shown on the meeting-room display."
        )

    run(scenario())


def test_receiver_falls_back_to_the_local_id_and_says_why(
    cloud: Cloud, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    async def scenario() -> None:
        async with cloud_receiver(cloud, tmp_path, force_local=True) as mt:
            assert (mt.path, mt.cloud_meeting_id) == ("local", None)
            assert mt.cloud_error == "local meetings forced"
            assert mt.display_id() == mt.meeting_id.display()
        account = await enrol(cloud, tmp_path, "receiver", "Offline Room")
        unreachable = CloudAccount(
            url=f"https://127.0.0.1:{closed_port()}",
            device_id=account.device_id,
            kind="receiver",
            jid=account.jid,
            xmpp_host="127.0.0.1",
            xmpp_port=closed_port(),
            ca_file=cloud.ca,
        )
        config = ReceiverConfig(name="Offline", bind="127.0.0.1", port=0, data_dir=tmp_path / "r")
        started = time.monotonic()
        mt = await open_meeting(config, unreachable)
        try:
            assert time.monotonic() - started < 10
            assert (mt.path, mt.cloud_meeting_id) == ("local", None)
            assert mt.cloud_error is not None and "messaging service" in mt.cloud_error
        finally:
            await mt.close()
        # A keyring that lost the secrets: the local ID, and the reason.
        memory_keyring.entries.clear()
        mt = await open_meeting(config, account)
        try:
            assert mt.path == "local"
            assert mt.cloud_error is not None and "missing from the keyring" in mt.cloud_error
        finally:
            await mt.close()

    run(scenario())


def test_a_receiver_whose_xmpp_connection_drops_logs_in_again_and_keeps_its_id(
    cloud: Cloud, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with cloud_receiver(cloud, tmp_path) as mt:
            link, digits = mt.cloud, mt.cloud_meeting_id
            assert link is not None and digits is not None
            before = link.signalling
            assert before is not None
            ended: list[object] = []
            mt.service.subscribe(
                lambda e: ended.append(e) if isinstance(e, CloudMeetingEnded) else None
            )
            # The network drops the connection (a reset, as when a proxy restarts);
            # the session object is reached into only to cause that.
            before._client.transport.abort()  # type: ignore[attr-defined]
            deadline = time.monotonic() + 30
            while link.signalling is before or not link.signalling.connected:  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "no new XMPP session"
                await asyncio.sleep(0.05)
            assert link.signalling.jid == before.jid  # type: ignore[union-attr]
            assert mt.cloud_meeting_id == digits and not ended
            # Someone joins the same 6-digit ID through the cloud and is seen.
            account = await enrol(cloud, tmp_path, "client", "Laptop after the blink")
            ann = CloudPresenting(account, digits, "Ann")
            assert (await ann.sharing()).path in ("Cloud", "Relayed")
            await frames_reach(await presenter_named(mt, "Ann"), 5)
            ann.stop()
            assert await ann.outcome() is None

    run(scenario())


def test_a_suspended_receiver_falls_back_to_its_local_id(cloud: Cloud, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with cloud_receiver(cloud, tmp_path) as mt:
            assert mt.cloud is not None and mt.cloud_meeting_id is not None
            digits = mt.cloud_meeting_id
            ended: list[str] = []
            mt.service.subscribe(
                lambda event: (
                    ended.append(event.reason) if isinstance(event, CloudMeetingEnded) else None
                )
            )
            await cloud.admin("POST", f"/v1/admin/devices/{mt.cloud.account.device_id}/suspend")
            deadline = time.monotonic() + 10
            while not ended and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert ended == [SUSPENDED]
            assert (mt.path, mt.cloud_error) == ("local", SUSPENDED)
            assert mt.display_id() == mt.meeting_id.display()
            # The cloud ended the meeting too: its ID tells a client so.
            account = await enrol(cloud, tmp_path, "client", "Hal's laptop")
            error = await CloudPresenting(account, digits, "Hal").outcome()
            assert isinstance(error, MeetingNotFound) and "has ended" in str(error)

    run(scenario())


def test_xmpp_signalling_refuses_a_suspended_account_at_login(cloud: Cloud, tmp_path: Path) -> None:
    async def scenario() -> None:
        account = await enrol(cloud, tmp_path, "client", "Spare laptop")
        session = await XmppSignalling.open(account)
        await session.close()
        await cloud.admin("POST", f"/v1/admin/devices/{account.device_id}/suspend")
        with pytest.raises(DeviceRevoked, match="suspended"):
            await XmppSignalling.open(account)

    run(scenario())


def test_cli_join_of_a_cloud_id_without_enrolment_says_how(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "montage_client.cli", "join", "123 456", "--pin", "1234"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"PYTHONPATH": str(ROOT), "MONTAGE_CONFIG_DIR": str(tmp_path)},
        check=False,
    )
    assert result.returncode == NotEnrolled.exit_code == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("montage-client: 123 456 is a cloud meeting")
    assert "montage-client enrol --cloud URL --token T" in last


def _programs_env(tmp_path: Path) -> dict[str, str]:
    # Each program gets its own in-memory keyring: what one process stores,
    # another cannot read (as with a keyring that was reset or is locked).
    return os.environ | {
        "PYTHONPATH": str(ROOT),
        "PYTHON_KEYRING_BACKEND": "tests.memory_keyring.MemoryKeyring",
        "MONTAGE_CONFIG_DIR": str(tmp_path / "client-config"),
    }


def test_receiver_program_enrols_shows_a_cloud_id_and_ends_it(cloud: Cloud, tmp_path: Path) -> None:
    token = run(cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Test Org"}))["token"]
    log = tmp_path / "receiver.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "montage_receiver.cli",
                "--headless",
                "--status-json",
                "--bind=127.0.0.1",
                "--port=0",
                f"--data-dir={tmp_path / 'receiver'}",
                "--name=Program Room",
                f"--pin={PIN}",
                f"--cloud={cloud.api}",
                f"--token={token}",
                f"--cloud-ca={cloud.ca}",
                f"--xmpp={cloud.xmpp}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=_programs_env(tmp_path),
        )
    try:
        line = read_line(process, 60)
        assert line, log.read_text()
        ready = json.loads(line)
        assert ready["path"] == "cloud" and ready["cloud_error"] is None
        digits = ready["cloud_meeting_id"]
        assert len(digits) == 6 and len(ready["meeting_id"]) == 10

        async def join() -> None:
            account = await enrol(cloud, tmp_path, "client", "Fay's laptop")
            fay = CloudPresenting(account, CloudMeetingId(digits), "Fay")
            # The receiver advertised its real endpoint: the LAN path wins.
            assert (await fay.sharing()).path == "Local"
            fay.stop()
            assert await fay.outcome() is None

        run(join())
        process.terminate()
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    text = (tmp_path / "receiver" / "cloud.json").read_text()
    assert "mcd_" not in text and "password" not in text
    assert "Enrolled this receiver as dev-" in log.read_text()
    assert "mcd_" not in log.read_text()  # no device secret in its log

    async def ended() -> BaseException | None:
        account = await enrol(cloud, tmp_path, "client", "Gus's laptop")
        return await CloudPresenting(account, CloudMeetingId(digits), "Gus").outcome()

    error = run(ended())
    assert isinstance(error, MeetingNotFound) and "has ended" in str(error)


def test_client_program_enrols_and_needs_its_keyring_to_join(cloud: Cloud, tmp_path: Path) -> None:
    token = run(cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Test Org"}))["token"]

    def client(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "montage_client.cli", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            env=_programs_env(tmp_path),
            check=False,
        )

    enrolled = client(
        "enrol",
        f"--cloud={cloud.api}",
        f"--token={token}",
        f"--ca={cloud.ca}",
        f"--xmpp={cloud.xmpp}",
    )
    assert enrolled.returncode == 0, enrolled.stderr
    assert "Enrolled this computer as dev-" in enrolled.stderr
    kept = json.loads((tmp_path / "client-config" / "cloud.json").read_text())
    assert kept["kind"] == "client" and kept["ca_file"] == cloud.ca
    assert not any("mcd_" in str(value) for value in kept.values())

    again = client("enrol", f"--cloud={cloud.api}", f"--token={token}x", f"--ca={cloud.ca}")
    assert again.returncode == 2
    assert again.stderr.strip().endswith(
        "That enrolment token is not valid. Check it with your administrator."
    )

    # This process's keyring is a new, empty one: the secrets are not there.
    joined = client("join", "123456", "--pin", PIN)
    assert joined.returncode == 2
    assert "cloud credentials are missing from the keyring" in joined.stderr


def test_the_window_joins_a_cloud_meeting_like_a_person(
    cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: Any
) -> None:
    import qasync

    from tests.test_client_gui import Person, until

    config = tmp_path / "config"
    monkeypatch.setenv("MONTAGE_CONFIG_DIR", str(config))
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)

    async def main() -> None:
        token = (await cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "GUI Org"}))[
            "token"
        ]
        await enrol_device(
            config / "cloud.json",
            url=cloud.api,
            token=token,
            kind="client",
            name="GUI laptop",
            ca_file=cloud.ca,
            xmpp=cloud.xmpp,
        )
        person = Person(0, config)
        try:
            async with cloud_receiver(cloud, tmp_path) as mt:
                assert mt.cloud_meeting_id is not None
                person.type_meeting(mt.cloud_meeting_id.display())
                await until(lambda: person.join.asking_pin, "the PIN prompt", timeout=30)
                person.type_pin(PIN)
                await until(lambda: person.bar.isVisible(), "the sharing bar", timeout=30)
                assert person.bar.status_label.text() == "Sharing to Cloud Room (Cloud)"
                (presenter,) = mt.service.presenters
                await until(lambda: presenter.frames > 5, "frames at the receiver")
                QTest.mouseClick(person.bar.stop_button, Qt.MouseButton.LeftButton)
                await until(lambda: person.join.isVisible(), "the join window again")
                assert person.join.status_label.text() == "You stopped sharing."
                # A cloud ID is for one meeting: it is not offered again.
                assert person.controller.settings.recent_meetings == []
                person.controller.close()
        finally:
            # Last: closing the last window ends Qt's (and so the loop's) run.
            person.join.close()
            person.bar.close()

    with loop:
        loop.run_until_complete(asyncio.wait_for(main(), 90))


def test_turn_trust_is_given_to_aioice_explicitly(
    cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account's CA reaches aioice; without it a `turns:` relay silently does not exist."""
    from montage_core.cloud.api import CloudApi
    from montage_core.rtc.peer import make_peer_connection

    # Only the explicit trust may make this work, not the process-wide store.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)

    async def relay_candidates(account: CloudAccount, trusted: bool) -> list[str]:
        async with CloudApi(account.url, account.tls(), account.secret()) as api:
            turn = await api.turn()
        ice = IceSettings(
            turn_uri=turn.preferred_uri,
            username=turn.username,
            password=turn.password,
            turn_tls=account.tls() if trusted else None,
            relay_only=True,
        )
        assert ice.turn_uri is not None and ice.turn_uri.startswith("turns:")
        pc = make_peer_connection(ice)
        try:
            pc.addTransceiver("video", direction="sendonly")
            await pc.setLocalDescription(await pc.createOffer())
            sdp = pc.localDescription.sdp
            return [line for line in sdp.splitlines() if "typ relay" in line]
        finally:
            await pc.close()

    async def scenario() -> None:
        account = await enrol(cloud, tmp_path, "client", "Ivy's laptop")
        assert await relay_candidates(account, trusted=True)
        assert await relay_candidates(account, trusted=False) == []

    run(scenario())


@pytest.mark.xvfb
def test_client_program_shares_to_a_cloud_meeting_and_says_relayed(
    cloud: Cloud, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    from bench.xvfb import Xvfb, workload_on
    from tests.memory_keyring import SEED_VARIABLE, seed

    config = tmp_path / "client-config"

    async def scenario(screen: Xvfb) -> subprocess.CompletedProcess[str]:
        token = (await cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "CLI Org"}))[
            "token"
        ]
        await enrol_device(
            config / "cloud.json",
            url=cloud.api,
            token=token,
            kind="client",
            name="CLI laptop",
            ca_file=cloud.ca,
            xmpp=cloud.xmpp,
        )
        async with cloud_receiver(cloud, tmp_path) as mt:
            assert mt.cloud_meeting_id is not None
            env = screen.env(
                MONTAGE_CONFIG_DIR=str(config),
                PYTHONPATH=str(ROOT),
                PYTHON_KEYRING_BACKEND="tests.memory_keyring.SeededKeyring",
                **{SEED_VARIABLE: seed(memory_keyring)},
            )
            program = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "montage_client",
                "join",
                mt.cloud_meeting_id.display(),
                f"--pin={PIN}",
                "--name=Jo",
                "--seconds=2",
                "--force-relay",
                cwd=ROOT,
                env=env,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await program.communicate()
            assert program.returncode is not None
            return subprocess.CompletedProcess([], program.returncode, "", err.decode())

    with Xvfb(800, 600) as screen, workload_on(screen, "scroll"):
        result = run(scenario(screen), timeout=90)
    assert result.returncode == 0, result.stderr
    assert "Sharing to Cloud Room (Relayed), 800×600" in result.stderr
    assert result.stderr.strip().endswith("Stopped sharing.")
    for secret in memory_keyring.entries.values():
        assert secret not in result.stderr


def test_a_person_enrols_in_the_window_then_joins_a_cloud_meeting(
    cloud: Cloud,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    qapp: Any,
    memory_keyring: MemoryKeyring,
) -> None:

    from tests.test_client_gui import Person, in_the_window, until

    config = tmp_path / "config"

    async def scenario(person: Person) -> None:
        token = (await cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Desk"}))["token"]
        QTest.mouseClick(person.join.cloud_button, Qt.MouseButton.LeftButton)
        dialog = person.controller.cloud_dialog
        assert dialog is not None and dialog.isVisible()
        assert dialog.account_label.text() == "This computer is not enrolled."
        # A mistyped token first: the cloud's own sentence, nothing saved.
        QTest.keyClicks(dialog.url_edit, cloud.api)
        QTest.keyClicks(dialog.token_edit, "not-a-token")
        QTest.keyClicks(dialog.ca_edit, cloud.ca)
        QTest.keyClicks(dialog.xmpp_edit, cloud.xmpp)
        QTest.mouseClick(dialog.enrol_button, Qt.MouseButton.LeftButton)
        await until(lambda: dialog.error_label.isVisible(), "the refusal", timeout=20)
        assert "token" in dialog.error_label.text()
        assert not (config / "cloud.json").exists()
        # The right token.
        dialog.token_edit.clear()
        QTest.keyClicks(dialog.token_edit, token)
        QTest.mouseClick(dialog.enrol_button, Qt.MouseButton.LeftButton)
        await until(lambda: "Enrolled" in dialog.status_label.text(), "enrolment", 20)
        assert dialog.account_label.text().startswith(f"This computer is enrolled with {cloud.api}")
        assert dialog.token_edit.text() == ""  # the one-time secret is not kept on screen
        saved = (config / "cloud.json").read_text()
        assert len(memory_keyring.entries) == 2  # device secret and XMPP password
        assert not any(secret in saved for secret in memory_keyring.entries.values())
        dialog.close_button.click()
        async with cloud_receiver(cloud, tmp_path) as mt:
            assert mt.cloud_meeting_id is not None
            person.type_meeting(mt.cloud_meeting_id.display())
            await until(lambda: person.join.asking_pin, "the PIN prompt", timeout=30)
            person.type_pin(PIN)
            await until(lambda: person.bar.isVisible(), "the sharing bar", timeout=30)
            (presenter,) = mt.service.presenters
            await until(lambda: presenter.frames > 5, "frames at the receiver")
            QTest.mouseClick(person.bar.stop_button, Qt.MouseButton.LeftButton)
            await until(lambda: person.join.isVisible(), "the join window again")

    in_the_window(qapp, config, monkeypatch, scenario, timeout=120)
