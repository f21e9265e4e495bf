"""The chain's hash, checked against an oracle computed here from the documented formula
(gateway/audit.py: ``hash = sha256(prev_hash || record)``, the record as canonical JSON: keys
sorted, no spaces, UTF-8), never with the code's own ``chain_hash``; and tampering that only a
hash covering ``prev_hash`` catches. Both stores: SQLite and the real PostgreSQL server."""

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.audit import AuditStore, ChainLink, open_audit_store
from gateway.audit_chain import check_head
from tests.gateway.audit_helpers import BACKENDS, Backend, audit_backend, sample

GENESIS = "0" * 64


def documented_hash(prev_hash: str, record: dict[str, Any]) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(prev_hash.encode("ascii") + text.encode("utf-8")).hexdigest()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with audit_backend(request.param, tmp_path) as opened:
        yield opened


def chain_rows(backend: Backend) -> list[tuple[Any, ...]]:
    """(seq, prev_hash, hash, record) of every row, read behind the store's back."""
    return backend.query("SELECT seq, prev_hash, hash, record FROM audit_records ORDER BY seq")


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[AuditStore]:
    opened = await open_audit_store(backend.url)
    await opened.append_many(sample(n, client_id=f"client-{n}") for n in range(1, 11))
    yield opened
    await opened.close()


async def test_every_stored_hash_is_the_documented_formula_over_the_previous_hash(
    store: AuditStore, backend: Backend
) -> None:
    prev = GENESIS
    for seq, prev_hash, digest, text in chain_rows(backend):
        assert prev_hash == prev, seq
        assert digest == documented_hash(prev, json.loads(text)), seq
        # the hash would differ had it been taken over the record alone
        assert digest != hashlib.sha256(text.encode()).hexdigest()
        prev = digest


async def test_a_record_rewritten_and_the_next_one_relinked_fails_at_the_next_one(
    store: AuditStore, backend: Backend
) -> None:
    rows = {
        seq: (prev, digest, json.loads(text)) for seq, prev, digest, text in chain_rows(backend)
    }
    prev5, _, record5 = rows[5]
    record5["client_id"] = "someone-else"  # who asked, rewritten; the index column with it
    text5 = json.dumps(record5, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    forged5 = documented_hash(prev5, record5)  # anyone can compute a hash: there is no secret
    backend.tamper(
        f"UPDATE audit_records SET record = '{text5}', hash = '{forged5}', "
        "client_id = 'someone-else' WHERE seq = 5",
        f"UPDATE audit_records SET prev_hash = '{forged5}' WHERE seq = 6",  # relinked
    )
    report = await store.verify()
    assert (report.first_bad_seq, report.problem) == (6, "edited")
    assert "hash does not match" in report.reason  # 6's hash covers the prev_hash it had
    assert report.head == ChainLink(5, forged5)  # 5 itself now looks whole: 6 gives it away


async def test_a_rewrite_carried_to_the_end_is_caught_against_a_noted_head(
    store: AuditStore, backend: Backend
) -> None:
    noted = await store.head()
    assert noted is not None
    rows = {
        seq: (prev, digest, json.loads(text)) for seq, prev, digest, text in chain_rows(backend)
    }
    prev, statements = rows[5][0], []
    for seq in range(5, 11):
        record = rows[seq][2]
        if seq == 5:
            record["client_id"] = "someone-else"
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = documented_hash(prev, record)
        statements.append(
            f"UPDATE audit_records SET record = '{text}', prev_hash = '{prev}', "
            f"hash = '{digest}', client_id = '{record['client_id']}' WHERE seq = {seq}"
        )
        prev = digest
    backend.tamper(*reversed(statements))  # from the end: prev_hash stays unique throughout
    report = await store.verify()
    assert report.ok  # a chain rewritten to its end is a chain: only a noted head tells
    problem = await check_head(store, noted, report)
    assert problem is not None
    assert f"seq 10 has hash {prev}" in problem
