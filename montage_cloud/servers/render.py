"""Render production configuration files from deploy/'s templates.

    python -m montage_cloud.servers.render prosody --domain xmpp.example.com \\
        --cert /etc/prosody/certs/xmpp.example.com.crt \\
        --key /etc/prosody/certs/xmpp.example.com.key --out /etc/prosody/prosody.cfg.lua
    python -m montage_cloud.servers.render coturn --realm turn.example.com \\
        --cert /etc/coturn/fullchain.pem --key /etc/coturn/privkey.pem \\
        --secret-file /etc/montage/turn-secret --external-ip 203.0.113.7 \\
        --out /etc/turnserver.conf

The TURN secret is read from a file, never from the command line (where other
users can see it). Rendered files are written mode 0640: give them to the
server's group (`chgrp prosody` / `chgrp turnserver`), which must read them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from montage_cloud.servers.config import (
    PROSODY_MODULES,
    CoturnSettings,
    ProsodySettings,
    TemplateError,
    write_private,
)

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m montage_cloud.servers.render")
    servers = parser.add_subparsers(dest="server", required=True)

    prosody = servers.add_parser("prosody", help="prosody.cfg.lua")
    prosody.add_argument("--domain", required=True, help="the XMPP domain (VirtualHost)")
    prosody.add_argument("--admin-user", default="montage-admin")
    prosody.add_argument("--cert", type=Path, required=True)
    prosody.add_argument("--key", type=Path, required=True)
    prosody.add_argument("--ports", default="443,5223", help="direct TLS ports, comma-separated")
    prosody.add_argument("--interfaces", default="*", help="comma-separated addresses")
    prosody.add_argument("--data-dir", type=Path, default=Path("/var/lib/prosody"))
    prosody.add_argument("--plugin-dir", type=Path, default=PROSODY_MODULES)
    prosody.add_argument("--pid-file", type=Path, default=Path("/run/prosody/prosody.pid"))
    prosody.add_argument("--log-file", type=Path, default=Path("/var/log/prosody/prosody.log"))
    prosody.add_argument("--out", type=Path, required=True)

    coturn = servers.add_parser("coturn", help="turnserver.conf")
    coturn.add_argument("--realm", required=True)
    coturn.add_argument("--cert", type=Path, required=True)
    coturn.add_argument("--key", type=Path, required=True)
    coturn.add_argument("--secret-file", type=Path, required=True)
    coturn.add_argument("--listening-ip", action="append", default=[])
    coturn.add_argument("--relay-ip", action="append", default=[])
    coturn.add_argument("--external-ip", action="append", default=[], help="public[/private]")
    coturn.add_argument("--tls-port", type=int, default=443)
    coturn.add_argument("--udp-port", type=int, default=3478)
    coturn.add_argument("--pid-file", type=Path, default=Path("/run/turnserver/turnserver.pid"))
    coturn.add_argument("--log-file", type=Path, default=Path("/var/log/turnserver/turn.log"))
    coturn.add_argument("--userdb", type=Path, default=Path("/var/lib/turn/turndb"))
    coturn.add_argument("--out", type=Path, required=True)
    return parser


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def render(args: argparse.Namespace) -> str:
    if args.server == "prosody":
        return ProsodySettings(
            domain=args.domain,
            admin_jid=f"{args.admin_user}@{args.domain}",
            certificate=args.cert,
            key=args.key,
            certificates_dir=args.cert.parent,
            plugin_dir=args.plugin_dir,
            data_dir=args.data_dir,
            pid_file=args.pid_file,
            log_file=args.log_file,
            c2s_direct_tls_ports=[int(port) for port in _split(args.ports)],
            interfaces=_split(args.interfaces),
        ).render()
    return CoturnSettings(
        realm=args.realm,
        static_auth_secret=args.secret_file.read_text(encoding="utf-8").strip(),
        certificate=args.cert,
        key=args.key,
        pid_file=args.pid_file,
        log_file=args.log_file,
        userdb=args.userdb,
        listening_ips=args.listening_ip,
        relay_ips=args.relay_ip,
        external_ips=args.external_ip,
        listening_port=args.udp_port,
        tls_listening_port=args.tls_port,
    ).render()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        text = render(args)
    except (TemplateError, OSError, ValueError) as error:
        print(f"render: {error}", file=sys.stderr)
        return 2
    write_private(args.out, text, mode=0o640)
    print(f"render: wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
