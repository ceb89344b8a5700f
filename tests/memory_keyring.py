"""A keyring backend that keeps passwords in this process's memory, for tests.

The code under test still calls `keyring.set_password`/`get_password`; this
only replaces where they end up, so nothing is written to disk or to the
test machine's own keyring. Select it with `keyring.set_keyring(MemoryKeyring())`
or `PYTHON_KEYRING_BACKEND=tests.memory_keyring.MemoryKeyring`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import keyring.backend
import keyring.errors
import pytest


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]  # keyring declares a class property

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.entries[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError(f"no {username} in {service}") from None


class SeededKeyring(MemoryKeyring):
    """In memory, starting with the entries a test hands a child program.

    `MONTAGE_TEST_KEYRING` holds JSON `[[service, username, password], …]`;
    so a program under test finds the credentials an enrolment in the test
    process stored, as it would in a real keyring, with nothing on disk.
    """

    def __init__(self) -> None:
        super().__init__()
        for service, username, password in json.loads(os.environ.get(SEED_VARIABLE, "[]")):
            self.entries[(service, username)] = password


SEED_VARIABLE = "MONTAGE_TEST_KEYRING"


def seed(ring: MemoryKeyring) -> str:
    """The value of `MONTAGE_TEST_KEYRING` that gives a child program `ring`'s entries."""
    return json.dumps(
        [[service, user, password] for (service, user), password in ring.entries.items()]
    )


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The OS keyring, swapped for an in-memory one for the test."""
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    try:
        yield ring
    finally:
        keyring.set_keyring(previous)
