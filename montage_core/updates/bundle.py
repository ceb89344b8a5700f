"""An offline update file (`*.montage-update`) read as if it were the repository.

The file is a tar holding the repository's metadata and one release
(written by `montage-cloud admin release bundle`; its layout is in
docs/updates.md). `BundleFetcher` answers python-tuf's requests from it, so a
bundle is verified exactly as a download is: against the root keys already
installed, the versions already seen, the expiry dates and the hashes.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient import FetcherInterface

from .errors import BadBundle

BUNDLE_SUFFIX = ".montage-update"
MANIFEST = "montage-update.json"
BASE_URL = "bundle://file/"
CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class BundleManifest:
    app: str
    platform: str
    version: str
    target: str


def read_manifest(path: Path) -> BundleManifest:
    """What the bundle says it holds (not yet verified: python-tuf does that)."""
    try:
        with tarfile.open(path, "r:") as bundle:
            member = bundle.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            data = json.loads(member.read())
        return BundleManifest(
            str(data["app"]), str(data["platform"]), str(data["version"]), str(data["target"])
        )
    except (OSError, tarfile.TarError, KeyError, ValueError, TypeError) as exc:
        raise BadBundle(
            f"{path.name} is not a Montage update file (made with `montage-cloud admin "
            f"release bundle`): {type(exc).__name__}."
        ) from None


class BundleFetcher(FetcherInterface):
    """Serves `bundle://file/metadata/…` and `bundle://file/targets/…` from the tar file."""

    def __init__(self, path: Path) -> None:
        self._tar = tarfile.open(path, "r:")  # noqa: SIM115  # closed by close()

    def _fetch(self, url: str) -> Iterator[bytes]:
        name = url.removeprefix(BASE_URL)
        try:
            member = self._tar.getmember(name)
        except KeyError:
            raise DownloadHTTPError(f"{name} is not in the bundle", 404) from None
        data = self._tar.extractfile(member) if member.isfile() else None
        if data is None:
            raise DownloadHTTPError(f"{name} is not a file in the bundle", 404)
        return iter(lambda: data.read(CHUNK_BYTES), b"")

    def close(self) -> None:
        self._tar.close()
