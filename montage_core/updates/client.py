"""What the repository offers, verified by python-tuf, and each refusal in words.

`UpdateClient` is synchronous (python-tuf is): run it in a worker thread.
Everything it reports was checked by python-tuf's `Updater` against the
root keys the installation shipped with: signatures and thresholds,
version numbers never going back (rollback), expiry (freeze), snapshot
consistency (mix-and-match), and each release's length and SHA-256
(arbitrary package). The state python-tuf keeps between runs (the newest
versions seen) lives in `metadata_dir`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Targets
from tuf.ngclient import FetcherInterface, Updater

from montage_core.net.errors import ProxyProblem
from montage_core.protocol.errors import MontageError

from .errors import (
    BadSignature,
    ExpiredMetadata,
    HashMismatch,
    NoNetwork,
    ProxyRefusedUpdate,
    Rollback,
    UpdateError,
)
from .fetcher import DownloadCut
from .versions import is_newer, version_key

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AvailableRelease:
    """A release the signed targets metadata lists for this program."""

    app: str
    platform: str
    version: str
    notes: str
    target_path: str
    length: int


class UpdateClient:
    """One check-and-download session against a repository (or a bundle)."""

    def __init__(
        self,
        *,
        metadata_dir: Path,
        trusted_root: bytes,
        base_url: str,
        fetcher: FetcherInterface,
        installed: str,
        where: str,
    ) -> None:
        self.metadata_dir = metadata_dir
        self.installed = installed
        self.where = where  # the server's URL or the bundle's name, for sentences
        metadata_dir.mkdir(parents=True, exist_ok=True)
        base = base_url.rstrip("/") + "/"
        self._updater = Updater(
            metadata_dir=str(metadata_dir),
            metadata_base_url=base + "metadata/",
            target_base_url=base + "targets/",
            fetcher=fetcher,
            bootstrap=trusted_root,
        )
        self._refreshed = False

    def releases(self, app: str, platform: str) -> list[AvailableRelease]:
        """Every release for `app` on `platform`, oldest first (metadata verified first)."""
        self._refresh()
        # python-tuf keeps the targets metadata it has just verified in its
        # directory; reading it there lists the releases without its private state.
        targets = Metadata[Targets].from_bytes((self.metadata_dir / "targets.json").read_bytes())
        found = []
        for path, target in targets.signed.targets.items():
            custom = target.custom if isinstance(target.custom, dict) else {}
            version = str(custom.get("version", ""))
            if custom.get("app") != app or custom.get("platform") != platform:
                continue
            if version_key(version) is None:
                continue
            found.append(
                AvailableRelease(
                    app, platform, version, str(custom.get("notes", "")), path, target.length
                )
            )
        return sorted(found, key=lambda r: version_key(r.version) or (0, 0, 0))

    def newest(self, app: str, platform: str) -> AvailableRelease | None:
        """The newest release newer than the installed one, or None when up to date."""
        newer = [r for r in self.releases(app, platform) if is_newer(r.version, self.installed)]
        return newer[-1] if newer else None

    def download(self, release: AvailableRelease, into: Path) -> Path:
        """The release's archive in `into`, verified; a verified earlier download is reused."""
        self._refresh()
        try:
            info = self._updater.get_targetinfo(release.target_path)
            if info is None:
                raise HashMismatch(
                    f"The update was refused: {release.target_path} is not in the signed list "
                    f"of releases. Montage {self.installed} stays installed."
                )
            into.mkdir(parents=True, exist_ok=True)
            final = into / Path(release.target_path).name
            cached = self._updater.find_cached_target(info, str(final))
            if cached is not None:
                return Path(cached)
            partial = final.with_name(final.name + ".partial")
            self._updater.download_target(info, str(partial))
            os.replace(partial, final)
            return final
        except Exception as exc:
            raise self.refusal(exc) from exc

    def _refresh(self) -> None:
        if self._refreshed:
            return
        try:
            self._updater.refresh()
        except Exception as exc:
            raise self.refusal(exc) from exc
        self._refreshed = True

    def refusal(self, exc: BaseException) -> MontageError:
        """The sentence for what python-tuf or the transport refused."""
        stays = f"Montage {self.installed} stays installed."
        for cause in _chain(exc):
            if isinstance(cause, UpdateError):
                return cause
            if isinstance(cause, ProxyProblem):
                return ProxyRefusedUpdate(f"{cause} The update was not downloaded; {stays}")
            if isinstance(cause, tuf_errors.UnsignedMetadataError):
                return BadSignature(
                    f"The update was refused: it is not signed by the release keys this copy "
                    f"of Montage trusts (tampered with, or from another repository). {stays}"
                )
            if isinstance(cause, tuf_errors.ExpiredMetadataError):
                return ExpiredMetadata(
                    f"The update was refused: its signed release information from "
                    f"{self.where} has expired (an outdated or replayed copy). {stays}"
                )
            if isinstance(cause, tuf_errors.BadVersionNumberError):
                return Rollback(
                    f"The update was refused: {self.where} offered older release information "
                    f"than this computer has already seen (a rollback). {stays}"
                )
            if isinstance(cause, tuf_errors.LengthOrHashMismatchError | _LengthMismatch):
                return HashMismatch(
                    f"The update was refused: the downloaded file does not match the size and "
                    f"fingerprint its release keys signed (damaged or tampered with). {stays}"
                )
            if isinstance(cause, tuf_errors.DownloadHTTPError):
                return NoNetwork(
                    f"The update server at {self.where} answered HTTP {cause.status_code}. {stays}"
                )
        causes = _chain(exc)
        if any(isinstance(cause, DownloadCut) for cause in causes):
            return NoNetwork(
                f"The download from the update server at {self.where} stopped halfway "
                f"(the connection closed). Try again; {stays}"
            )
        # The innermost reason is the useful one ("Connect call failed"), not the
        # "Failed to download …" python-tuf wraps it in.
        for kinds in ((OSError, TimeoutError), (tuf_errors.DownloadError,)):
            reason = next((c for c in reversed(causes) if isinstance(c, kinds)), None)
            if reason is not None:
                why = str(reason) or type(reason).__name__
                return NoNetwork(
                    f"Could not reach the update server at {self.where} ({why}). Check the "
                    f"network and try again; {stays}"
                )
        if isinstance(exc, tuf_errors.RepositoryError):
            return BadSignature(
                f"The update was refused: the release information from {self.where} does "
                f"not verify ({exc}). {stays}"
            )
        return NoNetwork(f"The update from {self.where} failed ({exc!r}). {stays}")


_LengthMismatch = tuf_errors.DownloadLengthMismatchError


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
