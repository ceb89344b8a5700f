"""Release versions: three numbers (0.2.0), compared as numbers, as the repository signs them."""

from __future__ import annotations

import re

VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def version_key(text: str) -> tuple[int, int, int] | None:
    """(major, minor, patch), or None for anything that is not a release version."""
    match = VERSION.match(text)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def is_newer(candidate: str, installed: str) -> bool:
    new, old = version_key(candidate), version_key(installed)
    return new is not None and (old is None or new > old)
