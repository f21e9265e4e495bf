"""The chain's hash, checked against an oracle computed here from the documented formula
(gateway/record/audit.py: ``hash = sha256(prev_hash || record)``, the record as canonical JSON: keys
sorted, no spaces, UTF-8), never with the code's own ``chain_hash``; and tampering that only a
hash covering ``prev_hash`` catches. Both stores: SQLite and the real PostgreSQL server.

Then the walk itself over rows held in memory, linked here by that formula: for each way a
chain can be broken, the whole report verify gives (where it stopped, why, and what it had
checked), and where a walk may start."""

import dataclasses
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.record.audit import (
    CHECKPOINT_OPERATION,
    AuditFilter,
    AuditRecord,
    AuditStore,
    ChainLink,
    Checkpoint,
    Problem,
    VerifyReport,
    canonical_json,
    index_columns,
    open_audit_store,
)
from gateway.record.audit_chain import (
    ChainRow,
    DocumentState,
    accounting_checkpoint,
    accounts_for,
    check_head,
    document_of,
    export_jsonl,
    verify_chain,
)
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


# -- the walk, over rows in memory -------------------------------------------------------------


def link_hash(prev_hash: str, text: str) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + text.encode("utf-8")).hexdigest()


def linked(texts: list[str], first_seq: int = 1, prev: str = GENESIS) -> list[ChainRow]:
    """Rows as a store keeps them, each linked to the one before by the documented formula."""
    rows = []
    for seq, text in enumerate(texts, start=first_seq):
        rows.append(ChainRow(seq, prev, link_hash(prev, text), text, None))
        prev = rows[-1].hash
    return rows


def at(row: ChainRow) -> ChainLink:
    return ChainLink(row.seq, row.hash)


@dataclasses.dataclass
class Source:
    """A chain source in memory. ``claims``: what its checkpoint look-up answers instead of
    looking (as an index column edited behind the store's back would)."""

    rows: list[ChainRow]
    claims: int | None = None

    async def chain_rows(self) -> AsyncIterator[ChainRow]:
        for row in self.rows:
            yield row

    async def seq_of_hash(self, digest: str) -> int | None:
        return next((row.seq for row in self.rows if row.hash == digest), None)

    async def checkpoint_for(self, seq: int, prev_hash: str) -> int | None:
        if self.claims is not None:
            return self.claims
        for row in self.rows:
            checkpoint = json.loads(row.canonical).get("checkpoint")
            if checkpoint and (checkpoint["through_seq"], checkpoint["through_hash"]) == (
                seq - 1,
                prev_hash,
            ):
                return row.seq
        return None


TEXTS = [canonical_json(sample(n)) for n in range(1, 6)]
ROWS = linked(TEXTS)
T1 = datetime(2026, 11, 3, tzinfo=UTC)


async def walk(*rows: ChainRow, **options: Any) -> VerifyReport:
    claims = options.pop("claims", None)
    return await verify_chain([Source(list(rows), claims)], **options)


async def test_an_intact_chain_is_walked_to_its_head() -> None:
    counted: list[int] = []
    report = await verify_chain([Source(ROWS[:2]), Source(ROWS[2:])], counted.append)
    assert report == VerifyReport(5, at(ROWS[4]), start=1)
    assert counted == [1, 2, 3, 4, 5]
    assert str(report) == f"ok: 5 record(s) verified, head 5:{ROWS[4].hash}"
    assert await walk() == VerifyReport(0, None)


async def test_a_changed_record_is_edited_where_its_hash_no_longer_matches() -> None:
    changed = dataclasses.replace(ROWS[2], canonical=TEXTS[2].replace("acme", "else"))
    assert await walk(*ROWS[:2], changed, *ROWS[3:]) == VerifyReport(
        2, at(ROWS[1]), 3, "edited", "its hash does not match its content", 1
    )


async def test_a_row_whose_text_is_no_record_is_edited() -> None:
    rows = linked([*TEXTS[:2], '{"client_id":"x"}'])
    report = await walk(*rows)
    assert (report.count, report.head, report.first_bad_seq, report.problem, report.start) == (
        2, at(rows[1]), 3, "edited", 1
    )  # fmt: skip
    assert report.reason.startswith("its content is not an audit record (")


async def test_an_index_column_that_disagrees_with_the_record_is_named() -> None:
    rows = [dataclasses.replace(row, columns=index_columns(sample(row.seq))) for row in ROWS]
    rows[1].columns["client_id"] = "nobody"  # type: ignore[index]
    assert await walk(*rows) == VerifyReport(
        1, at(rows[0]), 2, "edited", "column(s) ['client_id'] disagree with the hashed record", 1
    )


@pytest.mark.parametrize(
    ("state", "problem", "reason"),
    [("missing", "deleted", "its document {} is missing"),
     ("edited", "edited", "its document {} no longer matches its hash")],
)  # fmt: skip
async def test_a_document_kept_apart_must_be_there_unchanged(
    state: DocumentState, problem: Problem, reason: str
) -> None:
    document = hashlib.sha256((sample(2).document or "").encode()).hexdigest()
    lost = dataclasses.replace(ROWS[1], document=state)
    assert await walk(ROWS[0], lost, *ROWS[2:]) == VerifyReport(
        1, at(ROWS[0]), 2, problem, reason.format(document), 1
    )


async def test_a_record_carrying_its_document_needs_none_kept_apart() -> None:
    inline = json.dumps(
        {**json.loads(TEXTS[0]), "document": sample(1).document},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    [row] = linked([inline])
    assert await walk(dataclasses.replace(row, document="missing")) == VerifyReport(
        1, at(row), start=1
    )


async def test_a_second_start_of_the_chain_is_reordered() -> None:
    restart = linked([TEXTS[2]], first_seq=3)
    assert await walk(*ROWS[:2], *restart) == VerifyReport(
        2, at(ROWS[1]), 3, "reordered", "it starts the chain but is stored after seq 2", 1
    )


@pytest.mark.parametrize(
    ("kept", "bad_seq", "reason"),
    [
        ((0, 1, 3, 4), 4, "seq 3 missing before it"),
        ((0, 3, 4), 4, "seq 2-3 missing before it"),
    ],
)
async def test_deleted_records_are_named_by_their_seqs(
    kept: tuple[int, ...], bad_seq: int, reason: str
) -> None:
    rows = [ROWS[i] for i in kept]
    good = [row for row in rows if row.seq < bad_seq]
    assert await walk(*rows) == VerifyReport(len(good), at(good[-1]), bad_seq, "deleted", reason, 1)


async def test_a_record_following_one_that_is_nowhere_is_deleted() -> None:
    elsewhere = "f" * 64
    orphan = ChainRow(3, elsewhere, link_hash(elsewhere, TEXTS[2]), TEXTS[2], None)
    assert await walk(*ROWS[:2], orphan) == VerifyReport(
        2, at(ROWS[1]), 3, "deleted", "the record it follows is missing (or was rewritten)", 1
    )


async def test_records_stored_out_of_order_are_reordered() -> None:
    assert await walk(ROWS[0], ROWS[2], ROWS[1]) == VerifyReport(
        1, at(ROWS[0]), 3, "reordered", "it follows seq 2 but is stored after seq 1", 1
    )
    after_first = ChainLink(1, ROWS[0].hash)
    assert await walk(ROWS[2], ROWS[1], trusted_start=after_first) == VerifyReport(
        0, None, 3, "reordered", "it follows seq 2 but is stored first", 3
    )


@pytest.mark.parametrize(
    ("seq", "reason"), [(5, "seq 2-4 missing before it"), (1, "seq 1 is out of order before it")]
)
async def test_a_record_linked_right_but_numbered_wrong(seq: int, reason: str) -> None:
    renumbered = dataclasses.replace(ROWS[1], seq=seq)
    assert await walk(ROWS[0], renumbered) == VerifyReport(
        1, at(ROWS[0]), seq, "deleted", reason, 1
    )


async def test_a_walk_may_start_after_a_record_the_caller_vouches_for() -> None:
    assert await walk(*ROWS[2:], trusted_start=at(ROWS[1])) == VerifyReport(3, at(ROWS[4]), start=3)


@pytest.mark.parametrize(
    ("first", "problem", "reason"),
    [
        (1, "edited", "it is seq 1 but does not start the chain (its prev_hash is not 64 zeros)"),
        (4, "deleted", "seq 1-3 missing before it, and no checkpoint accounts for them"),
    ],
)
async def test_a_trail_that_does_not_start_the_chain_needs_a_checkpoint(
    first: int, problem: Problem, reason: str
) -> None:
    rows = linked(TEXTS[first - 1 :], first_seq=first, prev="a" * 64)
    assert await walk(*rows) == VerifyReport(0, None, first, problem, reason, first)


CHECKPOINT = Checkpoint(
    first_seq=1, through_seq=3, count=3, prev_hash=GENESIS, through_hash=ROWS[2].hash,
    first_time=T1, last_time=T1 + timedelta(minutes=2), archive="audit-1.jsonl",
)  # fmt: skip
PRUNED = linked(
    [
        *TEXTS,
        canonical_json(
            AuditRecord(
                time=T1 + timedelta(hours=1),
                client_id="portgate",
                document="",
                outcome="ok",
                operation_name=CHECKPOINT_OPERATION,
                checkpoint=CHECKPOINT,
            )
        ),
    ]
)[3:]  # seq 1-3 pruned; seq 6 is the checkpoint accounting for them


async def test_a_pruned_trail_starts_where_its_checkpoint_says() -> None:
    assert await walk(*PRUNED) == VerifyReport(3, at(PRUNED[2]), start=4, checkpoints=(CHECKPOINT,))
    broken = ChainRow(7, PRUNED[2].hash, "e" * 64, TEXTS[0], None)
    assert await walk(*PRUNED, broken) == VerifyReport(
        3, at(PRUNED[2]), 7, "edited", "its hash does not match its content", 4, (CHECKPOINT,)
    )


async def test_a_checkpoint_the_source_names_must_account_for_the_start_and_be_walked() -> None:
    assert await walk(*PRUNED, claims=5) == VerifyReport(
        1, at(PRUNED[0]), 5, "edited", "it no longer accounts for the start of the trail", 4
    )
    assert await walk(*PRUNED[:2], claims=6) == VerifyReport(
        2, at(PRUNED[1]), 4, "deleted", "the checkpoint accounting for the start is gone", 4
    )
    # The one it names is not walked, an older one is: the report still lists what was met.
    assert await walk(*PRUNED, claims=7) == VerifyReport(
        3, at(PRUNED[2]), 4, "deleted", "the checkpoint accounting for the start is gone", 4,
        (CHECKPOINT,),
    )  # fmt: skip


def test_a_checkpoint_accounts_for_a_start_by_its_seq_and_hash_both() -> None:
    record = AuditRecord.model_validate_json(PRUNED[2].canonical)
    assert accounts_for(record, 4, ROWS[2].hash)
    assert not accounts_for(record, 4, ROWS[1].hash)
    assert not accounts_for(record, 3, ROWS[2].hash)
    assert not accounts_for(sample(1), 4, ROWS[2].hash)
    rows = [(2, "not a record"), (5, TEXTS[4]), (6, PRUNED[2].canonical)]
    assert accounting_checkpoint(rows, 4, ROWS[2].hash) == 6
    assert accounting_checkpoint(rows, 4, ROWS[1].hash) is None


def test_the_document_a_hashed_record_names() -> None:
    record = sample(1)
    assert document_of(canonical_json(record)) == record.document_hash
    cut = sample(1, document="x" * 300).bounded(max_document_bytes=256)
    assert document_of(canonical_json(cut)) == cut.document_kept_hash != cut.document_hash
    inline = json.dumps({**json.loads(canonical_json(record)), "document": record.document})
    assert document_of(inline) is None


async def test_an_export_holds_the_matching_records_each_after_its_document(
    tmp_path: Path,
) -> None:
    store = await open_audit_store(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    try:
        await store.append_many(sample(n) for n in range(1, 6))  # 1, 3, 5: acme-trucking
        lines: list[str] = []
        counted: list[int] = []
        acme = AuditFilter(client_id="acme-trucking")
        written = await export_jsonl(store, lines.append, acme, page=2, progress=counted.append)
    finally:
        await store.close()
    assert (written, counted) == (3, [2, 3])
    entries = [json.loads(line) for line in lines]
    assert [e["record"]["client_id"] for e in entries if "record" in e] == ["acme-trucking"] * 3
    assert ["document" if "document" in e else "record" for e in entries] == [
        "document",
        "record",
    ] * 3
