"""Guests: people who share from the browser page, through the cloud's guest bridge.

A guest has no device account. The cloud relays each guest's protocol
messages from one XMPP account of its own, `guests@<domain>` (device
accounts are `dev-<16 hex>`, so the name cannot be taken). A receiver that
hears from that account knows the source is a guest (docs/protocol.md §17):
anonymous visitors are not told apart by address, so all guests of one
meeting share one PIN lockout record.
"""

from __future__ import annotations

GUEST_BRIDGE_USER = "guests"
# The lockout source every guest of a meeting is counted as.
GUEST_SOURCE = "guests"


def is_guest_bridge(bare_jid: str, domain: str) -> bool:
    """Whether `bare_jid` is the guest bridge of the XMPP `domain`."""
    return bare_jid == f"{GUEST_BRIDGE_USER}@{domain}"
