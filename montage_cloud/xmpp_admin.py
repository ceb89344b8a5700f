"""How the REST API manages devices' XMPP accounts, without knowing the XMPP server.

The Prosody implementation (XEP-0133 ad-hoc commands from an admin account)
plugs in behind `XmppAdmin`; the default, `MemoryXmppAdmin`, only records what
it was asked, so the API runs and is tested without an XMPP server.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Protocol

logger = logging.getLogger(__name__)


class XmppAdmin(Protocol):
    """Account operations on the XMPP server; `username` is a JID localpart."""

    async def create_account(self, username: str, password: str) -> None: ...

    async def disable_account(self, username: str) -> None: ...

    async def enable_account(self, username: str) -> None: ...

    async def kick(self, username: str) -> None:
        """End every session the account has open now."""

    async def delete_account(self, username: str) -> None: ...


class XmppAccountState(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


@dataclass
class MemoryXmppAdmin:
    """Keeps accounts in memory and records each call (for tests and XMPP-less runs)."""

    accounts: dict[str, XmppAccountState] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def create_account(self, username: str, password: str) -> None:
        self.calls.append(("create_account", username))
        self.accounts[username] = XmppAccountState.ENABLED

    async def disable_account(self, username: str) -> None:
        self.calls.append(("disable_account", username))
        if username in self.accounts:
            self.accounts[username] = XmppAccountState.DISABLED

    async def enable_account(self, username: str) -> None:
        self.calls.append(("enable_account", username))
        if username in self.accounts:
            self.accounts[username] = XmppAccountState.ENABLED

    async def kick(self, username: str) -> None:
        self.calls.append(("kick", username))

    async def delete_account(self, username: str) -> None:
        self.calls.append(("delete_account", username))
        self.accounts.pop(username, None)


def default_xmpp_admin() -> XmppAdmin:
    """The XmppAdmin used when none is configured: accounts are only recorded in memory."""
    logger.warning("no XMPP server configured: device XMPP accounts are not managed")
    return MemoryXmppAdmin()
