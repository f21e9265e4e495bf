"""The audit trail in PostgreSQL: one chain shared by every gateway replica.

- **No fork.** An append takes ``pg_advisory_xact_lock(AUDIT_LOCK_KEY)`` in its transaction
  before it reads the chain's head, so appends from every replica queue up one behind another;
  the lock goes with the commit or rollback. ``UNIQUE(prev_hash)`` would refuse a fork anyway.
  ``seq`` is computed under the lock, not drawn from a sequence, so it has no gaps.
- **Append-only guard.** A trigger refuses every UPDATE, DELETE and TRUNCATE on the table. It
  stops mistakes and anyone who writes through the gateway's role, not the table's owner or a
  superuser (who can disable it): give the gateway a role with only INSERT and SELECT, and rely
  on ``verify`` to detect what an administrator changed.
- The table (``audit_records``, in the connection's ``search_path``) and its trigger are created
  if absent, under the same lock, so that replicas starting together do not race.

Connections come from a :class:`psycopg_pool.AsyncConnectionPool`.
"""

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

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

AUDIT_LOCK_KEY = 0x706F727467617465  # "portgate": the advisory lock every appender takes
POOL_MAX_SIZE = 4
VERIFY_BATCH = 1000

_SCHEMA = """
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
    hash           text NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time);
CREATE INDEX IF NOT EXISTS audit_records_client ON audit_records (client_id, time);
CREATE INDEX IF NOT EXISTS audit_records_organisation ON audit_records (organisation, time);
CREATE INDEX IF NOT EXISTS audit_records_operation ON audit_records (operation_name, time);
CREATE INDEX IF NOT EXISTS audit_records_outcome ON audit_records (outcome, time);
CREATE INDEX IF NOT EXISTS audit_records_trace ON audit_records (trace_id);
CREATE INDEX IF NOT EXISTS audit_records_ports ON audit_records USING gin (ports);
CREATE INDEX IF NOT EXISTS audit_records_denied ON audit_records USING gin (denied);
CREATE OR REPLACE FUNCTION audit_records_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records is append-only: % refused', TG_OP;
END $$;
CREATE OR REPLACE TRIGGER audit_records_append_only
    BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
CREATE OR REPLACE TRIGGER audit_records_no_truncate
    BEFORE TRUNCATE ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();
"""
_INSERT = """
INSERT INTO audit_records (seq, time, trace_id, client_id, organisation, operation_name, outcome,
                           ports, denied, record, prev_hash, hash)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_COLUMNS = "seq, prev_hash, hash, record"


class PostgresAuditStore:
    """:class:`gateway.audit.AuditStore` on PostgreSQL, safe with many replicas."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]]) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, *, max_size: int = POOL_MAX_SIZE) -> "PostgresAuditStore":
        # One direct connection first: it fails fast, with libpq's own reason, when the
        # database cannot be reached (a pool would retry until its timeout).
        async with await AsyncConnection.connect(url) as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_KEY,))
            await db.execute(_SCHEMA)
        pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
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
            cursor = await db.execute(
                "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
            )
            seq, prev = await cursor.fetchone() or (0, GENESIS_HASH)
            stored, rows = [], []
            for record in batch:
                canonical = canonical_json(record)
                seq, digest = seq + 1, chain_hash(prev, canonical)
                columns = index_columns(record)
                rows.append((
                    seq, record.time, columns["trace_id"], columns["client_id"],
                    columns["organisation"], columns["operation_name"], columns["outcome"],
                    Jsonb(columns["ports"]), Jsonb(columns["denied"]), canonical, prev, digest,
                ))  # fmt: skip
                stored.append(StoredRecord(seq, prev, digest, canonical))
                prev = digest
            async with db.cursor() as insert:
                await insert.executemany(_INSERT, rows)
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

    async def head(self) -> ChainLink | None:
        async with self._pool.connection() as db:
            cursor = await db.execute(
                "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
            )
            row = await cursor.fetchone()
        return None if row is None else ChainLink(*row)

    async def verify(self, progress: Progress | None = None) -> VerifyReport:
        return await verify_chain(self._rows(), self._seq_of_hash, progress)

    async def _rows(self) -> AsyncIterator[ChainRow]:
        sql = (
            "SELECT seq, prev_hash, hash, record, time, trace_id, client_id, organisation, "
            "operation_name, outcome, ports, denied FROM audit_records WHERE seq > %s "
            f"ORDER BY seq LIMIT {VERIFY_BATCH}"
        )
        after = 0
        while True:
            async with self._pool.connection() as db:
                cursor = await db.execute(sql, (after,))
                rows = await cursor.fetchall()
            if not rows:
                return
            for row in rows:
                yield _chain_row(row)
            after = rows[-1][0]

    async def _seq_of_hash(self, digest: str) -> int | None:
        async with self._pool.connection() as db:
            cursor = await db.execute("SELECT seq FROM audit_records WHERE hash = %s", (digest,))
            row = await cursor.fetchone()
        return None if row is None else int(row[0])

    async def close(self) -> None:
        await self._pool.close()


def _where(filter: AuditFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column in ("client_id", "organisation", "operation_name", "outcome", "trace_id"):
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


def _chain_row(row: tuple[Any, ...]) -> ChainRow:
    seq, prev_hash, digest, canonical, time, *values = row
    names = ("trace_id", "client_id", "organisation", "operation_name", "outcome")
    columns: dict[str, Any] = dict(zip(names, values[:5], strict=True))
    columns["time"] = format_time(time) if isinstance(time, datetime) else time
    columns["ports"], columns["denied"] = values[5], values[6]
    return ChainRow(seq, prev_hash, digest, canonical, columns)
