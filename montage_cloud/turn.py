"""Time-limited TURN credentials in coturn's `use-auth-secret` scheme (TURN REST API).

username = "<expiry unix seconds>:<device id>"
password = base64(HMAC-SHA1(shared secret, username))

coturn recomputes the password from the username with the same secret and
refuses it after the expiry; nothing is stored per credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TurnConfig:
    secret: str
    host: str
    tls_port: int = 443
    port: int = 3478
    ttl: int = 3600

    def uris(self) -> list[str]:
        # TURN over TLS on 443 first: it is what passes proxies and firewalls.
        return [
            f"turns:{self.host}:{self.tls_port}?transport=tcp",
            f"turn:{self.host}:{self.port}?transport=udp",
            f"turn:{self.host}:{self.port}?transport=tcp",
        ]


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    password: str
    ttl: int
    expires_at: int
    uris: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "password": self.password,
            "ttl": self.ttl,
            "expires_at": self.expires_at,
            "uris": list(self.uris),
        }


def turn_password(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def issue_turn_credentials(config: TurnConfig, device_id: str, now: float) -> TurnCredentials:
    expires_at = int(now) + config.ttl
    username = f"{expires_at}:{device_id}"
    return TurnCredentials(
        username=username,
        password=turn_password(config.secret, username),
        ttl=config.ttl,
        expires_at=expires_at,
        uris=tuple(config.uris()),
    )
