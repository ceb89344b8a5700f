"""Where cloud secrets go: the keyring on a desktop, a private file on a headless box."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from montage_core.cloud.secret_store import (
    FileStore,
    KeyringStore,
    SecretStoreChoice,
    SecretStoreUnavailable,
    choose_store,
)
from tests.memory_keyring import MemoryKeyring


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A machine with no keyring backend and no desktop session (a meeting-room box)."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "no-runtime"))
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def test_the_file_store_is_private_and_refuses_a_file_others_can_read(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "data" / "cloud-secrets.json")
    store.write("dev-1/secret", "mcd_abc")
    store.write("dev-1/xmpp-password", "pw")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert FileStore(store.path).read("dev-1/secret") == "mcd_abc"
    store.delete("dev-1/secret")
    assert store.read("dev-1/secret") is None and store.read("dev-1/xmpp-password") == "pw"
    assert store.describe().startswith(f"{store.path} (readable only by ")

    os.chmod(store.path, 0o644)
    with pytest.raises(SecretStoreUnavailable) as caught:
        store.read("dev-1/xmpp-password")
    assert str(caught.value) == (
        f"{store.path} can be read by other users of this computer, so its cloud credentials "
        f"are not used. Make it private (chmod 600 {store.path}), or enrol again."
    )


@pytest.mark.usefixtures("no_keyring")
def test_auto_uses_a_private_file_on_a_box_with_no_keyring_and_no_desktop(tmp_path: Path) -> None:
    store = choose_store(SecretStoreChoice.AUTO, tmp_path / "cloud-secrets.json")
    assert isinstance(store, FileStore)


@pytest.mark.usefixtures("no_keyring")
def test_a_desktop_without_a_keyring_gets_a_sentence_not_a_silent_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    with pytest.raises(SecretStoreUnavailable) as caught:
        choose_store(SecretStoreChoice.AUTO, tmp_path / "cloud-secrets.json")
    assert "choose --secret-store file" in str(caught.value)
    assert not (tmp_path / "cloud-secrets.json").exists()
    # Asked for by name, the keyring says why it cannot, and names the other choice.
    store = choose_store(SecretStoreChoice.KEYRING, tmp_path / "cloud-secrets.json")
    with pytest.raises(SecretStoreUnavailable, match="choose --secret-store file"):
        store.write("dev-1/secret", "mcd_abc")
    # Asked for by name, the file is used even on a desktop.
    assert isinstance(choose_store(SecretStoreChoice.FILE, tmp_path / "s.json"), FileStore)


def test_auto_keeps_the_keyring_where_there_is_one(
    tmp_path: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert isinstance(choose_store(SecretStoreChoice.AUTO, tmp_path / "s.json"), KeyringStore)
