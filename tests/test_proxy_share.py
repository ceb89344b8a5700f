"""A cloud share when a proxy is the only way out: squid, dante and a PAC file, end to end.

Topology: one network namespace holds the cloud (`montage-cloud dev`: REST,
Prosody, coturn, on its loopback), squid on PEER:3128, dante on PEER:1080,
and the receiver (tests/stamp_receiver.py), which reaches the cloud through
dante. An nftables rule lets this side of the link — the client's network —
reach nothing in there but the two proxies: not the receiver's LAN address,
not UDP. The client, in this test process, enrols, resolves the meeting,
logs in to XMPP and allocates its TURN relay over TLS, all through the
proxy, and shares; the receiver reads the timestamp strip on the frames it
shows. The proxies' own logs show the connections went through them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bench.xvfb import stop_process
from montage_client.core.cloud_join import LAN_TIMEOUT, share_to_cloud_meeting
from montage_client.core.share_client import ChannelOpener, ShareClient, Sharing, Update
from montage_core.cloud.account import CloudAccount
from montage_core.cloud.enrol import enrol_device
from montage_core.net import (
    PASSWORD_ENV,
    ProxyAuthRefused,
    ProxyMode,
    ProxyResolver,
    ProxySettings,
    proxied_session,
    store_proxy_password,
)
from montage_core.protocol.errors import ShareEnded
from montage_core.protocol.meeting_id import CloudMeetingId
from montage_core.rtc.peer import IceSettings
from tests import netns
from tests import proxy_servers as servers
from tests.dev_cloud import ROOT, collect_json, read_line
from tests.memory_keyring import SEED_VARIABLE, MemoryKeyring, seed
from tests.synthetic_screen import StampGrabber
from tests.test_local_share import pins

REASON = netns.unavailable_reason() or (
    None if shutil.which("nft") else "nftables is not installed (apt-get install nftables)"
)
pytestmark = [
    pytest.mark.skipif(REASON is not None, reason=REASON or ""),
    pytest.mark.slow,
    pytest.mark.timeout(300),
]

PIN = "2468"
RECEIVER_PORT = 8443
# Frames whose strip the receiver read, and how old a shown stamp may be.
FRAMES = 20
FRESH_MS = 3000
STRICT_SQUID_PORT = 3129

PAC = """
function FindProxyForURL(url, host) {
    if (host == "127.0.0.1") return "PROXY %s:%d";
    return "DIRECT";
}
"""


@dataclass
class Rig:
    ns: netns.Namespace
    password: str
    cloud: servers.DevCloud
    squid_log: Path
    dante_log: Path
    workdir: Path
    receiver_log: Path
    meeting: CloudMeetingId
    frames: list[dict[str, Any]] = field(default_factory=list)
    strict_log: Path | None = None  # the squid that will not tunnel to the relay

    def proxy(self, kind: str) -> str:
        if kind == "squid":
            return f"http://{servers.USER}@{self.ns.peer}:{servers.SQUID_PORT}"
        return f"socks5://{servers.USER}@{self.ns.peer}:{servers.DANTE_PORT}"

    def resolver(self, kind: str = "squid") -> ProxyResolver:
        return ProxyResolver(ProxySettings.parse(self.proxy(kind)), password=self.password)

    async def token(self) -> str:
        """A fresh enrolment token from the admin API (through squid: there is no other way)."""
        headers = {"Authorization": f"Bearer {self.cloud.admin_token}"}
        async with (
            await proxied_session(self.cloud.api_url, self.resolver(), tls=self.tls()) as http,
            http.post(
                "v1/admin/enrolment-tokens", json={"org": "Proxy Org"}, headers=headers
            ) as response,
        ):
            assert response.status == 201, await response.text()
            return str((await response.json())["token"])

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cloud.ca)

    def shown(self, name: str) -> list[int]:
        """Stamp ages (ms) the receiver read from `name`'s frames."""
        return [
            f["age_ms"] for f in list(self.frames) if f["name"] == name and f["age_ms"] is not None
        ]

    def frames_of(self, name: str) -> int:
        return sum(1 for f in list(self.frames) if f["name"] == name)


def _block_all_but_the_proxies(ns: netns.Namespace) -> None:
    link = ns.ns_link
    for rule in (
        "add table inet montage",
        "add chain inet montage input { type filter hook input priority 0 ; }",
        f"add rule inet montage input iifname {link} ct state established,related accept",
        f"add rule inet montage input iifname {link} tcp dport "
        f"{{ {servers.SQUID_PORT}, {servers.DANTE_PORT}, {STRICT_SQUID_PORT} }} accept",
        f"add rule inet montage input iifname {link} drop",
    ):
        ns.run("nft", *rule.split())


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with contextlib.ExitStack() as stack:
        ns, workdir, password = stack.enter_context(servers.proxy_host("ps"))
        dev_dir = servers.private_dir("montage-proxy-share-cloud-")
        stack.callback(shutil.rmtree, dev_dir, ignore_errors=True)
        cloud = stack.enter_context(servers.dev_cloud(ns, dev_dir))
        squid_log = stack.enter_context(servers.squid(ns, workdir, password, cloud.ports))
        dante_log = stack.enter_context(servers.dante(ns, workdir, denied_port=25))
        # A second squid, as a stricter network's: REST and XMPP, but not the relay's port.
        strict_dir = workdir / "strict"
        strict_dir.mkdir()
        without_relay = [port for port in cloud.ports if port != cloud.turns[1]]
        strict_log = stack.enter_context(
            servers.squid(ns, strict_dir, password, without_relay, port=STRICT_SQUID_PORT)
        )
        _block_all_but_the_proxies(ns)
        # The receiver's enrolment token, from a rig without a meeting yet.
        partial = Rig(
            ns, password, cloud, squid_log, dante_log, workdir, workdir, CloudMeetingId("100000")
        )
        token = asyncio.run(partial.token())
        receiver_log = workdir / "receiver.err"
        with receiver_log.open("w") as err:
            receiver = subprocess.Popen(
                ns.command(
                    sys.executable,
                    "-m",
                    "tests.stamp_receiver",
                    f"--cloud={cloud.api_url}",
                    f"--token={token}",
                    f"--ca={cloud.ca}",
                    "--xmpp={}:{}".format(*cloud.xmpp),
                    f"--bind={ns.peer}",
                    f"--port={RECEIVER_PORT}",
                    f"--data-dir={workdir / 'receiver'}",
                    f"--pin={PIN}",
                    f"--proxy={partial.proxy('dante')}",
                ),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=os.environ
                | {
                    "PYTHONPATH": str(ROOT),
                    "PYTHON_KEYRING_BACKEND": "tests.memory_keyring.MemoryKeyring",
                    PASSWORD_ENV: password,
                },
            )
        stack.callback(stop_process, receiver, wait=20)
        line = read_line(receiver, 60)
        assert line, receiver_log.read_text()
        ready = json.loads(line)
        assert ready["cloud_meeting_id"], ready
        rig = Rig(
            ns,
            password,
            cloud,
            squid_log,
            dante_log,
            workdir,
            receiver_log,
            CloudMeetingId(ready["cloud_meeting_id"]),
        )
        rig.strict_log = strict_log
        threading.Thread(target=collect_json, args=(receiver, rig.frames), daemon=True).start()
        yield rig


async def _enrol_client(
    rig: Rig, settings: ProxySettings | ProxyResolver, path: Path | None = None
) -> CloudAccount:
    return await enrol_device(
        path or rig.workdir / f"client-{secrets.token_hex(3)}.json",
        url=rig.cloud.api_url,
        token=await rig.token(),
        kind="client",
        name="Laptop behind a proxy",
        ca_file=str(rig.cloud.ca),
        xmpp="{}:{}".format(*rig.cloud.xmpp),
        proxy=settings,
    )


@dataclass
class Outcome:
    sharing: Sharing
    seconds_to_share: float
    shown: list[int]


async def _share(rig: Rig, settings: ProxySettings, name: str) -> Outcome:
    """Enrol through the proxy, share until the receiver read FRAMES stamps, stop."""
    account = await _enrol_client(rig, settings)
    updates: list[Update] = []
    made: list[ShareClient] = []

    def make(open_channel: ChannelOpener, ice: IceSettings) -> ShareClient:
        client = ShareClient(
            rig.meeting,
            name,
            StampGrabber(busy=True),
            pins(PIN),
            on_update=updates.append,
            open_channel=open_channel,
            ice=ice,
        )
        made.append(client)
        return client

    started = time.monotonic()
    task = asyncio.ensure_future(share_to_cloud_meeting(account, rig.meeting, make, proxy=settings))
    loop = asyncio.get_running_loop()
    sharing: Sharing | None = None
    seconds = 0.0
    deadline = loop.time() + 60
    while loop.time() < deadline and not task.done():
        sharing = sharing or next((u for u in updates if isinstance(u, Sharing)), None)
        if sharing is not None and not seconds:
            seconds = time.monotonic() - started
        if sharing is not None and len(rig.shown(name)) >= FRAMES:
            break
        await asyncio.sleep(0.05)
    if task.done():
        task.result()  # raises the share's own sentence
    assert sharing is not None, f"no share within 60 s: {updates}"
    made[0].request_stop()
    await asyncio.wait_for(task, 20)
    return Outcome(sharing, seconds, rig.shown(name))


@pytest.mark.parametrize("kind", ["squid", "dante"])
def test_a_share_goes_through_the_proxy_when_it_is_the_only_way_out(
    rig: Rig, kind: str, memory_keyring: MemoryKeyring
) -> None:
    # The client's network reaches nothing in the cloud's but the proxies.
    direct = ProxySettings.parse("none")
    with pytest.raises(Exception) as no_way:
        asyncio.run(asyncio.wait_for(_enrol_client(rig, direct), 30))
    assert "Cannot reach the Montage cloud" in str(no_way.value)

    settings = ProxySettings.parse(rig.proxy(kind))
    store_proxy_password(servers.USER, rig.ns.peer, settings.port, rig.password)
    name = f"Via {kind}"
    outcome = asyncio.run(asyncio.wait_for(_share(rig, settings, name), 120))

    assert outcome.sharing.path == "Relayed via proxy"
    assert outcome.sharing.room == "Proxy Room"
    # What the room shows: this presenter's screen, with a fresh stamp on it.
    assert len(outcome.shown) >= FRAMES
    assert min(outcome.shown) < FRESH_MS, outcome.shown[:10]
    # The path was decided in seconds: the dropped LAN attempt costs LAN_TIMEOUT,
    # and ICE never waits on direct pairs the network drops.
    assert outcome.seconds_to_share < LAN_TIMEOUT + 8, outcome.seconds_to_share

    # REST, XMPP and TURN over TLS each went through the proxy, as this user.
    api_port = int(rig.cloud.api_url.rsplit(":", 1)[1])
    for port in (api_port, rig.cloud.xmpp[1], rig.cloud.turns[1]):
        if kind == "squid":
            servers.wait_for_line(rig.squid_log, f"CONNECT 127.0.0.1:{port} {servers.USER}")
        else:
            servers.wait_for_line(rig.dante_log, f"username%{servers.USER}@", f"127.0.0.1.{port}")


def test_a_pac_file_sends_the_cloud_through_the_proxy(
    rig: Rig, memory_keyring: MemoryKeyring
) -> None:
    async def scenario() -> Outcome:
        body = PAC % (rig.ns.peer, servers.SQUID_PORT)
        async with servers.pac_server("127.0.0.1", body) as url:
            settings = ProxySettings(ProxyMode.AUTO, pac_url=url, user=servers.USER)
            return await _share(rig, settings, "Via PAC")

    store_proxy_password(servers.USER, rig.ns.peer, servers.SQUID_PORT, rig.password)
    before = rig.squid_log.read_text().count("CONNECT")
    outcome = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert outcome.sharing.path == "Relayed via proxy"
    assert len(outcome.shown) >= FRAMES and min(outcome.shown) < FRESH_MS
    assert rig.squid_log.read_text().count("CONNECT") > before


def test_a_proxy_that_will_not_reach_the_relay_is_named_and_nothing_hangs(
    rig: Rig, memory_keyring: MemoryKeyring
) -> None:
    strict = f"http://{servers.USER}@{rig.ns.peer}:{STRICT_SQUID_PORT}"
    store_proxy_password(servers.USER, rig.ns.peer, STRICT_SQUID_PORT, rig.password)
    started = time.monotonic()
    with pytest.raises(ShareEnded) as ended:
        asyncio.run(asyncio.wait_for(_share(rig, ProxySettings.parse(strict), "Strict"), 90))
    # Signalling worked; media had no way: said as soon as ICE gives up, not after a timeout.
    assert time.monotonic() - started < 20
    assert str(ended.value) == (
        "No media path to the receiver: the cloud's relay could not be reached through the "
        f"proxy. The HTTP proxy {rig.ns.peer}:{STRICT_SQUID_PORT} refused to open a connection "
        f"to 127.0.0.1:{rig.cloud.turns[1]} (HTTP 403 Forbidden)."
    )
    assert rig.strict_log is not None
    servers.wait_for_line(rig.strict_log, f"CONNECT 127.0.0.1:{rig.cloud.turns[1]}", "403")


@pytest.mark.parametrize("kind", ["squid", "dante"])
def test_a_wrong_proxy_password_is_named_and_nothing_hangs(
    rig: Rig, kind: str, memory_keyring: MemoryKeyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = ProxySettings.parse(rig.proxy(kind))
    wrong = "wrong-" + rig.password
    store_proxy_password(servers.USER, rig.ns.peer, settings.port, wrong)
    started = time.monotonic()
    with pytest.raises(ProxyAuthRefused) as refused:
        asyncio.run(asyncio.wait_for(_enrol_client(rig, settings), 30))
    assert time.monotonic() - started < 5
    kind_name = "HTTP" if kind == "squid" else "SOCKS5"
    assert str(refused.value) == (
        f"The {kind_name} proxy {rig.ns.peer}:{settings.port} refused the user name "
        f"'{servers.USER}' or its password."
    )
    for secret in (wrong, rig.password):
        assert secret not in caplog.text


def test_client_program_joins_through_the_proxy_and_says_so(
    rig: Rig, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    from bench.xvfb import Xvfb, workload_on

    config = tmp_path / "config"
    proxy = f"--proxy={rig.proxy('squid')}"

    def program(*args: str, password: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "montage_client", "-v", *args, proxy],
            cwd=ROOT,
            env=env | {"MONTAGE_CONFIG_DIR": str(config), PASSWORD_ENV: password},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # A wrong password: exit code 4 (unreachable) and the proxy's refusal, at once.
    enrol = ("enrol", f"--cloud={rig.cloud.api_url}", f"--token={asyncio.run(rig.token())}")
    started = time.monotonic()
    refused = program(
        *enrol,
        f"--ca={rig.cloud.ca}",
        "--xmpp={}:{}".format(*rig.cloud.xmpp),
        password="wrong-" + rig.password,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert time.monotonic() - started < 15  # Python's start-up included
    assert refused.returncode == 4, refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        f"montage-client: The HTTP proxy {rig.ns.peer}:{servers.SQUID_PORT} refused the user "
        f"name '{servers.USER}' or its password."
    )

    # Enrolled here (through the proxy too); the program finds the secrets in its keyring.
    account_file = config / "cloud.json"
    asyncio.run(_enrol_client(rig, rig.resolver(), account_file))
    with Xvfb(640, 480) as screen, workload_on(screen, "scroll"):
        env = screen.env(
            PYTHONPATH=str(ROOT),
            PYTHON_KEYRING_BACKEND="tests.memory_keyring.SeededKeyring",
            **{SEED_VARIABLE: seed(memory_keyring)},
        )
        joined = program(
            "join",
            rig.meeting.display(),
            f"--pin={PIN}",
            "--name=CLI behind squid",
            "--seconds=5",
            password=rig.password,
            env=env,
        )
    assert joined.returncode == 0, joined.stderr
    assert "Sharing to Proxy Room (Relayed via proxy), 640×480" in joined.stderr
    assert joined.stderr.strip().endswith("Stopped sharing.")
    # The room showed the workload's screen: its strip, read from the frames, is fresh.
    shown = _wait_for(lambda: rig.shown("CLI behind squid"))
    assert shown, (
        f"{rig.frames_of('CLI behind squid')} frames, no strip read\n{joined.stderr[-3000:]}\n"
        f"{rig.receiver_log.read_text()[-3000:]}"
    )
    assert min(shown) < FRESH_MS
    for run in (refused, joined):  # -v: everything at DEBUG on stderr
        assert rig.password not in run.stdout + run.stderr
        for secret in memory_keyring.entries.values():
            assert secret not in run.stdout + run.stderr


def _wait_for(found: Callable[[], list[int]], seconds: float = 5.0) -> list[int]:
    """What `found` gives once it gives something (the receiver's lines arrive on a thread)."""
    deadline = time.monotonic() + seconds
    while not (result := found()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def test_a_person_sets_the_proxy_in_the_window_tests_it_and_shares(
    rig: Rig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    qapp: Any,
    memory_keyring: MemoryKeyring,
) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from tests.test_client_gui import Person, in_the_window, until

    config = tmp_path / "config"
    name = "Window behind dante"

    async def scenario(person: Person) -> None:
        # Enrolled already (through the proxy; enrolment in the window is tested elsewhere).
        await _enrol_client(rig, rig.resolver("dante"), config / "cloud.json")
        QTest.mouseClick(person.join.network_button, Qt.MouseButton.LeftButton)
        page = person.controller.network_dialog
        assert page is not None and page.isVisible()
        page.mode_buttons[ProxyMode.SOCKS5].click()
        QTest.keyClicks(page.host_edit, rig.ns.peer)
        QTest.keyClicks(page.port_edit, str(servers.DANTE_PORT))
        QTest.keyClicks(page.user_edit, servers.USER)
        QTest.keyClicks(page.password_edit, rig.password)
        # Tested before it is saved: every step of the way out, in words.
        QTest.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
        await until(lambda: page.findings_text(), "the findings", timeout=40)
        findings = page.findings_text().splitlines()
        assert [line[0] for line in findings[1:]] == ["✓"] * 5, findings
        assert "TURN" in findings[-1] and "through the proxy" in findings[-1]
        QTest.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
        await until(lambda: page.status_label.text() == "Saved.", "saving")
        page.close_button.click()
        saved = (config / "client.json").read_text()
        assert f"socks5://{servers.USER}@{rig.ns.peer}:{servers.DANTE_PORT}" in saved
        assert rig.password not in saved

        person.type_meeting(rig.meeting.display(), name=name)
        await until(lambda: person.join.asking_pin, "the PIN prompt", timeout=30)
        person.type_pin(PIN)
        await until(lambda: person.bar.isVisible(), "the sharing bar", timeout=30)
        await until(lambda: "Relayed via proxy" in person.bar.status_label.text(), "the path", 10)
        await until(lambda: len(rig.shown(name)) >= FRAMES, "frames at the receiver", 30)
        assert min(rig.shown(name)) < FRESH_MS
        QTest.mouseClick(person.bar.stop_button, Qt.MouseButton.LeftButton)
        await until(lambda: person.join.isVisible(), "the join window again")

    in_the_window(qapp, config, monkeypatch, scenario, timeout=150)


def test_nothing_secret_in_any_log(rig: Rig) -> None:
    # Runs last in this module: every share above went through these logs.
    logs = [rig.receiver_log, *rig.workdir.glob("*.log"), *rig.workdir.glob("strict/*.log")]
    assert rig.receiver_log.read_text(), "the receiver logged nothing: the check proves nothing"
    for log in logs:
        assert rig.password not in log.read_text(errors="replace"), log.name
