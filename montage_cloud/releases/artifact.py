"""What `release add` takes: a built app folder or a .tar.gz of one, and what it says it is.

A folder (PyInstaller's dist/montage-client/, or a source tree) is packed into a
tufup-style archive, its contents at the archive's root, with a
`montage-release.json` manifest (app, version, platform) at the top. A frozen
build already carries that file, its stamp (montage_core/version.py: what
./scripts/build.sh was given and the build machine's platform); an archive made
elsewhere (scripts/source_release.py) brings its own. Either way it must agree
with the command line, so a build is never published under another version's
number, and it is published under the platform its updater asks for.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

from montage_core.version import STAMP, platform_tag, read_stamp

from .repository import ARCHIVE_SUFFIX, ReleaseError

MANIFEST = STAMP
__all__ = ["ArtifactInfo", "agree", "pack_folder", "platform_tag", "read_folder", "read_manifest"]


@dataclass(frozen=True)
class ArtifactInfo:
    app: str | None
    version: str | None
    platform: str | None


def read_manifest(archive: Path) -> ArtifactInfo:
    """The archive's own manifest, or nothing known when it has none."""
    try:
        with tarfile.open(archive, "r:gz") as packed:
            member = packed.extractfile(MANIFEST)
            data = json.loads(member.read()) if member is not None else {}
    except KeyError:
        data = {}
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise ReleaseError(f"{archive} is not a readable .tar.gz archive ({exc}).") from None
    return ArtifactInfo(data.get("app"), data.get("version"), data.get("platform"))


def read_folder(folder: Path) -> ArtifactInfo:
    """What a built folder's stamp says it is (nothing known for a folder without one)."""
    stamp = read_stamp(folder)
    if stamp is None:
        return ArtifactInfo(None, None, None)
    return ArtifactInfo(stamp.app, stamp.version, stamp.platform)


def pack_folder(folder: Path, out: Path, *, app: str, version: str, platform: str) -> Path:
    """`folder`'s contents plus a manifest as `out` (.tar.gz)."""
    if not out.name.endswith(ARCHIVE_SUFFIX):
        raise ReleaseError(f"{out} must end in {ARCHIVE_SUFFIX}.")
    manifest = json.dumps({"app": app, "version": version, "platform": platform}).encode()
    with tarfile.open(out, "w:gz", compresslevel=6) as packed:
        for child in sorted(folder.iterdir()):
            if child.name != MANIFEST:
                packed.add(child, child.name)
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(manifest)
        packed.addfile(info, io.BytesIO(manifest))
    return out


def agree(given: str | None, found: str | None, what: str, artifact: Path) -> str | None:
    """The value from the command line, checked against the manifest's."""
    if given is not None and found is not None and given != found:
        raise ReleaseError(f"{artifact} says its {what} is {found}, not {given}.")
    return given or found
