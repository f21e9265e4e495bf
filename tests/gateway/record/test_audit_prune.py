"""Retention: pruning archives the oldest records and leaves a checkpoint, so that the trail left
behind, the archive on its own, and both end to end still verify, while cuts and edits are still
caught. Both stores: SQLite and the real PostgreSQL server (whose triggers allow a prune and no
other DELETE). Archive lines are checked here against the documented formats."""

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from gateway.record.audit import (
    CHECKPOINT_OPERATION,
    AuditRecord,
    AuditStore,
    ChainLink,
    Checkpoint,
    PruneConflict,
    open_audit_store,
)
from gateway.record.audit_archive import (
    RetentionSchedule,
    archive_name,
    prune_trail,
    verify_archives,
)
from gateway.record.audit_chain import check_head
from tests.gateway.audit_helpers import (
    BACKENDS,
    T0,
    Backend,
    audit_backend,
    postgres_schema,
    sample,
)

GENESIS = "0" * 64
SHARED = "query Shared { ports { name } }"  # named by records on both sides of the cut


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with audit_backend(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[AuditStore]:
    opened = await open_audit_store(backend.url)
    # seq n at T0 + n minutes; every third record names the shared document
    await opened.append_many(
        sample(n, document=SHARED) if n % 3 == 0 else sample(n) for n in range(1, 21)
    )
    yield opened
    await opened.close()


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_prune_archives_the_start_and_leaves_a_checkpoint(
    store: AuditStore, tmp_path: Path
) -> None:
    tenth = (await store.search(limit=1, after_seq=9))[0]
    archive = tmp_path / "audit-1.jsonl"
    result = await prune_trail(store, minutes(10.5), archive=archive, now=lambda: minutes(60))
    assert result is not None
    assert result.checkpoint == Checkpoint(
        first_seq=1, through_seq=10, count=10, prev_hash=GENESIS, through_hash=tenth.hash,
        first_time=minutes(1), last_time=minutes(10), archive="audit-1.jsonl",
        archive_sha256=sha256(archive.read_bytes()),
    )  # fmt: skip
    found = await store.search(limit=100)
    assert [s.seq for s in found] == list(range(11, 22))
    checkpoint = found[-1].record
    assert (checkpoint.operation_name, checkpoint.checkpoint) == (
        CHECKPOINT_OPERATION,
        result.checkpoint,
    )
    assert found[0].prev_hash == tenth.hash
    report = await store.verify()
    assert report.ok, report
    assert (report.start, report.count) == (11, 11)


async def test_the_archive_is_verifiable_on_its_own_by_its_documented_format(
    store: AuditStore, tmp_path: Path
) -> None:
    archive = tmp_path / "audit-1.jsonl"
    await prune_trail(store, minutes(10.5), archive=archive)
    entries = lines(archive)
    header = entries[0]["archive"]
    assert header["format"] == "portgate-audit-archive"
    assert (header["first_seq"], header["through_seq"], header["count"]) == (1, 10, 10)
    documents: dict[str, str] = {}
    prev, seqs = GENESIS, []
    for entry in entries[1:]:
        if "document" in entry:
            text = entry["document"]["text"]
            assert sha256(text.encode()) == entry["document"]["sha256"]
            documents[entry["document"]["sha256"]] = text
            continue
        record = json.dumps(
            entry["record"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        assert entry["prev_hash"] == prev
        assert entry["hash"] == sha256((prev + record).encode())
        assert entry["record"]["document_hash"] in documents  # its document came first
        prev = entry["hash"]
        seqs.append(entry["seq"])
    assert seqs == list(range(1, 11))
    assert prev == header["through_hash"]
    assert list(documents.values()).count(SHARED) == 1
    assert (await verify_archives([archive])).ok


async def test_archive_and_trail_verify_end_to_end(store: AuditStore, tmp_path: Path) -> None:
    archive = tmp_path / "audit-1.jsonl"
    await prune_trail(store, minutes(10.5), archive=archive)
    report = await verify_archives([archive], store)
    assert report.ok, report
    assert (report.start, report.count) == (1, 21)


async def test_documents_leave_with_the_last_record_naming_them(
    store: AuditStore, tmp_path: Path
) -> None:
    await prune_trail(store, minutes(10.5), archive=None)
    shared = hashlib.sha256(SHARED.encode()).hexdigest()
    gone, kept = sample(4).document_hash, sample(14).document_hash
    assert await store.documents([shared, gone, kept]) == {
        shared: SHARED,
        kept: sample(14).document,
    }


async def test_a_cut_or_a_lost_checkpoint_after_a_prune_fails_verify(
    store: AuditStore, backend: Backend
) -> None:
    await prune_trail(store, minutes(10.5), archive=None)
    backend.tamper("DELETE FROM audit_records WHERE seq = 11")  # cut one more off the start
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (12, "deleted")
    assert "seq 1-11 missing before it, and no checkpoint accounts for them" in report.reason


async def test_cutting_the_checkpoint_off_the_end_fails_verify(
    store: AuditStore, backend: Backend
) -> None:
    await prune_trail(store, minutes(10.5), archive=None)
    backend.tamper("DELETE FROM audit_records WHERE seq = 21")
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (11, "deleted")


async def test_an_archive_edited_even_with_fresh_hashes_fails_end_to_end(
    store: AuditStore, tmp_path: Path
) -> None:
    archive = tmp_path / "audit-1.jsonl"
    await prune_trail(store, minutes(10.5), archive=archive)
    original = archive.read_text(encoding="utf-8")
    archive.write_text(original.replace("acme-trucking", "someone-else", 1), encoding="utf-8")
    assert (await verify_archives([archive])).problem == "edited"
    # Rewritten from the edit on with fresh hashes: consistent alone, not with the trail.
    entries, prev = lines(archive), GENESIS
    for entry in entries[1:]:
        if "record" in entry:
            text = json.dumps(
                entry["record"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            entry["prev_hash"], entry["hash"] = prev, sha256((prev + text).encode())
            prev = entry["hash"]
    entries[0]["archive"]["through_hash"] = prev
    archive.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    assert (await verify_archives([archive])).ok  # no secret: alone it looks whole
    report = await verify_archives([archive], store)
    assert not report.ok
    assert report.first_bad_seq == 11  # the trail does not follow the forged archive


async def test_a_truncated_archive_fails(store: AuditStore, tmp_path: Path) -> None:
    archive = tmp_path / "audit-1.jsonl"
    await prune_trail(store, minutes(10.5), archive=archive)
    text = archive.read_text(encoding="utf-8").splitlines(keepends=True)
    archive.write_text("".join(text[:-1]), encoding="utf-8")
    report = await verify_archives([archive])
    assert not report.ok
    assert "its header says 10" in report.reason


async def test_two_prunes_chain_through_both_archives(store: AuditStore, tmp_path: Path) -> None:
    one, two = tmp_path / "audit-1.jsonl", tmp_path / "audit-2.jsonl"
    await prune_trail(store, minutes(5.5), archive=one, now=lambda: minutes(30))
    second = await prune_trail(store, minutes(40), archive=two, now=lambda: minutes(50))
    assert second is not None
    # 6..20, and the first checkpoint (seq 21, at minute 30), are in the second archive
    assert (second.checkpoint.first_seq, second.checkpoint.through_seq) == (6, 21)
    assert (await store.verify()).ok
    assert (await verify_archives([one, two], store)).ok
    assert (await verify_archives([two], store)).ok  # its start is the first checkpoint's
    assert (await verify_archives([one, two])).ok
    assert not (await verify_archives([two, one])).ok


async def test_nothing_to_prune(store: AuditStore) -> None:
    assert await prune_trail(store, minutes(0.5), archive=None) is None
    assert len(await store.search(limit=100)) == 20


async def test_a_stale_prune_is_refused(store: AuditStore) -> None:
    tenth = (await store.search(limit=1, after_seq=9))[0].link
    await prune_trail(store, minutes(5.5), archive=None)
    stale = AuditRecord(
        client_id="portgate", document="", outcome="ok",
        checkpoint=Checkpoint(first_seq=1, through_seq=10, count=10, prev_hash=GENESIS,
                              through_hash=tenth.hash, first_time=T0, last_time=T0),
    )  # fmt: skip
    with pytest.raises(PruneConflict):
        await store.prune(tenth, stale)
    assert (await store.verify()).ok


async def test_a_noted_head_that_was_pruned_is_not_a_cut(store: AuditStore) -> None:
    noted = await store.head()
    assert noted is not None
    await prune_trail(store, minutes(100), archive=None)  # everything, the noted head too
    report = await store.verify()
    assert report.ok
    assert await check_head(store, noted, report) is None
    forged = ChainLink(noted.seq, "f" * 64)
    assert "pruned with hash" in (await check_head(store, forged, report) or "")


async def test_the_gateway_prunes_on_its_own_schedule(store: AuditStore, tmp_path: Path) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        raise _Stop  # one round is enough

    schedule = RetentionSchedule(
        lambda: store, retention=600, every=3600, archive_dir=tmp_path / "archives",
        clock=lambda: minutes(25.5), sleep=sleep,
    )  # fmt: skip
    with pytest.raises(_Stop):
        await schedule._loop()  # records older than minute 15.5 go
    assert waits == [3600]
    [archive] = (tmp_path / "archives").iterdir()
    assert archive.name == archive_name(1, 15)
    assert (await verify_archives([archive], store)).ok
    assert (await store.search(limit=1))[0].seq == 16


class _Stop(Exception):
    pass


async def test_postgres_refuses_every_delete_but_a_prune() -> None:
    with postgres_schema() as url:
        store = await open_audit_store(url)
        try:
            await store.append_many(sample(n) for n in range(1, 11))

            def refused(statement: str) -> None:
                with psycopg.connect(url) as db, pytest.raises(psycopg.errors.RaiseException):
                    db.execute(statement)

            refused("DELETE FROM audit_records WHERE seq = 1")  # no checkpoint accounts for it
            refused("DELETE FROM audit_records")
            refused("UPDATE audit_records SET client_id = 'x' WHERE seq = 1")
            refused("UPDATE audit_documents SET text = 'x'::bytea")
            refused("TRUNCATE audit_documents")
            refused(f"DELETE FROM audit_documents WHERE hash = '{sample(3).document_hash}'")
            await prune_trail(store, minutes(5.5), archive=None)  # the prune itself is allowed
            refused("DELETE FROM audit_records WHERE seq <= 7")  # past what the checkpoint says
            with psycopg.connect(url) as db:  # a checkpoint row forged with INSERT rights...
                db.execute(
                    "INSERT INTO audit_records SELECT seq + 100, time, trace_id, client_id, "
                    "organisation, operation_name, outcome, ports, denied, record, "
                    "'p' || prev_hash, 'h' || hash, document, 10 FROM audit_records "
                    "WHERE seq = 11"
                )
            refused("DELETE FROM audit_records WHERE seq = 8")  # ...still allows no gap
            with psycopg.connect(url) as db:  # ...but a prefix: then verify is what catches it
                db.execute("DELETE FROM audit_records WHERE seq = 6")
            assert not (await store.verify()).ok
            with psycopg.connect(url) as db:  # a document no record names may go
                db.execute("INSERT INTO audit_documents VALUES ('unused', 'x'::bytea)")
                db.execute("DELETE FROM audit_documents WHERE hash = 'unused'")
        finally:
            await store.close()
