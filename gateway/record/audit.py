"""The audit trail: one record per operation, append-only and hash-chained.

An :class:`AuditRecord` says who asked what, which ports answered and how, what the policy denied
and how it ended. It has **no field for returned data**: no cargo data, no labor data, nothing a
port answered ever reaches the trail.

Records are kept by an :class:`AuditStore`: an SQLite file by default
(:mod:`gateway.record.audit_sqlite`), PostgreSQL when several replicas share one trail
(:mod:`gateway.record.audit_postgres`); :func:`open_audit_store` picks one from a URL. The query
path writes through an :class:`gateway.record.audit_trail.AuditTrail`, which never blocks a query
silently.

The chain
---------
Each stored record is a row ``(seq, record, prev_hash, hash)``:

- ``seq`` counts 1, 2, 3, ... without gaps;
- ``record`` is the record as canonical JSON (:func:`canonical_json`: keys sorted, no spaces,
  UTF-8 unescaped), stored as text exactly as it was hashed;
- ``prev_hash`` is the ``hash`` of the record before (64 zeros for the first);
- ``hash`` is ``sha256(prev_hash || record)`` in hex (:func:`chain_hash`): ASCII hex of the
  previous hash, then the record's UTF-8 bytes.

Bounded growth
--------------
A record never holds a document's text. Each distinct document is kept once, in the store's
documents table, under the SHA-256 of the text kept; the record names it (``document_hash``, the
SHA-256 of the whole document as received, and ``document_bytes``). A document longer than the
trail's cap keeps its first bytes only: the record then also names that prefix
(``document_kept_hash``). Variables are kept in the record up to a cap on their canonical JSON
(:func:`canonical_variables`); longer ones keep a prefix of that JSON (``variables_prefix``).
Either way ``variables_hash`` and ``variables_bytes`` describe the whole, so an auditor can match
a request they know. :meth:`AuditRecord.bounded` applies the caps; the trail applies them to
every record before it queues it. Records written before documents were kept apart carry their
document inline (``document``); they still verify.

A row also carries index columns (time, client, organisation, operation, outcome, trace id, ports
asked, coordinates denied, document, checkpoint) copied from the record so that searches run in
the database. They are not hashed; verification checks they still agree with the hashed record.

Verification and pruning (:mod:`gateway.record.audit_chain`)
------------------------------------------------------
``verify`` walks the rows in ``seq`` order and names the first bad one: **edited** (its hash does
not match its content, an index column disagrees with it, or its document's text no longer
matches its hash), **deleted** (a ``seq`` is missing, its ``prev_hash`` is the hash of no stored
record, or its document is gone), **reordered** (its ``prev_hash`` is the hash of a record
stored elsewhere in the sequence). Removing records from the *end* leaves a valid shorter chain:
keep the head (``seq`` and ``hash``, printed by ``portgate audit verify``) somewhere else and
check it with ``verify --head SEQ:HASH``.

Old records are removed only from the *start*, by a prune (:mod:`gateway.record.audit_archive`),
which appends a **checkpoint** record first: its ``checkpoint`` names the first and last record
pruned, the last one's hash, their count and time range, and the archive they went to. A trail whose
first record does not start the chain verifies only when a checkpoint in it accounts for every
record before.
"""

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from gateway.config_types import parse_duration

if TYPE_CHECKING:
    from gateway.record.audit_chain import ChainRow

GENESIS_HASH = "0" * 64
DEFAULT_SEARCH_LIMIT = 100
MAX_SEARCH_LIMIT = 10_000
MAX_SEQ = 2**63 - 1  # the largest seq either store can hold
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: text order is time order
MAX_NAME_CHARS = 256  # client-chosen names (operation, client, organisation) kept in a record
DEFAULT_MAX_DOCUMENT_BYTES = 16_384
DEFAULT_MAX_VARIABLES_BYTES = 8_192
CHECKPOINT_OPERATION = "audit.checkpoint"

Outcome = Literal["ok", "partial", "error", "rejected"]
CacheUse = Literal["fresh", "cached", "stale", "none"]
Problem = Literal["edited", "deleted", "reordered"]
Progress = Callable[[int], None]


def parse_time(text: str | None, now: datetime | None = None) -> datetime | None:
    """An ISO 8601 date or datetime (UTC unless zoned), or a duration back from now (``24h``).

    Raises ValueError for anything else, and for a moment outside years 1 to 9999 in UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            back = timedelta(seconds=parse_duration(text))
            return (now or datetime.now(UTC)) - back
        except (ValueError, OverflowError):
            raise ValueError(f"{text!r}: use 2026-11-02, 2026-11-02T08:00Z or 24h") from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range (years 1 to 9999 in UTC)") from None


def format_time(moment: datetime) -> str:
    """A UTC time as fixed-width ISO 8601 with microseconds and ``Z``."""
    if moment.tzinfo is None:
        raise ValueError("an audit time needs a time zone")
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_variables(variables: dict[str, Any]) -> str:
    """Variables as ``variables_hash`` and ``variables_bytes`` measure them: JSON with keys
    sorted, no spaces, non-ASCII kept as UTF-8 (as :func:`canonical_json` writes them)."""
    return json.dumps(
        variables, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _utf8_prefix(text: str, max_bytes: int) -> str:
    """The longest start of ``text`` that is at most ``max_bytes`` in UTF-8."""
    return text.encode()[:max_bytes].decode(errors="ignore")


def _clean_name(name: str) -> str:
    """A client-chosen name as a record keeps it: control characters replaced, length cut."""
    if len(name) <= MAX_NAME_CHARS and name.isprintable():
        return name
    return "".join(c if c.isprintable() else "\ufffd" for c in name[:MAX_NAME_CHARS])


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @classmethod
    def built(cls, **values: Any) -> Self:
        """A new instance from values of the right types, without validation (what
        ``model_construct`` gives), whose set of fields given is one set shared by every
        instance built this way: a record waiting for the store holds no set of its own (2 KB
        each, most of a queued record's memory). The models are frozen and nothing reads that
        set, and ``model_copy`` copies it before changing it."""
        shared = _FIELDS_GIVEN.get(cls)
        if shared is None:
            shared = _FIELDS_GIVEN[cls] = set(cls.model_fields)
        built: Self = cls.model_construct(_fields_set=shared, **values)  # type: ignore[assignment]
        return built


_FIELDS_GIVEN: dict[type[BaseModel], set[str]] = {}


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


class Checkpoint(_Frozen):
    """What one prune removed from the start of the chain; carried by the record the prune
    appends first. The trail left behind starts at ``through_seq + 1``, whose ``prev_hash`` is
    ``through_hash``."""

    first_seq: int = Field(ge=1, description="The first record pruned.")
    through_seq: int = Field(ge=1, description="The last record pruned.")
    count: int = Field(ge=1, description="How many records were pruned.")
    prev_hash: str = Field(description="`prev_hash` of the first record pruned.")
    through_hash: str = Field(description="`hash` of the last record pruned.")
    first_time: datetime = Field(description="The earliest `time` among the records pruned.")
    last_time: datetime = Field(description="The latest `time` among the records pruned.")
    archive: str | None = Field(None, description="The archive's file name, if archived.")
    archive_sha256: str | None = Field(None, description="SHA-256 of the archive file.")

    @field_serializer("first_time", "last_time")
    def _time_text(self, value: datetime) -> str:
        return format_time(value)


class AuditRecord(_Frozen):
    """What the trail keeps about one operation. Never any data a port returned.

    Build one with ``document`` (the text as received): ``document_hash`` and
    ``document_bytes`` are computed from it, and ``variables_hash`` and ``variables_bytes``
    from ``variables``. A record read back from a store has ``document`` None (the text is kept
    apart, see :meth:`AuditStore.documents`), except records written before that, which carry
    it inline. ``time`` must carry a time zone; it is kept in UTC.
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
    document: str | None = Field(
        None,
        description="The document text kept (never part of the hashed record since documents "
        "are kept once each; the whole text, or its first bytes when it was over the cap).",
    )
    document_hash: str = Field("", description="SHA-256 of the whole document as received.")
    document_bytes: int | None = Field(None, description="UTF-8 size of the whole document.")
    document_kept_hash: str | None = Field(
        None, description="When only a prefix of the document is kept: that prefix's SHA-256."
    )
    variables: dict[str, Any] | None = Field(
        None, description="The variables as sent, when within the cap (else null)."
    )
    variables_hash: str | None = Field(
        None, description="SHA-256 of the variables' canonical JSON (see canonical_variables)."
    )
    variables_bytes: int | None = Field(None, description="Size of that canonical JSON.")
    variables_prefix: str | None = Field(
        None, description="When over the cap: the start of that canonical JSON, within the cap."
    )
    requested: tuple[str, ...] = Field(
        (), description="Schema coordinates requested, e.g. `Container.availability`."
    )
    denied: tuple[str, ...] = Field((), description="Coordinates the policy withheld.")
    ports: tuple[PortUse, ...] = ()
    error_codes: tuple[str, ...] = Field((), description="Every extensions.code answered.")
    duration_ms: float = Field(0.0, ge=0)
    messages: int | None = Field(
        None, ge=0, description="For a subscription: the messages it was sent, in its duration."
    )
    outcome: Outcome
    incident: str | None = Field(
        None, description="Correlation id of an unexpected error, as logged with its traceback."
    )
    checkpoint: Checkpoint | None = Field(
        None, description="Set on the record a prune appends: what it removed."
    )

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("an audit time needs a time zone")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _digests(self) -> "AuditRecord":
        if self.document is None and not self.document_hash:
            object.__setattr__(self, "document", "")
        if self.document is not None:
            digest = sha256_hex(self.document)
            if self.document_kept_hash is not None:
                if self.document_kept_hash != digest:
                    raise ValueError("document_kept_hash is not the sha256 of document")
            elif not self.document_hash:
                object.__setattr__(self, "document_hash", digest)
                object.__setattr__(self, "document_bytes", len(self.document.encode()))
            elif self.document_hash != digest:
                raise ValueError("document_hash is not the sha256 of document")
        if self.variables is not None and self.variables_hash is None:
            text = canonical_variables(self.variables)
            object.__setattr__(self, "variables_hash", sha256_hex(text))
            object.__setattr__(self, "variables_bytes", len(text.encode()))
        return self

    @field_serializer("time")
    def _time_text(self, value: datetime) -> str:
        return format_time(value)

    @classmethod
    def of_operation(cls, *, time: datetime, document: str, **fields: Any) -> "AuditRecord":
        """A new record of an operation, built by the gateway itself from values of the right
        types: what validation would give (the time in UTC, the document's and variables'
        digests and sizes), without validating each field on every request. Records read
        back from a store are validated."""
        if time.tzinfo is None:
            raise ValueError("an audit time needs a time zone")
        variables = fields.get("variables")
        if variables is not None:
            text = canonical_variables(variables)
            fields |= {"variables_hash": sha256_hex(text), "variables_bytes": len(text.encode())}
        return cls.built(
            time=time.astimezone(UTC),
            document=document,
            document_hash=sha256_hex(document),
            document_bytes=len(document.encode()),
            **fields,
        )

    @property
    def stored_document_hash(self) -> str:
        """The hash the document's kept text is stored under."""
        return self.document_kept_hash or self.document_hash

    def port_ids(self) -> list[str]:
        return sorted({use.port for use in self.ports})

    def bounded(
        self,
        *,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        max_variables_bytes: int = DEFAULT_MAX_VARIABLES_BYTES,
    ) -> "AuditRecord":
        """This record as the trail keeps it: the document and variables within their caps
        (their hashes and sizes still those of the whole), client-chosen names printable and at
        most ``MAX_NAME_CHARS`` long."""
        update: dict[str, Any] = {}
        whole = self.document is not None and self.document_kept_hash is None
        if whole and self.document is not None and (self.document_bytes or 0) > max_document_bytes:
            kept = _utf8_prefix(self.document, max_document_bytes)
            update |= {"document": kept, "document_kept_hash": sha256_hex(kept)}
        if self.variables is not None and (self.variables_bytes or 0) > max_variables_bytes:
            prefix = _utf8_prefix(canonical_variables(self.variables), max_variables_bytes)
            update |= {"variables": None, "variables_prefix": prefix}
        for name in ("operation_name", "client_id", "organisation"):
            value = getattr(self, name)
            if value is not None and (cleaned := _clean_name(value)) != value:
                update[name] = cleaned
        return self.model_copy(update=update) if update else self


# Fields added after the first records were written: left out of the hashed JSON when unset, so
# a record's text says only what it has.
_OMITTED_WHEN_NONE = (
    "document_bytes", "document_kept_hash", "variables_hash", "variables_bytes",
    "variables_prefix", "checkpoint", "messages",
)  # fmt: skip


def canonical_json(record: AuditRecord) -> str:
    """The record as hashed and stored: sorted keys, no spaces, non-ASCII kept as UTF-8; without
    the document's text (kept apart, under :attr:`AuditRecord.stored_document_hash`)."""
    data = record.model_dump(mode="json", by_alias=True, exclude={"document"})
    for key in _OMITTED_WHEN_NONE:
        if data[key] is None:
            del data[key]
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
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
        "document": record.stored_document_hash,
        "checkpoint_through": record.checkpoint.through_seq if record.checkpoint else None,
    }


def stored_document(record: AuditRecord) -> tuple[str, str]:
    """What a store keeps of the record's document: (hash, text). Raises ValueError for a
    record read back from a store, which no longer holds the text."""
    if record.document is None:
        raise ValueError("this record has no document text to store (read back from a store?)")
    return record.stored_document_hash, record.document


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
        if not seq.isascii() or not seq.isdigit() or not is_sha256(digest):
            raise ValueError(f"{text!r} is not SEQ:HASH (a seq and a 64-digit sha256)")
        if not 1 <= int(seq) <= MAX_SEQ:
            raise ValueError(f"{text!r}: the seq must be between 1 and {MAX_SEQ}")
        return cls(int(seq), digest.lower())


def is_sha256(text: str) -> bool:
    """Whether ``text`` is a SHA-256 in hex (64 digits, either case)."""
    return len(text) == 64 and text.isascii() and all(c in "0123456789abcdefABCDEF" for c in text)


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

    @property
    def link(self) -> ChainLink:
        return ChainLink(self.seq, self.hash)

    def to_jsonl(self) -> str:
        """One JSON Lines line; ``record`` is the hashed text verbatim, so a line can be
        checked offline: ``sha256(prev_hash + json.dumps(record, canonical)) == hash``."""
        return (
            f'{{"hash":"{self.hash}","prev_hash":"{self.prev_hash}",'
            f'"record":{self.canonical},"seq":{self.seq}}}'
        )


def document_line(digest: str, text: str) -> str:
    """A document as a JSON Lines line of an export or archive, beside the record lines:
    ``{"document": {"sha256": ..., "text": ...}}``; ``sha256`` is the hash records name it by."""
    return json.dumps({"document": {"sha256": digest, "text": text}}, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which records a search returns; every criterion given must hold.

    ``since`` is inclusive, ``until`` exclusive. ``port`` matches records that asked that port;
    ``denied`` records in which the policy withheld that coordinate; ``document`` records whose
    document is stored under that hash (the SHA-256 of the document, or of the part kept).
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
    document: str | None = None


EVERY_RECORD = AuditFilter()


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The result of walking the chain: ``ok``, or the first bad record and why.

    ``start`` is where the walk began (``seq 1``, or the first record a checkpoint accounts
    for); ``checkpoints`` are the checkpoints met on the way, oldest first."""

    count: int  # records checked
    head: ChainLink | None  # the last good record
    first_bad_seq: int | None = None
    problem: Problem | None = None
    reason: str = ""
    start: int | None = None
    checkpoints: tuple[Checkpoint, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        if self.ok:
            head = f", head {self.head}" if self.head else ""
            since = f" from seq {self.start}" if self.start and self.start > 1 else ""
            return f"ok: {self.count} record(s) verified{since}{head}"
        return f"seq {self.first_bad_seq}: {self.problem}: {self.reason}"


class PruneConflict(ValueError):
    """The trail's start is no longer what a prune read (another prune ran in between)."""


class AuditStore(Protocol):
    """Where audit records are kept. Every implementation keeps the chain described above,
    also with several writers (tasks, processes or replicas) appending at once."""

    async def append(self, record: AuditRecord) -> StoredRecord:
        """Add one record at the end of the chain (its document kept once, by hash)."""
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

    async def documents(self, hashes: Iterable[str]) -> dict[str, str]:
        """The stored texts of the documents with these (stored) hashes; unknown ones left out."""
        ...

    async def head(self) -> ChainLink | None:
        """The last record's place in the chain, or None when the trail is empty."""
        ...

    async def verify(self, progress: Progress | None = None) -> VerifyReport:
        """Walk the whole chain (``progress`` gets the number of records checked so far)."""
        ...

    # A store is a gateway.record.audit_chain.ChainSource: verify walks it with archives before it.

    def chain_rows(self) -> AsyncIterator["ChainRow"]:
        """Every row, in seq order, as verification reads it."""
        ...

    async def seq_of_hash(self, digest: str) -> int | None: ...

    async def checkpoint_for(self, seq: int, prev_hash: str) -> int | None: ...

    async def prune(self, through: ChainLink, checkpoint: AuditRecord) -> StoredRecord:
        """In one transaction: append ``checkpoint`` (whose ``checkpoint`` names the records
        from the trail's first to ``through``), delete those records, and the documents no
        remaining record names. Raises :class:`PruneConflict` when the trail no longer starts
        at ``checkpoint.first_seq`` or ``through`` is not in it."""
        ...

    async def close(self) -> None: ...


async def open_audit_store(url: str) -> AuditStore:
    """An opened store from a URL: ``sqlite:///relative/path.sqlite3``,
    ``sqlite:////absolute/path.sqlite3`` or ``postgresql://user@host:5432/db`` (any libpq
    connection URL; its options may set a ``search_path``). The tables are created if absent,
    and a trail written before documents were kept apart is upgraded in place (its records are
    left as they were hashed)."""
    if url.startswith("sqlite:///"):
        from gateway.record.audit_sqlite import SqliteAuditStore

        return await SqliteAuditStore.open(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from gateway.record.audit_postgres import PostgresAuditStore

        return await PostgresAuditStore.open(url)
    raise ValueError("an audit store URL starts with sqlite:/// or postgresql://")


def describe_url(url: str) -> str:
    """The URL without its password, to print."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"
