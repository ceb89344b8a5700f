"""The receiver's link to the cloud: its XMPP session and its 6-digit meeting.

When enrolled (and not told to stay local) the receiver logs in to XMPP,
opens a meeting through the REST API with its LAN endpoints, its TLS
certificate fingerprint and its full JID, shows the 6-digit ID, and keeps
the meeting alive by refreshing it every third of its lifetime. Messages
arriving over XMPP go to the same `ReceiverService` as WebSocket
connections, one conversation per (sender, conversation ID); the sender's
bare JID is the "source" the PIN lockout counts. TURN credentials for
presenters' ICE are fetched here and renewed before they expire. With a
proxy, REST, XMPP and TURN (over TLS) all go through it (docs/proxies.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from montage_client.cloud.account import CloudAccount
from montage_client.cloud.api import CloudApi, ResolvedMeeting
from montage_client.cloud.ice import ice_settings
from montage_client.cloud.xmpp_signal import XmppSignalling
from montage_client.core.rtc import LOCAL_ONLY
from montage_client.net import ProxyResolver, ProxySettings
from montage_client.protocol.errors import MontageError

from .service import ReceiverService

logger = logging.getLogger(__name__)

# Renew a meeting this often relative to its remaining life.
REFRESH_FRACTION = 1 / 3
# Retry a failed refresh this soon (the meeting outlives a few failures).
RETRY_SECONDS = 5.0
# Fetch new TURN credentials this long before the old ones expire.
TURN_MARGIN = 300.0


class CloudLink:
    def __init__(
        self,
        account: CloudAccount,
        service: ReceiverService,
        *,
        endpoints: list[str],
        fingerprint: str,
        proxy: ProxySettings | None = None,
    ) -> None:
        self.account = account
        self.resolver = ProxyResolver(proxy or ProxySettings())
        self.service = service
        self.endpoints = endpoints
        self.fingerprint = fingerprint
        self.meeting: ResolvedMeeting | None = None
        self._api = CloudApi(account.url, account.tls(), account.secret(), proxy=self.resolver)
        self._xmpp: XmppSignalling | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # Told why, once, when the cloud meeting ends without close().
        self.on_ended: Callable[[str], None] | None = None

    @property
    def meeting_id(self) -> str | None:
        return self.meeting.meeting_id if self.meeting is not None else None

    async def start(self) -> str:
        """Log in, get TURN credentials and a meeting; return the 6-digit ID.

        Raises a MontageError (cloud unreachable, device revoked, …); the
        caller then falls back to the local meeting ID.
        """
        try:
            self._xmpp = await XmppSignalling.open(self.account, proxy=self.resolver)
            self._xmpp.on_signal(self._on_signal)
            self._xmpp.on_peer_gone(self._on_peer_gone)
            self._xmpp.on_disconnect(self._on_xmpp_lost)
            expires = await self._renew_turn()
            self.meeting = await self._api.open_meeting(
                self.endpoints, self.fingerprint, self._xmpp.jid
            )
        except BaseException:
            await self.close()
            raise
        logger.info("cloud meeting %s open (receiver %s)", self.meeting.meeting_id, self._xmpp.jid)
        self._task = asyncio.ensure_future(self._keep_alive(expires))
        return self.meeting.meeting_id

    async def close(self) -> None:
        """End the meeting in the cloud and log out (best effort)."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.meeting is not None:
            try:
                await self._api.end_meeting(self.meeting.meeting_id)
            except MontageError as exc:
                logger.info("could not end cloud meeting %s: %s", self.meeting.meeting_id, exc)
        if self._xmpp is not None:
            with contextlib.suppress(Exception):
                await self._xmpp.close()
        await self._api.close()

    # -- internals -----------------------------------------------------------
    def _on_xmpp_lost(self) -> None:
        if not self._closing:
            self.service.keep(asyncio.ensure_future(self._ended()))

    async def _ended(self) -> None:
        # Without XMPP nobody can reach this receiver through the cloud: the
        # 6-digit ID is useless now. The REST API says whether we were cut off.
        if self._task is not None:
            self._task.cancel()
            self._task = None
        why = await self._api.revocation()
        reason = str(why) if why is not None else "Lost the connection to the cloud."
        logger.warning("cloud meeting %s ended: %s", self.meeting_id, reason)
        if why is None and self.meeting is not None:
            with contextlib.suppress(MontageError):
                await self._api.end_meeting(self.meeting.meeting_id)
        self.meeting = None
        self.service.cloud_ice = LOCAL_ONLY  # its credentials are not renewed any more
        if self.on_ended is not None and not self._closing:
            self.on_ended(reason)

    def _on_signal(self, sender: str, conversation: str, text: str) -> None:
        xmpp = self._xmpp
        assert xmpp is not None

        async def reply(answer: str) -> None:
            await xmpp.send(sender, conversation, answer)

        bare = sender.split("/", 1)[0]
        # A task per message; the service keeps one conversation's messages in order.
        task = asyncio.ensure_future(
            self.service.accept_signal((sender, conversation), bare, text, reply)
        )
        self.service.keep(task)

    def _on_peer_gone(self, jid: str) -> None:
        # A presenter's device left the cloud (quit, lost its network, or was
        # suspended): its conversations end as a dropped WebSocket would.
        self.service.keep(
            asyncio.ensure_future(self.service.end_cloud_conversations(lambda key: key[0] == jid))
        )

    async def _renew_turn(self) -> float:
        turn = await self._api.turn()
        self.service.cloud_ice = await ice_settings(
            turn, self.account, self.resolver, presenter=False
        )
        return turn.expires_at

    async def _keep_alive(self, turn_expires: float) -> None:
        assert self.meeting is not None
        while True:
            life = max(self.meeting.expires_at - time.time(), 0.0)
            await asyncio.sleep(max(life * REFRESH_FRACTION, 1.0))
            try:
                self.meeting = await self._api.refresh_meeting(self.meeting.meeting_id)
                if turn_expires - time.time() < TURN_MARGIN:
                    turn_expires = await self._renew_turn()
            except MontageError as exc:
                logger.warning("cloud meeting %s: %s", self.meeting.meeting_id, exc)
                await asyncio.sleep(RETRY_SECONDS)
