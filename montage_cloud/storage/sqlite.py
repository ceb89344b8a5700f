"""SQLite back-end: the embedded default, one file, no set-up.

sqlite3 blocks, so every statement runs on one dedicated thread that owns the
connection; the event loop only awaits it. Autocommit mode makes each
statement its own transaction, and WAL plus a busy timeout let several
processes share the file (the unique key still decides meeting-ID races).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from montage_cloud.storage.base import StorageUnavailable
from montage_cloud.storage.sql import SCHEMA, Row, SqlStorage

logger = logging.getLogger(__name__)


class SqliteStorage(SqlStorage):
    def __init__(self, connection: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._connection = connection
        self._executor = executor

    @classmethod
    async def open(cls, path: str | Path) -> SqliteStorage:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")

        def connect() -> sqlite3.Connection:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=10
            )
            _enable_wal(connection)
            for statement in SCHEMA:
                connection.execute(statement)
            return connection

        try:
            connection = await asyncio.get_running_loop().run_in_executor(executor, connect)
        except (sqlite3.Error, OSError) as exc:
            executor.shutdown(wait=False)
            raise StorageUnavailable(f"cannot open {path}: {exc}") from exc
        logger.info("SQLite storage at %s", path)
        return cls(connection, executor)

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        def run() -> list[Row]:
            return list(self._connection.execute(sql, tuple(params)).fetchall())

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, run)
        except sqlite3.OperationalError as exc:  # locked past the timeout, disk full, ...
            raise StorageUnavailable(str(exc)) from exc

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._connection.close)
        self._executor.shutdown(wait=True)


def _enable_wal(connection: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch to WAL, waiting for another process doing the same on a new file.

    Two servers opening one fresh database at once (tests/proxy_targets.py,
    several API processes) race for this switch; SQLite answers "database is
    locked" at once, without its busy timeout, because it needs the file to
    itself. The loser waits and tries again; the mode is then already WAL.
    """
    for attempt in range(attempts):
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.1)
