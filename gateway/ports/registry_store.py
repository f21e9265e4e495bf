"""Registry stores: SQLite for one gateway, PostgreSQL for replicas sharing one registry.

Both keep one row per port (in registration order) and a version counter that every change
increments in the same transaction, which is what replicas poll.
"""

import asyncio
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from gateway.ports.registry import PortEntry, RegistryStore

_COLUMNS = ("id", "position", "entry", "source")


def _entry(raw: str) -> PortEntry:
    return PortEntry.model_validate(json.loads(raw))


class SqliteRegistryStore:
    """A registry in an SQLite file (stdlib sqlite3 in a worker thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS port_registry (id TEXT PRIMARY KEY, "
                "position INTEGER NOT NULL, entry TEXT NOT NULL, source TEXT NOT NULL)"
            )
            db.execute(
                "CREATE TABLE IF NOT EXISTS port_registry_version (one INTEGER PRIMARY KEY "
                "CHECK (one = 1), version INTEGER NOT NULL)"
            )
            db.execute("INSERT OR IGNORE INTO port_registry_version VALUES (1, 0)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    async def version(self) -> int:
        return await asyncio.to_thread(self._version)

    def _version(self) -> int:
        with closing(self._connect()) as db:
            (version,) = db.execute("SELECT version FROM port_registry_version").fetchone()
            return int(version)

    async def load(self) -> tuple[int, list[PortEntry]]:
        return await asyncio.to_thread(self._load)

    def _load(self) -> tuple[int, list[PortEntry]]:
        with closing(self._connect()) as db:
            db.execute("BEGIN")
            (version,) = db.execute("SELECT version FROM port_registry_version").fetchone()
            rows = db.execute("SELECT entry FROM port_registry ORDER BY position").fetchall()
            db.execute("COMMIT")
        return int(version), [_entry(row[0]) for row in rows]

    async def put(self, entry: PortEntry, *, unless_api: bool = False) -> int:
        return await asyncio.to_thread(self._put, entry, unless_api)

    def _put(self, entry: PortEntry, unless_api: bool) -> int:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT position, source FROM port_registry WHERE id = ?", (entry.id,)
            ).fetchone()
            if row is not None and unless_api and row[1] == "api":
                db.execute("ROLLBACK")
                return self._version()
            if row is None:
                (position,) = db.execute(
                    "SELECT COALESCE(MAX(position), 0) + 1 FROM port_registry"
                ).fetchone()
            else:
                position = row[0]
            db.execute(
                "INSERT OR REPLACE INTO port_registry VALUES (?, ?, ?, ?)",
                (entry.id, position, json.dumps(entry.stored()), entry.source),
            )
            version = self._bump(db)
            db.execute("COMMIT")
            return version

    async def remove(self, port_id: str) -> bool:
        return await asyncio.to_thread(self._remove, port_id)

    def _remove(self, port_id: str) -> bool:
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            removed = db.execute("DELETE FROM port_registry WHERE id = ?", (port_id,)).rowcount
            if removed:
                self._bump(db)
            db.execute("COMMIT")
            return bool(removed)

    @staticmethod
    def _bump(db: sqlite3.Connection) -> int:
        db.execute("UPDATE port_registry_version SET version = version + 1")
        (version,) = db.execute("SELECT version FROM port_registry_version").fetchone()
        return int(version)

    async def close(self) -> None:
        return None


class PostgresRegistryStore:
    """A registry shared by replicas through PostgreSQL (psycopg 3, a small pool)."""

    def __init__(self, url: str, *, schema: str = "public") -> None:
        self._url = url
        self._schema = schema
        self._pool: Any = None

    async def open(self, timeout: float = 10.0) -> "PostgresRegistryStore":
        """Connect (within ``timeout`` seconds) and create the tables if need be."""
        from psycopg_pool import AsyncConnectionPool

        self._pool = AsyncConnectionPool(self._url, min_size=1, max_size=4, open=False)
        try:
            await self._pool.open(wait=True, timeout=timeout)
            await self._create_tables()
        except BaseException:
            await self._pool.close()
            self._pool = None
            raise
        return self

    async def _create_tables(self) -> None:
        from psycopg import sql

        schema = sql.Identifier(self._schema)
        async with self._pool.connection() as db:
            await db.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.port_registry (id TEXT PRIMARY KEY, "
                    "position BIGINT NOT NULL, entry JSONB NOT NULL, source TEXT NOT NULL)"
                ).format(schema)
            )
            await db.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.port_registry_version (one INT PRIMARY KEY "
                    "CHECK (one = 1), version BIGINT NOT NULL)"
                ).format(schema)
            )
            await db.execute(
                sql.SQL(
                    "INSERT INTO {}.port_registry_version VALUES (1, 0) ON CONFLICT DO NOTHING"
                ).format(schema)
            )

    def _table(self, name: str) -> Any:
        from psycopg import sql

        return sql.Identifier(self._schema, name)

    async def version(self) -> int:
        from psycopg import sql

        async with self._pool.connection() as db:
            cursor = await db.execute(
                sql.SQL("SELECT version FROM {}").format(self._table("port_registry_version"))
            )
            (version,) = await cursor.fetchone()
            return int(version)

    async def load(self) -> tuple[int, list[PortEntry]]:
        from psycopg import sql

        async with self._pool.connection() as db, db.transaction():
            cursor = await db.execute(
                sql.SQL("SELECT version FROM {}").format(self._table("port_registry_version"))
            )
            (version,) = await cursor.fetchone()
            cursor = await db.execute(
                sql.SQL("SELECT entry FROM {} ORDER BY position").format(
                    self._table("port_registry")
                )
            )
            rows = await cursor.fetchall()
        return int(version), [PortEntry.model_validate(row[0]) for row in rows]

    async def put(self, entry: PortEntry, *, unless_api: bool = False) -> int:
        from psycopg import sql
        from psycopg.types.json import Jsonb

        table, versions = self._table("port_registry"), self._table("port_registry_version")
        async with self._pool.connection() as db, db.transaction():
            # The version row is the lock: one writer at a time, across replicas.
            await db.execute(sql.SQL("SELECT version FROM {} FOR UPDATE").format(versions))
            cursor = await db.execute(
                sql.SQL("SELECT source FROM {} WHERE id = %s").format(table), (entry.id,)
            )
            row = await cursor.fetchone()
            if row is not None and unless_api and row[0] == "api":
                cursor = await db.execute(sql.SQL("SELECT version FROM {}").format(versions))
                return int((await cursor.fetchone())[0])
            await db.execute(
                sql.SQL(
                    "INSERT INTO {t} VALUES (%s, (SELECT COALESCE(MAX(position), 0) + 1 FROM {t})"
                    ", %s, %s) ON CONFLICT (id) DO UPDATE SET entry = EXCLUDED.entry, "
                    "source = EXCLUDED.source"
                ).format(t=table),
                (entry.id, Jsonb(entry.stored()), entry.source),
            )
            return await self._bump(db)

    async def remove(self, port_id: str) -> bool:
        from psycopg import sql

        async with self._pool.connection() as db, db.transaction():
            await db.execute(
                sql.SQL("SELECT version FROM {} FOR UPDATE").format(
                    self._table("port_registry_version")
                )
            )
            cursor = await db.execute(
                sql.SQL("DELETE FROM {} WHERE id = %s").format(self._table("port_registry")),
                (port_id,),
            )
            if cursor.rowcount:
                await self._bump(db)
            return bool(cursor.rowcount)

    async def _bump(self, db: Any) -> int:
        from psycopg import sql

        cursor = await db.execute(
            sql.SQL("UPDATE {} SET version = version + 1 RETURNING version").format(
                self._table("port_registry_version")
            )
        )
        return int((await cursor.fetchone())[0])

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


async def open_registry_store(url: str, *, timeout: float = 10.0) -> RegistryStore:
    """``sqlite:///path`` or ``postgresql://...`` (reached within ``timeout`` seconds)."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return await asyncio.to_thread(SqliteRegistryStore, path)
    return await PostgresRegistryStore(url).open(timeout)
