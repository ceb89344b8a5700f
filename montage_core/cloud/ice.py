"""The ICE settings a cloud share uses: which TURN URI, through which route."""

from __future__ import annotations

import logging

from montage_core.net import ProxyResolver
from montage_core.rtc.peer import IceSettings

from .account import CloudAccount
from .api import TurnCredentials

logger = logging.getLogger(__name__)


async def ice_settings(
    turn: TurnCredentials,
    account: CloudAccount,
    resolver: ProxyResolver,
    *,
    force_relay: bool = False,
    presenter: bool = True,
) -> IceSettings:
    """ICE for one side of a share: TURN over TLS through the proxy when the proxy
    is the way to the relay, otherwise the cloud's preferred TURN URI.

    Behind a proxy a presenter offers relayed candidates only: its host and
    UDP candidates could only lead ICE to wait on checks the network drops.
    The receiver keeps its host candidates (a presenter's relay may reach it
    directly); one relay-only side is enough to keep ICE from waiting.
    """
    where = turn.turns_endpoint
    route = (await resolver.routes_for(*where))[0] if where is not None else None
    if route is not None:
        logger.info("TURN over TLS through the %s (relay only: %s)", route, presenter)
    return IceSettings(
        turn_uri=turn.turns_uri if route is not None else turn.preferred_uri,
        username=turn.username,
        password=turn.password,
        turn_tls=account.tls(),
        relay_only=force_relay or (route is not None and presenter),
        proxy=resolver if route is not None else None,
    )
