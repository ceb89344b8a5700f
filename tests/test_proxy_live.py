"""The proxy module against real proxies: squid (HTTP, Basic auth) and dante (SOCKS5, username).

Topology (tests/netns.py, tests/proxy_servers.py): one network namespace holds
squid on PEER:3128, dante on PEER:1080, and — on its loopback only — the
cloud's REST app and a TCP echo server, known as cloud.montage.test. This
test process sits outside: the targets are reachable through a proxy or not
at all. Routes are checked in the proxies' own logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from montage_core.net import (
    ConnectFailed,
    PacUnavailable,
    ProxyAuthRefused,
    ProxyCannotReach,
    ProxyDenied,
    ProxyMode,
    ProxyResolver,
    ProxySettings,
    ProxyTimeout,
    ProxyUnreachable,
    connect_through,
    open_tunnel,
    proxied_session,
)
from montage_core.net.settings import PASSWORD_ENV
from tests import netns
from tests import proxy_servers as servers

REASON = netns.unavailable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

FAST = 3.0  # seconds a refusal may take: it must be an answer, not a timeout


@dataclass
class Rig:
    ns: netns.Namespace
    password: str
    targets: servers.Targets
    squid_log: Path
    dante_log: Path
    workdir: Path
    cloud: servers.DevCloud

    @property
    def squid(self) -> str:
        return f"http://{servers.USER}@{self.ns.peer}:{servers.SQUID_PORT}"

    @property
    def dante(self) -> str:
        return f"socks5://{servers.USER}@{self.ns.peer}:{servers.DANTE_PORT}"

    # Mail: a port corporate proxies refuse to tunnel to (squid: not in the allowed
    # CONNECT ports; dante: a `socks block` rule). Refused before any connection is tried.
    denied_port = 25
    # Allowed by both proxies, but nothing listens there.
    closed_port = 9

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.targets.ca)


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with contextlib.ExitStack() as stack:
        ns, workdir, password = stack.enter_context(servers.proxy_host("px"))
        targets = stack.enter_context(servers.targets(ns, workdir))
        dev_dir = servers.private_dir("montage-proxy-cloud-")
        stack.callback(shutil.rmtree, dev_dir, ignore_errors=True)
        cloud = stack.enter_context(servers.dev_cloud(ns, dev_dir))
        allowed = [*targets.ports, *cloud.ports, Rig.closed_port]
        squid_log = stack.enter_context(servers.squid(ns, workdir, password, allowed))
        dante_log = stack.enter_context(servers.dante(ns, workdir, Rig.denied_port))
        yield Rig(ns, password, targets, squid_log, dante_log, workdir, cloud)


@pytest.fixture
def password(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, rig.password)
    return rig.password


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture, rig: Rig) -> Iterator[pytest.LogCaptureFixture]:
    """Everything logged at DEBUG; the password must appear nowhere in it."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    # caplog.text would be the teardown's records by now; the test's are kept by phase.
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records, "nothing was logged: the check below would prove nothing"
    assert not [r for r in records if rig.password in r.getMessage()]


async def echo_through(sock: socket.socket) -> bytes:
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(b"through the proxy")
    await writer.drain()
    data = await reader.readexactly(len(b"through the proxy"))
    writer.close()
    return data


def test_without_a_proxy_the_targets_cannot_be_reached(rig: Rig) -> None:
    host = servers.CLOUD_HOST
    with pytest.raises(ConnectFailed):
        asyncio.run(open_tunnel(host, rig.targets.echo_port, ProxySettings(), timeout=2))


@pytest.mark.parametrize("kind", ["squid", "dante"])
def test_tunnel_through_each_proxy(rig: Rig, password: str, debug_log: object, kind: str) -> None:
    settings = ProxySettings.parse(rig.squid if kind == "squid" else rig.dante)
    port = rig.targets.echo_port
    sock = asyncio.run(open_tunnel(servers.CLOUD_HOST, port, settings, timeout=5))
    assert asyncio.run(echo_through(sock)) == b"through the proxy"
    if kind == "squid":
        servers.wait_for_line(rig.squid_log, f"CONNECT {servers.CLOUD_HOST}:{port}", servers.USER)
    else:
        servers.wait_for_line(rig.dante_log, f"username%{servers.USER}@", f"127.0.0.1.{port}")


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("kind", ["squid", "dante"])
def test_rest_through_each_proxy(
    rig: Rig, password: str, debug_log: object, kind: str, scheme: str
) -> None:
    settings = ProxySettings.parse(rig.squid if kind == "squid" else rig.dante)
    url = rig.targets.cloud_url if scheme == "http" else rig.targets.tls_url

    async def netcheck() -> dict[str, object]:
        async with (
            await proxied_session(url, settings, timeout=5, tls=rig.tls()) as http,
            http.get("/v1/netcheck") as response,
        ):
            assert response.status == 200
            body: dict[str, object] = await response.json()
            return body

    assert asyncio.run(netcheck())["service"] == "montage-cloud"
    port = rig.targets.cloud_port if scheme == "http" else rig.targets.tls_port
    if kind == "dante":
        servers.wait_for_line(rig.dante_log, f"username%{servers.USER}@", f"127.0.0.1.{port}")
    elif scheme == "http":  # plain http goes to squid as a request, https as a CONNECT
        servers.wait_for_line(rig.squid_log, f"GET {url}/v1/netcheck {servers.USER}")
    else:
        servers.wait_for_line(rig.squid_log, f"CONNECT {servers.CLOUD_HOST}:{port} {servers.USER}")


class Collect(asyncio.Protocol):
    """What a library's own protocol would see: bytes in, until the server closes."""

    def __init__(self) -> None:
        self.data = b""
        self.closed = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set_result(None)


@pytest.mark.parametrize("kind", ["squid", "dante"])
def test_a_library_protocol_gets_tls_through_the_tunnel(
    rig: Rig, password: str, debug_log: object, kind: str
) -> None:
    settings = ProxySettings.parse(rig.squid if kind == "squid" else rig.dante)

    async def scenario() -> bytes:
        transport, protocol = await connect_through(
            Collect, servers.CLOUD_HOST, rig.targets.tls_port, settings, tls=rig.tls(), timeout=5
        )
        request = (
            f"GET /v1/netcheck HTTP/1.1\r\nHost: {servers.CLOUD_HOST}\r\nConnection: close\r\n\r\n"
        )
        transport.write(request.encode())
        await asyncio.wait_for(protocol.closed, 5)
        return protocol.data

    answer = asyncio.run(scenario())
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert b'"service": "montage-cloud"' in answer


@pytest.mark.parametrize("kind", ["squid", "dante"])
def test_wrong_password_is_named_fast(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, debug_log: object, kind: str
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "not-" + rig.password)
    settings = ProxySettings.parse(rig.squid if kind == "squid" else rig.dante)
    proxy = f"{'HTTP' if kind == 'squid' else 'SOCKS5'} proxy {rig.ns.peer}"
    started = time.monotonic()
    with pytest.raises(ProxyAuthRefused) as tunnel:
        asyncio.run(open_tunnel(servers.CLOUD_HOST, rig.targets.echo_port, settings, timeout=10))
    assert time.monotonic() - started < FAST
    assert str(tunnel.value).startswith(f"The {proxy}")
    assert f"refused the user name '{servers.USER}' or its password" in str(tunnel.value)

    async def rest(url: str) -> None:
        async with (
            await proxied_session(url, settings, timeout=10, tls=rig.tls()) as http,
            http.get("/v1/netcheck"),
        ):
            pass

    # Plain http meets squid's 407 as a response, https as a refused CONNECT.
    for url in (rig.targets.cloud_url, rig.targets.tls_url):
        started = time.monotonic()
        with pytest.raises(ProxyAuthRefused) as session:
            asyncio.run(rest(url))
        assert time.monotonic() - started < FAST
        assert str(session.value) == str(tunnel.value)


@pytest.mark.parametrize("kind", ["squid", "dante"])
def test_missing_password_says_where_to_put_it(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.setattr("montage_core.net.settings.keyring.get_password", lambda *_: None)
    settings = ProxySettings.parse(rig.squid if kind == "squid" else rig.dante)
    with pytest.raises(ProxyAuthRefused, match="none was found: store it in the keyring"):
        asyncio.run(open_tunnel(servers.CLOUD_HOST, rig.targets.echo_port, settings, timeout=5))


@pytest.mark.parametrize(
    ("kind", "said"),
    [("squid", "HTTP 403 Forbidden"), ("dante", "SOCKS5: connection not allowed by ruleset")],
)
def test_denied_port_is_named(
    rig: Rig, password: str, debug_log: object, kind: str, said: str
) -> None:
    settings = ProxySettings.parse(rig.squid if kind == "squid" else rig.dante)
    port = rig.denied_port
    started = time.monotonic()
    with pytest.raises(ProxyDenied) as caught:
        asyncio.run(open_tunnel(servers.CLOUD_HOST, port, settings, timeout=10))
    assert time.monotonic() - started < FAST
    assert str(caught.value) == (
        f"The {settings.endpoint} refused to open a connection to "
        f"{servers.CLOUD_HOST}:{port} ({said})."
    )


@pytest.mark.parametrize(
    ("kind", "said"),
    [("squid", "HTTP 503 Service Unavailable"), ("dante", "SOCKS5: connection refused")],
)
def test_a_closed_destination_is_named(
    rig: Rig, password: str, debug_log: object, kind: str, said: str
) -> None:
    settings = ProxySettings.parse(rig.squid if kind == "squid" else rig.dante)
    port = rig.closed_port
    with pytest.raises(ProxyCannotReach) as caught:
        asyncio.run(open_tunnel(servers.CLOUD_HOST, port, settings, timeout=10))
    assert str(caught.value) == (
        f"The {settings.endpoint} could not reach {servers.CLOUD_HOST}:{port} ({said})."
    )


def test_unreachable_proxy_is_named(rig: Rig, password: str) -> None:
    settings = ProxySettings.parse(f"http://{rig.ns.peer}:3129")
    with pytest.raises(ProxyUnreachable) as caught:
        asyncio.run(open_tunnel(servers.CLOUD_HOST, 443, settings, timeout=5))
    assert str(caught.value).startswith(
        f"The HTTP proxy {rig.ns.peer}:3129 could not be reached (connection refused)."
    )


def test_a_silent_proxy_times_out_in_the_seconds_given(rig: Rig) -> None:
    async def scenario() -> float:
        held: list[asyncio.StreamWriter] = []

        async def mute(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            held.append(writer)  # accept, then say nothing

        server = await asyncio.start_server(mute, rig.ns.local, 0)
        port = server.sockets[0].getsockname()[1]
        started = time.monotonic()
        async with server:
            with pytest.raises(ProxyTimeout, match="within 1 seconds"):
                await open_tunnel(
                    "cloud.test",
                    443,
                    ProxySettings.parse(f"socks5://{rig.ns.local}:{port}"),
                    timeout=1,
                )
            for writer in held:
                writer.close()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 2.0


# -- PAC ----------------------------------------------------------------------
PAC = """
function FindProxyForURL(url, host) {
    if (host == "%s") return "PROXY %s:%d; DIRECT";
    return "DIRECT";
}
"""


def test_pac_sends_the_cloud_through_the_proxy_and_the_rest_direct(
    rig: Rig, password: str, debug_log: object
) -> None:
    body = PAC % (servers.CLOUD_HOST, rig.ns.peer, servers.SQUID_PORT)

    async def scenario() -> tuple[bytes, list[str]]:
        seen: list[str] = []

        async def direct(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.get_extra_info("peername")[0])
            writer.close()

        other = await asyncio.start_server(direct, rig.ns.local, 0)
        other_port = other.sockets[0].getsockname()[1]
        async with servers.pac_server(rig.ns.local, body) as url, other:
            settings = ProxySettings(ProxyMode.AUTO, pac_url=url, user=servers.USER)
            resolver = ProxyResolver(settings)
            sock = await open_tunnel(servers.CLOUD_HOST, rig.targets.echo_port, resolver, timeout=5)
            echoed = await echo_through(sock)
            plain = await open_tunnel(rig.ns.local, other_port, resolver, timeout=5)
            plain.close()
            async with (
                await proxied_session(rig.targets.cloud_url, resolver, timeout=5) as http,
                http.get("/v1/netcheck") as response,
            ):
                assert response.status == 200
            for _ in range(50):
                if seen:
                    break
                await asyncio.sleep(0.02)
        squid = rig.squid_log.read_text()
        assert f":{other_port}" not in squid  # the other destination never went to squid
        return echoed, seen

    echoed, seen = asyncio.run(scenario())
    assert echoed == b"through the proxy"
    assert seen == [rig.ns.local]  # it came straight from us
    servers.wait_for_line(rig.squid_log, f"CONNECT {servers.CLOUD_HOST}:{rig.targets.echo_port}")
    servers.wait_for_line(rig.squid_log, f"GET {rig.targets.cloud_url}/v1/netcheck {servers.USER}")


def test_pac_falls_over_to_the_next_proxy_it_lists(rig: Rig, password: str) -> None:
    dead, alive = f"{rig.ns.peer}:3129", f"{rig.ns.peer}:{servers.SQUID_PORT}"
    body = f'function FindProxyForURL(url, host) {{ return "PROXY {dead}; PROXY {alive}"; }}'

    async def scenario() -> bytes:
        async with servers.pac_server(rig.ns.local, body) as url:
            settings = ProxySettings(ProxyMode.AUTO, pac_url=url, user=servers.USER)
            sock = await open_tunnel(servers.CLOUD_HOST, rig.targets.echo_port, settings, timeout=5)
            return await echo_through(sock)

    assert asyncio.run(scenario()) == b"through the proxy"


def test_an_unreachable_or_broken_pac_file_is_named(rig: Rig) -> None:
    async def scenario() -> None:
        missing = f"http://{rig.ns.local}:9/proxy.pac"
        resolver = ProxyResolver(ProxySettings(ProxyMode.AUTO, pac_url=missing), pac_timeout=2)
        with pytest.raises(PacUnavailable, match=f"{missing} could not be fetched"):
            await open_tunnel(servers.CLOUD_HOST, 443, resolver, timeout=5)
        async with servers.pac_server(rig.ns.local, "this is not { javascript") as url:
            resolver = ProxyResolver(ProxySettings(ProxyMode.AUTO, pac_url=url))
            with pytest.raises(PacUnavailable, match="is not a valid PAC file"):
                await open_tunnel(servers.CLOUD_HOST, 443, resolver, timeout=5)

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 2 * FAST


def test_system_setting_with_the_password_in_all_proxy(rig: Rig, debug_log: object) -> None:
    environ = {"ALL_PROXY": f"socks5://{servers.USER}:{rig.password}@{rig.ns.peer}:1080"}
    resolver = ProxyResolver(ProxySettings(ProxyMode.SYSTEM), environ=environ, platform="linux")
    sock = asyncio.run(open_tunnel(servers.CLOUD_HOST, rig.targets.echo_port, resolver, timeout=5))
    assert asyncio.run(echo_through(sock)) == b"through the proxy"


# -- montage-client netcheck ----------------------------------------------------
def netcheck(rig: Rig, proxy: str, password: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        PASSWORD_ENV: password,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
    }
    command = [sys.executable, "-m", "montage_client", "-v", "netcheck", "--proxy", proxy]
    return subprocess.run(
        [*command, "--timeout", "3", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )


def whole_cloud(rig: Rig) -> list[str]:
    """The `montage-cloud dev` cloud in the namespace: REST, Prosody, coturn (turns:)."""
    cloud = rig.cloud
    return [
        *("--cloud", cloud.api_url, "--ca", str(cloud.ca)),
        *("--xmpp", "{}:{}".format(*cloud.xmpp), "--turn", "{}:{}".format(*cloud.turns)),
    ]


@pytest.mark.parametrize("kind", ["squid", "dante"])
def test_netcheck_reaches_the_whole_cloud_through_each_proxy(rig: Rig, kind: str) -> None:
    run = netcheck(
        rig, rig.squid if kind == "squid" else rig.dante, rig.password, *whole_cloud(rig)
    )
    assert run.returncode == 0, run.stdout + run.stderr
    proxy = f"{'HTTP' if kind == 'squid' else 'SOCKS5'} proxy {rig.ns.peer}"
    xmpp, turns = "{}:{}".format(*rig.cloud.xmpp), "{}:{}".format(*rig.cloud.turns)
    assert run.stdout.splitlines()[1:] == [
        f"ok   The {proxy}:{servers.SQUID_PORT if kind == 'squid' else servers.DANTE_PORT}"
        " is reachable.",
        f"ok   Proxy authentication accepted; it opens a tunnel to {rig.cloud.api_url[8:]}.",
        f"ok   Cloud REST reachable through the proxy ({rig.cloud.api_url}).",
        f"ok   XMPP {xmpp} reachable through the proxy: an XMPP server answered (direct TLS).",
        f"ok   TURN {turns} reachable through the proxy: a TURN server answered (TURN over TLS).",
    ]
    if kind == "squid":
        for port in rig.cloud.ports:
            servers.wait_for_line(rig.squid_log, f"CONNECT 127.0.0.1:{port} {servers.USER}")
    assert rig.password not in run.stdout + run.stderr


def test_netcheck_says_what_failed(rig: Rig) -> None:
    # Not the XMPP or TURN server: the TLS REST app answers TLS, but not their protocols.
    tls_app = f"{servers.CLOUD_HOST}:{rig.targets.tls_port}"
    wrong = ("--xmpp", tls_app, "--turn", tls_app, "--ca", str(rig.targets.ca))
    impostor = netcheck(rig, rig.squid, rig.password, "--cloud", rig.targets.tls_url, *wrong)
    assert impostor.returncode == 4
    assert "ok   Cloud REST reachable through the proxy" in impostor.stdout
    lines = impostor.stdout.splitlines()
    said = "answered through the proxy over TLS, but not as"
    assert f"FAIL XMPP {tls_app} {said} an XMPP server." in lines
    assert f"FAIL TURN {tls_app} {said} a TURN server." in lines

    untrusted = netcheck(rig, rig.dante, rig.password, "--cloud", rig.targets.cloud_url, *wrong[:2])
    assert untrusted.returncode == 4
    assert "ok   Cloud REST reachable through the proxy" in untrusted.stdout
    assert "answered through the proxy, but not with a TLS certificate we trust" in untrusted.stdout

    bad = netcheck(rig, rig.dante, "wrong-" + rig.password, "--cloud", rig.targets.cloud_url)
    assert bad.returncode == 4
    assert f"ok   The SOCKS5 proxy {rig.ns.peer}:1080 is reachable." in bad.stdout
    assert "FAIL Proxy authentication refused" in bad.stdout
    assert "Cloud REST: not checked" in bad.stdout

    direct = netcheck(rig, "none", rig.password, "--cloud", rig.targets.cloud_url)
    assert direct.returncode == 4
    assert "FAIL Cloud REST not reachable directly" in direct.stdout
    for run in (impostor, untrusted, bad, direct):  # -v: DEBUG logging on stderr
        assert rig.password not in run.stdout + run.stderr


def test_nothing_secret_in_the_proxies_logs(rig: Rig) -> None:
    # Runs last in this module: by now every scenario above has talked to both proxies.
    for log in rig.workdir.glob("*.log"):
        assert rig.password not in log.read_text(errors="replace"), log.name
