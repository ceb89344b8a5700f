"""The TUF repository on disk: metadata/ and targets/, served as static files.

Layout (consistent snapshots, so a client mid-download while a release is
added still sees one coherent set; see docs/updates.md):

    metadata/N.root.json        every root version (clients walk the chain)
    metadata/root.json          the newest root, the trust anchor shipped with builds
    metadata/N.targets.json     which releases exist: length, SHA-256, version, notes
    metadata/N.snapshot.json    which targets version is current
    metadata/timestamp.json     which snapshot is current (short-lived)
    targets/<app>/<platform>/<sha256>.<app>-<version>.tar.gz

Each write goes to a temporary name first and is renamed into place, files
a new state needs before the file that points at them (targets, snapshot,
then timestamp), so a client never reads a half-written repository.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from .keys import RoleKey

# How long each role's signature holds before it must be renewed (days).
ROOT_DAYS = 365
TARGETS_DAYS = 365
SNAPSHOT_DAYS = 30
TIMESTAMP_DAYS = 7
ARCHIVE_SUFFIX = ".tar.gz"
VERSION = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
APP = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
PLATFORM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

S = TypeVar("S", Root, Timestamp, Snapshot, Targets)


class ReleaseError(Exception):
    """A release command cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class Release:
    """One signed release as the targets metadata lists it."""

    app: str
    platform: str
    version: str
    notes: str
    target_path: str
    length: int
    sha256: str


def target_path(app: str, platform: str, version: str) -> str:
    """The name a release has in the targets metadata (tufup-style archive names)."""
    return f"{app}/{platform}/{app}-{version}{ARCHIVE_SUFFIX}"


def expiry(days: float, now: datetime | None = None) -> datetime:
    return ((now or datetime.now(UTC)) + timedelta(days=days)).replace(microsecond=0)


class ReleaseRepository:
    """A repository directory; every method reads the newest state from disk first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.metadata_dir = path / "metadata"
        self.targets_dir = path / "targets"

    # -- creating -------------------------------------------------------------

    def create(self, keys: Mapping[str, RoleKey]) -> Path:
        """A new repository signed by `keys` (one per role); returns root.json's path."""
        if (self.metadata_dir / "1.root.json").exists():
            raise ReleaseError(f"{self.path} already holds a release repository.")
        root = Root(expires=expiry(ROOT_DAYS), consistent_snapshot=True)
        for role, key in keys.items():
            root.add_key(key.public, role)
        root_md = Metadata(root)
        root_md.sign(keys["root"].signer)
        targets = Metadata(Targets(expires=expiry(TARGETS_DAYS)))
        targets.sign(keys["targets"].signer)
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        self._write_root(root_md)
        self._write(f"{targets.signed.version}.targets.json", targets)
        self._publish(targets.signed.version, keys)
        return self.metadata_dir / "root.json"

    # -- reading --------------------------------------------------------------

    def root(self) -> Metadata[Root]:
        versions = sorted(
            int(p.name.split(".")[0])
            for p in self.metadata_dir.glob("*.root.json")
            if p.name.split(".")[0].isdigit()
        )
        if not versions:
            raise ReleaseError(
                f"{self.path} holds no release repository: run `montage-cloud admin release "
                "init` first."
            )
        return self._read(f"{versions[-1]}.root.json", Root)

    def timestamp(self) -> Metadata[Timestamp]:
        return self._read("timestamp.json", Timestamp)

    def snapshot(self) -> Metadata[Snapshot]:
        version = self.timestamp().signed.snapshot_meta.version
        return self._read(f"{version}.snapshot.json", Snapshot)

    def targets(self) -> Metadata[Targets]:
        version = self.snapshot().signed.meta["targets.json"].version
        return self._read(f"{version}.targets.json", Targets)

    def releases(self) -> list[Release]:
        found = []
        for path, target in self.targets().signed.targets.items():
            custom = target.custom if isinstance(target.custom, dict) else {}
            found.append(
                Release(
                    app=str(custom.get("app", "")),
                    platform=str(custom.get("platform", "")),
                    version=str(custom.get("version", "")),
                    notes=str(custom.get("notes", "")),
                    target_path=path,
                    length=target.length,
                    sha256=target.hashes.get("sha256", ""),
                )
            )
        return sorted(found, key=lambda r: (r.app, r.platform, _version_key(r.version)))

    def stored_target(self, release: Release) -> Path:
        """Where the release's file lies (consistent snapshots: its hash in the name)."""
        directory, _, name = release.target_path.rpartition("/")
        return self.targets_dir / directory / f"{release.sha256}.{name}"

    # -- changing -------------------------------------------------------------

    def add_release(
        self,
        archive: Path,
        *,
        app: str,
        platform: str,
        version: str,
        notes: str,
        keys: Mapping[str, RoleKey],
    ) -> Release:
        """Copy `archive` in, list it in new targets metadata, and publish."""
        _check_names(app, platform, version)
        if not archive.name.endswith(ARCHIVE_SUFFIX) or not archive.is_file():
            raise ReleaseError(f"{archive} is not a {ARCHIVE_SUFFIX} archive.")
        targets = self.targets()
        path = target_path(app, platform, version)
        if path in targets.signed.targets:
            raise ReleaseError(f"{app} {version} ({platform}) is already released.")
        target = TargetFile.from_file(path, str(archive), ["sha256"])
        target.unrecognized_fields["custom"] = {
            "app": app,
            "platform": platform,
            "version": version,
            "notes": notes,
        }
        sha256 = target.hashes["sha256"]
        release = Release(app, platform, version, notes, path, target.length, sha256)
        stored = self.stored_target(release)
        stored.parent.mkdir(parents=True, exist_ok=True)
        partial = stored.with_name(stored.name + ".partial")
        shutil.copyfile(archive, partial)
        os.replace(partial, stored)
        targets.signed.targets[path] = target
        targets.signed.version += 1
        targets.signed.expires = expiry(TARGETS_DAYS)
        targets.sign(keys["targets"].signer)
        self._write(f"{targets.signed.version}.targets.json", targets)
        self._publish(targets.signed.version, keys)
        return release

    def refresh(
        self,
        keys: Mapping[str, RoleKey],
        *,
        snapshot_days: float = SNAPSHOT_DAYS,
        timestamp_days: float = TIMESTAMP_DAYS,
    ) -> datetime:
        """New snapshot and timestamp signatures (the daily job); returns their expiry."""
        targets_version = self.snapshot().signed.meta["targets.json"].version
        return self._publish(
            targets_version, keys, snapshot_days=snapshot_days, timestamp_days=timestamp_days
        )

    def sign_timestamp(self, key: RoleKey, expires: datetime) -> None:
        """Re-sign the current timestamp with `expires` as given (tests, and an
        operator who needs a particular lifetime)."""
        timestamp = self.timestamp()
        timestamp.signed.version += 1
        timestamp.signed.expires = expires
        timestamp.sign(key.signer)
        self._write("timestamp.json", timestamp)

    def renew_root(self, root_key: RoleKey) -> int:
        """The same keys in a new root version valid another year; returns its version."""
        root = self.root()
        root.signed.version += 1
        root.signed.expires = expiry(ROOT_DAYS)
        root.sign(root_key.signer)
        self._write_root(root)
        return root.signed.version

    def rotate_key(self, role: str, new_key: RoleKey, keys: Mapping[str, RoleKey]) -> int:
        """Replace `role`'s key in a new root version signed by the root key (and, for
        root itself, by the new root key too, as clients require); returns its version."""
        root = self.root()
        for keyid in list(root.signed.roles[role].keyids):
            root.signed.revoke_key(keyid, role)
        root.signed.add_key(new_key.public, role)
        root.signed.version += 1
        root.signed.expires = expiry(ROOT_DAYS)
        root.sign(keys["root"].signer)
        if role == "root":
            root.sign(new_key.signer, append=True)
        self._write_root(root)
        signers = {**keys, role: new_key}
        if role in ("targets", "snapshot", "timestamp"):
            targets = self.targets()
            if role == "targets":  # clients check targets against the new key at once
                targets.signed.version += 1
                targets.sign(signers["targets"].signer)
                self._write(f"{targets.signed.version}.targets.json", targets)
            self._publish(targets.signed.version, signers)
        return root.signed.version

    # -- writing --------------------------------------------------------------

    def _publish(
        self,
        targets_version: int,
        keys: Mapping[str, RoleKey],
        *,
        snapshot_days: float = SNAPSHOT_DAYS,
        timestamp_days: float = TIMESTAMP_DAYS,
    ) -> datetime:
        try:
            previous = self.snapshot().signed.version
            timestamp_version = self.timestamp().signed.version
        except FileNotFoundError:  # a new repository
            previous = timestamp_version = 0
        snapshot = Metadata(
            Snapshot(
                version=previous + 1,
                expires=expiry(snapshot_days),
                meta={"targets.json": MetaFile(version=targets_version)},
            )
        )
        snapshot.sign(keys["snapshot"].signer)
        self._write(f"{snapshot.signed.version}.snapshot.json", snapshot)
        expires = expiry(timestamp_days)
        timestamp = Metadata(
            Timestamp(
                version=timestamp_version + 1,
                expires=expires,
                snapshot_meta=MetaFile(version=snapshot.signed.version),
            )
        )
        timestamp.sign(keys["timestamp"].signer)
        self._write("timestamp.json", timestamp)
        return expires

    def _write_root(self, root: Metadata[Root]) -> None:
        self._write(f"{root.signed.version}.root.json", root)
        self._write("root.json", root)

    def _write(self, name: str, metadata: Metadata[Any]) -> None:
        data = metadata.to_bytes(JSONSerializer(compact=False))
        fd, temporary = tempfile.mkstemp(dir=self.metadata_dir, prefix=f".{name}.")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o644)  # served to anyone: nothing secret in metadata
        os.replace(temporary, self.metadata_dir / name)

    def _read(self, name: str, kind: type[S]) -> Metadata[S]:
        metadata = Metadata[Any].from_bytes((self.metadata_dir / name).read_bytes())
        if not isinstance(metadata.signed, kind):
            raise ReleaseError(f"{name} is not {kind.type} metadata.")
        return metadata


def _check_names(app: str, platform: str, version: str) -> None:
    if not VERSION.match(version):
        raise ReleaseError(f"{version!r} is not a release version: use three numbers, e.g. 0.2.0.")
    if not APP.match(app):
        raise ReleaseError(f"{app!r} is not an app name (e.g. montage-client).")
    if not PLATFORM.match(platform):
        raise ReleaseError(f"{platform!r} is not a platform tag (e.g. source, linux-x86_64).")


def _version_key(version: str) -> tuple[int, ...]:
    match = VERSION.match(version)
    return tuple(int(part) for part in match.groups()) if match else (-1,)
