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
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout

logger = logging.getLogger(__name__)

ADMIN_NS = "http://jabber.org/protocol/admin"
SASL_MECHANISM = "SCRAM-SHA-256"
KEEPALIVE_SECONDS = 60

# slixmpp logs every stanza it sends at DEBUG; an add-user form carries the
# device's password in clear inside TLS. Redact those fields from the log.
_PASSWORD_FIELD = re.compile(
    r"(<field[^>]*var=(['\"])password(?:-verify)?\2[^>]*>\s*<value>)[^<]*(</value>)"
)


class _RedactPasswordFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                _PASSWORD_FIELD.sub(r"\1[redacted]\3", str(arg)) if "password" in str(arg) else arg
                for arg in record.args
            )
        return True


_stanza_log = logging.getLogger("slixmpp.xmlstream.xmlstream")
if not any(isinstance(f, _RedactPasswordFields) for f in _stanza_log.filters):
    _stanza_log.addFilter(_RedactPasswordFields())


class XmppAdminError(RuntimeError):
    """The XMPP server could not be reached or refused an admin command."""


class XmppUnreachable(XmppAdminError):
    """No TLS connection: refused, timed out, or a certificate that does not verify."""


class XmppLoginFailed(XmppAdminError):
    """SASL failed; `condition` is the RFC 6120 condition (not-authorized, account-disabled…)."""

    def __init__(self, jid: str, condition: str) -> None:
        super().__init__(f"XMPP login as {jid} failed: {condition}")
        self.condition = condition


# Opens a connected TCP socket to (host, port): a tunnel through a proxy.
SocketOpener = Callable[[str, int], Awaitable[socket.socket]]


class _TunnelledClient(ClientXMPP):
    """A client whose TCP connection comes from `open_socket` (e.g. a proxy tunnel).

    slixmpp has no proxy support and connects with `loop.create_connection(host,
    port)` in `XMLStream._attempt_connection`; that one method is replaced here
    (written against slixmpp 1.17) to hand the same call a ready socket
    (`sock=`), with TLS on top as before. Everything else is slixmpp's own.
    """

    def __init__(self, jid: str, password: str, open_socket: SocketOpener, **options: Any):
        super().__init__(jid, password, **options)
        self._open_socket = open_socket

    async def _attempt_connection(
        self, host: str, port: int, tls: bool, server_hostname: str | None
    ) -> bool:
        self.event_when_connected = "connected"
        self._connect_loop_wait += 1
        ssl_context = self.get_ssl_context() if tls else None
        if self._current_connection_attempt is None:
            return False
        sock: socket.socket | None = None
        try:
            sock = await self._open_socket(host, port)
            await self.loop.create_connection(
                lambda: self, sock=sock, ssl=ssl_context, server_hostname=server_hostname
            )
        except asyncio.CancelledError:
            if sock is not None:
                sock.close()
            raise
        except Exception as exc:  # the proxy's refusal (a sentence), or TLS/OS errors
            logger.debug("XMPP connection through the tunnel failed: %s", exc)
            if sock is not None:
                sock.close()
            self.event("connection_failed", exc)
            return False
        self._connect_loop_wait = 0
        return True


def _make_client(
    jid: str, password: str, ssl_context: ssl.SSLContext, open_socket: SocketOpener | None = None
) -> ClientXMPP:
    # SCRAM only: the password never crosses the wire, even inside TLS.
    if open_socket is None:
        client = ClientXMPP(jid, password, sasl_mech=SASL_MECHANISM)
    else:
        client = _TunnelledClient(jid, password, open_socket, sasl_mech=SASL_MECHANISM)
    # A space every minute (slixmpp's default: 5): proxies and NATs drop a
    # tunnel that stays quiet for a few minutes, and a receiver waits quietly.
    client.whitespace_keepalive_interval = KEEPALIVE_SECONDS
    # Direct TLS (XEP-0368) only: no STARTTLS, never plain text.
    client.enable_direct_tls = True
    client.enable_starttls = False
    client.enable_plaintext = False
    client.ssl_context = ssl_context
    return client


async def open_session(
    jid: str,
    password: str,
    *,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext,
    login_timeout: float = 10.0,
    plugins: tuple[str, ...] = (),
    open_socket: SocketOpener | None = None,
) -> ClientXMPP:
    """Log in over direct TLS with SCRAM; return the client once its session started.

    `open_socket(host, port)`, when given, makes the TCP connection (a tunnel
    through a proxy); TLS to the XMPP server is still end to end.

    Raises `XmppLoginFailed` when the server refuses the credentials, and
    `XmppUnreachable` at once when the TLS connection fails (refused, or a
    certificate that does not verify) or when no session started within
    `login_timeout` seconds.
    """
    client = _make_client(jid, password, ssl_context, open_socket)
    for plugin in plugins:
        client.register_plugin(plugin)
    loop = asyncio.get_running_loop()
    # None: session started; str: SASL condition; exception: no connection.
    outcome: asyncio.Future[str | BaseException | None] = loop.create_future()

    def settle(result: str | BaseException | None) -> None:
        if not outcome.done():
            outcome.set_result(result)

    client.add_event_handler("session_start", lambda _event: settle(None))
    client.add_event_handler(
        "failed_auth", lambda stanza: settle(str(stanza["condition"]) or "not-authorized")
    )
    client.add_event_handler("failed_all_auth", lambda _event: settle("not-authorized"))
    # slixmpp would retry for ever, quietly; a certificate that does not
    # verify must be reported at once, not turn into a slow timeout.
    client.add_event_handler(
        "connection_failed",
        lambda error: settle(error if isinstance(error, BaseException) else OSError(str(error))),
    )
    client.connect(host, port)
    try:
        result = await asyncio.wait_for(outcome, login_timeout)
    except TimeoutError:
        client.cancel_connection_attempt()
        client.abort()
        raise XmppUnreachable(
            f"no XMPP session as {jid} on {host}:{port} within {login_timeout:.0f} s"
        ) from None
    if isinstance(result, BaseException):
        client.cancel_connection_attempt()
        client.abort()
        raise XmppUnreachable(f"cannot connect to XMPP at {host}:{port}: {result}") from result
    if result is not None:
        await close_session(client)
        raise XmppLoginFailed(jid, result)
    logger.debug("XMPP session started as %s", client.boundjid)
    return client


async def close_session(client: ClientXMPP, wait: float = 2.0) -> None:
    """End the stream politely; do not try to connect again."""
    client.cancel_connection_attempt()
    await client.disconnect(wait=wait)


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
