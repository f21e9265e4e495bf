"""A trail written by the previous release (documents inline in every record, no documents
table) is upgraded in place when opened: its records stay exactly as they were hashed and still
verify, new records keep documents apart, and both kinds prune and archive together. The old
trail is built here from that release's table and record format, on SQLite and on the real
PostgreSQL server."""

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from gateway.record.audit import AuditFilter, open_audit_store
from gateway.record.audit_archive import prune_trail, verify_archives
from gateway.record.audit_chain import export_jsonl
from tests.gateway.audit_helpers import T0, postgres_schema, sample, sqlite_tamper

GENESIS = "0" * 64
OLD_COLUMNS = """
    trace_id text, client_id text NOT NULL, organisation text NOT NULL, operation_name text,
    outcome text NOT NULL, ports {json} NOT NULL, denied {json} NOT NULL, record text NOT NULL,
    prev_hash text NOT NULL UNIQUE, hash text NOT NULL UNIQUE
"""
OLD_SQLITE = f"CREATE TABLE audit_records (seq INTEGER PRIMARY KEY, time TEXT NOT NULL, \
{OLD_COLUMNS.format(json='TEXT')})"
OLD_POSTGRES = f"""
CREATE TABLE audit_records (seq bigint PRIMARY KEY, time timestamptz NOT NULL,
{OLD_COLUMNS.format(json="jsonb")});
CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
"""


def old_rows(count: int) -> list[dict[str, Any]]:
    """Rows as the previous release wrote them: the document inline in the hashed record."""
    rows, prev = [], GENESIS
    for n in range(1, count + 1):
        document = f"query Old{n} {{ ports {{ name }} }}"
        time = T0 + timedelta(minutes=n)
        record = {
            "client_id": "acme-trucking", "denied": [], "document": document,
            "document_hash": hashlib.sha256(document.encode()).hexdigest(),
            "duration_ms": 12.0, "error_codes": [], "incident": None, "operation_name": "Old",
            "operation_type": "query", "organisation": "ACME", "outcome": "ok",
            "ports": [{"cache": "fresh", "code": None, "latencyMs": 3.5, "port": "USLAX",
                       "status": "ok"}],
            "requested": ["Query.ports"], "roles": ["trucker"],
            "time": time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "trace_id": None,
            "variables": {"n": n},
        }  # fmt: skip
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256((prev + text).encode()).hexdigest()
        rows.append({"seq": n, "time": time, "record": text, "prev_hash": prev, "hash": digest})
        prev = digest
    return rows


def write_old_sqlite(path: Path, rows: list[dict[str, Any]]) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(OLD_SQLITE)
        for row in rows:
            db.execute(
                "INSERT INTO audit_records VALUES (?, ?, NULL, 'acme-trucking', 'ACME', 'Old', "
                "'ok', '[\"USLAX\"]', '[]', ?, ?, ?)",
                (row["seq"], row["time"].strftime("%Y-%m-%dT%H:%M:%S.%fZ"), row["record"],
                 row["prev_hash"], row["hash"]),
            )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def old_trail(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a trail of 6 records written by the previous release."""
    rows = old_rows(6)
    if request.param == "sqlite":
        path = tmp_path / "audit.sqlite3"
        write_old_sqlite(path, rows)
        yield f"sqlite:///{path}"
        return
    with postgres_schema() as url:
        with psycopg.connect(url) as db:
            db.execute(OLD_POSTGRES)
            for row in rows:
                db.execute(
                    "INSERT INTO audit_records VALUES (%s, %s, NULL, 'acme-trucking', 'ACME', "
                    "'Old', 'ok', %s, %s, %s, %s, %s)",
                    (row["seq"], row["time"], Jsonb(["USLAX"]), Jsonb([]), row["record"],
                     row["prev_hash"], row["hash"]),
                )  # fmt: skip
        yield url


async def test_an_old_trail_is_upgraded_and_still_verifies(old_trail: str) -> None:
    store = await open_audit_store(old_trail)
    try:
        report = await store.verify()
        assert report.ok, report
        assert report.count == 6
        [old] = await store.search(AuditFilter(trace_id=None, operation_name="Old"), limit=1)
        assert old.record.document == "query Old1 { ports { name } }"  # inline, as hashed
        assert old.canonical == old_rows(6)[0]["record"]  # not a byte changed
        await store.append_many(sample(n) for n in range(7, 10))
        report = await store.verify()
        assert report.ok, report
        assert report.count == 9
        found = await store.search(AuditFilter(document=old.record.document_hash))
        assert [s.seq for s in found] == [1]
    finally:
        await store.close()
    reopened = await open_audit_store(old_trail)  # upgrading is done once
    try:
        assert (await reopened.verify()).count == 9
    finally:
        await reopened.close()


async def test_old_and_new_records_export_prune_and_archive_together(
    old_trail: str, tmp_path: Path
) -> None:
    store = await open_audit_store(old_trail)
    try:
        await store.append_many(sample(n) for n in range(7, 12))
        lines: list[str] = []
        await export_jsonl(store, lines.append)
        entries = [json.loads(line) for line in "".join(lines).splitlines()]
        assert [e["seq"] for e in entries if "record" in e] == list(range(1, 12))
        assert len([e for e in entries if "document" in e]) == 5  # the new records' only
        archive = tmp_path / "archive.jsonl"
        result = await prune_trail(store, T0 + timedelta(minutes=8.5), archive=archive)
        assert result is not None
        assert (result.checkpoint.first_seq, result.checkpoint.through_seq) == (1, 8)
        assert (await verify_archives([archive])).ok
        assert (await verify_archives([archive], store)).ok
        assert (await store.verify()).ok
    finally:
        await store.close()


async def test_an_edited_old_record_is_still_caught(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    write_old_sqlite(path, old_rows(3))
    store = await open_audit_store(f"sqlite:///{path}")
    sqlite_tamper(path, "UPDATE audit_records SET record = replace(record, 'Old2', 'New2')")
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (2, "edited")
