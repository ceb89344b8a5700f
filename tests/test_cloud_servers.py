"""The real Prosody and coturn, started from deploy/'s templates on loopback.

Nothing is mocked: the fixtures start `prosody` and `turnserver` with a
throw-away CA, accounts are managed through XEP-0133 from the admin account,
devices log in with SCRAM over direct TLS, and TURN allocations are made over
TLS with aioice.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aioice import Connection, TransportPolicy, turn
from aioice.stun import TransactionFailed
from cryptography import x509
from slixmpp import ClientXMPP

from montage_cloud.prosody_admin import ProsodyAdmin, XmppAdminError
from montage_cloud.servers.config import CoturnSettings, ProsodySettings, TemplateError
from montage_cloud.servers.coturn import CoturnServer, TurnEndpoint
from montage_cloud.servers.prosody import ProsodyServer, XmppEndpoint
from montage_cloud.servers.render import main as render_main
from montage_cloud.servers.tls import ThrowawayCertificates, make_throwaway_certificates
from montage_cloud.turn import TurnConfig, issue_turn_credentials
from montage_core.xmpp_session import XmppLoginFailed, XmppUnreachable, close_session, open_session

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, 30)

    return asyncio.run(bounded())


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCertificates:
    return make_throwaway_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def xmpp(
    tmp_path_factory: pytest.TempPathFactory, certs: ThrowawayCertificates
) -> Iterator[XmppEndpoint]:
    with ProsodyServer(tmp_path_factory.mktemp("prosody"), certs) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def turn_server(
    tmp_path_factory: pytest.TempPathFactory, certs: ThrowawayCertificates
) -> Iterator[TurnEndpoint]:
    with CoturnServer(tmp_path_factory.mktemp("coturn"), certs) as endpoint:
        yield endpoint


# --- templates -------------------------------------------------------------


def _prosody_settings(tmp_path: Path, **overrides: Any) -> ProsodySettings:
    values: dict[str, Any] = {
        "domain": "xmpp.example.com",
        "admin_jid": "montage-admin@xmpp.example.com",
        "certificate": Path("/etc/prosody/certs/xmpp.example.com.crt"),
        "key": Path("/etc/prosody/certs/xmpp.example.com.key"),
        "data_dir": tmp_path / "data",
        "pid_file": tmp_path / "prosody.pid",
        "log_file": tmp_path / "prosody.log",
    }
    return ProsodySettings(**(values | overrides))


def _coturn_settings(tmp_path: Path, **overrides: Any) -> CoturnSettings:
    values: dict[str, Any] = {
        "realm": "turn.example.com",
        "static_auth_secret": "s3cret-s3cret-s3cret-s3cret",
        "certificate": Path("/etc/coturn/cert.pem"),
        "key": Path("/etc/coturn/key.pem"),
        "pid_file": tmp_path / "turnserver.pid",
        "log_file": tmp_path / "turnserver.log",
        "userdb": tmp_path / "turndb",
    }
    return CoturnSettings(**(values | overrides))


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if not line.lstrip().startswith(("#", "--"))}


def test_production_prosody_config_is_direct_tls_scram_only_and_not_root(tmp_path: Path) -> None:
    lines = _lines(_prosody_settings(tmp_path).render())
    assert "run_as_root = false" in lines
    assert "c2s_direct_tls_ports = { 443; 5223 }" in lines
    assert "c2s_ports = {}" in lines
    assert "allow_registration = false" in lines
    assert 'password_hash = "SHA-256"' in lines
    assert any(line.startswith("disable_sasl_mechanisms") and '"PLAIN"' in line for line in lines)
    assert 'admins = { "montage-admin@xmpp.example.com" }' in lines
    assert '"admin_adhoc";  -- XEP-0133: add/delete user, change password, end session' in lines
    assert not any("$" in line for line in lines)


def test_dev_prosody_config_runs_as_root_only_when_asked(tmp_path: Path) -> None:
    assert "run_as_root = true" in _lines(_prosody_settings(tmp_path, run_as_root=True).render())


def test_prosody_values_cannot_break_out_of_lua_strings(tmp_path: Path) -> None:
    with pytest.raises(TemplateError):
        _prosody_settings(tmp_path, domain='x"; run_as_root = true --').render()


def test_production_coturn_config_denies_private_peers_and_uses_the_shared_secret(
    tmp_path: Path,
) -> None:
    lines = _lines(_coturn_settings(tmp_path).render())
    assert {"use-auth-secret", "tls-listening-port=443", "realm=turn.example.com"} <= lines
    assert "static-auth-secret=s3cret-s3cret-s3cret-s3cret" in lines
    assert "denied-peer-ip=127.0.0.0-127.255.255.255" in lines
    assert "denied-peer-ip=10.0.0.0-10.255.255.255" in lines
    assert "denied-peer-ip=192.168.0.0-192.168.255.255" in lines
    assert "allow-loopback-peers" not in lines
    # No static users: every credential is derived from the secret.
    assert not any(line.startswith(("user=", "lt-cred-mech")) for line in lines)


def test_loopback_coturn_config_allows_loopback_and_keeps_other_denials(tmp_path: Path) -> None:
    lines = _lines(_coturn_settings(tmp_path, allow_loopback_peers=True).render())
    assert "allow-loopback-peers" in lines
    assert "denied-peer-ip=127.0.0.0-127.255.255.255" not in lines
    assert "denied-peer-ip=::1" not in lines
    assert "denied-peer-ip=10.0.0.0-10.255.255.255" in lines


def test_coturn_refuses_line_breaks_and_short_secrets(tmp_path: Path) -> None:
    with pytest.raises(TemplateError):
        _coturn_settings(tmp_path, realm="a\nallow-loopback-peers").render()
    with pytest.raises(TemplateError):
        _coturn_settings(tmp_path, static_auth_secret="short").render()


def test_server_certificate_names_what_clients_dial(certs: ThrowawayCertificates) -> None:
    cert = x509.load_pem_x509_certificate(certs.server_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    ca = x509.load_pem_x509_certificate(certs.ca_cert.read_bytes())
    assert cert.issuer == ca.subject
    # Only the CA certificate is on disk: its key is gone with the process.
    assert sorted(p.name for p in certs.ca_cert.parent.iterdir()) == [
        "ca.pem",
        "server-key.pem",
        "server.pem",
    ]
    assert certs.server_key.stat().st_mode & 0o077 == 0


# --- XMPP: accounts through XEP-0133 ---------------------------------------


def _admin(xmpp: XmppEndpoint, certs: ThrowawayCertificates) -> ProsodyAdmin:
    return ProsodyAdmin(
        domain=xmpp.domain,
        host=xmpp.host,
        port=xmpp.port,
        admin_jid=xmpp.admin_jid,
        admin_password=xmpp.admin_password,
        ssl_context=certs.client_context(),
    )


def _with_admin(
    xmpp: XmppEndpoint,
    certs: ThrowawayCertificates,
    body: Callable[[ProsodyAdmin], Awaitable[T]],
) -> T:
    async def go() -> T:
        admin = _admin(xmpp, certs)
        try:
            return await body(admin)
        finally:
            await admin.close()

    return run(go())


async def _login(xmpp: XmppEndpoint, certs: ThrowawayCertificates, user: str, password: str) -> Any:
    return await open_session(
        f"{user}@{xmpp.domain}",
        password,
        host=xmpp.host,
        port=xmpp.port,
        ssl_context=certs.client_context(),
    )


def _watch_disconnect(client: Any) -> asyncio.Future[float]:
    ended: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def on_disconnect(_event: object) -> None:
        if not ended.done():
            ended.set_result(time.monotonic())

    client.add_event_handler("disconnected", on_disconnect)
    return ended


def test_a_work_directory_used_before_starts_again(
    tmp_path: Path, certs: ThrowawayCertificates
) -> None:
    passwords = []
    for run_number in range(2):  # `montage-cloud dev --workdir` run twice

        async def admin_works(admin: ProsodyAdmin, n: int = run_number) -> None:
            await admin.create_account(f"dev-run-{n}", "device-password-0")

        with ProsodyServer(tmp_path, certs) as endpoint:
            _with_admin(endpoint, certs, admin_works)
            passwords.append(endpoint.admin_password)
    # The same admin password: accounts derived from it (the guest bridge's) still log in.
    assert passwords[0] == passwords[1]
    assert (tmp_path / "xmpp-admin-password").stat().st_mode & 0o077 == 0


def test_created_account_logs_in_with_scram_over_direct_tls(
    xmpp: XmppEndpoint, certs: ThrowawayCertificates
) -> None:
    async def body(admin: ProsodyAdmin) -> None:
        await admin.create_account("dev-created", "device-password-1")
        client = await _login(xmpp, certs, "dev-created", "device-password-1")
        try:
            assert str(client.boundjid.bare) == f"dev-created@{xmpp.domain}"
            # The stream really is TLS from the first byte (XEP-0368).
            assert client.transport.get_extra_info("ssl_object") is not None
        finally:
            await close_session(client)
        with pytest.raises(XmppLoginFailed) as wrong:
            await _login(xmpp, certs, "dev-created", "not-the-password")
        assert wrong.value.condition == "not-authorized"

    _with_admin(xmpp, certs, body)


def test_plain_sasl_is_not_offered(xmpp: XmppEndpoint, certs: ThrowawayCertificates) -> None:
    async def body(admin: ProsodyAdmin) -> None:
        await admin.create_account("dev-plain", "device-password-2")
        client = _make_plain_client(xmpp, certs, "dev-plain", "device-password-2")
        refused = asyncio.get_running_loop().create_future()
        client.add_event_handler("failed_all_auth", lambda _e: refused.set_result(True))
        client.add_event_handler("session_start", lambda _e: refused.set_result(False))
        client.connect(xmpp.host, xmpp.port)
        try:
            assert await asyncio.wait_for(refused, 10) is True
        finally:
            await close_session(client)

    _with_admin(xmpp, certs, body)


def _make_plain_client(xmpp: XmppEndpoint, certs: ThrowawayCertificates, user: str, pw: str) -> Any:
    client = ClientXMPP(f"{user}@{xmpp.domain}", pw, sasl_mech="PLAIN")
    client.enable_starttls = False
    client.enable_plaintext = False
    client.ssl_context = certs.client_context()
    return client


def test_disable_ends_the_live_session_and_refuses_login_until_enabled(
    xmpp: XmppEndpoint, certs: ThrowawayCertificates
) -> None:
    async def body(admin: ProsodyAdmin) -> None:
        await admin.create_account("dev-suspended", "device-password-3")
        client = await _login(xmpp, certs, "dev-suspended", "device-password-3")
        ended = _watch_disconnect(client)
        started = time.monotonic()
        await admin.disable_account("dev-suspended")
        assert await asyncio.wait_for(ended, 5) - started < 5

        with pytest.raises(XmppLoginFailed) as refused:
            await _login(xmpp, certs, "dev-suspended", "device-password-3")
        assert refused.value.condition == "account-disabled"

        # Resuming needs no new password: the device's credentials still work.
        await admin.enable_account("dev-suspended")
        client = await _login(xmpp, certs, "dev-suspended", "device-password-3")
        await close_session(client)

    _with_admin(xmpp, certs, body)


def test_kick_ends_sessions_but_keeps_the_account(
    xmpp: XmppEndpoint, certs: ThrowawayCertificates
) -> None:
    async def body(admin: ProsodyAdmin) -> None:
        await admin.create_account("dev-kicked", "device-password-4")
        client = await _login(xmpp, certs, "dev-kicked", "device-password-4")
        ended = _watch_disconnect(client)
        await admin.kick("dev-kicked")
        await asyncio.wait_for(ended, 5)
        client = await _login(xmpp, certs, "dev-kicked", "device-password-4")
        await close_session(client)

    _with_admin(xmpp, certs, body)


def test_delete_ends_the_session_and_removes_the_account(
    xmpp: XmppEndpoint, certs: ThrowawayCertificates
) -> None:
    async def body(admin: ProsodyAdmin) -> None:
        await admin.create_account("dev-deleted", "device-password-5")
        client = await _login(xmpp, certs, "dev-deleted", "device-password-5")
        ended = _watch_disconnect(client)
        await admin.delete_account("dev-deleted")
        await asyncio.wait_for(ended, 5)
        with pytest.raises(XmppLoginFailed):
            await _login(xmpp, certs, "dev-deleted", "device-password-5")
        # Deleting again is not an error; disabling what does not exist is.
        await admin.delete_account("dev-deleted")
        with pytest.raises(XmppAdminError):
            await admin.disable_account("dev-deleted")
        # A re-created account starts enabled even if the old one was disabled.
        await admin.create_account("dev-deleted", "device-password-6")
        await close_session(await _login(xmpp, certs, "dev-deleted", "device-password-6"))

    _with_admin(xmpp, certs, body)


def test_device_passwords_stay_out_of_debug_logs(
    xmpp: XmppEndpoint, certs: ThrowawayCertificates, caplog: pytest.LogCaptureFixture
) -> None:
    async def body(admin: ProsodyAdmin) -> None:
        await admin.create_account("dev-logged", "password-that-must-not-be-logged")

    with caplog.at_level(logging.DEBUG, logger="slixmpp"):
        _with_admin(xmpp, certs, body)
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SEND:")]
    assert any("admin#add-user" in line and "[redacted]" in line for line in sent)
    assert "password-that-must-not-be-logged" not in caplog.text


def test_creating_an_existing_account_is_refused(
    xmpp: XmppEndpoint, certs: ThrowawayCertificates
) -> None:
    async def body(admin: ProsodyAdmin) -> None:
        await admin.create_account("dev-twice", "device-password-7")
        with pytest.raises(XmppAdminError, match="already exists"):
            await admin.create_account("dev-twice", "another-password")
        # The first password still holds.
        await close_session(await _login(xmpp, certs, "dev-twice", "device-password-7"))

    _with_admin(xmpp, certs, body)


def test_a_device_account_cannot_run_admin_commands(
    xmpp: XmppEndpoint, certs: ThrowawayCertificates
) -> None:
    async def body(admin: ProsodyAdmin) -> None:
        await admin.create_account("dev-intruder", "device-password-8")
        await admin.create_account("dev-victim", "device-password-9")
        intruder = ProsodyAdmin(
            domain=xmpp.domain,
            host=xmpp.host,
            port=xmpp.port,
            admin_jid=f"dev-intruder@{xmpp.domain}",
            admin_password="device-password-8",
            ssl_context=certs.client_context(),
        )
        try:
            with pytest.raises(XmppAdminError, match="forbidden"):
                await intruder.disable_account("dev-victim")
        finally:
            await intruder.close()
        await close_session(await _login(xmpp, certs, "dev-victim", "device-password-9"))

    _with_admin(xmpp, certs, body)


def test_untrusted_certificate_is_refused_at_once(xmpp: XmppEndpoint) -> None:
    async def body() -> None:
        with pytest.raises(XmppUnreachable, match="certificate verify failed"):
            await open_session(
                xmpp.admin_jid,
                xmpp.admin_password,
                host=xmpp.host,
                port=xmpp.port,
                # The system store does not know the throw-away CA.
                ssl_context=ssl.create_default_context(),
                login_timeout=10,
            )

    started = time.monotonic()
    run(body())
    # Reported from the TLS failure itself, not by running into the timeout.
    assert time.monotonic() - started < 5


# --- TURN over TLS -----------------------------------------------------------


class _Sink(asyncio.DatagramProtocol):
    """Collects what aioice reports about sending through the relay."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)


def _credentials(endpoint: TurnEndpoint, *, secret: str | None = None, age: float = 0) -> Any:
    config = TurnConfig(
        secret=secret or endpoint.secret,
        host=endpoint.host,
        tls_port=endpoint.tls_port,
        port=endpoint.udp_port,
        ttl=600,
    )
    return issue_turn_credentials(config, "dev-turn", now=time.time() - age)


async def _allocate(endpoint: TurnEndpoint, username: str, password: str, tls: Any) -> Any:
    transport, _ = await turn.create_turn_endpoint(
        _Sink,
        (endpoint.host, endpoint.tls_port),
        username,
        password,
        ssl=tls,
        transport="tcp",
    )
    relayed = transport.get_extra_info("sockname")
    transport.close()
    return relayed


def test_turn_credentials_get_an_allocation_over_tls(
    turn_server: TurnEndpoint, certs: ThrowawayCertificates
) -> None:
    creds = _credentials(turn_server)
    assert creds.username.endswith(":dev-turn")
    assert f"turns:{turn_server.host}:{turn_server.tls_port}?transport=tcp" in creds.uris
    relayed = run(_allocate(turn_server, creds.username, creds.password, certs.client_context()))
    assert relayed[0] == "127.0.0.1" and relayed[1] > 0


@pytest.mark.parametrize(
    ("what", "secret", "age"),
    [("expired", None, 3600), ("wrong secret", "not-the-shared-secret-at-all", 0)],
)
def test_bad_turn_credentials_are_refused(
    turn_server: TurnEndpoint,
    certs: ThrowawayCertificates,
    what: str,
    secret: str | None,
    age: float,
) -> None:
    creds = _credentials(turn_server, secret=secret, age=age)
    with pytest.raises(TransactionFailed, match="401"):
        run(_allocate(turn_server, creds.username, creds.password, certs.client_context()))


def test_turn_tls_without_trust_fails_loudly_when_asked_directly(
    turn_server: TurnEndpoint,
) -> None:
    creds = _credentials(turn_server)
    with pytest.raises(ssl.SSLCertVerificationError):
        run(_allocate(turn_server, creds.username, creds.password, ssl.create_default_context()))


async def _relay_candidates(
    endpoint: TurnEndpoint, username: str, password: str, tls: bool | ssl.SSLContext = True
) -> list[Any]:
    connection = Connection(
        ice_controlling=True,
        turn_server=(endpoint.host, endpoint.tls_port),
        turn_username=username,
        turn_password=password,
        # aioice hands this to loop.create_connection(ssl=...): True means the
        # default trust store (SSL_CERT_FILE), a context means exactly that trust.
        turn_ssl=tls,  # type: ignore[arg-type]  # annotated bool, used as ssl=
        turn_transport="tcp",
        use_ipv6=False,
    )
    try:
        await connection.gather_candidates()
        return [c for c in connection.local_candidates if c.type == "relay"]
    finally:
        await connection.close()


def test_aioice_turns_needs_the_ca_trusted_or_silently_gets_no_relay(
    turn_server: TurnEndpoint, certs: ThrowawayCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = _credentials(turn_server)
    # aioice swallows the TLS failure: no exception, no log, just no candidate.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert run(_relay_candidates(turn_server, creds.username, creds.password)) == []

    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_cert))
    relay = run(_relay_candidates(turn_server, creds.username, creds.password))
    assert [(c.host, c.transport) for c in relay] == [("127.0.0.1", "udp")]


def test_aioice_turns_with_an_explicit_context_trusts_exactly_that_ca(
    turn_server: TurnEndpoint, certs: ThrowawayCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The process-wide trust store stays as it is: no SSL_CERT_FILE needed.
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    creds = _credentials(turn_server)
    relay = run(
        _relay_candidates(turn_server, creds.username, creds.password, certs.client_context())
    )
    assert [c.host for c in relay] == ["127.0.0.1"]


def test_two_relay_only_peers_exchange_data_through_coturn_over_tls(
    turn_server: TurnEndpoint, certs: ThrowawayCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca_cert))
    creds = _credentials(turn_server)

    def peer(controlling: bool) -> Connection:
        return Connection(
            ice_controlling=controlling,
            turn_server=(turn_server.host, turn_server.tls_port),
            turn_username=creds.username,
            turn_password=creds.password,
            turn_ssl=True,
            turn_transport="tcp",
            use_ipv6=False,
            transport_policy=TransportPolicy.RELAY,
        )

    async def body() -> bytes:
        a, b = peer(True), peer(False)
        try:
            await asyncio.gather(a.gather_candidates(), b.gather_candidates())
            for local, remote in ((a, b), (b, a)):
                assert [c.type for c in remote.local_candidates] == ["relay"]
                for candidate in remote.local_candidates:
                    await local.add_remote_candidate(candidate)
                await local.add_remote_candidate(None)
                local.remote_username = remote.local_username
                local.remote_password = remote.local_password
            await asyncio.gather(a.connect(), b.connect())
            await a.send(b"frame through the relay")
            return await asyncio.wait_for(b.recv(), 5)
        finally:
            await asyncio.gather(a.close(), b.close())

    assert run(body()) == b"frame through the relay"


async def _send_to_loopback_peer(
    endpoint: TurnEndpoint, tls: ssl.SSLContext
) -> tuple[list[Exception], bytes | None]:
    """Relay one datagram to a UDP socket on 127.0.0.1: (errors seen, what arrived)."""
    creds = _credentials(endpoint)
    transport, sink = await turn.create_turn_endpoint(
        _Sink,
        (endpoint.host, endpoint.tls_port),
        creds.username,
        creds.password,
        ssl=tls,
        transport="tcp",
    )
    loop = asyncio.get_running_loop()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", 0))
            peer.setblocking(False)
            # The first datagram makes aioice bind a channel to the peer,
            # which is where coturn applies its peer policy.
            transport.sendto(b"hello", peer.getsockname())
            receiving = asyncio.ensure_future(loop.sock_recv(peer, 100))
            deadline = loop.time() + 3
            while not receiving.done() and not sink.errors and loop.time() < deadline:
                await asyncio.sleep(0.05)
            received = receiving.result() if receiving.done() else None
            receiving.cancel()
        return sink.errors, received
    finally:
        transport.close()


def test_loopback_rendering_relays_to_loopback_peers(
    turn_server: TurnEndpoint, certs: ThrowawayCertificates
) -> None:
    errors, received = run(_send_to_loopback_peer(turn_server, certs.client_context()))
    assert (errors, received) == ([], b"hello")


def test_production_peer_policy_refuses_to_relay_to_loopback(
    tmp_path: Path, certs: ThrowawayCertificates
) -> None:
    with CoturnServer(tmp_path, certs, allow_loopback_peers=False) as endpoint:
        errors, received = run(_send_to_loopback_peer(endpoint, certs.client_context()))
    assert received is None
    assert errors and "403" in str(errors[0])


def test_rendered_production_prosody_config_passes_prosodys_own_check(
    certs: ThrowawayCertificates,
) -> None:
    # prosodyctl drops to the prosody user, who must be able to read the file.
    directory = Path(tempfile.mkdtemp(prefix="montage-render-"))
    try:
        directory.chmod(0o755)
        out = directory / "prosody.cfg.lua"
        assert (
            render_main(
                [
                    "prosody",
                    "--domain=xmpp.example.com",
                    f"--cert={certs.server_cert}",
                    f"--key={certs.server_key}",
                    f"--data-dir={directory / 'data'}",
                    f"--out={out}",
                ]
            )
            == 0
        )
        assert out.stat().st_mode & 0o777 == 0o640
        shutil.chown(out, group="prosody")
        check = subprocess.run(
            ["prosodyctl", "--config", str(out), "check", "config"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "All checks passed" in check.stdout
    finally:
        shutil.rmtree(directory)


def test_stop_ends_the_server_and_frees_its_port(
    tmp_path: Path, certs: ThrowawayCertificates
) -> None:
    server = CoturnServer(tmp_path, certs)
    endpoint = server.start()
    pid_file = tmp_path / "turnserver.pid"
    pid = int(pid_file.read_text().strip()) if pid_file.exists() else None
    server.stop()
    assert pid is not None
    # The process is gone, and the port is free again.
    assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
    with pytest.raises(OSError):
        socket.create_connection((endpoint.host, endpoint.tls_port), timeout=1).close()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_admin_cli_manages_device_accounts_in_prosody(
    xmpp: XmppEndpoint, certs: ThrowawayCertificates, tmp_path: Path
) -> None:
    """`montage-cloud admin … --xmpp-admin` reaches the real Prosody, not a stand-in."""
    import argparse
    import os
    import sys

    from montage_cloud.cli import xmpp_admin_from
    from montage_cloud.request_bodies import EnrolRequest, TokenRequest
    from montage_cloud.service import CloudConfig, CloudService
    from montage_cloud.storage import open_storage

    database = str(tmp_path / "cloud.sqlite3")
    flags = [
        "--db",
        database,
        "--xmpp-admin",
        xmpp.admin_jid,
        "--xmpp-server",
        f"{xmpp.host}:{xmpp.port}",
        "--xmpp-ca",
        str(certs.ca_cert),
    ]
    env = dict(os.environ, MONTAGE_CLOUD_XMPP_ADMIN_PASSWORD=xmpp.admin_password)
    options = argparse.Namespace(
        xmpp_admin=xmpp.admin_jid, xmpp_server=f"{xmpp.host}:{xmpp.port}", xmpp_ca=certs.ca_cert
    )

    async def enrol() -> tuple[str, str, str]:
        os.environ["MONTAGE_CLOUD_XMPP_ADMIN_PASSWORD"] = xmpp.admin_password
        try:
            admin = xmpp_admin_from(options)
        finally:
            del os.environ["MONTAGE_CLOUD_XMPP_ADMIN_PASSWORD"]
        storage = await open_storage(database)
        service = CloudService(storage, admin, CloudConfig(xmpp_domain=xmpp.domain))
        token = await service.issue_enrolment_token(TokenRequest.from_wire({"org": "Acme"}))
        enrolled = await service.enrol(
            EnrolRequest.from_wire({"token": token.token, "kind": "client", "name": "laptop"})
        )
        await storage.close()
        await admin.close()  # type: ignore[attr-defined]
        user = enrolled.xmpp_jid.split("@", 1)[0]
        return enrolled.device.device_id, user, enrolled.xmpp_password

    device_id, user, password = run(enrol())

    async def suspend_while_logged_in() -> None:
        client = await _login(xmpp, certs, user, password)  # the account exists in Prosody
        ended = _watch_disconnect(client)
        done = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "montage_cloud",
                "admin",
                *flags,
                "devices",
                "suspend",
                device_id,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        await asyncio.wait_for(ended, 10)  # its live session was ended
        with pytest.raises(XmppLoginFailed):
            await _login(xmpp, certs, user, password)

    run(suspend_while_logged_in())

    missing = subprocess.run(
        [sys.executable, "-m", "montage_cloud", "admin", *flags, "devices", "list"],
        env={k: v for k, v in env.items() if k != "MONTAGE_CLOUD_XMPP_ADMIN_PASSWORD"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert "MONTAGE_CLOUD_XMPP_ADMIN_PASSWORD" in missing.stderr
