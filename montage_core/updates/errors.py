"""Why an update was refused or could not be done, each with a sentence and an exit code.

`montage-client update` and `montage-receiver update` exit with these codes
(README, "Updates"); every refusal leaves the installed version as it was,
and its sentence says so.
"""

from __future__ import annotations

from montage_core.protocol.errors import InvalidInput, MontageError


class UpdateError(MontageError):
    """An update did not happen; the installed version still runs."""


class BadSignature(UpdateError):
    """Metadata not signed by the keys this installation trusts (tampering, another repository)."""

    exit_code = 10


class Rollback(UpdateError):
    """Older metadata or an older version than this installation has already seen."""

    exit_code = 11


class ExpiredMetadata(UpdateError):
    """Signed metadata past its expiry date (a frozen or replayed repository)."""

    exit_code = 12


class HashMismatch(UpdateError):
    """The downloaded file differs from the length and SHA-256 its metadata signed."""

    exit_code = 13


class NoNetwork(UpdateError):
    """The update server could not be reached, or the download stopped."""

    exit_code = 14


class ProxyRefusedUpdate(UpdateError):
    """The proxy stood in the way of the update server (its own sentence says how)."""

    exit_code = 15


class InstallFailed(UpdateError):
    """The verified release could not be put in place or would not start."""


class UpdatesNotSetUp(InvalidInput):
    """This copy was not installed with an update source (a developer's checkout)."""


class BadBundle(InvalidInput):
    """The offline update file is unreadable, not a bundle, or for another program."""
