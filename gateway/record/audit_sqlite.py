"""The audit trail in one SQLite file: the default store, for a single gateway host.

Each call opens its own connection in a worker thread (:func:`asyncio.to_thread`), so the event
loop never waits on the disk. The file is in WAL mode: searches and verification read while a
record is written. An append runs in ``BEGIN IMMEDIATE``, which takes the file's write lock
before reading the chain's head, so concurrent writers (tasks, or several processes on one
host) queue up one behind another and the chain never forks; ``UNIQUE(prev_hash)`` would refuse
a fork anyway. A prune takes the same lock.

Two tables: ``audit_records`` (the chain) and ``audit_documents`` (each distinct document once,
by the SHA-256 of its text). A file written before documents were kept apart is upgraded when
opened: the two index columns are added and filled from the hashed records, which stay as they
are (``PRAGMA user_version`` is then 2). New files use incremental auto-vacuum, so a prune gives
its pages back to the file system.

SQLite has no way to refuse an UPDATE or DELETE to whoever can write the file: tampering is
detected by ``verify``, not prevented.
"""

import asyncio
import hashlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from gateway.record.audit import (
    DEFAULT_SEARCH_LIMIT,
    EVERY_RECORD,
    GENESIS_HASH,
    MAX_SEARCH_LIMIT,
    AuditFilter,
    AuditRecord,
    ChainLink,
    Progress,
    PruneConflict,
    StoredRecord,
    VerifyReport,
    canonical_json,
    chain_hash,
    format_time,
    index_columns,
    stored_document,
)
from gateway.record.audit_chain import ChainRow, DocumentState, accounting_checkpoint, verify_chain

log = logging.getLogger(__name__)

BUSY_TIMEOUT_SECONDS = 30.0  # how long a writer waits for another to finish
VERIFY_BATCH = 1000
DOCUMENT_BATCH = 200
SCHEMA_VERSION = 2

_TABLES = (
    """CREATE TABLE IF NOT EXISTS audit_records (
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
        hash           TEXT NOT NULL UNIQUE,
        document       TEXT,           -- the hash its document is stored under
        checkpoint_through INTEGER     -- on a checkpoint: the last seq it pruned
    )""",
    """CREATE TABLE IF NOT EXISTS audit_documents (
        hash TEXT PRIMARY KEY,  -- sha256 of text
        text TEXT NOT NULL
    )""",
)
_UPGRADE = (
    "ALTER TABLE audit_records ADD COLUMN document TEXT",
    "ALTER TABLE audit_records ADD COLUMN checkpoint_through INTEGER",
    "UPDATE audit_records SET document = json_extract(record, '$.document_hash')",
)
_INDEXES = (
    "CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time)",
    "CREATE INDEX IF NOT EXISTS audit_records_client ON audit_records (client_id, time)",
    "CREATE INDEX IF NOT EXISTS audit_records_organisation ON audit_records (organisation, time)",
    "CREATE INDEX IF NOT EXISTS audit_records_operation ON audit_records (operation_name, time)",
    "CREATE INDEX IF NOT EXISTS audit_records_outcome ON audit_records (outcome, time)",
    "CREATE INDEX IF NOT EXISTS audit_records_trace ON audit_records (trace_id)",
    "CREATE INDEX IF NOT EXISTS audit_records_document ON audit_records (document)",
    "CREATE INDEX IF NOT EXISTS audit_records_checkpoint ON audit_records (checkpoint_through) "
    "WHERE checkpoint_through IS NOT NULL",
)
_INSERT = (
    "INSERT INTO audit_records (seq, time, trace_id, client_id, organisation, operation_name, "
    "outcome, ports, denied, record, prev_hash, hash, document, checkpoint_through) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_COLUMNS = "seq, prev_hash, hash, record"
_HEAD = "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"

T = TypeVar("T")


class SqliteAuditStore:
    """:class:`gateway.record.audit.AuditStore` on an SQLite file."""

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
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes only on a new, empty file
            db.execute("PRAGMA journal_mode=WAL")
            with _transaction(db):
                for statement in _TABLES:
                    db.execute(statement)
                columns = {row[1] for row in db.execute("PRAGMA table_info(audit_records)")}
                if "document" not in columns:
                    for statement in _UPGRADE:
                        db.execute(statement)
                    count = db.execute("SELECT count(*) FROM audit_records").fetchone()[0]
                    log.warning(
                        "audit trail %s upgraded: documents kept once each from now on; its "
                        "%d record(s) stay as they were hashed", self.path, count,
                    )  # fmt: skip
                for statement in _INDEXES:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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
        if not batch:
            return []

        def work(db: sqlite3.Connection) -> list[StoredRecord]:
            with _transaction(db):  # the write lock, before the head is read
                return _insert(db, batch)

        return await self._run(work)

    async def prune(self, through: ChainLink, checkpoint: AuditRecord) -> StoredRecord:
        if checkpoint.checkpoint is None:
            raise ValueError("a prune appends a checkpoint record")
        first_seq = checkpoint.checkpoint.first_seq

        def work(db: sqlite3.Connection) -> StoredRecord:
            with _transaction(db):
                first = db.execute("SELECT min(seq) FROM audit_records").fetchone()[0]
                row = db.execute("SELECT hash FROM audit_records WHERE seq = ?", (through.seq,))
                found = row.fetchone()
                if first != first_seq or found is None or found[0] != through.hash:
                    raise PruneConflict("the trail's start changed: another prune ran meanwhile")
                [stored] = _insert(db, [checkpoint])
                db.execute("DELETE FROM audit_records WHERE seq <= ?", (through.seq,))
                db.execute(
                    "DELETE FROM audit_documents WHERE hash NOT IN "
                    "(SELECT document FROM audit_records WHERE document IS NOT NULL)"
                )
            db.execute("PRAGMA incremental_vacuum").fetchall()  # each step frees one page
            return stored

        return await self._run(work)

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

    async def documents(self, hashes: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(hashes))

        def work(db: sqlite3.Connection) -> dict[str, str]:
            found: dict[str, str] = {}
            for i in range(0, len(wanted), DOCUMENT_BATCH):
                chunk = wanted[i : i + DOCUMENT_BATCH]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT hash, text FROM audit_documents WHERE hash IN ({marks})"
                found.update(db.execute(sql, chunk).fetchall())
            return found

        return await self._run(work) if wanted else {}

    async def head(self) -> ChainLink | None:
        row = await self._run(lambda db: db.execute(_HEAD).fetchone())
        return None if row is None else ChainLink(*row)

    async def verify(self, progress: Progress | None = None) -> VerifyReport:
        return await verify_chain([self], progress)

    async def chain_rows(self) -> AsyncIterator[ChainRow]:
        edited = await self._edited_documents()
        sql = (
            "SELECT r.seq, r.prev_hash, r.hash, r.record, r.time, r.trace_id, r.client_id, "
            "r.organisation, r.operation_name, r.outcome, r.ports, r.denied, r.document, "
            "r.checkpoint_through, d.hash IS NOT NULL FROM audit_records r "
            "LEFT JOIN audit_documents d ON d.hash = r.document "
            f"WHERE r.seq > ? ORDER BY r.seq LIMIT {VERIFY_BATCH}"
        )
        after = 0
        while rows := await self._run(partial(_fetch, sql, after)):
            for row in rows:
                yield _chain_row(row, edited)
            after = rows[-1][0]

    async def _edited_documents(self) -> set[str]:
        """Documents whose text no longer hashes to the hash they are kept under."""
        sql = (
            "SELECT hash, text FROM audit_documents WHERE hash > ? "
            f"ORDER BY hash LIMIT {DOCUMENT_BATCH}"
        )
        edited: set[str] = set()
        after = ""
        while rows := await self._run(partial(_fetch, sql, after)):
            edited.update(
                digest
                for digest, text in rows
                if not isinstance(text, str) or hashlib.sha256(text.encode()).hexdigest() != digest
            )
            after = rows[-1][0]
        return edited

    async def seq_of_hash(self, digest: str) -> int | None:
        sql = "SELECT seq FROM audit_records WHERE hash = ?"
        row = await self._run(lambda db: db.execute(sql, (digest,)).fetchone())
        return None if row is None else int(row[0])

    async def checkpoint_for(self, seq: int, prev_hash: str) -> int | None:
        sql = "SELECT seq, record FROM audit_records WHERE checkpoint_through = ? ORDER BY seq"
        rows = await self._run(lambda db: db.execute(sql, (seq - 1,)).fetchall())
        return accounting_checkpoint(rows, seq, prev_hash)

    async def close(self) -> None:
        """Nothing stays open between calls."""


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _insert(db: sqlite3.Connection, records: list[AuditRecord]) -> list[StoredRecord]:
    """Append ``records`` after the head, inside the caller's transaction."""
    seq, prev = db.execute(_HEAD).fetchone() or (0, GENESIS_HASH)
    stored, documents = [], {}
    for record in records:
        digest_text = stored_document(record)
        documents[digest_text[0]] = digest_text[1]
        canonical = canonical_json(record)
        seq, digest = seq + 1, chain_hash(prev, canonical)
        columns = index_columns(record)
        db.execute(
            _INSERT,
            (
                seq, columns["time"], columns["trace_id"], columns["client_id"],
                columns["organisation"], columns["operation_name"], columns["outcome"],
                json.dumps(columns["ports"]), json.dumps(columns["denied"]), canonical, prev,
                digest, columns["document"], columns["checkpoint_through"],
            ),
        )  # fmt: skip
        stored.append(StoredRecord(seq, prev, digest, canonical))
        prev = digest
    db.executemany("INSERT OR IGNORE INTO audit_documents VALUES (?, ?)", documents.items())
    return stored


def _where(filter: AuditFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("client_id", "organisation", "operation_name", "outcome", "trace_id",
                   "document"):  # fmt: skip
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


def _fetch(sql: str, after: object, db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return db.execute(sql, (after,)).fetchall()


def _chain_row(row: tuple[Any, ...], edited: set[str]) -> ChainRow:
    seq, prev_hash, digest, canonical, *values = row
    names = ("time", "trace_id", "client_id", "organisation", "operation_name", "outcome")
    columns = dict(zip(names, values[:6], strict=True))
    try:
        columns["ports"], columns["denied"] = json.loads(values[6]), json.loads(values[7])
    except (TypeError, ValueError):
        columns["ports"] = columns["denied"] = None  # unreadable: verify reports the row
    columns["document"], columns["checkpoint_through"] = values[8], values[9]
    state: DocumentState = "missing" if not values[10] else "stored"
    if values[8] in edited:
        state = "edited"
    return ChainRow(seq, prev_hash, digest, canonical, columns, state)
