"""Which IPv4 address the receiver's meeting ID should name."""

from __future__ import annotations

import ipaddress
import socket


def advertised_address(bind: str) -> ipaddress.IPv4Address:
    """The address clients should dial: the bind address, or the primary one.

    For a wildcard bind, ask the kernel which source address it would use for
    an outside destination. Connecting a UDP socket sends no packet; the
    destination is TEST-NET-1 (RFC 5737), which is never a real host.
    """
    address = ipaddress.ip_address(bind)
    if not isinstance(address, ipaddress.IPv4Address):
        raise ValueError("the receiver binds to an IPv4 address (meeting IDs encode IPv4)")
    if not address.is_unspecified:
        return address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            return ipaddress.IPv4Address(probe.getsockname()[0])
        except OSError:
            # No route at all: only this machine can reach us.
            return ipaddress.IPv4Address("127.0.0.1")
