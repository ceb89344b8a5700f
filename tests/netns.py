"""A second host on this machine: a network namespace joined by a veth pair.

Addresses come from 198.18.0.0/15, the range set aside for network testing
(RFC 2544), so nothing real is ever addressed. Needs root (CI runs as root);
tests skip with the reason when the kernel or the sandbox refuses.
"""

from __future__ import annotations

import os
import subprocess
from types import TracebackType


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class Namespace:
    """A namespace `name` reachable at `peer` from this host's `local` address."""

    def __init__(self, tag: str, subnet: int | None = None) -> None:
        if subnet is None:
            subnet = free_subnet()
        suffix = f"{tag}{os.getpid() % 10000}"
        self.name = f"mtg-{suffix}"
        self.host_link = f"mh{suffix}"[:15]
        self.ns_link = f"mn{suffix}"[:15]
        self.local = f"198.18.{subnet}.1"
        self.peer = f"198.18.{subnet}.2"

    def create(self) -> Namespace:
        self.destroy()
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.ns_link)
        _ip("link", "set", self.ns_link, "netns", self.name)
        _ip("addr", "add", f"{self.local}/30", "dev", self.host_link)
        _ip("link", "set", self.host_link, "up")
        self.run("ip", "addr", "add", f"{self.peer}/30", "dev", self.ns_link)
        self.run("ip", "link", "set", self.ns_link, "up")
        self.run("ip", "link", "set", "lo", "up")
        return self

    def run(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.name, *cmd], capture_output=True, text=True, check=True
        )

    def command(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *cmd]

    def cut(self) -> None:
        """Pull the cable: packets vanish, nobody is told."""
        _ip("link", "set", self.host_link, "down")

    def destroy(self) -> None:
        _ip("link", "del", self.host_link, check=False)
        _ip("netns", "del", self.name, check=False)

    def __enter__(self) -> Namespace:
        return self.create()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.destroy()


class Bridge:
    """Two namespaces on one Linux bridge: one link, where multicast (mDNS) is carried.

    `a` is at 198.18.N.1 and `b` at 198.18.N.2; this host has no address on
    the bridge, so nothing but the two namespaces is on that link.
    """

    def __init__(self, tag: str) -> None:
        subnet = free_subnet()
        self.name = f"mb{tag}{os.getpid() % 10000}"[:15]
        self.a = Namespace(f"{tag}a", subnet)
        self.b = Namespace(f"{tag}b", subnet)
        self.a.peer, self.b.peer = f"198.18.{subnet}.1", f"198.18.{subnet}.2"

    def create(self) -> Bridge:
        self.destroy()
        _ip("link", "add", self.name, "type", "bridge")
        _ip("link", "set", self.name, "up")
        for ns in (self.a, self.b):
            _ip("netns", "add", ns.name)
            _ip("link", "add", ns.host_link, "type", "veth", "peer", "name", ns.ns_link)
            _ip("link", "set", ns.ns_link, "netns", ns.name)
            _ip("link", "set", ns.host_link, "master", self.name)
            _ip("link", "set", ns.host_link, "up")
            ns.run("ip", "addr", "add", f"{ns.peer}/30", "dev", ns.ns_link)
            ns.run("ip", "link", "set", ns.ns_link, "up")
            ns.run("ip", "link", "set", "lo", "up")
        return self

    def destroy(self) -> None:
        for ns in (self.a, self.b):
            ns.destroy()
        _ip("link", "del", self.name, check=False)

    def __enter__(self) -> Bridge:
        return self.create()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.destroy()


def free_subnet(avoid: tuple[int, ...] = ()) -> int:
    """A 198.18.N.0/30 no interface on this host uses yet.

    Not a fixed N: another pytest run on this machine (a colleague's full suite)
    may hold a namespace at the same address, and the kernel would then route
    our packets to it. `avoid`: subnets this caller has picked but not yet
    configured (a lab with two links).
    """
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    start = os.getpid() % 150
    for offset in range(150):
        candidate = 100 + (start + offset) % 150
        if f" 198.18.{candidate}." not in used and candidate not in avoid:
            return candidate
    raise RuntimeError("no free 198.18.N.0/30 for a test namespace")


def unavailable_reason() -> str | None:
    """Why namespaces cannot be used here, or None if they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = Namespace("probe", subnet=79)
    try:
        probe.create()
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return f"cannot create a network namespace here: {detail.strip()}"
    finally:
        probe.destroy()
    return None
