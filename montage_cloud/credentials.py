"""Random secrets and identifiers, and the hashes the server keeps of them.

Enrolment tokens and device secrets are 256-bit random strings, so a plain
SHA-256 is enough to store them: there is no low-entropy password to protect
from an offline guesser, and a fast hash lets us index and look them up.
"""

from __future__ import annotations

import hashlib
import re
import secrets

DEVICE_SECRET_PREFIX = "mcd_"
ENROLMENT_TOKEN_PREFIX = "mce_"
DEVICE_ID_PATTERN = r"^dev-[0-9a-f]{16}$"
_DEVICE_ID_RE = re.compile(DEVICE_ID_PATTERN)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_enrolment_token() -> str:
    return ENROLMENT_TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_device_secret() -> str:
    return DEVICE_SECRET_PREFIX + secrets.token_urlsafe(32)


def new_device_id() -> str:
    # Lower-case hex so that it is also a valid XMPP localpart as it is.
    return "dev-" + secrets.token_hex(8)


def is_device_id(text: str) -> bool:
    return _DEVICE_ID_RE.fullmatch(text) is not None


def new_xmpp_password() -> str:
    return secrets.token_urlsafe(24)
