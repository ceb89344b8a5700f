"""An offline update: the TUF metadata and one release's archive in one file.

A room with no internet is updated from a USB drive. The receiver verifies
the file with the same TUF client and the same keys it already trusts, as if
the file were the repository (docs/updates.md, "Offline bundles"). Layout of
the tar file (uncompressed: the archive inside already is):

    montage-update.json                  {"format": 1, "app", "platform", "version", "target"}
    metadata/N.root.json …               every root version
    metadata/timestamp.json, metadata/N.snapshot.json, metadata/N.targets.json
    targets/<app>/<platform>/<sha256>.<app>-<version>.tar.gz

Making a bundle re-signs the snapshot and timestamp in the repository with the
bundle's lifetime (`days`), so the drive can sit in a drawer that long, and
the online repository moves on to the same versions (a receiver that later
goes online is not offered older metadata than the bundle gave it).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Mapping
from pathlib import Path

from .keys import RoleKey
from .repository import Release, ReleaseError, ReleaseRepository

BUNDLE_SUFFIX = ".montage-update"
BUNDLE_FORMAT = 1
MANIFEST = "montage-update.json"
DEFAULT_BUNDLE_DAYS = 30


def write_bundle(
    repository: ReleaseRepository,
    *,
    app: str,
    platform: str,
    version: str,
    out: Path,
    keys: Mapping[str, RoleKey],
    days: float = DEFAULT_BUNDLE_DAYS,
) -> Release:
    """Write the bundle for one release to `out` (renamed into place when complete)."""
    release = next(
        (
            r
            for r in repository.releases()
            if (r.app, r.platform, r.version) == (app, platform, version)
        ),
        None,
    )
    if release is None:
        raise ReleaseError(f"{app} {version} ({platform}) is not in the repository.")
    repository.refresh(keys, snapshot_days=days, timestamp_days=days)
    metadata = repository.metadata_dir
    snapshot_version = repository.timestamp().signed.snapshot_meta.version
    targets_version = repository.snapshot().signed.meta["targets.json"].version
    names = sorted(p.name for p in metadata.glob("*.root.json") if p.name[0].isdigit())
    names += [
        "timestamp.json",
        f"{snapshot_version}.snapshot.json",
        f"{targets_version}.targets.json",
    ]
    stored = repository.stored_target(release)
    manifest = {
        "format": BUNDLE_FORMAT,
        "app": app,
        "platform": platform,
        "version": version,
        "target": release.target_path,
    }
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w") as bundle:
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))
        for name in names:
            bundle.add(metadata / name, f"metadata/{name}")
        bundle.add(stored, stored.relative_to(repository.path).as_posix())
    os.replace(partial, out)
    return release
