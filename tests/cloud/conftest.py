"""Fixtures for the cloud tests: a real PostgreSQL for the session, storage on both back-ends."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from montage_cloud.storage import Storage, open_storage
from tests.cloud.postgres_server import PostgresServer

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_dsn(postgres: PostgresServer) -> str:
    """The session's server, emptied: each test starts from no tables."""
    with psycopg.connect(postgres.dsn, autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
    return postgres.dsn


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database name for `open_storage`, once per back-end."""
    if request.param == "sqlite":
        return str(tmp_path / "cloud.sqlite3")
    dsn: str = request.getfixturevalue("postgres_dsn")
    return dsn


StorageScenario = Callable[[Storage], Awaitable[None]]


@pytest.fixture
def with_storage(database: str) -> Callable[[StorageScenario], None]:
    """Run a scenario against freshly opened storage on its own event loop."""

    def runner(scenario: StorageScenario) -> None:
        async def main() -> None:
            storage = await open_storage(database)
            try:
                await scenario(storage)
            finally:
                await storage.close()

        run(main())

    return runner
