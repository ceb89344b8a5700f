"""The fault lab: a client host and a receiver host with a router between them.

Three network namespaces on this machine:

    client  198.18.C.2 ──veth── 198.18.C.1  router  198.18.R.1 ──veth── 198.18.R.2  receiver
                                              │ 198.18.U.2
                                    (uplink) veth
                                              │ 198.18.U.1
                                     this host (the test)

The router forwards between the two; a cloud started in the router
namespace listens on 198.18.R.1, which the test reaches over the uplink
(`host_route_to_cloud`). Faults are made in the router with nftables,
on what it forwards and on what it sends or receives itself (a cloud started
in the router namespace is then cut off too, as when a laptop's Wi-Fi drops):

- `cut(True)`: every packet to or from the client is dropped, silently;
- `drop(5)`: `numgen random mod 100 < 5 drop` on everything forwarded, both ways;
- `block_udp()`: UDP between the two hosts is dropped (TCP still passes);
- `refuse_tcp(port)`: connections to the receiver's port are reset (a LAN path
  that does not carry the signalling);
- `delay(ms)`: UDP between the hosts goes through `tests/impairment_relay.py`
  (TPROXY), which holds each datagram for `ms` (`tc netem` is not in this kernel).

Needs root; `unavailable_reason()` says why not otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import keyring

from bench.xvfb import Xvfb, stop_process
from montage_cloud.servers.config import PRODUCTION_DENIED_PEERS
from montage_core.cloud.enrol import enrol_device
from tests.dev_cloud import dev_cloud
from tests.memory_keyring import SEED_VARIABLE, MemoryKeyring, seed
from tests.netns import free_subnet
from tests.netns import unavailable_reason as netns_unavailable
from tests.test_cloud_share import Cloud, cloud_from

ROOT = Path(__file__).resolve().parents[1]
_TABLE = "montagelab"
_MARK = 0x4D  # TPROXY'd packets, routed to the relay's socket
_ROUTE_TABLE = "177"


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check)


def unavailable_reason() -> str | None:
    why = netns_unavailable()
    if why is None and shutil.which("nft") is None:
        why = "nftables is not installed (apt-get install nftables)"
    return why


class FaultLab:
    def __init__(self, tag: str = "lab") -> None:
        suffix = f"{tag}{os.getpid() % 10000}"
        self.client_ns = f"mtg-c{suffix}"
        self.receiver_ns = f"mtg-r{suffix}"
        self.router_ns = f"mtg-g{suffix}"
        # Interface names: at most 15 characters.
        self._links = {
            "client": (f"lc{suffix}"[:15], f"gc{suffix}"[:15]),
            "receiver": (f"lr{suffix}"[:15], f"gr{suffix}"[:15]),
        }
        self._uplink = (f"lu{suffix}"[:15], f"gu{suffix}"[:15])
        self.client = self.receiver = ""
        self.router_client_side = self.router_receiver_side = ""
        self._relay: subprocess.Popen[str] | None = None
        self._diverting = False
        self._subnets: tuple[int, ...] = ()

    # -- set-up ---------------------------------------------------------------
    def create(self) -> FaultLab:
        self.destroy()
        for ns in (self.client_ns, self.receiver_ns, self.router_ns):
            _run("ip", "netns", "add", ns)
            self.run(ns, "ip", "link", "set", "lo", "up")
        self.run(self.router_ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        client_net = self._link("client", self.client_ns, avoid=())
        receiver_net = self._link("receiver", self.receiver_ns, avoid=(client_net,))
        # Inside namespaces, so invisible to free_subnet: the uplink must avoid them.
        self._subnets = (client_net, receiver_net)
        self.client, self.router_client_side = f"198.18.{client_net}.2", f"198.18.{client_net}.1"
        self.receiver = f"198.18.{receiver_net}.2"
        self.router_receiver_side = f"198.18.{receiver_net}.1"
        self.run(self.client_ns, "ip", "route", "add", "default", "via", self.router_client_side)
        self.run(
            self.receiver_ns, "ip", "route", "add", "default", "via", self.router_receiver_side
        )
        self._nft(
            f"add table inet {_TABLE}",
            f"add chain inet {_TABLE} faults",
            f"add chain inet {_TABLE} forward {{ type filter hook forward priority 0 ; }}",
            f"add chain inet {_TABLE} input {{ type filter hook input priority 0 ; }}",
            f"add chain inet {_TABLE} output {{ type filter hook output priority 0 ; }}",
            f"add rule inet {_TABLE} forward jump faults",
            f"add chain inet {_TABLE} cut",
            f"add rule inet {_TABLE} forward jump cut",
            f"add rule inet {_TABLE} input jump cut",
            f"add rule inet {_TABLE} output jump cut",
        )
        return self

    def _link(self, side: str, ns: str, avoid: tuple[int, ...]) -> int:
        subnet = free_subnet(avoid=avoid)
        inside, router_side = self._links[side]
        _run("ip", "link", "add", inside, "type", "veth", "peer", "name", router_side)
        _run("ip", "link", "set", inside, "netns", ns)
        _run("ip", "link", "set", router_side, "netns", self.router_ns)
        self.run(ns, "ip", "addr", "add", f"198.18.{subnet}.2/30", "dev", inside)
        self.run(ns, "ip", "link", "set", inside, "up")
        self.run(self.router_ns, "ip", "addr", "add", f"198.18.{subnet}.1/30", "dev", router_side)
        self.run(self.router_ns, "ip", "link", "set", router_side, "up")
        return subnet

    def host_route_to_cloud(self) -> None:
        """Let this host (the test) reach the router's receiver-side address, where a
        cloud in the router namespace listens; the uplink goes with the lab."""
        host_side, router_side = self._uplink
        subnet = free_subnet(avoid=self._subnets)
        _run("ip", "link", "add", host_side, "type", "veth", "peer", "name", router_side)
        _run("ip", "link", "set", router_side, "netns", self.router_ns)
        _run("ip", "addr", "add", f"198.18.{subnet}.1/30", "dev", host_side)
        _run("ip", "link", "set", host_side, "up")
        self.run(self.router_ns, "ip", "addr", "add", f"198.18.{subnet}.2/30", "dev", router_side)
        self.run(self.router_ns, "ip", "link", "set", router_side, "up")
        _run("ip", "route", "add", f"{self.router_receiver_side}/32", "via", f"198.18.{subnet}.2")

    def destroy(self) -> None:
        self.stop_delay()
        _run("ip", "link", "del", self._uplink[0], check=False)  # its route goes with it
        for ns in (self.client_ns, self.receiver_ns, self.router_ns):
            _run("ip", "netns", "del", ns, check=False)

    def __enter__(self) -> FaultLab:
        return self.create()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.destroy()

    # -- running things -----------------------------------------------------
    @staticmethod
    def run(ns: str, *cmd: str) -> subprocess.CompletedProcess[str]:
        return _run("ip", "netns", "exec", ns, *cmd)

    @staticmethod
    def command(ns: str, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *cmd]

    def python(self, ns: str, *args: str) -> list[str]:
        return self.command(ns, sys.executable, *args)

    def _nft(self, *rules: str) -> None:
        for rule in rules:
            self.run(self.router_ns, "nft", *rule.split())

    # -- faults ---------------------------------------------------------------
    def cut(self, on: bool) -> None:
        """Pull the client's cable (on) or plug it back (off): nobody is told."""
        self._nft(f"flush chain inet {_TABLE} cut")
        if on:
            link = self._links["client"][1]
            self._nft(
                f"add rule inet {_TABLE} cut iifname {link} drop",
                f"add rule inet {_TABLE} cut oifname {link} drop",
            )

    def drop(self, percent: int) -> None:
        """Drop `percent` % of everything forwarded, both ways, at random (0: none)."""
        self._set_faults(f"numgen random mod 100 < {percent} drop" if percent else None)

    def block_udp(self) -> None:
        self._set_faults("meta l4proto udp drop")

    def refuse_tcp(self, port: int) -> None:
        """Connections to the receiver's `port` are reset; other traffic passes."""
        self._set_faults(f"ip daddr {self.receiver} tcp dport {port} reject with tcp reset")

    def clear(self) -> None:
        self._set_faults(None)

    def _set_faults(self, rule: str | None) -> None:
        self._nft(f"flush chain inet {_TABLE} faults")
        if rule is not None:
            self._nft(f"add rule inet {_TABLE} faults {rule}")

    def delay(self, ms: float, jitter_ms: float = 0.0, port: int = 47000) -> None:
        """Hold every UDP datagram between the hosts for `ms` (± `jitter_ms`), both ways."""
        self.stop_delay()
        self._relay = subprocess.Popen(
            self.python(
                self.router_ns,
                "-m",
                "tests.impairment_relay",
                f"--port={port}",
                f"--delay-ms={ms}",
                f"--jitter-ms={jitter_ms}",
            ),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )
        assert self._relay.stdout is not None
        ready = json.loads(self._relay.stdout.readline() or "{}")
        assert ready.get("event") == "ready", "the impairment relay did not start"
        if not self._diverting:
            self._diverting = True
            self.run(
                self.router_ns, "ip", "rule", "add", "fwmark", str(_MARK), "lookup", _ROUTE_TABLE
            )
            self.run(
                self.router_ns, "ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo",
                "table", _ROUTE_TABLE,
            )  # fmt: skip
        hosts = f"{{ {self.client}, {self.receiver} }}"
        self._nft(
            f"add chain inet {_TABLE} divert {{ type filter hook prerouting priority -150 ; }}",
            f"add rule inet {_TABLE} divert ip saddr {hosts} ip daddr {hosts} meta l4proto udp "
            f"tproxy ip to :{port} meta mark set {_MARK} accept",
        )

    def stop_delay(self) -> int | None:
        """Stop the relay; how many datagrams it relayed (None if none was running)."""
        relay, self._relay = self._relay, None
        if relay is None:
            return None
        _run("ip", "netns", "exec", self.router_ns, "nft", "delete", "chain", "inet", _TABLE,
             "divert", check=False)  # fmt: skip
        relay.terminate()
        out, _ = relay.communicate(timeout=10)
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        return next((int(r["relayed"]) for r in lines if r.get("event") == "result"), 0)


# -- programs in the lab ---------------------------------------------------------


class Lines:
    """A program's output lines as they come, each with when it came (monotonic)."""

    def __init__(self, stream: IO[str], parse: bool) -> None:
        self.lines: list[tuple[float, Any]] = []
        self._parse = parse
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            if line.strip():
                self.lines.append((time.monotonic(), json.loads(line) if self._parse else line))

    def wait_for(self, check: Callable[[Any], bool], timeout: float, what: str) -> Any:
        """The first line (from the start) that `check` accepts, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for at, line in self.lines[seen:]:
                seen += 1
                if check(line):
                    return at, line
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.05)

    def after(self, since: float) -> list[tuple[float, Any]]:
        return [(at, line) for at, line in list(self.lines) if at >= since]


class LabReceiver:
    """`montage-receiver --headless --status-json` in the receiver's namespace."""

    def __init__(
        self,
        lab: FaultLab,
        data_dir: Path,
        *extra: str,
        port: int = 8443,
        env: dict[str, str] | None = None,
    ) -> None:
        self.proc = subprocess.Popen(
            lab.python(
                lab.receiver_ns,
                "-m",
                "montage_receiver",
                "--headless",
                "--status-json",
                f"--bind={lab.receiver}",
                f"--port={port}",
                f"--data-dir={data_dir}",
                "--stats-interval=0.2",
                *extra,
            ),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ | {"PYTHONPATH": str(ROOT)} | (env or {}),
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.records = Lines(self.proc.stdout, parse=True)
        self.errors = Lines(self.proc.stderr, parse=False)
        try:
            self.ready_at, self.ready = self.records.wait_for(
                lambda r: r["event"] == "ready", 60, "the receiver to be ready"
            )
        except AssertionError as exc:
            log = "".join(line for _, line in self.errors.lines)
            self.kill()
            raise AssertionError(f"{exc}; its log:\n{log}") from None

    def frames(self, name: str) -> int:
        """Frames of presenter `name` in the newest stats line (0 before any)."""
        for _, record in reversed(list(self.records.lines)):
            if record["event"] == "stats":
                return max(
                    (p["frames"] for p in record["presenters"] if p["name"] == name), default=0
                )
        return 0

    def frames_resume_after(self, since: float, name: str, timeout: float = 30) -> float:
        """Seconds from `since` until the receiver shows new frames from `name`."""
        before = self.frames(name)
        at, _ = self.records.wait_for(
            lambda r: (
                r["event"] == "stats"
                and any(p["name"] == name and p["frames"] > before for p in r["presenters"])
            ),
            timeout,
            f"frames from {name} again",
        )
        return float(at - since)

    def stop(self) -> str:
        """Terminate; the log (stderr) it wrote."""
        stop_process(self.proc)
        return "".join(line for _, line in self.errors.lines)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


class LabClient:
    """`montage-client join` in the client's namespace, sharing `display`."""

    def __init__(
        self, lab: FaultLab, display: Xvfb, meeting_id: str, config: Path, *extra: str,
        port: int = 8443, env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.proc = subprocess.Popen(
            lab.python(
                lab.client_ns,
                "-m",
                "montage_client",
                f"--port={port}",
                "join",
                meeting_id,
                "--name=Lab",
                *extra,
            ),
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
            env=display.env(MONTAGE_CONFIG_DIR=str(config), PYTHONPATH=str(ROOT), **(env or {})),
        )
        assert self.proc.stderr is not None
        self.said = Lines(self.proc.stderr, parse=False)

    def wait_for(self, text: str, timeout: float = 30) -> float:
        at, _ = self.said.wait_for(lambda line: text in line, timeout, repr(text))
        return float(at)

    def last_words(self) -> str:
        lines = [line.strip() for _, line in self.said.lines]
        return lines[-1] if lines else ""

    def stop(self) -> int:
        stop_process(self.proc, signal.SIGINT)
        return int(self.proc.returncode)


def join(
    lab: FaultLab, display: Xvfb, receiver: LabReceiver, config: Path, *extra: str
) -> LabClient:
    """A client sharing to `receiver`, once its frames are arriving there."""
    client = LabClient(lab, display, receiver.ready["meeting_id"], config, *extra)
    client.wait_for("Sharing to")
    receiver.records.wait_for(
        lambda r: r["event"] == "stats" and any(p["frames"] > 10 for p in r["presenters"]),
        20,
        "frames at the receiver",
    )
    return client


@dataclass(frozen=True)
class GaveUp:
    """How a share ended under a cut longer than the client keeps trying."""

    after_s: float  # from the cut to the client's exit
    tile_freed_after_s: float  # from the cut to the receiver's presenter_left
    left: dict[str, Any]  # that presenter_left record


def cut_until_given_up(
    lab: FaultLab, receiver: LabReceiver, client: LabClient, timeout: float
) -> GaveUp:
    """Cut the link until the client gives up and the receiver frees the tile; then restore it."""
    try:
        lab.cut(True)
        cut_at = time.monotonic()
        client.proc.wait(timeout)
        gave_up = time.monotonic() - cut_at
        left_at, left = receiver.records.wait_for(
            lambda r: r["event"] == "presenter_left", timeout, "the tile to be freed"
        )
    finally:
        lab.cut(False)
    return GaveUp(gave_up, left_at - cut_at, left)


class LabProbe:
    """The benchmark's probe receiver (`bench.probe`) in the receiver's namespace.

    `window()` starts a measuring window, `result()` closes it and returns
    what it measured.
    """

    def __init__(self, lab: FaultLab, pin: str | None = None, port: int = 8443) -> None:
        self.proc = subprocess.Popen(
            lab.python(
                lab.receiver_ns,
                "-m",
                "bench.probe",
                f"--bind={lab.receiver}",
                f"--port={port}",
                *([f"--pin={pin}"] if pin else []),
            ),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdout is not None
        self.out = Lines(self.proc.stdout, parse=True)
        self.opened = False
        _, self.ready = self.out.wait_for(lambda r: r["event"] == "ready", 60, "the probe")

    def window(self) -> None:
        """Start (or restart) a measuring window."""
        self.opened = True
        self.proc.send_signal(signal.SIGUSR1)

    def result(self, timeout: float = 10) -> dict[str, Any]:
        """Close the open window and return its result."""
        assert self.opened, "no measuring window is open"
        self.opened = False
        count = len([1 for _, r in self.out.lines if r["event"] == "result"])
        self.proc.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while len(results := [r for _, r in self.out.lines if r["event"] == "result"]) <= count:
            assert time.monotonic() < deadline, "the probe printed no result"
            time.sleep(0.05)
        return dict(results[-1])

    def stop(self) -> None:
        stop_process(self.proc)


# -- a cloud in the router ------------------------------------------------------

# The lab's hosts sit in 198.18.0.0/15 (RFC 2544), which a production relay
# refuses to reach; everything else of the production policy stays.
_TEST_RANGE = "198.18.0.0-198.19.255.255"
RECEIVER_KEYRING = {"PYTHON_KEYRING_BACKEND": "tests.memory_keyring.MemoryKeyring"}


class LabCloud:
    """The dev cloud (REST, Prosody, coturn) in the router's namespace, cut with the client."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def token(self) -> str:
        async def make() -> str:
            made = await self.cloud.admin("POST", "/v1/admin/enrolment-tokens", {"org": "Lab"})
            return str(made["token"])

        return asyncio.run(make())

    def receiver_args(self) -> list[str]:
        """`montage-receiver` options that enrol it and open a cloud meeting."""
        cloud = self.cloud
        return [
            f"--cloud={cloud.api}",
            f"--token={self.token()}",
            f"--cloud-ca={cloud.ca}",
            f"--xmpp={cloud.xmpp}",
        ]

    def enrolled_client(self, config: Path) -> dict[str, str]:
        """Enrol a client (its files in `config`); the environment its program needs."""
        previous = keyring.get_keyring()
        ring = MemoryKeyring()
        keyring.set_keyring(ring)
        try:
            asyncio.run(
                enrol_device(
                    config / "cloud.json",
                    url=self.cloud.api,
                    token=self.token(),
                    kind="client",
                    name="Lab laptop",
                    ca_file=self.cloud.ca,
                    xmpp=self.cloud.xmpp,
                )
            )
        finally:
            keyring.set_keyring(previous)
        return {
            "PYTHON_KEYRING_BACKEND": "tests.memory_keyring.SeededKeyring",
            SEED_VARIABLE: seed(ring),
        }


@contextmanager
def router_cloud(lab: FaultLab, workdir: Path) -> Iterator[LabCloud]:
    workdir.mkdir(parents=True, exist_ok=True)
    lab.host_route_to_cloud()
    denied = [peer for peer in PRODUCTION_DENIED_PEERS if peer != _TEST_RANGE]
    code = (
        "import logging, sys\n"
        "from montage_cloud.dev import run_dev\n"
        "logging.basicConfig(level=logging.INFO)\n"
        f"sys.exit(run_dev(host={lab.router_receiver_side!r}, relay_denied_peers={denied!r}))\n"
    )
    prefix = ("ip", "netns", "exec", lab.router_ns)
    with dev_cloud(workdir, code, prefix=prefix) as (_, ready):
        yield LabCloud(cloud_from(ready))
