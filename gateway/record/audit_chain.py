"""Walking the hash chain: a store's trail, archives, or archives and the trail end to end.

:func:`verify_chain` walks the rows of one or more :class:`ChainSource` (a store, an archive)
in ``seq`` order and names the first bad one (see :mod:`gateway.record.audit` for what edited,
deleted and reordered mean). Where the walk may start:

- at ``seq 1``, whose ``prev_hash`` is 64 zeros: the chain's genesis;
- at the first record left after a prune, when a **checkpoint** record later in the walk names
  the record before it (``checkpoint.through_seq`` and ``checkpoint.through_hash``). The
  checkpoint is itself a record of the chain, so it cannot be changed without detection;
  cutting it off the end (a tail cut) leaves the start unaccounted for, and verify fails;
- at a start the caller trusts (``trusted_start``): an archive checked on its own starts where
  its header says.

Rows whose document is kept apart must find it in the store's documents table with a text whose
SHA-256 is still the hash it is kept under; a store reports each row's document as ``stored``,
``missing`` or ``edited``.
"""

import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from gateway.record.audit import (
    EVERY_RECORD,
    GENESIS_HASH,
    AuditFilter,
    AuditRecord,
    AuditStore,
    ChainLink,
    Checkpoint,
    Problem,
    Progress,
    VerifyReport,
    chain_hash,
    document_line,
    index_columns,
)

DocumentState = Literal["stored", "missing", "edited"]


@dataclass(frozen=True, slots=True)
class ChainRow:
    """A stored row as :func:`verify_chain` reads it: the hashed text, the index columns in the
    form :func:`gateway.record.audit.index_columns` gives them (None: nothing to compare, as in an
    archive), and the state of its document."""

    seq: int
    prev_hash: str
    hash: str
    canonical: str
    columns: dict[str, Any] | None
    document: DocumentState = "stored"


class ChainSource(Protocol):
    """Rows of the chain, in ``seq`` order, and two look-ups among them."""

    def chain_rows(self) -> AsyncIterator[ChainRow]: ...

    async def seq_of_hash(self, digest: str) -> int | None:
        """The seq of the record with this hash, if this source holds it."""
        ...

    async def checkpoint_for(self, seq: int, prev_hash: str) -> int | None:
        """The seq of a checkpoint record in this source that accounts for every record before
        ``seq`` (the record at ``seq`` follows ``prev_hash``), if there is one."""
        ...


def accounts_for(record: AuditRecord, seq: int, prev_hash: str) -> bool:
    """Whether ``record`` is a checkpoint for a trail that starts at ``seq`` after
    ``prev_hash``."""
    checkpoint = record.checkpoint
    return (
        checkpoint is not None
        and checkpoint.through_seq == seq - 1
        and checkpoint.through_hash == prev_hash
    )


def accounting_checkpoint(rows: Iterable[tuple[int, str]], seq: int, prev_hash: str) -> int | None:
    """Among ``(seq, hashed text)`` rows, the seq of the first checkpoint that accounts for a
    trail starting at ``seq`` after ``prev_hash``."""
    for found, text in rows:
        try:
            if accounts_for(AuditRecord.model_validate_json(text), seq, prev_hash):
                return int(found)
        except ValueError:
            continue  # not a record: verify reports it when it gets there
    return None


async def verify_chain(
    sources: Sequence[ChainSource],
    progress: Progress | None = None,
    *,
    trusted_start: ChainLink | None = None,
) -> VerifyReport:
    """Walk the rows of ``sources``, one after the other, as one chain. ``trusted_start`` is the
    record before the first row, when the caller vouches for it (seq and hash)."""
    count, last = 0, None
    expected_seq, expected_prev = 1, GENESIS_HASH
    start: int | None = None
    start_prev = GENESIS_HASH
    vouched_by: int | None = None  # the checkpoint accounting for the records before start
    confirmed = False
    checkpoints: list[Checkpoint] = []

    def bad(row: ChainRow, problem: Problem, reason: str) -> VerifyReport:
        return VerifyReport(count, last, row.seq, problem, reason, start, tuple(checkpoints))

    async for row in _rows(sources):
        if chain_hash(row.prev_hash, row.canonical) != row.hash:
            return bad(row, "edited", "its hash does not match its content")
        try:
            record = AuditRecord.model_validate_json(row.canonical)
        except ValueError as exc:
            return bad(row, "edited", f"its content is not an audit record ({exc})")
        if row.columns is not None:
            columns = index_columns(record)
            changed = sorted(k for k, value in columns.items() if row.columns.get(k) != value)
            if changed:
                return bad(row, "edited", f"column(s) {changed} disagree with the hashed record")
        if start is None:
            start, start_prev = row.seq, row.prev_hash
            if trusted_start is not None:
                expected_seq, expected_prev = trusted_start.seq + 1, trusted_start.hash
            elif row.prev_hash != GENESIS_HASH:
                vouched_by = await _checkpoint_for(sources, row.seq, row.prev_hash)
                if vouched_by is None:
                    return bad(row, *_unaccounted(row.seq))
                expected_seq, expected_prev = row.seq, row.prev_hash
        if record.document is None:  # kept apart: it must still be there, unchanged
            digest = record.stored_document_hash
            if row.document == "missing":
                return bad(row, "deleted", f"its document {digest} is missing")
            if row.document == "edited":
                return bad(row, "edited", f"its document {digest} no longer matches its hash")
        if row.prev_hash != expected_prev:
            where = f"after seq {last.seq}" if last else "first"
            if row.prev_hash == GENESIS_HASH:
                return bad(row, "reordered", f"it starts the chain but is stored {where}")
            follows = await _seq_of_hash(sources, row.prev_hash)
            if follows is None:
                if row.seq > expected_seq:
                    return bad(row, "deleted", f"{_missing(expected_seq, row.seq)} before it")
                return bad(row, "deleted", "the record it follows is missing (or was rewritten)")
            return bad(row, "reordered", f"it follows seq {follows} but is stored {where}")
        if row.seq != expected_seq:  # linked right, numbered wrong
            return bad(row, "deleted", f"{_missing(expected_seq, row.seq)} before it")
        if row.seq == vouched_by:
            if not accounts_for(record, start, start_prev):
                return bad(row, "edited", "it no longer accounts for the start of the trail")
            confirmed = True
        if record.checkpoint is not None:
            checkpoints.append(record.checkpoint)
        count += 1
        last = ChainLink(row.seq, row.hash)
        expected_seq, expected_prev = row.seq + 1, row.hash
        if progress is not None:
            progress(count)
    if vouched_by is not None and not confirmed:  # the checkpoint found was not walked
        return VerifyReport(
            count, last, start, "deleted", "the checkpoint accounting for the start is gone",
            start, tuple(checkpoints),
        )  # fmt: skip
    return VerifyReport(count, last, start=start, checkpoints=tuple(checkpoints))


async def _rows(sources: Sequence[ChainSource]) -> AsyncIterator[ChainRow]:
    for source in sources:
        async for row in source.chain_rows():
            yield row


async def _checkpoint_for(sources: Sequence[ChainSource], seq: int, prev_hash: str) -> int | None:
    for source in sources:
        if (found := await source.checkpoint_for(seq, prev_hash)) is not None:
            return found
    return None


async def _seq_of_hash(sources: Sequence[ChainSource], digest: str) -> int | None:
    for source in sources:
        if (found := await source.seq_of_hash(digest)) is not None:
            return found
    return None


def _unaccounted(seq: int) -> tuple[Problem, str]:
    if seq > 1:
        return "deleted", f"{_missing(1, seq)} before it, and no checkpoint accounts for them"
    return "edited", "it is seq 1 but does not start the chain (its prev_hash is not 64 zeros)"


def _missing(first: int, after: int) -> str:
    if after <= first:
        return f"seq {after} is out of order"
    return f"seq {first} missing" if after == first + 1 else f"seq {first}-{after - 1} missing"


async def check_head(store: AuditStore, noted: ChainLink, report: VerifyReport) -> str | None:
    """Why a head noted earlier is no longer in the chain (the tail was cut), or None. A head
    that a prune has removed from the start since (``report`` of a verify that passed says
    where the trail starts now) is accounted for by the checkpoints."""
    found = await store.search(limit=1, after_seq=noted.seq - 1)
    if found and found[0].seq == noted.seq:
        if found[0].hash != noted.hash:
            return f"seq {noted.seq} has hash {found[0].hash}, not the {noted.hash} noted"
        return None
    if report.ok and report.start is not None and noted.seq < report.start:
        for checkpoint in report.checkpoints:
            if checkpoint.through_seq == noted.seq and checkpoint.through_hash != noted.hash:
                return f"seq {noted.seq} was pruned with hash {checkpoint.through_hash}, not that"
        return None  # pruned: the archive holds it
    return f"seq {noted.seq} is gone: records were removed from the end of the chain"


def document_of(canonical: str) -> str | None:
    """The stored hash of a hashed record's document, or None when it carries it inline."""
    data = json.loads(canonical)
    if "document" in data:
        return None
    return str(data.get("document_kept_hash") or data["document_hash"])


async def export_jsonl(
    store: AuditStore,
    write: Callable[[str], object],
    filter: AuditFilter = EVERY_RECORD,
    *,
    page: int = 1000,
    progress: Progress | None = None,
) -> int:
    """Write every matching record as one JSON Lines line (``write`` gets line + newline), each
    preceded, the first time one is named, by its document's line
    (:func:`gateway.record.audit.document_line`); returns the number of records written."""
    count, after = 0, 0
    written: set[str] = set()
    while batch := await store.search(filter, limit=page, after_seq=after):
        named = [document_of(stored.canonical) for stored in batch]
        texts = await store.documents({d for d in named if d is not None} - written)
        for stored, digest in zip(batch, named, strict=True):
            if digest is not None and digest not in written and digest in texts:
                write(document_line(digest, texts[digest]) + "\n")
                written.add(digest)
            write(stored.to_jsonl() + "\n")
        count += len(batch)
        after = batch[-1].seq
        if progress is not None:
            progress(count)
    return count
