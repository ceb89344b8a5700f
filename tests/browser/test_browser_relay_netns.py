"""A guest whose network blocks UDP to the room shares through the cloud's TURN over TLS.

The browser and the receiver each run in a network namespace of their own
whose UDP input nftables drops; the cloud (`montage_cloud.dev`: REST API,
Prosody, coturn, the guest bridge) listens on the host side of the
receiver's link, which both reach over TCP. No direct media path can work,
nor a relay over UDP: Chromium must reach coturn with TURN over TLS, and so
must the receiver. The page must then say it shares through the relay, and
the receiver must count the frames.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.browser import chromium, netns_launcher, trust_ca
from bench.xvfb import Xvfb, workload_on
from montage_cloud.servers.config import PRODUCTION_DENIED_PEERS
from tests.browser.harness import (
    open_join_page,
    room_receiver,
    share_as,
    wait_for_state,
)
from tests.dev_cloud import dev_cloud
from tests.netns import Namespace, unavailable_reason
from tests.screens import until
from tests.test_cloud_share import Cloud, cloud_from

pytestmark = [pytest.mark.xvfb, pytest.mark.slow, pytest.mark.timeout(300)]

_why_not = unavailable_reason() or (
    None if shutil.which("nft") else "nftables is not installed (apt-get install nftables)"
)
# Test hosts sit in 198.18.0.0/15 (RFC 2544), which a production relay refuses.
_TEST_RANGE = "198.18.0.0-198.19.255.255"
_DROP_UDP_INPUT = (
    "add table inet montage",
    "add chain inet montage input { type filter hook input priority 0 ; }",
    "add rule inet montage input meta l4proto udp drop",
)
PIN = "7190"


def _udp_blocked(tag: str) -> Namespace:
    namespace = Namespace(tag).create()
    for rule in _DROP_UDP_INPUT:
        namespace.run("nft", *rule.split())
    return namespace


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[Namespace, Namespace]]:
    """(the room's namespace, the guest's namespace), both refusing every UDP packet."""
    if _why_not:
        pytest.skip(_why_not)
    room = _udp_blocked("gr")
    try:
        guest = _udp_blocked("gb")
        try:
            # The guest reaches the cloud, on the room link's host side, through its own link.
            guest.run("ip", "route", "add", f"{room.local}/32", "via", guest.local)
            yield room, guest
        finally:
            guest.destroy()
    finally:
        room.destroy()


@pytest.fixture(scope="module")
def cloud_ready(
    hosts: tuple[Namespace, Namespace], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cloud, str]]:
    room, _ = hosts
    denied = [peer for peer in PRODUCTION_DENIED_PEERS if peer != _TEST_RANGE]
    code = (
        "import logging, sys\n"
        "from montage_cloud.dev import run_dev\n"
        "logging.basicConfig(level=logging.INFO)\n"
        f"sys.exit(run_dev(host={room.local!r}, relay_denied_peers={denied!r}))\n"
    )
    with dev_cloud(tmp_path_factory.mktemp("netns-cloud"), code) as (_process, ready):
        yield cloud_from(ready), ready["join"]


def test_the_share_goes_through_turn_over_tls_when_udp_is_blocked(
    hosts: tuple[Namespace, Namespace], cloud_ready: tuple[Cloud, str], tmp_path: Path
) -> None:
    room_ns, guest_ns = hosts
    cloud, join_url = cloud_ready
    for namespace in hosts:  # UDP really is dropped in both
        rules = namespace.run("nft", "list", "chain", "inet", "montage", "input").stdout
        assert "meta l4proto udp drop" in rules
    home = tmp_path / "home"
    home.mkdir()
    trust_ca(home, Path(cloud.ca))
    with (
        room_receiver(
            cloud,
            tmp_path / "room",
            pin=PIN,
            name="Far Room",
            wrap=room_ns.command(),
            bind=room_ns.peer,
        ) as room,
        Xvfb(1280, 720) as screen,
        workload_on(screen, "slides"),
        chromium(screen, home, executable=netns_launcher(guest_ns.name, tmp_path)) as browser,
    ):
        page = browser.new_context(no_viewport=True).new_page()
        open_join_page(page, join_url)
        share_as(page, room.meeting_id, "Remote Guest", PIN)
        _, _, sentence = wait_for_state(page, "sharing", timeout=60)
        assert sentence == "Sharing your screen to Far Room through the cloud's relay."
        # Chromium's own account of the selected path: its relay, reached over TLS.
        path = page.evaluate("window.montage.media.path()")
        assert path == {"candidateType": "relay", "relayProtocol": "tls"}
        assert page.get_attribute("#status", "data-path") == "relayed-tls"
        guest = until(
            lambda: (p := room.presenter("Remote Guest")) is not None and p["frames"] >= 20 and p,
            30,
            "frames through the relay at the receiver",
        )
        assert guest["guest"] is True
        page.click("#stop")
        until(lambda: room.left("Remote Guest"), 10, "the guest gone from the room")
