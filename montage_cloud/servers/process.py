"""Start a server program, wait until it accepts connections, stop it cleanly."""

from __future__ import annotations

import logging
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)


class ServerError(RuntimeError):
    """A server would not start, or would not stop."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the server binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class ServerProcess:
    """One child process and the TCP endpoints that say it is ready."""

    def __init__(self, name: str, argv: Sequence[str], log_file: Path, cwd: Path) -> None:
        self.name = name
        self._argv = list(argv)
        self._log_file = log_file
        self._cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, ready: Sequence[tuple[str, int]], timeout: float = 20.0) -> None:
        """Run the program; return once every (host, port) in `ready` accepts TCP."""
        if self._process is not None:
            raise ServerError(f"{self.name} is already running")
        # The program's own stdout/stderr (start-up errors before its log file
        # opens) go to a file beside its log, never into ours: they may echo config.
        console = self._log_file.with_suffix(".console")
        with console.open("wb") as out:
            self._process = subprocess.Popen(
                self._argv,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal must not reach it first
            )
        logger.info("started %s (pid %d)", self.name, self._process.pid)
        deadline = time.monotonic() + timeout
        pending = list(ready)
        while pending:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise ServerError(
                    f"{self.name} exited with code {code} while starting:\n"
                    f"{_tail(console)}\n{_tail(self._log_file)}"
                )
            pending = [(h, p) for h, p in pending if not _accepts(h, p)]
            if not pending:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(
                    f"{self.name} did not accept connections on {pending} within "
                    f"{timeout:.0f} s:\n{_tail(self._log_file)}"
                )
            time.sleep(0.05)
        logger.info("%s accepts connections on %s", self.name, list(ready))

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("%s ignored SIGTERM for %.0f s; killing it", self.name, timeout)
            process.kill()
            process.wait(timeout)
        code = process.returncode
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        logger.info("stopped %s (%s)", self.name, how)
