"""One Ed25519 key per TUF role, each in its own PEM file, never in the database.

Which key signs what (docs/updates.md):

- root: the list of keys for every role. Offline (a USB stick in a safe),
  plugged in only to start the repository (`release init`) and to replace a
  key (`release rotate`).
- targets: each release (its file's length, SHA-256, app, version, notes).
  The release manager's machine; used by `release add`.
- snapshot: which targets metadata is current. Beside the repository;
  `release add`, `refresh`, `bundle`.
- timestamp: which snapshot is current, for a few days only. Beside the
  repository; re-signed daily by `release refresh`.

A file is named for its role (`targets.pem`); the root key can be given
on its own (`--root-key`) so that it is only plugged in when needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, SSlibKey

ROLES = ("root", "targets", "snapshot", "timestamp")
ONLINE_ROLES = ("targets", "snapshot", "timestamp")


class KeyMissing(Exception):
    """A role's private key is not where the command looks; the message says where."""


@dataclass(frozen=True)
class RoleKey:
    """A role's private key as a signer, and its public half as TUF names it."""

    role: str
    signer: CryptoSigner
    public: SSlibKey

    @property
    def keyid(self) -> str:
        return self.public.keyid


def key_path(directory: Path, role: str) -> Path:
    return directory / f"{role}.pem"


def generate_key(path: Path) -> None:
    """A fresh Ed25519 key in `path` (PKCS#8 PEM, readable by its owner only)."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def load_key(path: Path, role: str) -> RoleKey:
    """The key in `path`; KeyMissing names the file when it is not there."""
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise KeyMissing(f"the {role} key is not at {path}") from None
    private = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise KeyMissing(f"{path} does not hold an Ed25519 key")
    public = SSlibKey.from_crypto(private.public_key())
    return RoleKey(role, CryptoSigner(private, public), public)
