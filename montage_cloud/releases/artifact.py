"""What `release add` takes: a built app folder or a .tar.gz of one, and what it says it is.

A folder (PyInstaller's dist/montage-client/, or a source tree) is packed into a
tufup-style archive, its contents at the archive's root, with a
`montage-release.json` manifest (app, version, platform) added. An archive
made elsewhere (scripts/source_release.py) brings its own manifest; when it
does, it must agree with the command line, so a build is never published
under another version's number.
"""

from __future__ import annotations

import io
import json
import platform as host
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .repository import ARCHIVE_SUFFIX, ReleaseError

MANIFEST = "montage-release.json"


@dataclass(frozen=True)
class ArtifactInfo:
    app: str | None
    version: str | None
    platform: str | None


def platform_tag() -> str:
    """This machine's tag for frozen builds: linux-x86_64, windows-amd64, macos-arm64."""
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    return f"{system}-{host.machine().lower()}"


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
