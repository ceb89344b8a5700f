"""`--proxy auto`: a PAC file found by WPAD (DNS), honoured down to the tunnel.

A network namespace plays the office network: its hosts file names this
computer `pc.corp.montage.test` and `wpad.corp.montage.test` the host side
of the link, where this test serves /wpad.dat over HTTP on port 80. A
program started in that namespace (and a UTS namespace of its own, for its
host name) asks the real `ProxyResolver` — pypac's WPAD search, its HTTP
download, the PAC file run by pypac — for routes, then opens a tunnel.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path

import pytest

from tests import netns
from tests import proxy_servers as servers
from tests.dev_cloud import ROOT

REASON = netns.unavailable_reason() or (
    None if shutil.which("unshare") else "unshare (util-linux) is not installed"
)
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")

HOSTNAME = "pc.corp.montage.test"
# TEST-NET-2 (RFC 5737): never routed, so a tunnel attempt fails at once.
PROXY = "198.51.100.7"
WPAD = f"""
function FindProxyForURL(url, host) {{
    if (dnsDomainIs(host, ".cloud.example")) return "PROXY {PROXY}:3128";
    return "DIRECT";
}}
"""

PROGRAM = """
import asyncio, json
from montage_core.net import ProxyResolver, ProxySettings, open_tunnel
from montage_core.protocol.errors import MontageError

async def main():
    resolver = ProxyResolver(ProxySettings.parse("auto"))
    found = {}
    for host in ("api.cloud.example", "printer.corp.montage.test"):
        found[host] = [str(route) if route else "DIRECT" for route in
                       await resolver.routes_for(host, 443)]
    try:
        await open_tunnel("api.cloud.example", 443, resolver, timeout=5)
    except MontageError as exc:
        found["tunnel"] = str(exc)
    print(json.dumps(found))

asyncio.run(main())
"""


def test_wpad_finds_the_pac_file_and_its_proxy_is_used() -> None:
    with netns.Namespace("wp") as ns:
        etc = Path("/etc/netns") / ns.name
        etc.mkdir(parents=True, exist_ok=True)
        try:
            (etc / "hosts").write_text(
                f"127.0.0.1 localhost\n127.0.1.1 {HOSTNAME} pc\n{ns.local} wpad.corp.montage.test\n"
            )
            found = asyncio.run(asyncio.wait_for(_ask(ns), 60))
        finally:
            shutil.rmtree(etc, ignore_errors=True)
    assert found["api.cloud.example"] == [f"HTTP proxy {PROXY}:3128"]
    assert found["printer.corp.montage.test"] == ["DIRECT"]
    assert found["tunnel"].startswith(f"The HTTP proxy {PROXY}:3128 could not be reached")


async def _ask(ns: netns.Namespace) -> dict[str, str | list[str]]:
    async with servers.pac_server(ns.local, WPAD, path="/wpad.dat", port=80):
        program = await asyncio.create_subprocess_exec(
            *ns.command(
                "unshare",
                "--uts",
                "sh",
                "-c",
                f'hostname {HOSTNAME} && exec "$0" -c "$1"',
                sys.executable,
                PROGRAM,
            ),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await program.communicate()
    assert program.returncode == 0, err.decode()
    found: dict[str, str | list[str]] = json.loads(out)
    return found
