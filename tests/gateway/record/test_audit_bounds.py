"""The trail grows by a bounded amount per operation: each distinct document is kept once, by its
hash; a long document or long variables keep a prefix, with the hash and size of the whole so an
auditor can still match a request they know; names chosen by clients are cut and printable. The
stores are SQLite and the real PostgreSQL server; the oracles are computed here."""

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.record.audit import AuditFilter, AuditStore, canonical_json, open_audit_store
from gateway.record.audit_trail import AuditTrail
from tests.gateway.audit_helpers import BACKENDS, Backend, audit_backend, sample

BIG = "query Big { ports { name } }\n# " + "x" * 250_000  # a 250 KB document that parses


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with audit_backend(request.param, tmp_path) as opened:
        yield opened


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[AuditStore]:
    opened = await open_audit_store(backend.url)
    yield opened
    await opened.close()


def test_a_long_document_keeps_its_first_bytes_and_the_hash_of_the_whole() -> None:
    record = sample(1, document=BIG).bounded(max_document_bytes=1000, max_variables_bytes=8192)
    assert record.document == BIG.encode()[:1000].decode()
    assert record.document_hash == sha256(BIG)  # a known document still matches
    assert record.document_bytes == len(BIG.encode())
    assert record.document_kept_hash == sha256(BIG[:1000])
    assert "x" * 2000 not in canonical_json(record)  # the text is never in the hashed record


def test_a_cut_never_splits_a_character() -> None:
    document = "é" * 600  # two bytes each
    record = sample(1, document=document).bounded(max_document_bytes=1001)
    assert record.document == "é" * 500
    assert record.document_bytes == 1200


def test_long_variables_keep_a_prefix_and_the_hash_and_size_of_the_whole() -> None:
    variables = {"refs": [f"CSQU{n:07d}" for n in range(2000)], "note": "ü"}
    whole = canonical(variables)
    record = sample(1, variables=variables).bounded(max_variables_bytes=256)
    assert record.variables is None
    assert record.variables_prefix == whole.encode()[:256].decode()
    assert record.variables_hash == sha256(whole)
    assert record.variables_bytes == len(whole.encode())
    stored = json.loads(canonical_json(record))
    assert stored["variables"] is None
    assert stored["variables_hash"] == sha256(whole)


def test_variables_within_the_cap_are_kept_whole_with_their_hash() -> None:
    variables = {"refs": ["EGHU0239805"], "n": 1}
    record = sample(1, variables=variables).bounded(max_variables_bytes=256)
    assert record.variables == variables
    assert record.variables_hash == sha256(canonical(variables))
    assert record.variables_prefix is None


def test_names_chosen_by_clients_are_cut_and_printable() -> None:
    record = sample(1, operation_name="Op\x00" + "N" * 1000).bounded()
    assert record.operation_name is not None
    assert len(record.operation_name) == 256
    assert record.operation_name.startswith("Op\ufffdNNN")


async def test_one_document_sent_many_times_is_stored_once(
    store: AuditStore, backend: Backend
) -> None:
    records = [sample(n, document=BIG).bounded(max_document_bytes=300_000) for n in range(20)]
    await store.append_many(records)
    assert backend.query("SELECT count(*) FROM audit_documents") == [(1,)]
    [(size,)] = backend.query("SELECT max(length(record)) FROM audit_records")
    assert isinstance(size, int)
    assert size < 2000  # a record names its document, never holds it
    assert await store.documents([sha256(BIG)]) == {sha256(BIG): BIG}
    found = await store.search(AuditFilter(document=sha256(BIG)))
    assert len(found) == 20
    assert (await store.verify()).ok


async def test_a_long_document_is_stored_as_its_prefix_under_the_prefix_hash(
    store: AuditStore,
) -> None:
    record = sample(1, document=BIG).bounded(max_document_bytes=4096)
    stored = await store.append(record)
    assert stored.record.document_hash == sha256(BIG)
    kept = BIG.encode()[:4096].decode()
    assert await store.documents([sha256(kept)]) == {sha256(kept): kept}
    assert await store.documents([sha256(BIG)]) == {}  # the whole was never stored
    assert (await store.verify()).ok


async def test_an_edited_document_fails_verify_at_the_first_record_naming_it(
    store: AuditStore, backend: Backend
) -> None:
    await store.append_many(sample(n) for n in range(1, 6))
    await store.append_many(sample(n, document=sample(3).document) for n in range(6, 9))
    digest = sample(3).document_hash
    backend.tamper(
        f"UPDATE audit_documents SET text = replace(text, 'Q3', 'Q9') WHERE hash = '{digest}'"
        if backend.name == "sqlite"
        else "UPDATE audit_documents SET text = convert_to(replace(convert_from(text, 'UTF8'), "
        f"'Q3', 'Q9'), 'UTF8') WHERE hash = '{digest}'"
    )
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (3, "edited")
    assert f"document {digest} no longer matches its hash" in report.reason


async def test_a_deleted_document_fails_verify(store: AuditStore, backend: Backend) -> None:
    await store.append_many(sample(n) for n in range(1, 6))
    backend.tamper(f"DELETE FROM audit_documents WHERE hash = '{sample(4).document_hash}'")
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (4, "deleted")
    assert "is missing" in report.reason


async def test_any_character_a_client_sends_is_stored_and_verifies(store: AuditStore) -> None:
    # A NUL in a document or a name must not make the store refuse the batch it is in.
    hostile = sample(1, document="{ ports \x00 }", operation_name="A\x00B").bounded()
    await store.append_many([sample(0), hostile, sample(2)])
    found = await store.search()
    assert len(found) == 3
    assert found[1].record.operation_name == "A\ufffdB"
    assert await store.documents([sha256("{ ports \x00 }")]) == {
        sha256("{ ports \x00 }"): "{ ports \x00 }"
    }
    assert (await store.verify()).ok


async def test_the_trail_bounds_every_record_before_it_is_queued(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    trail = await AuditTrail.open(url, max_document_bytes=1024, max_variables_bytes=128)
    variables = {"refs": ["CSQU3054383"] * 100}
    for n in range(10):
        await trail.record(sample(n, document=BIG, variables=variables))
    await trail.close()
    store = await open_audit_store(url)
    try:
        records = [stored.record for stored in await store.search()]
        assert len(records) == 10
        assert {r.document_hash for r in records} == {sha256(BIG)}
        assert {r.variables_hash for r in records} == {sha256(canonical(variables))}
        assert all(r.variables is None for r in records)
        assert set((await store.documents([sha256(BIG.encode()[:1024].decode())])).values()) == {
            BIG[:1024]
        }
    finally:
        await store.close()
