"""`XmppAdmin` against a real Prosody: XEP-0133 ad-hoc commands from an admin account.

The REST API never touches Prosody's files. It logs in as the admin JID named
in Prosody's `admins` (direct TLS, XEP-0368; SASL SCRAM) and runs the standard
XEP-0133 commands through XEP-0050:

| XmppAdmin         | node: http://jabber.org/protocol/admin#… | Prosody module        |
| ----------------- | ---------------------------------------- | --------------------- |
| `create_account`  | `add-user`                               | admin_adhoc           |
| `disable_account` | `disable-user` (ends the sessions too)   | montage_account_state |
| `enable_account`  | `reenable-user`                          | montage_account_state |
| `kick`            | `end-user-session`                       | admin_adhoc           |
| `delete_account`  | `delete-user` (Prosody ends sessions)    | admin_adhoc           |

Prosody 0.12 has no disable-user command; `deploy/prosody/modules/` adds the
two missing standard ones, so a suspended device keeps its password and a
resumed one logs in again with the credentials it already has.

`disable_account` also sends `end-user-session`, so a session is cut even on
a server where disabling would only block future logins.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout

from montage_core.xmpp_session import (
    XmppError,
    close_session,
    open_session,
)

logger = logging.getLogger(__name__)

ADMIN_NS = "http://jabber.org/protocol/admin"


class XmppAdminError(XmppError):
    """The XMPP server refused an admin command."""


@dataclass
class ProsodyAdmin:
    """Implements `montage_cloud.xmpp_admin.XmppAdmin` with XEP-0133 commands.

    One admin session is opened on first use and reused; if the server closed
    it, the next call opens a new one.
    """

    domain: str
    host: str
    port: int
    admin_jid: str
    admin_password: str = field(repr=False)
    ssl_context: ssl.SSLContext = field(default_factory=ssl.create_default_context, repr=False)
    timeout: float = 10.0
    _client: ClientXMPP | None = field(default=None, init=False, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def _session(self) -> ClientXMPP:
        async with self._lock:
            if self._client is None or not self._client.is_connected():
                self._client = await open_session(
                    self.admin_jid,
                    self.admin_password,
                    host=self.host,
                    port=self.port,
                    ssl_context=self.ssl_context,
                    login_timeout=self.timeout,
                    plugins=("xep_0030", "xep_0004", "xep_0050", "xep_0133"),
                )
            return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await close_session(client)

    def _jid(self, username: str) -> str:
        if not username or any(ch in username for ch in "@/ \t\r\n"):
            raise ValueError(f"not an XMPP localpart: {username!r}")
        return f"{username}@{self.domain}"

    async def _run(self, command: str, values: dict[str, Any]) -> str:
        """Execute one XEP-0133 command, submit `values`; return its note text."""
        client = await self._session()
        # slixmpp's plugin methods are untyped; keep that at this one boundary.
        adhoc: Any = client.plugin["xep_0050"]
        forms: Any = client.plugin["xep_0004"]
        node = f"{ADMIN_NS}#{command}"
        try:
            first = await adhoc.send_command(self.domain, node, timeout=self.timeout)
            session_id = first["command"]["sessionid"]
            form = forms.make_form(ftype="submit")
            form.add_field(var="FORM_TYPE", ftype="hidden", value=ADMIN_NS)
            for var, value in values.items():
                form.add_field(var=var, value=value)
            done = await adhoc.send_command(
                self.domain,
                node,
                action="complete",
                sessionid=session_id,
                payload=form,
                timeout=self.timeout,
            )
        except IqError as exc:
            raise XmppAdminError(
                f"Prosody refused {command}: {exc.condition} {exc.text}".strip()
            ) from exc
        except IqTimeout as exc:
            raise XmppAdminError(f"Prosody did not answer {command} in time") from exc
        notes = done["command"]["notes"]
        for kind, text in notes:
            if kind == "error":
                raise XmppAdminError(f"{command} failed: {text}")
        return " ".join(text for _kind, text in notes)

    async def create_account(self, username: str, password: str) -> None:
        await self._run(
            "add-user",
            {"accountjid": self._jid(username), "password": password, "password-verify": password},
        )
        logger.info("XMPP account %s created", username)

    async def disable_account(self, username: str) -> None:
        await self._run("disable-user", {"accountjids": [self._jid(username)]})
        # The module already closed the sessions; this also covers a server
        # where disabling only blocks new logins.
        await self.kick(username)
        logger.info("XMPP account %s disabled", username)

    async def enable_account(self, username: str) -> None:
        await self._run("reenable-user", {"accountjids": [self._jid(username)]})
        logger.info("XMPP account %s re-enabled", username)

    async def kick(self, username: str) -> None:
        note = await self._run("end-user-session", {"accountjids": [self._jid(username)]})
        # mod_admin_adhoc reports an unknown account in an "info" note.
        if "could not be disconnected" in note:
            raise XmppAdminError(f"end-user-session failed for {username}: no such account")
        logger.info("XMPP sessions of %s ended", username)

    async def delete_account(self, username: str) -> None:
        note = await self._run("delete-user", {"accountjids": [self._jid(username)]})
        if "could not be deleted" in note:
            # Deleting what is already gone reaches the state the caller wants.
            logger.info("XMPP account %s was already absent", username)
            return
        logger.info("XMPP account %s deleted", username)
