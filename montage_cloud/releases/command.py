"""`montage-cloud admin release …`: start, add to, sign and bundle the update repository.

    release init                         keys (if missing) and a new repository
    release add ARTIFACT --version V     publish a built app folder or .tar.gz, signed
    release list                         what the repository offers
    release refresh [--days N]           re-sign snapshot and timestamp (run daily)
    release bundle --app A --version V --out FILE   an offline update for a USB drive
    release rotate ROLE                  replace a role's key (needs the root key)
    release renew-root                   the same keys, valid another year (needs the root key)

The repository is a directory served as static files (`serve --updates DIR`);
the keys are PEM files in another (`--keys`), the root key best on a drive
that is only plugged in for `init` and `rotate` (`--root-key`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .artifact import agree, pack_folder, platform_tag, read_folder, read_manifest
from .bundle import BUNDLE_SUFFIX, DEFAULT_BUNDLE_DAYS, write_bundle
from .keys import ONLINE_ROLES, ROLES, KeyMissing, RoleKey, generate_key, key_path, load_key
from .repository import ReleaseError, ReleaseRepository

EXIT_INVALID = 2


def default_repository() -> Path:
    if path := os.environ.get("MONTAGE_CLOUD_UPDATES"):
        return Path(path)
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "montage-cloud" / "updates"


def default_keys() -> Path:
    if path := os.environ.get("MONTAGE_CLOUD_UPDATE_KEYS"):
        return Path(path)
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "montage-cloud" / "update-keys"


def add_release_commands(
    admin_commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--repo",
        type=Path,
        default=None,
        help="the repository directory (default: $MONTAGE_CLOUD_UPDATES, else "
        "~/.local/share/montage-cloud/updates)",
    )
    common.add_argument(
        "--keys",
        type=Path,
        default=None,
        help="directory of the targets, snapshot and timestamp keys (default: "
        "$MONTAGE_CLOUD_UPDATE_KEYS, else ~/.config/montage-cloud/update-keys)",
    )
    common.add_argument(
        "--root-key", type=Path, help="the root key's file (default: root.pem in --keys)"
    )
    release = admin_commands.add_parser("release", help="signed updates for clients and receivers")
    commands = release.add_subparsers(dest="release_command", required=True)
    commands.add_parser("init", parents=[common], help="create keys and a new repository")
    add = commands.add_parser("add", parents=[common], help="publish a build, signed")
    add.add_argument("artifact", type=Path, help="a built app folder or a .tar.gz of one")
    add.add_argument("--version", required=True, help="the release's version, e.g. 0.2.0")
    add.add_argument("--app", help="montage-client or montage-receiver (default: the artifact's)")
    add.add_argument(
        "--platform",
        help="source, or the build's platform such as linux-x86_64 (default: the artifact's, "
        "else this machine's)",
    )
    notes = add.add_mutually_exclusive_group()
    notes.add_argument("--notes", default="", help="release notes shown to people")
    notes.add_argument("--notes-file", type=Path, help="release notes from a text file")
    commands.add_parser("list", parents=[common], help="list the releases")
    refresh = commands.add_parser(
        "refresh", parents=[common], help="re-sign snapshot and timestamp (run daily)"
    )
    refresh.add_argument("--days", type=float, default=None, help="timestamp lifetime in days")
    bundle = commands.add_parser(
        "bundle", parents=[common], help="one release and its metadata in one file, for a USB drive"
    )
    bundle.add_argument("--app", required=True)
    bundle.add_argument("--version", required=True)
    bundle.add_argument(
        "--platform", help="the release's platform (default: the only one with that version)"
    )
    bundle.add_argument("--out", type=Path, required=True, help=f"the file (*{BUNDLE_SUFFIX})")
    bundle.add_argument(
        "--days",
        type=float,
        default=DEFAULT_BUNDLE_DAYS,
        help=f"how long the bundle stays valid (default {DEFAULT_BUNDLE_DAYS})",
    )
    rotate = commands.add_parser("rotate", parents=[common], help="replace one role's key")
    rotate.add_argument("role", choices=ROLES)
    commands.add_parser(
        "renew-root", parents=[common], help="re-sign root for another year (yearly)"
    )


def run_release(args: argparse.Namespace) -> int:
    """Run one `admin release` command; errors are one sentence on stderr, exit 2."""
    repository = ReleaseRepository(args.repo or default_repository())
    keys_dir: Path = args.keys or default_keys()
    root_key: Path = args.root_key or key_path(keys_dir, "root")
    try:
        return _run(args.release_command, args, repository, keys_dir, root_key)
    except (ReleaseError, KeyMissing) as exc:
        print(f"montage-cloud: {exc}", file=sys.stderr)
        return EXIT_INVALID


def _run(
    command: str,
    args: argparse.Namespace,
    repository: ReleaseRepository,
    keys_dir: Path,
    root_key: Path,
) -> int:
    if command == "init":
        for role in ONLINE_ROLES:
            if not key_path(keys_dir, role).exists():
                generate_key(key_path(keys_dir, role))
        if not root_key.exists():
            generate_key(root_key)
        root_json = repository.create(_keys(keys_dir, root_key, ROLES))
        print(f"Created the repository in {repository.path}.", file=sys.stderr)
        print(
            f"Ship {root_json} with every build (the apps' trust anchor), and move the root "
            f"key {root_key} to an offline drive (deploy/updates.md).",
            file=sys.stderr,
        )
        return 0
    if command == "list":
        for release in repository.releases():
            print(f"{release.app}  {release.version}  {release.platform}  {release.length} bytes")
        return 0
    if command == "add":
        return _add(args, repository, _keys(keys_dir, root_key, ONLINE_ROLES))
    if command == "refresh":
        keys = _keys(keys_dir, root_key, ("snapshot", "timestamp"))
        expires = (
            repository.refresh(keys, timestamp_days=args.days)
            if args.days is not None
            else repository.refresh(keys)
        )
        print(f"Timestamp re-signed; valid until {expires:%Y-%m-%d %H:%M} UTC.", file=sys.stderr)
        return 0
    if command == "bundle":
        if not args.out.name.endswith(BUNDLE_SUFFIX):
            raise ReleaseError(f"The bundle's name must end in {BUNDLE_SUFFIX}.")
        release = write_bundle(
            repository,
            app=args.app,
            platform=args.platform or _only_platform(repository, args.app, args.version),
            version=args.version,
            out=args.out,
            keys=_keys(keys_dir, root_key, ("snapshot", "timestamp")),
            days=args.days,
        )
        print(f"Wrote {args.out}: {release.app} {release.version}.", file=sys.stderr)
        return 0
    if command == "renew-root":
        version = repository.renew_root(load_key(root_key, "root"))
        print(f"Root re-signed (version {version}), valid for a year.", file=sys.stderr)
        return 0
    # rotate
    role = args.role
    keys = _keys(keys_dir, root_key, ROLES)
    replaced = root_key if role == "root" else key_path(keys_dir, role)
    fresh_path = replaced.with_name(replaced.name + ".new")
    fresh_path.unlink(missing_ok=True)
    generate_key(fresh_path)
    version = repository.rotate_key(role, load_key(fresh_path, role), keys)
    os.replace(fresh_path, replaced)
    print(f"The {role} key is replaced (root version {version}).", file=sys.stderr)
    return 0


def _add(args: argparse.Namespace, repository: ReleaseRepository, keys: dict[str, RoleKey]) -> int:
    artifact: Path = args.artifact
    notes = args.notes_file.read_text(encoding="utf-8") if args.notes_file else args.notes
    with tempfile.TemporaryDirectory(prefix="montage-release-") as scratch:
        if artifact.is_dir():
            found = read_folder(artifact)
            agree(args.version, found.version, "version", artifact)
            app = agree(args.app, found.app, "app", artifact) or artifact.name
            platform = agree(args.platform, found.platform, "platform", artifact) or platform_tag()
            archive = pack_folder(
                artifact,
                Path(scratch) / f"{app}-{args.version}.tar.gz",
                app=app,
                version=args.version,
                platform=platform,
            )
        elif artifact.is_file():
            found = read_manifest(artifact)
            agree(args.version, found.version, "version", artifact)
            app = agree(args.app, found.app, "app", artifact) or ""
            platform = agree(args.platform, found.platform, "platform", artifact) or platform_tag()
            if not app:
                raise ReleaseError(f"Say which app {artifact} is with --app.")
            archive = artifact
        else:
            raise ReleaseError(f"{artifact} does not exist.")
        release = repository.add_release(
            archive, app=app, platform=platform, version=args.version, notes=notes, keys=keys
        )
    print(
        f"Released {release.app} {release.version} ({release.platform}), "
        f"{release.length} bytes, signed.",
        file=sys.stderr,
    )
    return 0


def _only_platform(repository: ReleaseRepository, app: str, version: str) -> str:
    platforms = sorted(
        {r.platform for r in repository.releases() if (r.app, r.version) == (app, version)}
    )
    if len(platforms) == 1:
        return platforms[0]
    if not platforms:
        raise ReleaseError(f"{app} {version} is not in the repository.")
    raise ReleaseError(
        f"{app} {version} exists for {', '.join(platforms)}: say which with --platform."
    )


def _keys(keys_dir: Path, root_key: Path, roles: tuple[str, ...]) -> dict[str, RoleKey]:
    return {
        role: load_key(root_key if role == "root" else key_path(keys_dir, role), role)
        for role in roles
    }
