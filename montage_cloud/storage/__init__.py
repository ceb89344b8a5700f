"""Where the cloud keeps its state: SQLite by default, PostgreSQL given a DSN."""

from __future__ import annotations

from montage_cloud.storage.base import (
    EnrolmentRefused,
    Storage,
    StorageUnavailable,
    TokenRefusal,
)

__all__ = [
    "EnrolmentRefused",
    "Storage",
    "StorageUnavailable",
    "TokenRefusal",
    "is_postgres_dsn",
    "open_storage",
]


def is_postgres_dsn(database: str) -> bool:
    return database.startswith(("postgresql://", "postgres://"))


async def open_storage(database: str) -> Storage:
    """Open `database`: a postgresql:// DSN, or else a SQLite file path."""
    if is_postgres_dsn(database):
        # Imported here so that SQLite-only use never loads libpq.
        from montage_cloud.storage.postgres import PostgresStorage

        return await PostgresStorage.open(database)
    from montage_cloud.storage.sqlite import SqliteStorage

    return await SqliteStorage.open(database)
