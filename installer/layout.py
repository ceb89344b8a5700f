"""What an installer lays down: an installation that can update itself.

The same layout as `Installation.create` (montage_core/updates/installation.py):

    current                  the version to start, e.g. "0.1.0"
    versions/0.1.0/          the frozen folder from ./scripts/build.sh
    montage-client …         the launchers (montage_core/updates/launchers.py)
    update/root.json         the release keys to trust: the repository's metadata/root.json
    update/source.json       where updates come from: {"url", "ca_file"}
    update/ca.pem            only for a server whose certificate no public CA signed

The update files are the installer's, not the build's: one build can be
packaged for several repositories (production, a test server), and they
belong to the installation (the updater keeps what it has verified beside
them). Without them the program installs and runs, and `update` says that
this installation names no update server.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from installer.freeze_rules import built_version
from montage_core.updates.installation import CURRENT, UpdateSource
from montage_core.updates.launchers import LauncherFile, launcher_files

CA_NAME = "ca.pem"


class LayoutError(ValueError):
    pass


# Each program's folder in dist/ (from ./scripts/build.sh), and the product
# name its installers and archives carry.
PRODUCTS = {
    "client": ("montage-client", "Montage"),
    "receiver": ("montage-receiver", "Montage-Receiver"),
}


def built_folder(app: str, dist: Path) -> tuple[str, str, Path]:
    """(folder, product, the build's path) for `app`; LayoutError if it was not built."""
    folder, product = PRODUCTS[app]
    payload = (dist / folder).resolve()
    if not payload.is_dir():
        raise LayoutError(f"{payload} is missing: run ./scripts/build.sh first")
    return folder, product, payload


@dataclass(frozen=True)
class UpdateSettings:
    """The update/ folder an installer ships."""

    url: str
    root_json: Path
    ca_file: Path | None = None

    def files(self) -> dict[str, bytes]:
        """update/'s files by name."""
        try:
            root = self.root_json.read_bytes()
            signed = json.loads(root)["signed"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise LayoutError(f"{self.root_json} is not a repository's root.json ({exc})") from None
        if not isinstance(signed, dict) or signed.get("_type") != "root":
            raise LayoutError(f"{self.root_json} is not a repository's root.json")
        files = {"root.json": root}
        if self.ca_file is not None:
            files[CA_NAME] = self.ca_file.read_bytes()
        source = UpdateSource(self.url, CA_NAME if self.ca_file is not None else None)
        files["source.json"] = source.as_json().encode()
        return files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--updates-url", help="the update repository, e.g. https://…/updates")
    parser.add_argument(
        "--updates-root", type=Path, help="the repository's metadata/root.json (the keys to trust)"
    )
    parser.add_argument(
        "--updates-ca", type=Path, help="a CA file, for a server without a public certificate"
    )


def from_arguments(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> UpdateSettings | None:
    if args.updates_url is None and args.updates_root is None:
        return None
    if args.updates_url is None or args.updates_root is None:
        parser.error("--updates-url and --updates-root go together")
    return UpdateSettings(args.updates_url, args.updates_root, args.updates_ca)


@dataclass(frozen=True)
class Layout:
    """Where each part of the first installation goes, relative to its top."""

    version: str
    payload: Path  # the frozen folder, as versions/<version>/
    launchers: list[LauncherFile]
    updates: dict[str, bytes]  # update/<name>

    @property
    def version_folder(self) -> str:
        return f"versions/{self.version}"

    @property
    def current(self) -> tuple[str, bytes]:
        return CURRENT, f"{self.version}\n".encode()


def first_installation(
    app: str, payload: Path, updates: UpdateSettings | None, *, windows: bool = False
) -> Layout:
    try:
        version = built_version(payload)
    except ValueError as exc:
        raise LayoutError(str(exc)) from None
    return Layout(
        version, payload, launcher_files(app, windows), updates.files() if updates else {}
    )
