"""A userspace UDP impairment relay: delay and jitter, since this kernel has no `tc netem`.

It runs in the fault lab's router namespace (tests/fault_lab.py). nftables
hands it every forwarded UDP datagram with TPROXY, so it receives packets
addressed to other hosts, with their original destination; it holds each
one for the delay (plus a random jitter) and sends it on with the original
source address and port, through a transparent socket. Neither end sees an
address change, so ICE, DTLS and SRTP are none the wiser.

    python -m tests.impairment_relay --port P --delay-ms 100 [--jitter-ms 10]

prints one `ready` JSON line, then relays until SIGTERM and prints a
`result` line (datagrams relayed). Packets keep their order within a flow
when `--jitter-ms` is 0; with jitter each one is delayed independently, so
they may overtake each other, as on a real path with jitter.

Needs root (IP_TRANSPARENT) and the routing set up by `FaultLab.delay`:
a mark set by the TPROXY rule, and a local route for marked packets.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import json
import random
import signal
import socket
import struct
import sys
from collections.abc import Callable

IP_TRANSPARENT = 19
IP_RECVORIGDSTADDR = 20  # also IP_ORIGDSTADDR, the ancillary message's type
SOL_IP = 0

Address = tuple[str, int]


def transparent_socket(bind: Address, *, receive_destination: bool = False) -> socket.socket:
    """A UDP socket that may bind (and send from) an address that is not this host's."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(SOL_IP, IP_TRANSPARENT, 1)
    if receive_destination:
        sock.setsockopt(SOL_IP, IP_RECVORIGDSTADDR, 1)
    sock.setblocking(False)
    sock.bind(bind)
    return sock


def original_destination(ancillary: list[tuple[int, int, bytes]]) -> Address | None:
    """The destination a TPROXY'd datagram was sent to (a sockaddr_in in the cmsg)."""
    for level, kind, data in ancillary:
        if level == SOL_IP and kind == IP_RECVORIGDSTADDR and len(data) >= 8:
            port, raw = struct.unpack_from("!2xH4s", data)
            return socket.inet_ntoa(raw), port
    return None


class Schedule:
    """When each datagram leaves: the clock and the randomness are given (tested alone)."""

    def __init__(
        self, delay: float, jitter: float, rng: Callable[[], float] = random.random
    ) -> None:
        self.delay = delay
        self.jitter = jitter
        self._rng = rng
        self._queue: list[tuple[float, int, bytes, Address, Address]] = []
        self._order = itertools.count()

    def add(self, now: float, data: bytes, source: Address, destination: Address) -> float:
        """Queue one datagram; return when it is due."""
        due = now + self.delay + (self._rng() * 2 - 1) * self.jitter
        due = max(now, due)
        heapq.heappush(self._queue, (due, next(self._order), data, source, destination))
        return due

    def due(self, now: float) -> list[tuple[bytes, Address, Address]]:
        """Every datagram whose time has come, earliest first."""
        out = []
        while self._queue and self._queue[0][0] <= now:
            _, _, data, source, destination = heapq.heappop(self._queue)
            out.append((data, source, destination))
        return out

    def next_due(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def __len__(self) -> int:
        return len(self._queue)


class Relay:
    def __init__(self, port: int, schedule: Schedule) -> None:
        self.schedule = schedule
        self.relayed = 0
        self._loop = asyncio.get_running_loop()
        self._listener = transparent_socket(("0.0.0.0", port), receive_destination=True)
        # One sending socket per source address: it is bound to that (foreign)
        # address, so the datagram leaves with its original source. Replies to
        # that address may arrive on it rather than on the listener.
        self._senders: dict[Address, socket.socket] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop.add_reader(self._listener, self._read, self._listener, None)

    def _read(self, sock: socket.socket, bound: Address | None) -> None:
        while True:
            try:
                data, ancillary, _flags, source = sock.recvmsg(65535, 256)
            except BlockingIOError:
                break
            destination = original_destination(ancillary) or bound
            if destination is None:
                continue
            self.schedule.add(self._loop.time(), data, source, destination)
        self._arm()

    def _arm(self) -> None:
        due = self.schedule.next_due()
        if due is None or (self._timer is not None and self._timer.when() <= due):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(due, self._send_due)

    def _send_due(self) -> None:
        self._timer = None
        for data, source, destination in self.schedule.due(self._loop.time()):
            sender = self._senders.get(source)
            if sender is None:
                sender = self._senders[source] = transparent_socket(source)
                self._loop.add_reader(sender, self._read, sender, source)
            try:
                sender.sendto(data, destination)
                self.relayed += 1
            except OSError:
                pass  # a full buffer or an unreachable host: a lost datagram, as on a wire
        self._arm()

    def close(self) -> None:
        for sock in (self._listener, *self._senders.values()):
            self._loop.remove_reader(sock)
            sock.close()


async def serve(port: int, delay: float, jitter: float) -> None:
    relay = Relay(port, Schedule(delay, jitter))
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    print(json.dumps({"event": "ready", "port": port}), flush=True)
    await done.wait()
    relay.close()
    print(json.dumps({"event": "result", "relayed": relay.relayed}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.delay_ms / 1000, args.jitter_ms / 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
