"""Both audit stores, SQLite and the real PostgreSQL server: appends, searches, and a chain
whose tampering ``verify`` names."""

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from gateway.record.audit import (
    GENESIS_HASH,
    AuditFilter,
    AuditStore,
    ChainLink,
    canonical_json,
    chain_hash,
    open_audit_store,
)
from gateway.record.audit_chain import check_head, export_jsonl
from tests.gateway.audit_helpers import (
    BACKENDS,
    T0,
    Backend,
    audit_backend,
    postgres_schema,
    sample,
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with audit_backend(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[AuditStore]:
    opened = await open_audit_store(backend.url)
    yield opened
    await opened.close()


async def fill(store: AuditStore, count: int = 20) -> None:
    await store.append_many(sample(n) for n in range(1, count + 1))


async def seqs(store: AuditStore, criteria: AuditFilter, **kwargs: int) -> list[int]:
    return [stored.seq for stored in await store.search(criteria, **kwargs)]


async def test_appended_records_come_back_as_stored_and_chained(store: AuditStore) -> None:
    first = await store.append(sample(1))
    rest = await store.append_many([sample(2), sample(3)])
    assert [s.seq for s in (first, *rest)] == [1, 2, 3]
    assert first.prev_hash == GENESIS_HASH
    assert rest[0].prev_hash == first.hash
    assert rest[1].prev_hash == rest[0].hash
    found = await store.search()
    assert found == [first, *rest]
    assert found[1].record == sample(2).model_copy(update={"document": None})  # kept apart
    assert await store.documents([sample(2).document_hash]) == {
        sample(2).document_hash: sample(2).document
    }
    assert found[1].hash == chain_hash(first.hash, canonical_json(sample(2)))
    assert await store.head() == ChainLink(3, rest[1].hash)


async def test_every_filter(store: AuditStore) -> None:
    await fill(store)
    odd = list(range(1, 21, 2))
    assert await seqs(store, AuditFilter(client_id="acme-trucking")) == odd
    assert await seqs(store, AuditFilter(organisation="Pacific")) == list(range(2, 21, 2))
    since, until = T0 + timedelta(minutes=5), T0 + timedelta(minutes=8)
    assert await seqs(store, AuditFilter(since=since, until=until)) == [5, 6, 7]
    assert await seqs(store, AuditFilter(port="USOAK")) == odd
    assert await seqs(store, AuditFilter(port="USLAX")) == list(range(1, 21))
    assert await seqs(store, AuditFilter(port="USNTD")) == []
    assert await seqs(store, AuditFilter(operation_name="Calls")) == [3, 6, 9, 12, 15, 18]
    assert await seqs(store, AuditFilter(denied="Container.availability")) == [4, 8, 12, 16, 20]
    assert await seqs(store, AuditFilter(outcome="partial")) == [5, 10, 15, 20]
    assert await seqs(store, AuditFilter(trace_id=f"{7:032x}")) == [7]
    both = AuditFilter(client_id="acme-trucking", outcome="partial", port="USOAK")
    assert await seqs(store, both) == [5, 15]


async def test_search_pages_by_seq(store: AuditStore) -> None:
    await fill(store)
    criteria = AuditFilter(client_id="pacific-shippers")
    assert await seqs(store, criteria, limit=3) == [2, 4, 6]
    assert await seqs(store, criteria, limit=3, after_seq=6) == [8, 10, 12]


async def test_an_intact_chain_verifies(store: AuditStore) -> None:
    assert (await store.verify()).ok
    await fill(store)
    progress: list[int] = []
    report = await store.verify(progress.append)
    assert report.ok
    assert report.count == 20
    assert report.head == await store.head()
    assert progress[-1] == 20


async def test_an_edited_record_fails_verify_at_that_row(
    store: AuditStore, backend: Backend
) -> None:
    await fill(store)
    backend.tamper(
        "UPDATE audit_records SET record = replace(record, 'acme-trucking', 'someone-else') "
        "WHERE seq = 7"
    )
    report = await store.verify()
    assert not report.ok
    assert (report.first_bad_seq, report.problem) == (7, "edited")
    assert report.count == 6
    assert report.head is not None
    assert report.head.seq == 6


async def test_an_edited_index_column_fails_verify(store: AuditStore, backend: Backend) -> None:
    # Hiding a record from searches by its client, with the hashed record left alone.
    await fill(store)
    backend.tamper("UPDATE audit_records SET client_id = 'nobody' WHERE seq = 9")
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (9, "edited")
    assert "client_id" in report.reason


async def test_a_record_rewritten_with_a_fresh_hash_breaks_the_next_link(
    store: AuditStore, backend: Backend
) -> None:
    await fill(store)
    stored = (await store.search(limit=1, after_seq=4))[0]
    forged = canonical_json(sample(5, client_id="someone-else", organisation="Else"))
    digest = chain_hash(stored.prev_hash, forged)
    backend.tamper(
        f"UPDATE audit_records SET record = '{forged}', hash = '{digest}', "
        f"client_id = 'someone-else', organisation = 'Else' WHERE seq = 5"
    )
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (6, "deleted")


@pytest.mark.parametrize(("deleted", "reason"), [(8, "seq 8 missing"), (1, "seq 1 missing")])
async def test_a_deleted_record_is_detected(
    store: AuditStore, backend: Backend, deleted: int, reason: str
) -> None:
    await fill(store)
    backend.tamper(f"DELETE FROM audit_records WHERE seq = {deleted}")
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (deleted + 1, "deleted")
    assert reason in report.reason


async def test_deleted_and_renumbered_records_are_detected(
    store: AuditStore, backend: Backend
) -> None:
    await fill(store, 5)
    backend.tamper(
        "DELETE FROM audit_records WHERE seq = 3",
        "UPDATE audit_records SET seq = seq - 1 WHERE seq = 4",
        "UPDATE audit_records SET seq = seq - 1 WHERE seq = 5",
    )
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (3, "deleted")


async def test_reordered_records_are_detected(store: AuditStore, backend: Backend) -> None:
    await fill(store)
    backend.tamper(
        "UPDATE audit_records SET seq = -1 WHERE seq = 11",
        "UPDATE audit_records SET seq = 11 WHERE seq = 12",
        "UPDATE audit_records SET seq = 12 WHERE seq = -1",
    )
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (11, "reordered")
    assert "follows seq 12" in report.reason


async def test_a_cut_tail_is_caught_against_a_noted_head(
    store: AuditStore, backend: Backend
) -> None:
    await fill(store, 5)
    noted = await store.head()
    assert noted is not None
    assert await check_head(store, noted, await store.verify()) is None
    backend.tamper("DELETE FROM audit_records WHERE seq = 5")
    report = await store.verify()
    assert report.ok  # a shorter chain is still a chain
    assert "gone" in (await check_head(store, noted, report) or "")


async def test_export_lines_can_be_checked_offline(store: AuditStore) -> None:
    await store.append_many(sample(n, document="{ ports { name } }") for n in range(1, 6))
    lines: list[str] = []
    assert await export_jsonl(store, lines.append, page=2) == 5
    entries = [json.loads(line) for line in "".join(lines).splitlines()]
    [document] = [e["document"] for e in entries if "document" in e]  # once, before its use
    assert "document" in entries[0]
    assert document["text"] == "{ ports { name } }"
    assert hashlib.sha256(document["text"].encode()).hexdigest() == document["sha256"]
    prev = GENESIS_HASH
    records = [e for e in entries if "record" in e]
    for seq, entry in enumerate(records, start=1):
        text = json.dumps(
            entry["record"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert entry["seq"] == seq
        assert entry["prev_hash"] == prev
        assert hashlib.sha256((prev + text).encode()).hexdigest() == entry["hash"]
        assert entry["record"]["document_hash"] == document["sha256"]
        prev = entry["hash"]


async def test_two_stores_on_one_file_or_database_append_concurrently_without_a_fork(
    backend: Backend,
) -> None:
    one, two = await open_audit_store(backend.url), await open_audit_store(backend.url)
    try:
        written = await asyncio.gather(
            *(one.append(sample(n)) for n in range(50)),
            *(two.append(sample(n)) for n in range(50, 100)),
        )
        assert sorted(s.seq for s in written) == list(range(1, 101))
        report = await one.verify()
        assert report.ok
        assert report.count == 100
    finally:
        await one.close()
        await two.close()


async def test_postgres_refuses_update_delete_and_truncate() -> None:
    with postgres_schema() as url:
        store = await open_audit_store(url)
        try:
            await store.append(sample(1))
        finally:
            await store.close()
        for statement in (
            "UPDATE audit_records SET client_id = 'x'",
            "DELETE FROM audit_records",
            "TRUNCATE audit_records",
        ):
            with psycopg.connect(url) as db, pytest.raises(psycopg.errors.RaiseException):
                db.execute(statement)


async def test_unknown_store_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        await open_audit_store("mysql://localhost/audit")


def test_the_record_hashes_its_document_and_keeps_time_in_utc() -> None:
    record = sample(1, time=datetime(2026, 11, 2, 10, 0, tzinfo=timezone(timedelta(hours=2))))
    assert record.time == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    assert record.document_hash == hashlib.sha256(record.document.encode()).hexdigest()
    assert '"time":"2026-11-02T08:00:00.000000Z"' in canonical_json(record)
    with pytest.raises(ValueError, match="sha256"):
        sample(1, document_hash="0" * 64)
    with pytest.raises(ValueError, match="time zone"):
        sample(1, time=datetime(2026, 11, 2, 8, 0))
    with pytest.raises(ValueError, match="Extra inputs"):
        sample(1, data={"containers": []})  # there is no place for returned data
