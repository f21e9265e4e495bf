"""Audit test helpers: sample records, and stores on SQLite and on the real PostgreSQL server."""

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from gateway.audit import AuditRecord, PortUse

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
    """What a database administrator could do: switch the append-only trigger off, change rows,
    switch it back on."""
    with psycopg.connect(url) as db, db.transaction():
        db.execute("ALTER TABLE audit_records DISABLE TRIGGER audit_records_append_only")
        for statement in statements:
            db.execute(statement)  # test SQL, no parameters
        db.execute("ALTER TABLE audit_records ENABLE TRIGGER audit_records_append_only")
