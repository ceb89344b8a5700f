"""Joining a cloud (6-digit) meeting: resolve it, pick the signalling path, watch for revocation.

1. `GET /v1/meetings/{id}` gives the receiver's LAN endpoints, its TLS
   certificate fingerprint and its XMPP address; `POST /v1/turn` gives TURN
   credentials for ICE (both sides use the relay when nothing direct works).
2. The client logs in to XMPP and tries the LAN endpoints at the same time
   (`path_race.py`, after RFC 8305): a receiver on the same network is
   reached directly, and its certificate must be the one the cloud named;
   the LAN is preferred, but waited for only a head start once XMPP is
   ready, and never past `LAN_TIMEOUT`.
3. Otherwise the conversation goes over XMPP.

Behind a proxy (docs/proxies.md) REST, XMPP and the TURN connection all go
through it; the LAN attempt stays direct and bounded by `LAN_TIMEOUT`. When
the proxy carries TURN, only TURN over TLS is used (UDP cannot cross it),
and — unless the receiver answered on the LAN, where direct paths may work —
ICE offers relayed candidates only, so it never waits on paths the network
will not allow.

Throughout the share the XMPP session is held: when the cloud ends it (the
administrator suspended or removed this device), the client asks the REST
API why and ends the share with that sentence.

When the share reconnects (docs/protocol.md §18) the channel is opened
again: the meeting is looked up again (an ended meeting or a revoked device
ends the share with its sentence; a cloud that cannot be reached is tried
again), the XMPP session is reused or logged in again, and TURN credentials
that are about to expire are renewed — and the person is told, since a
relayed share whose credentials expired had lost its relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from montage_client.core.path_race import race
from montage_client.core.share_client import ChannelOpener, ShareClient
from montage_core.cloud.account import CloudAccount, split_host_port
from montage_core.cloud.api import CloudApi, ResolvedMeeting, TurnCredentials
from montage_core.cloud.ice import ice_settings
from montage_core.cloud.xmpp_signal import XmppChannel, XmppSignalling
from montage_core.net import ProxyResolver, ProxySettings, as_resolver
from montage_core.protocol.errors import MontageError, ReceiverUnreachable
from montage_core.protocol.meeting_id import CloudMeetingId
from montage_core.rtc.peer import IceSettings
from montage_core.signal_channel import SignalChannel, connect_websocket

logger = logging.getLogger(__name__)

# A receiver on this network answers in milliseconds; the LAN attempt ends here
# even when XMPP is slower still (the race does not wait for it otherwise).
LAN_TIMEOUT = 1.5
# Reconnecting, TURN credentials this close to expiring are renewed first.
TURN_MARGIN = 300.0
TURN_RENEWED = (
    "The cloud relay's access for this share had run out; it was renewed and the share reconnected."
)

ClientFactory = Callable[[ChannelOpener, IceSettings], ShareClient]


async def share_to_cloud_meeting(
    account: CloudAccount,
    meeting: CloudMeetingId,
    make_client: ClientFactory,
    *,
    force_relay: bool = False,
    lan_timeout: float = LAN_TIMEOUT,
    proxy: ProxySettings | ProxyResolver | None = None,
) -> ShareClient:
    """Run one share to a cloud meeting until it ends; return the client that ran it.

    `make_client(open_channel, ice)` builds the `ShareClient` (the caller
    chooses grabber, name, PIN provider and progress reporting). Raises a
    MontageError with a sentence when the meeting cannot be joined or the
    share ends for a reason other than Stop. `proxy` is how this computer
    reaches the cloud (None: directly).
    """
    resolver = as_resolver(proxy)  # one for the whole share: a PAC file is fetched once
    # The keyring may block (D-Bus, an unlock prompt): not on the loop, the window's thread.
    secret = await asyncio.to_thread(account.secret)
    async with CloudApi(account.url, account.tls(), secret, proxy=resolver) as api:
        resolved = await api.resolve(meeting)
        turn = await api.turn()
        ice = await ice_settings(turn, account, resolver, force_relay=force_relay)
        route = _Route(account, meeting, resolved, lan_timeout, resolver)
        client = make_client(route.open_channel, ice)
        relay_first = ice.relay_only and not force_relay

        def on_lan() -> None:
            if relay_first:
                # Reached on the LAN after all: direct paths may work there.
                client.ice = replace(client.ice, relay_only=False)

        route.on_lan = on_lan
        route.refresh = _Refresh(api, turn, account, resolver, force_relay, client)
        checks: set[asyncio.Task[None]] = set()

        async def check_revocation() -> None:
            why = await api.revocation()
            if why is not None:
                client.end_with(why)

        def on_lost() -> None:
            # Also ends a share whose signalling took the LAN path.
            task = asyncio.ensure_future(check_revocation())
            checks.add(task)
            task.add_done_callback(checks.discard)

        route.lost_callback = on_lost
        try:
            await client.run()
        except MontageError as exc:
            # A share cut short while the cloud dropped us: was it revocation?
            if route.xmpp_lost:
                why = await api.revocation()
                if why is not None:
                    raise why from exc
            raise
        finally:
            for task in checks:
                task.cancel()
            await route.close()
        return client


class _Refresh:
    """What a reconnection checks with the cloud before it opens the channel again."""

    def __init__(
        self,
        api: CloudApi,
        turn: TurnCredentials,
        account: CloudAccount,
        resolver: ProxyResolver,
        force_relay: bool,
        client: ShareClient,
    ) -> None:
        self.api = api
        self.turn = turn
        self.account = account
        self.resolver = resolver
        self.force_relay = force_relay
        self.client = client

    async def __call__(self, meeting: CloudMeetingId) -> ResolvedMeeting:
        """The meeting as the cloud knows it now; fresh TURN credentials if due.

        Raises MeetingNotFound (ended: final), DeviceRevoked (final) or
        CloudUnavailable (tried again).
        """
        resolved = await self.api.resolve(meeting)
        if self.turn.expires_at - time.time() < TURN_MARGIN:
            expired = self.turn.expires_at <= time.time()
            self.turn = await self.api.turn()
            ice = await ice_settings(
                self.turn, self.account, self.resolver, force_relay=self.force_relay
            )
            self.client.ice = replace(ice, relay_only=ice.relay_only and self.client.ice.relay_only)
            logger.info("TURN credentials renewed (the old ones had expired: %s)", expired)
            if expired:
                self.client.notify(TURN_RENEWED)
        return resolved


class _Route:
    """Opens the signalling channel for one share and holds the XMPP session."""

    def __init__(
        self,
        account: CloudAccount,
        meeting: CloudMeetingId,
        resolved: ResolvedMeeting,
        lan_timeout: float,
        resolver: ProxyResolver,
    ) -> None:
        self.account = account
        self.resolver = resolver
        self.on_lan: Callable[[], None] | None = None
        self.meeting = meeting
        self.resolved = resolved
        self.lan_timeout = lan_timeout
        self.xmpp: XmppSignalling | None = None
        self.xmpp_lost = False
        self.lost_callback: Callable[[], None] | None = None
        self.refresh: Callable[[CloudMeetingId], Awaitable[ResolvedMeeting]] | None = None
        self._closing = False
        self._login: asyncio.Future[XmppSignalling] | None = None
        self._opened = 0

    async def open_channel(self) -> SignalChannel:
        self._opened += 1
        if self._opened > 1 and self.refresh is not None:
            # Reconnecting: the receiver may have moved (a new JID, new endpoints)
            # or gone for good (the meeting ended).
            self.resolved = await self.refresh(self.meeting)
        login = self._session()  # the session held, while it lasts; else a new login
        # Both ways at once (path_race.py): an unreachable LAN costs the join nothing.
        won = await race(self._try_lan(), login, discard_lan=_close_channel)
        if won.lan is not None:
            # XMPP goes on in the background: it only brings news of revocation now.
            logger.info("meeting %s: receiver reached on the LAN", self.meeting)
            if self.on_lan is not None:
                self.on_lan()
            login.add_done_callback(self._logged_in)
            return won.lan
        assert won.cloud is not None
        self._logged_in(won.cloud)
        logger.info("meeting %s: signalling through the cloud", self.meeting)
        return XmppChannel(
            won.cloud,
            self.resolved.jid,
            self.resolved.fingerprint,
            f"the receiver of meeting {self.meeting.display()}",
        )

    def _session(self) -> asyncio.Future[XmppSignalling]:
        """The XMPP session: the one held, while it lasts; else a new login."""
        if self._login is not None and not self._login.done():
            return self._login
        if self.xmpp is not None and self.xmpp.connected:
            done: asyncio.Future[XmppSignalling] = asyncio.get_running_loop().create_future()
            done.set_result(self.xmpp)
            return done
        self._login = asyncio.ensure_future(XmppSignalling.open(self.account, proxy=self.resolver))
        return self._login

    def _logged_in(self, login: asyncio.Future[XmppSignalling] | XmppSignalling) -> None:
        if isinstance(login, asyncio.Future):
            if login.cancelled() or self._closing:
                return  # close() takes care of a session that arrives late
            error = login.exception()
            if error is not None:
                logger.warning("no XMPP session, sharing over the LAN only: %s", error)
                return
            login = login.result()
        if login is self.xmpp:
            return
        self.xmpp = login
        login.on_disconnect(self._on_xmpp_lost)

    async def _try_lan(self) -> SignalChannel | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lan_timeout
        for endpoint in self.resolved.endpoints:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                host, port = split_host_port(endpoint, 443)
                channel = await connect_websocket(host, port, connect_timeout=remaining)
            except (ValueError, ReceiverUnreachable) as exc:
                logger.info("LAN endpoint %s not reachable: %s", endpoint, exc)
                continue
            if channel.receiver_fingerprint == self.resolved.fingerprint:
                return channel
            # Someone else answers at that address now (a new DHCP lease).
            logger.info("LAN endpoint %s is another receiver; not using it", endpoint)
            await channel.close()
        return None

    def _on_xmpp_lost(self) -> None:
        if self._closing:
            return  # our own logout, not news
        self.xmpp_lost = True
        if self.lost_callback is not None:
            self.lost_callback()

    async def close(self) -> None:
        self._closing = True
        login = self._login
        if login is not None and self.xmpp is None:
            login.cancel()
            await asyncio.wait([login])  # does not raise what the login raised
            if not login.cancelled() and login.exception() is None:
                self.xmpp = login.result()
        if self.xmpp is not None:
            with contextlib.suppress(Exception):
                await self.xmpp.close()


async def _close_channel(channel: SignalChannel) -> None:
    await channel.close()
