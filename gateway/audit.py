"""The audit trail: one record per operation, append-only and hash-chained.

An :class:`AuditRecord` says who asked what, which ports answered and how, what the policy denied
and how it ended. It has **no field for returned data**: no cargo data, no labor data, nothing a
port answered ever reaches the trail. Variables are kept as the client sent them.

Records are kept by an :class:`AuditStore`: an SQLite file by default
(:mod:`gateway.audit_sqlite`), PostgreSQL when several replicas share one trail
(:mod:`gateway.audit_postgres`); :func:`open_audit_store` picks one from a URL. The query path
writes through an :class:`gateway.audit_trail.AuditTrail`, which never blocks a query silently.

The chain
---------
Each stored record is a row ``(seq, record, prev_hash, hash)``:

- ``seq`` counts 1, 2, 3, ... without gaps;
- ``record`` is the record as canonical JSON (:func:`canonical_json`: keys sorted, no spaces,
  UTF-8 unescaped), stored as text exactly as it was hashed;
- ``prev_hash`` is the ``hash`` of the record before (64 zeros for the first);
- ``hash`` is ``sha256(prev_hash || record)`` in hex (:func:`chain_hash`).

A row also carries index columns (time, client, organisation, operation, outcome, trace id, ports
asked, coordinates denied) copied from the record so that searches run in the database. They are
not hashed; :func:`verify_chain` checks they still agree with the hashed record.

``verify`` walks the rows in ``seq`` order and names the first bad one: **edited** (its hash does
not match its content, or an index column disagrees with it), **deleted** (a ``seq`` is missing,
or its ``prev_hash`` is the hash of no stored record), **reordered** (its ``prev_hash`` is the
hash of a record stored elsewhere in the sequence). Removing records from the *end* leaves a
valid shorter chain: keep the head (``seq`` and ``hash``, printed by ``portgate audit verify``)
somewhere else and check it with ``verify --head SEQ:HASH``.
"""

import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from gateway.config import parse_duration

GENESIS_HASH = "0" * 64
DEFAULT_SEARCH_LIMIT = 100
MAX_SEARCH_LIMIT = 10_000
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: text order is time order

Outcome = Literal["ok", "partial", "error", "rejected"]
CacheUse = Literal["fresh", "cached", "stale", "none"]
Problem = Literal["edited", "deleted", "reordered"]
Progress = Callable[[int], None]


def parse_time(text: str | None, now: datetime | None = None) -> datetime | None:
    """An ISO 8601 date or datetime (UTC unless zoned), or a duration back from now (``24h``)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            return (now or datetime.now(UTC)) - timedelta(seconds=parse_duration(text))
        except ValueError:
            raise ValueError(f"{text!r}: use 2026-11-02, 2026-11-02T08:00Z or 24h") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def format_time(moment: datetime) -> str:
    """A UTC time as fixed-width ISO 8601 with microseconds and ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("an audit time needs a time zone")
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PortUse(_Frozen):
    """One port asked by the operation, shaped like its ``extensions.sources`` entry."""

    port: str = Field(description="The port's UN/LOCODE.")
    status: str = Field(
        description="ok, cached, stale, partial, error, timeout or circuit_open (as in sources)."
    )
    latency_ms: float = Field(alias="latencyMs", ge=0, description="How long the port took.")
    cache: CacheUse = Field(
        "none",
        description="fresh: asked now and stored; cached: a fresh stored answer served; stale: "
        "a stored answer standing in for a failure; none: no cache involved.",
    )
    code: str | None = Field(None, description="The error code when the port failed.")


class AuditRecord(_Frozen):
    """What the trail keeps about one operation. Never any data a port returned.

    ``document_hash`` is computed from ``document`` when not given, and checked when it is.
    ``time`` must carry a time zone; it is kept in UTC.
    """

    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    trace_id: str | None = Field(None, description="The operation's trace id (32 hex digits).")
    client_id: str = Field(description="The principal's client id (`anonymous` without one).")
    organisation: str = Field("", description="The principal's organisation.")
    roles: tuple[str, ...] = ()
    operation_name: str | None = None
    operation_type: Literal["query", "mutation", "subscription"] | None = Field(
        None, description="None when the request was rejected before its document was parsed."
    )
    document: str = Field("", description="The GraphQL document text as received.")
    document_hash: str = Field("", description="sha256 hex of `document`.")
    variables: dict[str, Any] | None = None
    requested: tuple[str, ...] = Field(
        (), description="Schema coordinates requested, e.g. `Container.availability`."
    )
    denied: tuple[str, ...] = Field((), description="Coordinates the policy withheld.")
    ports: tuple[PortUse, ...] = ()
    error_codes: tuple[str, ...] = Field((), description="Every extensions.code answered.")
    duration_ms: float = Field(0.0, ge=0)
    outcome: Outcome
    incident: str | None = Field(
        None, description="Correlation id of an unexpected error, as logged with its traceback."
    )

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("an audit time needs a time zone")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _hash_document(self) -> "AuditRecord":
        digest = hashlib.sha256(self.document.encode()).hexdigest()
        if not self.document_hash:
            object.__setattr__(self, "document_hash", digest)
        elif self.document_hash != digest:
            raise ValueError("document_hash is not the sha256 of document")
        return self

    @field_serializer("time")
    def _time_text(self, value: datetime) -> str:
        return format_time(value)

    def port_ids(self) -> list[str]:
        return sorted({use.port for use in self.ports})


def canonical_json(record: AuditRecord) -> str:
    """The record as hashed and stored: sorted keys, no spaces, non-ASCII kept as UTF-8."""
    return json.dumps(
        record.model_dump(mode="json", by_alias=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def chain_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def index_columns(record: AuditRecord) -> dict[str, Any]:
    """The searchable columns a row carries beside its hashed record."""
    return {
        "time": format_time(record.time),
        "trace_id": record.trace_id,
        "client_id": record.client_id,
        "organisation": record.organisation,
        "operation_name": record.operation_name,
        "outcome": record.outcome,
        "ports": record.port_ids(),
        "denied": sorted(set(record.denied)),
    }


@dataclass(frozen=True, slots=True)
class ChainLink:
    """A position in the chain: a record's ``seq`` and ``hash``."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> "ChainLink":
        seq, _, digest = text.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ValueError(f"{text!r} is not SEQ:HASH (a seq and a 64-digit sha256)")
        return cls(int(seq), digest.lower())


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as stored: its place in the chain and the exact text that was hashed."""

    seq: int
    prev_hash: str
    hash: str
    canonical: str

    @property
    def record(self) -> AuditRecord:
        return AuditRecord.model_validate_json(self.canonical)

    def to_jsonl(self) -> str:
        """One JSON Lines line; ``record`` is the hashed text verbatim, so a line can be
        checked offline: ``sha256(prev_hash + json.dumps(record, canonical)) == hash``."""
        return (
            f'{{"hash":"{self.hash}","prev_hash":"{self.prev_hash}",'
            f'"record":{self.canonical},"seq":{self.seq}}}'
        )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which records a search returns; every criterion given must hold.

    ``since`` is inclusive, ``until`` exclusive. ``port`` matches records that asked that port;
    ``denied`` records in which the policy withheld that coordinate.
    """

    client_id: str | None = None
    organisation: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    port: str | None = None
    operation_name: str | None = None
    denied: str | None = None
    outcome: Outcome | None = None
    trace_id: str | None = None


EVERY_RECORD = AuditFilter()


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of walking the chain: ``ok``, or the first bad record and why."""

    count: int  # records checked
    head: ChainLink | None  # the last good record
    first_bad_seq: int | None = None
    problem: Problem | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        if self.ok:
            head = f", head {self.head}" if self.head else ""
            return f"ok: {self.count} record(s) verified{head}"
        return f"seq {self.first_bad_seq}: {self.problem}: {self.reason}"


class AuditStore(Protocol):
    """Where audit records are kept. Every implementation keeps the chain described above,
    also with several writers (tasks, processes or replicas) appending at once."""

    async def append(self, record: AuditRecord) -> StoredRecord:
        """Add one record at the end of the chain."""
        ...

    async def append_many(self, records: Iterable[AuditRecord]) -> list[StoredRecord]:
        """Add records in order, in one transaction."""
        ...

    async def search(
        self,
        filter: AuditFilter = EVERY_RECORD,
        *,
        limit: int = DEFAULT_SEARCH_LIMIT,
        after_seq: int = 0,
    ) -> list[StoredRecord]:
        """Matching records with ``seq > after_seq``, oldest first; page on with the last
        ``seq`` returned."""
        ...

    async def head(self) -> ChainLink | None:
        """The last record's place in the chain, or None when the trail is empty."""
        ...

    async def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Walk the whole chain (``progress`` gets the number of records checked so far)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ChainRow:
    """A stored row as :func:`verify_chain` reads it: the hashed text and the index columns,
    in the form :func:`index_columns` gives them."""

    seq: int
    prev_hash: str
    hash: str
    canonical: str
    columns: dict[str, Any]


async def verify_chain(
    rows: AsyncIterator[ChainRow],
    seq_of_hash: Callable[[str], Awaitable[int | None]],
    progress: Progress | None = None,
) -> VerifyReport:
    """Walk rows in ``seq`` order; ``seq_of_hash`` finds the stored record with a given hash."""
    count, last = 0, None
    expected_seq, expected_prev = 1, GENESIS_HASH

    def bad(row: ChainRow, problem: Problem, reason: str) -> VerifyReport:
        return VerifyReport(count, last, row.seq, problem, reason)

    async for row in rows:
        if chain_hash(row.prev_hash, row.canonical) != row.hash:
            return bad(row, "edited", "its hash does not match its content")
        try:
            columns = index_columns(AuditRecord.model_validate_json(row.canonical))
        except ValueError as exc:
            return bad(row, "edited", f"its content is not an audit record ({exc})")
        changed = sorted(key for key, value in columns.items() if row.columns.get(key) != value)
        if changed:
            return bad(row, "edited", f"column(s) {changed} disagree with the hashed record")
        if row.prev_hash != expected_prev:
            if row.prev_hash == GENESIS_HASH:
                return bad(row, "reordered", f"it starts the chain but is stored after seq {last}")
            follows = await seq_of_hash(row.prev_hash)
            if follows is None:
                if row.seq > expected_seq:
                    return bad(row, "deleted", f"{_missing(expected_seq, row.seq)} before it")
                return bad(row, "deleted", "the record it follows is missing (or was rewritten)")
            where = f"after seq {last.seq}" if last else "first"
            return bad(row, "reordered", f"it follows seq {follows} but is stored {where}")
        if row.seq != expected_seq:  # linked right, numbered wrong
            return bad(row, "deleted", f"{_missing(expected_seq, row.seq)} before it")
        count += 1
        last = ChainLink(row.seq, row.hash)
        expected_seq, expected_prev = row.seq + 1, row.hash
        if progress is not None:
            progress(count)
    return VerifyReport(count, last)


def _missing(first: int, after: int) -> str:
    if after <= first:
        return f"seq {after} is out of order"
    return f"seq {first} missing" if after == first + 1 else f"seq {first}-{after - 1} missing"


async def check_head(store: AuditStore, noted: ChainLink) -> str | None:
    """Why a head noted earlier is no longer in the chain (the tail was cut), or None."""
    found = await store.search(limit=1, after_seq=noted.seq - 1)
    if not found or found[0].seq != noted.seq:
        return f"seq {noted.seq} is gone: records were removed from the end of the chain"
    if found[0].hash != noted.hash:
        return f"seq {noted.seq} has hash {found[0].hash}, not the {noted.hash} noted"
    return None


async def export_jsonl(
    store: AuditStore,
    write: Callable[[str], object],
    filter: AuditFilter = EVERY_RECORD,
    *,
    page: int = 1000,
    progress: Progress | None = None,
) -> int:
    """Write every matching record as one JSON Lines line (``write`` gets line + newline);
    returns the number written."""
    count, after = 0, 0
    while batch := await store.search(filter, limit=page, after_seq=after):
        for stored in batch:
            write(stored.to_jsonl() + "\n")
        count += len(batch)
        after = batch[-1].seq
        if progress is not None:
            progress(count)
    return count


async def open_audit_store(url: str) -> AuditStore:
    """An opened store from a URL: ``sqlite:///relative/path.sqlite3``,
    ``sqlite:////absolute/path.sqlite3`` or ``postgresql://user@host:5432/db`` (any libpq
    connection URL; its options may set a ``search_path``). The table is created if absent."""
    if url.startswith("sqlite:///"):
        from gateway.audit_sqlite import SqliteAuditStore

        return await SqliteAuditStore.open(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from gateway.audit_postgres import PostgresAuditStore

        return await PostgresAuditStore.open(url)
    raise ValueError("an audit store URL starts with sqlite:/// or postgresql://")


def describe_url(url: str) -> str:
    """The URL without its password, to print."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
