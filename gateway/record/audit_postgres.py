"""The audit trail in PostgreSQL: one chain shared by every gateway replica.

- **No fork.** An append takes ``pg_advisory_xact_lock(AUDIT_LOCK_KEY)`` in its transaction
  before it reads the chain's head, so appends from every replica queue up one behind another;
  the lock goes with the commit or rollback. ``UNIQUE(prev_hash)`` would refuse a fork anyway.
  ``seq`` is computed under the lock, not drawn from a sequence, so it has no gaps. A prune takes
  the same lock.
- **Documents once.** ``audit_documents`` keeps each distinct document once (``bytea``: a
  document may hold any character), by the SHA-256 of its text.
- **Append-only guard.** Triggers refuse every UPDATE and TRUNCATE of both tables, and every
  DELETE but a prune's: rows of ``audit_records`` may be deleted only as a prefix of the chain
  (no record older than a deleted one stays) that a checkpoint record already in the table
  accounts for (``checkpoint_through``), which is what ``portgate audit prune`` does in one
  transaction; a document may be deleted only when no record names it. The guard stops mistakes
  and anyone who writes through the gateway's role, not the tables' owner or a superuser (who
  can disable it): give the gateway a role with only INSERT and SELECT (and DELETE if it prunes
  itself, ``audit.prune_every``), and rely on ``verify`` to detect what an administrator changed.
- The tables and triggers are created if absent, and a trail written before documents were kept
  apart is upgraded (two index columns added and filled from the hashed records, which stay as
  they are), under the same lock, so that replicas starting together do not race. Creating and
  upgrading need the tables' owner.

Connections come from a :class:`psycopg_pool.AsyncConnectionPool`.
"""

import logging
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

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

AUDIT_LOCK_KEY = 0x706F727467617465  # "portgate": the advisory lock every appender takes
POOL_MAX_SIZE = 4
VERIFY_BATCH = 1000

_TABLES = """
CREATE TABLE IF NOT EXISTS audit_records (
    seq            bigint PRIMARY KEY,
    time           timestamptz NOT NULL,
    trace_id       text,
    client_id      text NOT NULL,
    organisation   text NOT NULL,
    operation_name text,
    outcome        text NOT NULL,
    ports          jsonb NOT NULL,  -- the ports asked, a list of UN/LOCODEs
    denied         jsonb NOT NULL,  -- the coordinates denied
    record         text NOT NULL,   -- the canonical JSON that was hashed (text: jsonb reorders)
    prev_hash      text NOT NULL UNIQUE,
    hash           text NOT NULL UNIQUE,
    document       text,            -- the hash its document is stored under
    checkpoint_through bigint       -- on a checkpoint: the last seq it pruned
);
CREATE TABLE IF NOT EXISTS audit_documents (
    hash text PRIMARY KEY,  -- sha256 of text
    text bytea NOT NULL     -- UTF-8
);
"""
_IS_OLD = """
SELECT NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'audit_records'::regclass
                   AND attname = 'document' AND NOT attisdropped)
"""
_UPGRADE = """
ALTER TABLE audit_records ADD COLUMN document text, ADD COLUMN checkpoint_through bigint;
ALTER TABLE audit_records DISABLE TRIGGER USER;
UPDATE audit_records SET document = record::jsonb ->> 'document_hash';
ALTER TABLE audit_records ENABLE TRIGGER USER;
"""
_GUARDS = """
CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time);
CREATE INDEX IF NOT EXISTS audit_records_client ON audit_records (client_id, time);
CREATE INDEX IF NOT EXISTS audit_records_organisation ON audit_records (organisation, time);
CREATE INDEX IF NOT EXISTS audit_records_operation ON audit_records (operation_name, time);
CREATE INDEX IF NOT EXISTS audit_records_outcome ON audit_records (outcome, time);
CREATE INDEX IF NOT EXISTS audit_records_trace ON audit_records (trace_id);
CREATE INDEX IF NOT EXISTS audit_records_ports ON audit_records USING gin (ports);
CREATE INDEX IF NOT EXISTS audit_records_denied ON audit_records USING gin (denied);
CREATE INDEX IF NOT EXISTS audit_records_document ON audit_records (document);
CREATE INDEX IF NOT EXISTS audit_records_checkpoint ON audit_records (checkpoint_through)
    WHERE checkpoint_through IS NOT NULL;
CREATE OR REPLACE FUNCTION audit_records_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END $$;
CREATE OR REPLACE FUNCTION audit_records_prune_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    highest bigint;
    covered bigint;
    older boolean;
BEGIN
    SELECT max(seq) INTO highest FROM pruned;
    IF highest IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT max(checkpoint_through) FROM %I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO covered;
    IF covered IS NULL OR highest > covered THEN
        RAISE EXCEPTION 'audit_records: DELETE refused: only records a checkpoint accounts for '
                        'may be pruned (portgate audit prune)';
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I WHERE seq < $1)', TG_TABLE_SCHEMA,
                   TG_TABLE_NAME) INTO older USING highest;
    IF older THEN
        RAISE EXCEPTION 'audit_records: DELETE refused: a prune removes the start of the chain';
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION audit_documents_unused_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    named boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM removed d JOIN %I.audit_records r '
                   'ON r.document = d.hash)', TG_TABLE_SCHEMA) INTO named;
    IF named THEN
        RAISE EXCEPTION 'audit_documents: DELETE refused: a record still names the document';
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER audit_records_append_only
    BEFORE UPDATE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE OR REPLACE TRIGGER audit_records_no_truncate
    BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();
CREATE OR REPLACE TRIGGER audit_records_prune_only
    AFTER DELETE ON audit_records REFERENCING OLD TABLE AS pruned
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_prune_only();
CREATE OR REPLACE TRIGGER audit_documents_append_only
    BEFORE UPDATE ON audit_documents
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE OR REPLACE TRIGGER audit_documents_no_truncate
    BEFORE TRUNCATE ON audit_documents
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();
CREATE OR REPLACE TRIGGER audit_documents_unused_only
    AFTER DELETE ON audit_documents REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION audit_documents_unused_only();
"""
_INSERT = """
INSERT INTO audit_records (seq, time, trace_id, client_id, organisation, operation_name, outcome,
                           ports, denied, record, prev_hash, hash, document, checkpoint_through)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_INSERT_DOCUMENT = (
    "INSERT INTO audit_documents (hash, text) VALUES (%s, %s) ON CONFLICT (hash) DO NOTHING"
)
_COLUMNS = "seq, prev_hash, hash, record"
_HEAD = "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"

Connection = AsyncConnection[tuple[Any, ...]]


class PostgresAuditStore:
    """:class:`gateway.record.audit.AuditStore` on PostgreSQL, safe with many replicas."""

    def __init__(self, pool: AsyncConnectionPool[Connection]) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, max_size: int = POOL_MAX_SIZE) -> "PostgresAuditStore":
        # One direct connection first: it fails fast, with libpq's own reason, when the
        # database cannot be reached (a pool would retry until its timeout).
        async with await AsyncConnection.connect(url) as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_KEY,))
            await db.execute(_TABLES)
            row = await (await db.execute(_IS_OLD)).fetchone()
            if row is not None and row[0]:
                await db.execute(_UPGRADE)
                log.warning("audit trail upgraded: documents kept once each from now on; its "
                            "records stay as they were hashed")  # fmt: skip
            await db.execute(_GUARDS)
        pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url, min_size=1, max_size=max_size, open=False
        )
        await pool.open()
        return cls(pool)

    # -- writing ------------------------------------------------------------------------------

    async def append(self, record: AuditRecord) -> StoredRecord:
        return (await self.append_many([record]))[0]

    async def append_many(self, records: Iterable[AuditRecord]) -> list[StoredRecord]:
        batch = list(records)
        if not batch:
            return []
        async with self._pool.connection() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_KEY,))
            return await _insert(db, batch)

    async def prune(self, through: ChainLink, checkpoint: AuditRecord) -> StoredRecord:
        if checkpoint.checkpoint is None:
            raise ValueError("a prune appends a checkpoint record")
        async with self._pool.connection() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_KEY,))
            first = await (await db.execute("SELECT min(seq) FROM audit_records")).fetchone()
            cursor = await db.execute("SELECT hash FROM audit_records WHERE seq = %s",
                                      (through.seq,))  # fmt: skip
            found = await cursor.fetchone()
            if (
                first is None
                or first[0] != checkpoint.checkpoint.first_seq
                or found is None
                or found[0] != through.hash
            ):
                raise PruneConflict("the trail's start changed: another prune ran meanwhile")
            [stored] = await _insert(db, [checkpoint])
            await db.execute("DELETE FROM audit_records WHERE seq <= %s", (through.seq,))
            await db.execute(
                "DELETE FROM audit_documents d WHERE NOT EXISTS "
                "(SELECT 1 FROM audit_records r WHERE r.document = d.hash)"
            )
        return stored

    # -- reading ------------------------------------------------------------------------------

    async def search(
        self,
        filter: AuditFilter = EVERY_RECORD,
        *,
        limit: int = DEFAULT_SEARCH_LIMIT,
        after_seq: int = 0,
    ) -> list[StoredRecord]:
        where, params = _where(filter)
        sql = f"SELECT {_COLUMNS} FROM audit_records WHERE seq > %s{where} ORDER BY seq LIMIT %s"
        arguments = [after_seq, *params, max(1, min(limit, MAX_SEARCH_LIMIT))]
        async with self._pool.connection() as db:
            cursor = await db.execute(sql, arguments)
            return [StoredRecord(*row) for row in await cursor.fetchall()]

    async def documents(self, hashes: Iterable[str]) -> dict[str, str]:
        wanted = sorted(set(hashes))
        if not wanted:
            return {}
        async with self._pool.connection() as db:
            cursor = await db.execute(
                "SELECT hash, text FROM audit_documents WHERE hash = ANY(%s)", (wanted,)
            )
            rows = await cursor.fetchall()
        return {digest: bytes(text).decode(errors="replace") for digest, text in rows}

    async def head(self) -> ChainLink | None:
        async with self._pool.connection() as db:
            row = await (await db.execute(_HEAD)).fetchone()
        return None if row is None else ChainLink(*row)

    async def verify(self, progress: Progress | None = None) -> VerifyReport:
        return await verify_chain([self], progress)

    async def chain_rows(self) -> AsyncIterator[ChainRow]:
        async with self._pool.connection() as db:
            cursor = await db.execute(
                "SELECT hash FROM audit_documents WHERE encode(sha256(text), 'hex') <> hash"
            )
            edited = {row[0] for row in await cursor.fetchall()}
        sql = (
            "SELECT r.seq, r.prev_hash, r.hash, r.record, r.time, r.trace_id, r.client_id, "
            "r.organisation, r.operation_name, r.outcome, r.ports, r.denied, r.document, "
            "r.checkpoint_through, d.hash IS NOT NULL FROM audit_records r "
            "LEFT JOIN audit_documents d ON d.hash = r.document "
            f"WHERE r.seq > %s ORDER BY r.seq LIMIT {VERIFY_BATCH}"
        )
        after = 0
        while True:
            async with self._pool.connection() as db:
                cursor = await db.execute(sql, (after,))
                rows = await cursor.fetchall()
            if not rows:
                return
            for row in rows:
                yield _chain_row(row, edited)
            after = rows[-1][0]

    async def seq_of_hash(self, digest: str) -> int | None:
        async with self._pool.connection() as db:
            cursor = await db.execute("SELECT seq FROM audit_records WHERE hash = %s", (digest,))
            row = await cursor.fetchone()
        return None if row is None else int(row[0])

    async def checkpoint_for(self, seq: int, prev_hash: str) -> int | None:
        async with self._pool.connection() as db:
            cursor = await db.execute(
                "SELECT seq, record FROM audit_records WHERE checkpoint_through = %s ORDER BY seq",
                (seq - 1,),
            )
            rows = await cursor.fetchall()
        return accounting_checkpoint(rows, seq, prev_hash)

    async def close(self) -> None:
        await self._pool.close()


async def _insert(db: Connection, batch: list[AuditRecord]) -> list[StoredRecord]:
    """Append ``batch`` after the head, inside the caller's locked transaction."""
    seq, prev = await (await db.execute(_HEAD)).fetchone() or (0, GENESIS_HASH)
    stored, rows, documents = [], [], {}
    for record in batch:
        digest_text = stored_document(record)
        documents[digest_text[0]] = digest_text[1].encode()
        canonical = canonical_json(record)
        seq, digest = seq + 1, chain_hash(prev, canonical)
        columns = index_columns(record)
        rows.append((
            seq, record.time, columns["trace_id"], columns["client_id"],
            columns["organisation"], columns["operation_name"], columns["outcome"],
            Jsonb(columns["ports"]), Jsonb(columns["denied"]), canonical, prev, digest,
            columns["document"], columns["checkpoint_through"],
        ))  # fmt: skip
        stored.append(StoredRecord(seq, prev, digest, canonical))
        prev = digest
    async with db.cursor() as insert:
        await insert.executemany(_INSERT_DOCUMENT, list(documents.items()))
        await insert.executemany(_INSERT, rows)
    return stored


def _where(filter: AuditFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("client_id", "organisation", "operation_name", "outcome", "trace_id",
                   "document"):  # fmt: skip
        value = getattr(filter, column)
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    if filter.since is not None:
        clauses.append("time >= %s")
        params.append(filter.since)
    if filter.until is not None:
        clauses.append("time < %s")
        params.append(filter.until)
    if filter.port is not None:
        clauses.append("ports @> %s")  # containment: answered by the GIN index
        params.append(Jsonb([filter.port]))
    if filter.denied is not None:
        clauses.append("denied @> %s")
        params.append(Jsonb([filter.denied]))
    return "".join(f" AND {clause}" for clause in clauses), params


def _chain_row(row: tuple[Any, ...], edited: set[str]) -> ChainRow:
    seq, prev_hash, digest, canonical, time, *values = row
    names = ("trace_id", "client_id", "organisation", "operation_name", "outcome")
    columns: dict[str, Any] = dict(zip(names, values[:5], strict=True))
    columns["time"] = format_time(time) if isinstance(time, datetime) else time
    columns["ports"], columns["denied"] = values[5], values[6]
    columns["document"], columns["checkpoint_through"] = values[7], values[8]
    state: DocumentState = "missing" if not values[9] else "stored"
    if values[7] in edited:
        state = "edited"
    return ChainRow(seq, prev_hash, digest, canonical, columns, state)
