"""`montage-client netcheck`: say in words what works on the way to the cloud."""

from __future__ import annotations

import argparse
import asyncio
import ssl

from montage_client.settings import chosen_proxy, config_dir
from montage_core.cloud.account import ACCOUNT_FILE, CloudAccount
from montage_core.net.netcheck import netcheck, netcheck_account
from montage_core.protocol.errors import InvalidInput


def run(args: argparse.Namespace) -> int:
    """`montage-client netcheck`: 0 when every checked step works, else 4."""
    settings = chosen_proxy(args.proxy)
    cloud, tls, domain = args.cloud, None, None
    xmpp, turn = _host_port("--xmpp", args.xmpp), _host_port("--turn", args.turn)
    if args.ca:
        tls = ssl.create_default_context()
        tls.load_verify_locations(cafile=args.ca)
    account = None
    if cloud is None:
        account = CloudAccount.load(config_dir() / ACCOUNT_FILE)
    if account is not None and xmpp is None and turn is None and not args.ca:
        # Everything from the enrolment, TURN included (asked of the cloud).
        findings = asyncio.run(netcheck_account(settings, account, timeout=args.timeout))
    else:
        if account is not None:
            cloud, tls = account.url, tls or account.tls()
            if xmpp is None:
                xmpp, domain = (account.xmpp_host, account.xmpp_port), account.jid.partition("@")[2]
        findings = asyncio.run(
            netcheck(
                settings,
                cloud,
                timeout=args.timeout,
                tls=tls,
                xmpp=xmpp,
                xmpp_domain=domain,
                turn=turn,
            )
        )
    for finding in findings:
        print(finding, flush=True)
    return 4 if any(f.ok is False for f in findings) else 0


def _host_port(option: str, text: str | None) -> tuple[str, int] | None:
    if text is None:
        return None
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"{option} takes HOST:PORT, e.g. cloud.example.org:443, not {text!r}.")
    return host.strip("[]"), int(port)
