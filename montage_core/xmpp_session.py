"""One device's or administrator's XMPP session: direct TLS (XEP-0368), SASL SCRAM.

Shared by the client and the receiver (signalling, `montage_core.cloud.xmpp_signal`)
and by the cloud (XEP-0133 administration, `montage_cloud.prosody_admin`).
`open_session` returns a logged-in slixmpp client, or raises `XmppLoginFailed`
or `XmppUnreachable` at once; with `open_socket` the TCP connection is a
tunnel through a proxy (`montage_core.thirdparty.slixmpp_tunnel`). No Qt, no
media: the cloud imports this module.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable

from slixmpp import ClientXMPP

logger = logging.getLogger(__name__)

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


class XmppError(RuntimeError):
    """The XMPP server could not be reached, or refused a login or a command."""


class XmppUnreachable(XmppError):
    """No TLS connection: refused, timed out, or a certificate that does not verify."""


class XmppLoginFailed(XmppError):
    """SASL failed; `condition` is the RFC 6120 condition (not-authorized, account-disabled…)."""

    def __init__(self, jid: str, condition: str) -> None:
        super().__init__(f"XMPP login as {jid} failed: {condition}")
        self.condition = condition


# Opens a connected TCP socket to (host, port): a tunnel through a proxy.
SocketOpener = Callable[[str, int], Awaitable[socket.socket]]


def _make_client(
    jid: str, password: str, ssl_context: ssl.SSLContext, open_socket: SocketOpener | None = None
) -> ClientXMPP:
    # SCRAM only: the password never crosses the wire, even inside TLS.
    if open_socket is None:
        client = ClientXMPP(jid, password, sasl_mech=SASL_MECHANISM)
    else:
        from montage_core.thirdparty.slixmpp_tunnel import TunnelledClientXMPP

        client = TunnelledClientXMPP(jid, password, open_socket, sasl_mech=SASL_MECHANISM)
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
