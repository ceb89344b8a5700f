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

When the XMPP session drops (a proxy restarted, the network blinked) and the
device was not cut off, the link logs in again with the same full JID — the
resource is chosen once per link — so the meeting, which names that JID,
keeps its 6-digit ID; the meeting is refreshed over REST meanwhile. Only
when the cloud no longer knows the meeting (gone longer than its lifetime)
or the device was revoked does the room fall back to its local ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections.abc import Callable

from montage_core.cloud.account import CloudAccount
from montage_core.cloud.api import CloudApi, ResolvedMeeting
from montage_core.cloud.ice import ice_settings
from montage_core.cloud.xmpp_signal import XmppSignalling
from montage_core.guests import is_guest_bridge
from montage_core.net import ProxySettings, as_resolver
from montage_core.protocol.errors import DeviceRevoked, MeetingNotFound, MontageError
from montage_core.rtc.peer import LOCAL_ONLY

from .service import ReceiverService

logger = logging.getLogger(__name__)

# Renew a meeting this often relative to its remaining life.
REFRESH_FRACTION = 1 / 3
# Retry a failed refresh this soon (the meeting outlives a few failures).
RETRY_SECONDS = 5.0
# Fetch new TURN credentials this long before the old ones expire.
TURN_MARGIN = 300.0
# Seconds between attempts to log in again after the XMPP session dropped.
RECONNECT_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
# Past this without XMPP the 6-digit ID only misleads: show the local one.
RECONNECT_GIVE_UP = 300.0
LOST = "Lost the connection to the cloud."


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
        self.resolver = as_resolver(proxy)
        self.service = service
        self.endpoints = endpoints
        self.fingerprint = fingerprint
        self.meeting: ResolvedMeeting | None = None
        self._api = CloudApi(account.url, account.tls(), account.secret(), proxy=self.resolver)
        self._xmpp: XmppSignalling | None = None
        self._resource = f"receiver-{secrets.token_hex(6)}"
        self._reconnect: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        # Told why, once, when the cloud meeting ends without close().
        self.on_ended: Callable[[str], None] | None = None

    @property
    def meeting_id(self) -> str | None:
        return self.meeting.meeting_id if self.meeting is not None else None

    @property
    def signalling(self) -> XmppSignalling | None:
        """The XMPP session now (a new one after a reconnection), if any."""
        return self._xmpp

    async def start(self) -> str:
        """Log in, get TURN credentials and a meeting; return the 6-digit ID.

        Raises a MontageError (cloud unreachable, device revoked, …); the
        caller then falls back to the local meeting ID.
        """
        try:
            self._attach(
                await XmppSignalling.open(
                    self.account, proxy=self.resolver, resource=self._resource
                )
            )
            assert self._xmpp is not None
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
        if self._reconnect is not None:
            self._reconnect.cancel()
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
    def _attach(self, xmpp: XmppSignalling) -> None:
        self._xmpp = xmpp
        xmpp.on_signal(self._on_signal)
        xmpp.on_peer_gone(self._on_peer_gone)
        xmpp.on_disconnect(self._on_xmpp_lost)

    def _on_xmpp_lost(self) -> None:
        if not self._closing and self._reconnect is None and self.meeting is not None:
            self._reconnect = asyncio.ensure_future(self._reconnect_or_end())
            self.service.keep(self._reconnect)

    async def _reconnect_or_end(self) -> None:
        try:
            # The REST API says whether we were cut off (then there is nothing to retry).
            why = await self._api.revocation()
            if why is not None:
                await self._end(str(why), revoked=True)
                return
            give_up = time.monotonic() + RECONNECT_GIVE_UP
            for attempt in itertools.count():
                if self._closing or self.meeting is None:
                    return
                if time.monotonic() > give_up:
                    await self._end(LOST)
                    return
                await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
                try:
                    xmpp = await XmppSignalling.open(
                        self.account, proxy=self.resolver, resource=self._resource
                    )
                except DeviceRevoked as exc:
                    await self._end(str(exc), revoked=True)
                    return
                except MontageError as exc:
                    logger.info("cloud meeting %s: not back yet: %s", self.meeting_id, exc)
                    continue
                if self._closing or self.meeting is None:
                    await xmpp.close()
                    return
                if xmpp.jid != self.meeting.jid:  # the server would not give the resource back
                    await xmpp.close()
                    await self._end(LOST)
                    return
                self._attach(xmpp)
                logger.info("cloud meeting %s: XMPP session back", self.meeting_id)
                return
        finally:
            self._reconnect = None

    async def _end(self, reason: str, *, revoked: bool = False) -> None:
        # Nobody can reach this receiver through the cloud any more: the 6-digit
        # ID is useless now; the room shows its local one.
        if self.meeting is None:
            return
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        self._task = None
        logger.warning("cloud meeting %s ended: %s", self.meeting_id, reason)
        if not revoked:
            with contextlib.suppress(MontageError):
                await self._api.end_meeting(self.meeting.meeting_id)
        self.meeting = None
        self.service.cloud_ice = LOCAL_ONLY  # its credentials are not renewed any more
        if self.on_ended is not None and not self._closing:
            self.on_ended(reason)

    def _on_signal(self, sender: str, conversation: str, text: str) -> None:
        async def reply(answer: str) -> None:
            # Through the session of the moment: a conversation outlives a reconnection.
            current = self._xmpp
            if current is None:
                raise ConnectionError("no XMPP session")
            await current.send(sender, conversation, answer)

        bare = sender.split("/", 1)[0]
        # The cloud's guest bridge speaks for browser guests (protocol.md §17).
        guest = is_guest_bridge(bare, self.account.jid.split("@", 1)[-1])
        # A task per message; the service keeps one conversation's messages in order.
        task = asyncio.ensure_future(
            self.service.accept_signal((sender, conversation), bare, text, reply, guest=guest)
        )
        self.service.keep(task)

    def _on_peer_gone(self, jid: str) -> None:
        # A presenter's device left the cloud (quit, or was suspended): its
        # conversations end, and their shares are not held for a return.
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
            except (MeetingNotFound, DeviceRevoked) as exc:
                # Away longer than the meeting's life, or cut off: nothing to refresh.
                await self._end(str(exc), revoked=isinstance(exc, DeviceRevoked))
                return
            except MontageError as exc:
                logger.warning("cloud meeting %s: %s", self.meeting.meeting_id, exc)
                await asyncio.sleep(RETRY_SECONDS)
