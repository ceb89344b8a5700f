"""Errors a person can meet on the way out through a proxy, each with a sentence.

Every sentence names the proxy (kind, host and port, never a password) and
what it refused, so "the proxy" in a support ticket is never ambiguous.
They are all exit code 4 of `montage-client` (unreachable), like a cloud
that cannot be reached.
"""

from __future__ import annotations

from montage_core.protocol.errors import InvalidInput, MontageError


class InvalidProxySetting(InvalidInput):
    """The proxy setting typed (`--proxy …`) is not one Montage understands."""


class NetworkProblem(MontageError):
    """A connection could not be made; `exit_code` 4 like an unreachable cloud."""

    exit_code = 4


class ConnectFailed(NetworkProblem):
    """A direct connection (no proxy) failed or timed out."""

    transient = True  # a network that blinked: a running share tries again


class ProxyProblem(NetworkProblem):
    """The proxy `proxy` ("HTTP proxy host:port") stood in the way."""

    def __init__(self, message: str, proxy: str) -> None:
        super().__init__(message)
        self.proxy = proxy


class ProxyUnreachable(ProxyProblem):
    """Nothing answers at the proxy's address and port."""

    transient = True  # a network that blinked: a running share tries again


class ProxyTimeout(ProxyProblem):
    """The proxy took longer than the allowed seconds to connect or to answer."""

    transient = True  # a network that blinked: a running share tries again


class ProxyAuthRefused(ProxyProblem):
    """The proxy wants a user name and password, or refused the ones given."""


class ProxyDenied(ProxyProblem):
    """The proxy accepted us but will not open a tunnel to that destination."""


class ProxyCannotReach(ProxyProblem):
    """The proxy tried to reach the destination for us and failed."""

    transient = True  # a network that blinked: a running share tries again


class PacUnavailable(NetworkProblem):
    """The proxy auto-configuration (PAC) file could not be fetched or run."""

    transient = True  # a network that blinked: a running share tries again
