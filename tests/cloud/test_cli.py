"""`montage-cloud` as a program: admin commands on the database, and `serve` over TLS."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cloud.conftest import run

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "montage_cloud", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "MONTAGE_CLOUD_DB": str(db)},
    )


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    db = tmp_path / "cloud.sqlite3"
    cert, key = _self_signed(tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "montage_cloud",
            "serve",
            "--port",
            "0",
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
            "--turn-host",
            "turn.test",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Secrets through the environment, as docs/cloud-api.md advises.
        env={**os.environ, "MONTAGE_CLOUD_DB": str(db), "MONTAGE_CLOUD_TURN_SECRET": "sek"},
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert ready["event"] == "ready"
        yield ready["url"], db, cert
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert process.stderr is not None
        log = process.stderr.read()
        assert "sek" not in log


def test_admin_token_and_device_commands_against_a_tls_server(
    tls_server: tuple[str, Path, Path],
) -> None:
    url, db, cert = tls_server
    assert url.startswith("https://127.0.0.1:")
    issued = _cli("admin", "token", "--org", "Acme", "--uses", "1", "--ttl", "600", db=db)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("mce_")
    assert "1 uses" in issued.stderr

    tls = ssl.create_default_context(cafile=str(cert))

    async def call(method: str, path: str, **kw: Any) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, f"{url}{path}", ssl=tls, **kw) as response,
        ):
            return response.status, await response.json()

    status, enrolment = run(
        call("POST", "/v1/enrol", json={"token": token, "kind": "client", "name": "Laptop"})
    )
    assert status == 201
    device_id = enrolment["device"]["device_id"]
    auth = {"Authorization": f"Bearer {enrolment['secret']}"}
    status, turn = run(call("POST", "/v1/turn", headers=auth))
    assert status == 200
    assert turn["uris"][0] == "turns:turn.test:443?transport=tcp"

    listed = _cli("admin", "devices", "list", "--json", db=db)
    assert [json.loads(line)["device_id"] for line in listed.stdout.splitlines()] == [device_id]

    suspended = _cli("admin", "devices", "suspend", device_id, db=db)
    assert suspended.returncode == 0, suspended.stderr
    assert "suspended" in suspended.stdout
    status, refused = run(call("POST", "/v1/turn", headers=auth))
    assert (status, refused["error"]["code"]) == (403, "device_suspended")

    assert _cli("admin", "devices", "resume", device_id, db=db).returncode == 0
    assert run(call("POST", "/v1/turn", headers=auth))[0] == 200

    assert _cli("admin", "devices", "delete", device_id, db=db).returncode == 0
    status, refused = run(call("GET", "/v1/devices/me", headers=auth))
    assert (status, refused["error"]["code"]) == (403, "device_removed")

    # Used up: the one use went to the laptop.
    status, refused = run(
        call("POST", "/v1/enrol", json={"token": token, "kind": "client", "name": "Other"})
    )
    assert (status, refused["error"]["code"]) == (403, "enrolment_token_used_up")


def test_admin_commands_refuse_bad_input(tmp_path: Path) -> None:
    db = tmp_path / "cloud.sqlite3"
    missing = _cli("admin", "devices", "suspend", "dev-0123456789abcdef", db=db)
    assert missing.returncode == 2
    assert "There is no device 'dev-0123456789abcdef'" in missing.stderr
    bad_uses = _cli("admin", "token", "--org", "Acme", "--uses", "0", db=db)
    assert bad_uses.returncode == 2
    assert "'uses' must be between 1 and" in bad_uses.stderr
    half_tls = _cli("serve", "--tls-cert", "x.pem", db=db)
    assert half_tls.returncode == 2
    assert "--tls-key" in half_tls.stderr


def test_unreachable_database_and_busy_port_are_reported_in_words(tmp_path: Path) -> None:
    dsn = "postgresql://montage:hunter2@127.0.0.1:1/montage?connect_timeout=1"
    failed = _cli("admin", "--db", dsn, "devices", "list", db=tmp_path / "unused")
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1] == (
        "montage-cloud: the database is not available: cannot connect to PostgreSQL"
    )
    assert "hunter2" not in failed.stderr

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        refused = _cli("serve", "--port", port, db=tmp_path / "cloud.sqlite3")
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1].startswith("montage-cloud: cannot listen:")
