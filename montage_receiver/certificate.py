"""The receiver's own TLS certificate, made once and kept in its data directory.

Clients do not check it against a CA (a meeting-room box has no public name);
they bind its fingerprint into the PIN exchange instead (see
montage_client/protocol/pin_auth.py), so a swapped certificate fails the PIN.
"""

from __future__ import annotations

import datetime
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from montage_core.protocol.pin_auth import certificate_fingerprint

logger = logging.getLogger(__name__)

CERT_FILE = "receiver-cert.pem"
KEY_FILE = "receiver-key.pem"


@dataclass(frozen=True)
class ReceiverCertificate:
    cert_path: Path
    key_path: Path
    fingerprint: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def load_or_create(data_dir: Path, common_name: str = "montage-receiver") -> ReceiverCertificate:
    data_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = data_dir / CERT_FILE, data_dir / KEY_FILE
    if not (cert_path.exists() and key_path.exists()):
        _create(cert_path, key_path, common_name)
        logger.info("created receiver certificate in %s", data_dir)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    der = cert.public_bytes(serialization.Encoding.DER)
    return ReceiverCertificate(cert_path, key_path, certificate_fingerprint(der))


def _create(cert_path: Path, key_path: Path, common_name: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The key is written owner-only before any byte of it lands on disk.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
