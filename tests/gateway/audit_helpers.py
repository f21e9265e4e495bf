"""Audit test helpers: sample records, stores on SQLite and on the real PostgreSQL server, and
that server reached through a loopback port that refuses until the test lets it through."""

import asyncio
import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from gateway.record.audit import AuditRecord, PortUse

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def sample(n: int, **overrides: Any) -> AuditRecord:
    """The n-th of a varied set: two clients, three ports, some denials, every outcome."""
    fields: dict[str, Any] = {
        "time": T0 + timedelta(minutes=n),
        "trace_id": f"{n:032x}",
        "client_id": "acme-trucking" if n % 2 else "pacific-shippers",
        "organisation": "ACME" if n % 2 else "Pacific",
        "roles": ("trucker",) if n % 2 else ("cargo_owner",),
        "operation_name": "MyBoxes" if n % 3 else "Calls",
        "operation_type": "query",
        "document": f"query Q{n} {{ ports {{ UNLocationCode }} }}",
        "variables": {"refs": ["EGHU0239805"], "n": n},
        "requested": ("Query.container", "Container.availability"),
        "denied": ("Container.availability",) if n % 4 == 0 else (),
        "ports": (
            PortUse(port="USLAX", status="ok", latency_ms=12.5, cache="fresh"),
            PortUse(
                port="USOAK" if n % 2 else "USSAN",
                status="timeout" if n % 5 == 0 else "cached",
                latency_ms=2001.2,
                cache="none" if n % 5 == 0 else "cached",
                code="PORT_TIMEOUT" if n % 5 == 0 else None,
            ),
        ),
        "error_codes": ("PORT_TIMEOUT",) if n % 5 == 0 else (),
        "duration_ms": 40.0 + n,
        "outcome": "partial" if n % 5 == 0 else "ok",
    }
    fields.update(overrides)
    return AuditRecord(**fields)


def sqlite_tamper(path: Path, *statements: str) -> None:
    """Change the file behind the store's back, as anyone who can write it could."""
    with closing(sqlite3.connect(path)) as db, db:
        for statement in statements:
            db.execute(statement)


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A store URL whose tables live in a schema of their own, dropped afterwards."""
    schema = f"audit_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


def postgres_tamper(url: str, *statements: str) -> None:
    """What a database administrator could do: switch the append-only triggers off, change
    rows, switch them back on."""
    with psycopg.connect(url) as db, db.transaction():
        for table in ("audit_records", "audit_documents"):
            db.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement in statements:
            db.execute(statement)  # test SQL, no parameters
        for table in ("audit_records", "audit_documents"):
            db.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


BACKENDS = ("sqlite", "postgresql")


@dataclass
class Backend:
    """A store's URL, and raw SQL run behind the store's back (as whoever can write it)."""

    name: str
    url: str
    tamper: Callable[..., None]  # statements, run with PostgreSQL's triggers off
    query: Callable[[str], list[tuple[Any, ...]]]


@contextmanager
def audit_backend(name: str, tmp_path: Path) -> Iterator[Backend]:
    """An empty trail's place: an SQLite file under ``tmp_path``, or a PostgreSQL schema."""
    if name == "sqlite":
        path = tmp_path / "audit.sqlite3"

        def sqlite_query(sql: str) -> list[tuple[Any, ...]]:
            with closing(sqlite3.connect(path)) as db:
                return db.execute(sql).fetchall()

        yield Backend(name, f"sqlite:///{path}", lambda *sql: sqlite_tamper(path, *sql),
                      sqlite_query)  # fmt: skip
        return
    with postgres_schema() as url:

        def postgres_query(sql: str) -> list[tuple[Any, ...]]:
            with psycopg.connect(url) as db:
                return db.execute(sql).fetchall()

        yield Backend(name, url, lambda *sql: postgres_tamper(url, *sql), postgres_query)


def closed_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_url_on(port: int, schema_url: str) -> str:
    """``schema_url`` (from :func:`postgres_schema`) reached through another loopback port."""
    return schema_url.replace("127.0.0.1:5432", f"127.0.0.1:{port}")


@asynccontextmanager
async def postgres_forwarded_from(port: int) -> AsyncIterator[None]:
    """The real PostgreSQL server, reachable on loopback ``port`` too while the block runs
    (a byte pipe to 127.0.0.1:5432): the database "comes up" on an address that refused."""
    pipes: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", 5432)
        for task in (pipe(reader, upstream_writer), pipe(upstream_reader, writer)):
            running = asyncio.create_task(task)
            pipes.add(running)
            running.add_done_callback(pipes.discard)

    server = await asyncio.start_server(connected, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for task in list(pipes):
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        await server.wait_closed()
