"""A throw-away PostgreSQL server for the tests: initdb into a temporary directory, start, stop.

PostgreSQL refuses to run as root, so as root the server runs as the
`postgres` system user (Debian's package makes it) or, failing that, as a
`montage-pg` system user created here. Writes are not synced to disk: the
data is gone after the session anyway.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

FALLBACK_USER = "montage-pg"


def find_server_binaries() -> Path | None:
    """The directory holding initdb/pg_ctl: PATH first, then Debian's versioned directories."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _server_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", FALLBACK_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
        check=True,
    )
    return FALLBACK_USER


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    directory: Path
    port: int
    user: str | None

    @property
    def dsn(self) -> str:
        return f"postgresql://montage@127.0.0.1:{self.port}/postgres"

    def _command(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return [*prefix, *args]

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = find_server_binaries()
        if bin_dir is None:
            raise RuntimeError(
                "PostgreSQL server binaries (initdb, pg_ctl) not found;"
                " install them with: apt-get install postgresql"
            )
        user = _server_user()
        directory = Path(tempfile.mkdtemp(prefix="montage-pg-"))
        if user:
            info = pwd.getpwnam(user)
            os.chown(directory, info.pw_uid, info.pw_gid)
        server = cls(bin_dir, directory, _free_port(), user)
        subprocess.run(
            server._command(
                str(bin_dir / "initdb"),
                "--pgdata",
                str(directory / "data"),
                "--username",
                "montage",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {server.port} -k {directory}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            server._command(
                str(bin_dir / "pg_ctl"),
                "--pgdata",
                str(directory / "data"),
                "--log",
                str(directory / "server.log"),
                "--wait",
                "--timeout",
                "30",
                "-o",
                options,
                "start",
            ),
            check=True,
            capture_output=True,
        )
        return server

    def stop(self) -> None:
        subprocess.run(
            self._command(
                str(self.bin_dir / "pg_ctl"),
                "--pgdata",
                str(self.directory / "data"),
                "--mode",
                "fast",
                "--wait",
                "stop",
            ),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.directory, ignore_errors=True)
