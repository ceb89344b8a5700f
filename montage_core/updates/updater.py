"""One program's updates: check, download and verify, install, restart. Synchronous:
the apps call these from a worker thread (`asyncio.to_thread`), never on their loop."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from montage_core.net import ProxySettings

from .bundle import BASE_URL, BundleFetcher, read_manifest
from .client import AvailableRelease, UpdateClient
from .errors import BadBundle, InstallFailed, Rollback
from .fetcher import ProxiedFetcher
from .installation import Installation
from .versions import is_newer

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # bytes so far, bytes in all


class AppUpdater:
    """Updates for the installation `installation` of the program running as `installed`."""

    def __init__(
        self, installation: Installation, installed: str, proxy: ProxySettings | None = None
    ) -> None:
        self.installation = installation
        self.installed = installed
        self.proxy = proxy or ProxySettings()

    def check(self) -> AvailableRelease | None:
        """The newest release for this program, or None when up to date."""
        with self._online() as (client, _fetcher):
            return client.newest(self.installation.app, self.installation.form.platform)

    def install(self, release: AvailableRelease, progress: Progress | None = None) -> str:
        """Download, verify and install `release`; returns its version (restart next)."""
        with self._locked(), self._online() as (client, fetcher):
            if progress is not None:
                received = 0

                def count(size: int) -> None:
                    nonlocal received
                    received += size
                    progress(received, release.length)

                fetcher.on_bytes = count
            archive = client.download(release, self.installation.downloads)
            return self._put_in_place(archive, release.version)

    def check_bundle(self, path: Path) -> AvailableRelease:
        """What an offline update file holds, verified against the installed keys."""
        with self._bundle(path) as client:
            return self._bundled_release(client, path)

    def install_bundle(self, path: Path) -> str:
        """Verify and install an offline update file; returns its version (restart next)."""
        with self._locked(), self._bundle(path) as client:
            release = self._bundled_release(client, path)
            archive = client.download(release, self.installation.downloads)
            return self._put_in_place(archive, release.version)

    def restart(self, args: list[str]) -> None:
        """Replace this process with the current version (`args` as its arguments)."""
        command, env = self.installation.restart_command(args)
        logger.info("restarting into %s", command)
        sys.stdout.flush()
        sys.stderr.flush()
        if sys.platform == "win32":
            # Windows has no exec (os.execv starts a new process and leaves this one
            # running): start the new version and end this one, as exec would.
            subprocess.Popen(command, env=env, close_fds=True)
            os._exit(0)
        os.execve(command[0], command, env)

    # -- inside ---------------------------------------------------------------

    def _put_in_place(self, archive: Path, version: str) -> str:
        installation = self.installation
        previous = installation.current_version()
        installation.stage(archive, version)
        try:
            installation.probe(version)
        except InstallFailed:
            # A build that cannot start is of no use later either (and a frozen one is
            # hundreds of megabytes): only the versions that ran stay.
            installation.discard(version)
            raise
        installation.switch(version)
        installation.prune({previous, version})
        for old in installation.downloads.glob("*"):
            if old != archive:
                old.unlink(missing_ok=True)
        logger.info("installed %s %s (was %s)", installation.app, version, previous)
        return version

    def _bundled_release(self, client: UpdateClient, path: Path) -> AvailableRelease:
        manifest = read_manifest(path)
        app, platform = self.installation.app, self.installation.form.platform
        if (manifest.app, manifest.platform) != (app, platform):
            raise BadBundle(
                f"{path.name} holds {manifest.app} ({manifest.platform}), not {app} "
                f"({platform}); nothing was changed."
            )
        # Verified now: the metadata the bundle carries must list what its manifest says.
        release = next(
            (r for r in client.releases(app, platform) if r.target_path == manifest.target),
            None,
        )
        if release is None:
            raise BadBundle(f"{path.name} lists no signed release of {app}; nothing was changed.")
        if not is_newer(release.version, self.installed):
            raise Rollback(
                f"The update was refused: {path.name} holds Montage {release.version}, which "
                f"is not newer than the {self.installed} installed. Montage {self.installed} "
                "stays installed."
            )
        return release

    @contextlib.contextmanager
    def _online(self) -> Iterator[tuple[UpdateClient, ProxiedFetcher]]:
        source = self.installation.source()
        self.installation.ensure_writable()
        fetcher = ProxiedFetcher(source.url, self.proxy, ca_file=source.ca_file)
        try:
            client = UpdateClient(
                metadata_dir=self.installation.metadata_dir,
                trusted_root=self.installation.trusted_root(),
                base_url=source.url,
                fetcher=fetcher,
                installed=self.installed,
                where=source.url,
            )
            yield client, fetcher
        finally:
            fetcher.close()

    @contextlib.contextmanager
    def _bundle(self, path: Path) -> Iterator[UpdateClient]:
        read_manifest(path)  # a sentence for a file that is no bundle at all
        self.installation.ensure_writable()
        fetcher = BundleFetcher(path)
        try:
            yield UpdateClient(
                metadata_dir=self.installation.metadata_dir,
                trusted_root=self.installation.trusted_root(),
                base_url=BASE_URL,
                fetcher=fetcher,
                installed=self.installed,
                where=path.name,
            )
        finally:
            fetcher.close()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One install at a time per installation (the window and a script, say)."""
        self.installation.ensure_writable()
        with (self.installation.update_dir / "lock").open("w") as lock:
            try:
                import fcntl
            except ImportError:  # Windows: the installer's single-instance rule applies
                yield
                return
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
