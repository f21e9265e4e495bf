"""The audit trail in one SQLite file: the default store, for a single gateway host.

Each call opens its own connection in a worker thread (:func:`asyncio.to_thread`), so the event
loop never waits on the disk. The file is in WAL mode: searches and verification read while a
record is written. An append runs in ``BEGIN IMMEDIATE``, which takes the file's write lock
before reading the chain's head, so concurrent writers (tasks, or several processes on one
host) queue up one behind another and the chain never forks; ``UNIQUE(prev_hash)`` would refuse
a fork anyway.

SQLite has no way to refuse an UPDATE or DELETE to whoever can write the file: tampering is
detected by ``verify``, not prevented.
"""

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from gateway.audit import (
    DEFAULT_SEARCH_LIMIT,
    EVERY_RECORD,
    GENESIS_HASH,
    MAX_SEARCH_LIMIT,
    AuditFilter,
    AuditRecord,
    ChainLink,
    ChainRow,
    Progress,
    StoredRecord,
    VerifyReport,
    canonical_json,
    chain_hash,
    format_time,
    index_columns,
    verify_chain,
)

BUSY_TIMEOUT_SECONDS = 30.0  # how long a writer waits for another to finish
VERIFY_BATCH = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_records (
    seq            INTEGER PRIMARY KEY,
    time           TEXT NOT NULL,  -- fixed-width UTC ISO 8601: text order is time order
    trace_id       TEXT,
    client_id      TEXT NOT NULL,
    organisation   TEXT NOT NULL,
    operation_name TEXT,
    outcome        TEXT NOT NULL,
    ports          TEXT NOT NULL,  -- JSON list of the ports asked
    denied         TEXT NOT NULL,  -- JSON list of the coordinates denied
    record         TEXT NOT NULL,  -- the canonical JSON that was hashed
    prev_hash      TEXT NOT NULL UNIQUE,
    hash           TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time);
CREATE INDEX IF NOT EXISTS audit_records_client ON audit_records (client_id, time);
CREATE INDEX IF NOT EXISTS audit_records_organisation ON audit_records (organisation, time);
CREATE INDEX IF NOT EXISTS audit_records_operation ON audit_records (operation_name, time);
CREATE INDEX IF NOT EXISTS audit_records_outcome ON audit_records (outcome, time);
CREATE INDEX IF NOT EXISTS audit_records_trace ON audit_records (trace_id);
"""
_COLUMNS = "seq, prev_hash, hash, record"

T = TypeVar("T")


class SqliteAuditStore:
    """:class:`gateway.audit.AuditStore` on an SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    async def open(cls, path: str | Path) -> "SqliteAuditStore":
        store = cls(Path(path))
        await asyncio.to_thread(store._create)
        return store

    def _connect(self) -> sqlite3.Connection:
        # Autocommit: every transaction below is begun explicitly.
        return sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with closing(self._connect()) as db:
                return work(db)

        return await asyncio.to_thread(call)

    # -- writing ------------------------------------------------------------------------------

    async def append(self, record: AuditRecord) -> StoredRecord:
        return (await self.append_many([record]))[0]

    async def append_many(self, records: Iterable[AuditRecord]) -> list[StoredRecord]:
        batch = list(records)
        return await self._run(lambda db: _append(db, batch)) if batch else []

    # -- reading ------------------------------------------------------------------------------

    async def search(
        self,
        filter: AuditFilter = EVERY_RECORD,
        *,
        limit: int = DEFAULT_SEARCH_LIMIT,
        after_seq: int = 0,
    ) -> list[StoredRecord]:
        where, params = _where(filter)
        sql = f"SELECT {_COLUMNS} FROM audit_records WHERE seq > ?{where} ORDER BY seq LIMIT ?"
        arguments = [after_seq, *params, max(1, min(limit, MAX_SEARCH_LIMIT))]
        rows = await self._run(lambda db: db.execute(sql, arguments).fetchall())
        return [StoredRecord(*row) for row in rows]

    async def head(self) -> ChainLink | None:
        sql = "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
        row = await self._run(lambda db: db.execute(sql).fetchone())
        return None if row is None else ChainLink(*row)

    async def verify(self, progress: Progress | None = None) -> VerifyReport:
        return await verify_chain(self._rows(), self._seq_of_hash, progress)

    async def _rows(self) -> AsyncIterator[ChainRow]:
        sql = (
            "SELECT seq, prev_hash, hash, record, time, trace_id, client_id, organisation, "
            "operation_name, outcome, ports, denied FROM audit_records WHERE seq > ? "
            f"ORDER BY seq LIMIT {VERIFY_BATCH}"
        )
        after = 0
        while rows := await self._run(partial(_fetch, sql, after)):
            for row in rows:
                yield _chain_row(row)
            after = rows[-1][0]

    async def _seq_of_hash(self, digest: str) -> int | None:
        sql = "SELECT seq FROM audit_records WHERE hash = ?"
        row = await self._run(lambda db: db.execute(sql, (digest,)).fetchone())
        return None if row is None else int(row[0])

    async def close(self) -> None:
        """Nothing stays open between calls."""


def _append(db: sqlite3.Connection, records: list[AuditRecord]) -> list[StoredRecord]:
    db.execute("BEGIN IMMEDIATE")  # the write lock, before the head is read
    try:
        head = db.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
        seq, prev = head.fetchone() or (0, GENESIS_HASH)
        stored = []
        for record in records:
            canonical = canonical_json(record)
            seq, digest = seq + 1, chain_hash(prev, canonical)
            columns = index_columns(record)
            db.execute(
                "INSERT INTO audit_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    seq,
                    columns["time"],
                    columns["trace_id"],
                    columns["client_id"],
                    columns["organisation"],
                    columns["operation_name"],
                    columns["outcome"],
                    json.dumps(columns["ports"]),
                    json.dumps(columns["denied"]),
                    canonical,
                    prev,
                    digest,
                ),
            )
            stored.append(StoredRecord(seq, prev, digest, canonical))
            prev = digest
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return stored


def _where(filter: AuditFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("client_id", "organisation", "operation_name", "outcome", "trace_id"):
        value = getattr(filter, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if filter.since is not None:
        clauses.append("time >= ?")
        params.append(format_time(filter.since))
    if filter.until is not None:
        clauses.append("time < ?")
        params.append(format_time(filter.until))
    for column in ("port", "denied"):
        value = getattr(filter, column)
        if value is not None:
            name = "ports" if column == "port" else column
            clauses.append(f"EXISTS (SELECT 1 FROM json_each({name}) WHERE value = ?)")
            params.append(value)
    return "".join(f" AND {clause}" for clause in clauses), params


def _fetch(sql: str, after: int, db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return db.execute(sql, (after,)).fetchall()


def _chain_row(row: tuple[Any, ...]) -> ChainRow:
    seq, prev_hash, digest, canonical, *values = row
    names = ("time", "trace_id", "client_id", "organisation", "operation_name", "outcome")
    columns = dict(zip(names, values[:6], strict=True))
    try:
        columns["ports"], columns["denied"] = json.loads(values[6]), json.loads(values[7])
    except (TypeError, ValueError):
        columns["ports"] = columns["denied"] = None  # unreadable: verify reports the row
    return ChainRow(seq, prev_hash, digest, canonical, columns)
