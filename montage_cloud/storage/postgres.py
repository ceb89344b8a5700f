"""PostgreSQL back-end (psycopg 3, async pool): for several API processes on one database.

Connections are in autocommit mode, so each statement is its own
transaction; the atomic statements in `sql.py` need nothing more. Creating
the schema takes an advisory lock because concurrent `CREATE TABLE IF NOT
EXISTS` from processes starting together can still collide in PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection, OperationalError
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from montage_cloud.storage.base import StorageUnavailable
from montage_cloud.storage.sql import SCHEMA, Row, SqlStorage

logger = logging.getLogger(__name__)

# Any fixed number; it only has to be the same in every API process.
_SCHEMA_LOCK = 0x4D4F4E54


class PostgresStorage(SqlStorage):
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]]) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, max_size: int = 10) -> PostgresStorage:
        # One plain connection first: it fails at once when the server is not
        # there, where a pool would keep retrying until its timeout.
        try:
            async with (
                await AsyncConnection.connect(dsn) as connection,
                connection.transaction(),
            ):
                await connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in SCHEMA:
                    await connection.execute(statement)
        except OperationalError as exc:
            raise StorageUnavailable("cannot connect to PostgreSQL") from exc
        pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
            dsn, min_size=1, max_size=max_size, kwargs={"autocommit": True}, open=False
        )
        await pool.open(wait=True, timeout=15)
        # The DSN may hold a password: log only that we connected.
        logger.info("PostgreSQL storage connected")
        return cls(pool)

    async def _run(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            async with self._pool.connection() as connection:
                cursor = await connection.execute(sql.replace("?", "%s"), tuple(params))
                if cursor.description is None:
                    return []
                return list(await cursor.fetchall())
        except (OperationalError, PoolTimeout) as exc:
            raise StorageUnavailable(type(exc).__name__) from exc

    async def close(self) -> None:
        await self._pool.close()
