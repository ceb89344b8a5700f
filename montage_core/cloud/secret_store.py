"""Where an enrolled device keeps its two cloud secrets: the OS keyring, or a private file.

A laptop has a keyring (Keychain, Windows Credential Manager, the desktop's
Secret Service) and that is where the secrets belong. A meeting-room box
runs the receiver as a service account with no desktop session, so no
Secret Service answers there; it keeps them the way sshd keeps its host
keys: a file only its own user can read (0600, in a 0700 directory), next
to the receiver's TLS private key that already lives in its data directory.

The choice is explicit (`--secret-store keyring|file`). The default, `auto`,
takes the keyring whenever a keyring backend exists, and a file only where
none exists *and* there is no desktop session (no D-Bus session bus): a
headless box. A desktop whose keyring is missing or broken gets a sentence
that names the choice, never a silent file.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import stat
import sys
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import keyring
import keyring.errors

from montage_core.protocol.errors import InvalidInput, MontageError

logger = logging.getLogger(__name__)

KEYRING_SERVICE = "montage-cloud"
SECRETS_FILE = "cloud-secrets.json"
# How a sentence names the file choice on the command line; a window says it its own way.
FILE_CHOICE = "choose --secret-store file"


class SecretStoreChoice(StrEnum):
    AUTO = "auto"
    KEYRING = "keyring"
    FILE = "file"

    @classmethod
    def parse(cls, text: str) -> SecretStoreChoice:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InvalidInput(
                f"The secret store is keyring, file or auto, not {text!r}."
            ) from None


class SecretStoreUnavailable(MontageError):
    """The store cannot keep or give back the device's credentials."""


class SecretStore(Protocol):
    """Keeps a few named secrets for one device."""

    def describe(self) -> str:
        """Where the secrets are, for a sentence: "the OS keyring", "/var/lib/…"."""
        ...

    def write(self, key: str, value: str) -> None: ...

    def read(self, key: str) -> str | None: ...

    def delete(self, key: str) -> None: ...


class KeyringStore:
    """The OS keyring, through the `keyring` package (service `montage-cloud`)."""

    def describe(self) -> str:
        return "the keyring"

    def write(self, key: str, value: str) -> None:
        try:
            keyring.set_password(KEYRING_SERVICE, key, value)
        except keyring.errors.KeyringError as exc:
            # The exception never carries the value; say which keyring failed.
            raise SecretStoreUnavailable(
                f"This computer has no usable keyring to keep the cloud credentials in "
                f"({type(keyring.get_keyring()).__module__}: {exc}). Install or unlock one "
                f"and enrol again, or {FILE_CHOICE} to keep them in a file only "
                "this user can read."
            ) from None

    def read(self, key: str) -> str | None:
        try:
            return keyring.get_password(KEYRING_SERVICE, key)
        except keyring.errors.KeyringError as exc:
            raise SecretStoreUnavailable(
                f"Cannot read this device's cloud credentials from the keyring: {exc}"
            ) from None

    def delete(self, key: str) -> None:
        with contextlib.suppress(keyring.errors.KeyringError):  # already gone
            keyring.delete_password(KEYRING_SERVICE, key)


class FileStore:
    """A JSON file readable and writable by this user only, like sshd's host keys.

    Written atomically (a private temporary file, then rename), so a crash
    never leaves half a file or a moment where the secrets are readable by
    others. A file that others can read is refused, as ssh refuses such a key.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return f"{self.path} (readable only by {_user()})"

    def write(self, key: str, value: str) -> None:
        entries = self._entries()
        entries[key] = value
        self._save(entries)

    def read(self, key: str) -> str | None:
        return self._entries().get(key)

    def delete(self, key: str) -> None:
        entries = self._entries()
        if entries.pop(key, None) is None:
            return
        if entries:
            self._save(entries)
        else:
            self.path.unlink(missing_ok=True)

    def _save(self, entries: dict[str, str]) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.unlink(missing_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(entries, out)
                out.write("\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            raise SecretStoreUnavailable(
                f"Cannot keep the cloud credentials in {self.path}: {exc.strerror}."
            ) from None

    def _entries(self) -> dict[str, str]:
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SecretStoreUnavailable(f"Cannot read {self.path}: {exc.strerror}.") from None
        if sys.platform != "win32" and status.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecretStoreUnavailable(
                f"{self.path} can be read by other users of this computer, so its cloud "
                f"credentials are not used. Make it private (chmod 600 {self.path}), or "
                "enrol again."
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SecretStoreUnavailable(f"Cannot read {self.path}: {exc}.") from None
        if not isinstance(data, dict):
            raise SecretStoreUnavailable(f"{self.path} is not a Montage secrets file.")
        return {str(k): str(v) for k, v in data.items()}


def store_for(secrets_file: str | None) -> SecretStore:
    """The store an account was enrolled with: its file, or (None) the keyring."""
    return KeyringStore() if secrets_file is None else FileStore(Path(secrets_file))


def choose_store(choice: SecretStoreChoice, secrets_file: Path) -> SecretStore:
    """The store a new enrolment uses (see the module's docstring for `auto`)."""
    if choice is SecretStoreChoice.FILE:
        return FileStore(secrets_file)
    if choice is SecretStoreChoice.KEYRING or keyring_backend_exists():
        return KeyringStore()
    if desktop_session():
        raise SecretStoreUnavailable(
            "This computer has a desktop session but no keyring to keep the cloud "
            "credentials in. Install or unlock one (for example GNOME Keyring or KWallet) "
            f"and enrol again, or {FILE_CHOICE} to keep them in a file only "
            "this user can read."
        )
    logger.info("no keyring and no desktop session: cloud credentials go to %s", secrets_file)
    return FileStore(secrets_file)


def keyring_backend_exists() -> bool:
    """Whether `keyring` found any backend at all (its `fail` one means none)."""
    import keyring.backends.chainer
    import keyring.backends.fail

    backend = keyring.get_keyring()
    if isinstance(backend, keyring.backends.fail.Keyring):
        return False
    if isinstance(backend, keyring.backends.chainer.ChainerBackend):
        return bool(backend.backends)
    return True


def desktop_session() -> bool:
    """Whether a person's desktop session runs here (where a keyring is to be expected).

    Windows and macOS always have their keyring. On Linux and the BSDs a
    desktop session has a D-Bus session bus; a service account has none.
    """
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return True
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return Path(runtime, "bus").exists()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no name (containers)
        return f"uid {os.getuid()}"
