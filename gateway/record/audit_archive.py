"""Retention: old records leave the trail for an archive file, and a checkpoint stays behind.

A prune (:func:`prune_trail`, ``portgate audit prune``, or the gateway itself every
``audit.prune_every``) takes the longest start of the trail older than a moment, writes it to an
archive, then, in one transaction, appends a **checkpoint** record (see
:class:`gateway.record.audit.Checkpoint`: first and last seq pruned, the last one's hash, the count,
the time range, the archive's name and SHA-256) and deletes the records and the documents no
remaining record names. The trail left behind still verifies on its own: its first record's
``prev_hash`` is the checkpoint's ``through_hash``. Cutting the checkpoint off, or pruning more
than it says, fails verify.

The archive is JSON Lines in UTF-8, verifiable without the gateway::

    {"archive": {"format": "portgate-audit-archive", "version": 1, "first_seq": 1,
                 "through_seq": 5000, "count": 5000, "prev_hash": "000...", "through_hash": ...}}
    {"document": {"sha256": "...", "text": "..."}}     each document once, before its first use
    {"hash": "...", "prev_hash": "...", "record": {...}, "seq": 1}   as in an export

:func:`verify_archives` checks archives on their own (each record chained to the one before
from the header's ``prev_hash``, each document's text against its hash, the header's counts),
or together with the trail they came from, end to end: then the first archive must start the
chain (or a checkpoint must account for its start), each must link to the next and the last to
the trail, and each file's SHA-256 must be the one its checkpoint names.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from gateway.record.audit import (
    CHECKPOINT_OPERATION,
    AuditFilter,
    AuditRecord,
    AuditStore,
    ChainLink,
    Checkpoint,
    Progress,
    PruneConflict,
    StoredRecord,
    VerifyReport,
    document_line,
    parse_time,
    sha256_hex,
)
from gateway.record.audit_chain import (
    ChainRow,
    ChainSource,
    DocumentState,
    accounting_checkpoint,
    document_of,
    verify_chain,
)

log = logging.getLogger(__name__)

ARCHIVE_FORMAT = "portgate-audit-archive"
ARCHIVE_VERSION = 1
PAGE = 1000
CHECKPOINT_CLIENT = "portgate"


class ArchiveError(ValueError):
    """An archive file that is not one, or whose header disagrees with its records."""


@dataclass(frozen=True, slots=True)
class ArchiveHeader:
    """The first line of an archive: which records it holds."""

    first_seq: int
    through_seq: int
    count: int
    prev_hash: str  # prev_hash of its first record
    through_hash: str  # hash of its last record

    def line(self) -> str:
        fields = {"format": ARCHIVE_FORMAT, "version": ARCHIVE_VERSION, "first_seq":
                  self.first_seq, "through_seq": self.through_seq, "count": self.count,
                  "prev_hash": self.prev_hash, "through_hash": self.through_hash}  # fmt: skip
        return json.dumps({"archive": fields})

    @classmethod
    def parse(cls, line: str, name: str) -> "ArchiveHeader":
        try:
            fields = json.loads(line)["archive"]
            if fields["format"] != ARCHIVE_FORMAT or fields["version"] != ARCHIVE_VERSION:
                raise ArchiveError(f"{name}: not a {ARCHIVE_FORMAT} version {ARCHIVE_VERSION}")
            return cls(int(fields["first_seq"]), int(fields["through_seq"]),
                       int(fields["count"]), str(fields["prev_hash"]),
                       str(fields["through_hash"]))  # fmt: skip
        except (ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, ArchiveError):
                raise
            raise ArchiveError(f"{name}: its first line is not an archive header") from None


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What a prune did: the checkpoint it left (as stored) and the archive it wrote."""

    checkpoint: Checkpoint
    stored: StoredRecord
    archive: Path | None


def archive_name(first_seq: int, through_seq: int) -> str:
    return f"portgate-audit-{first_seq:012d}-{through_seq:012d}.jsonl"


async def prune_point(store: AuditStore, before: datetime) -> tuple[StoredRecord, ChainLink] | None:
    """The trail's first record and the last of the longest start of the trail whose records
    are all older than ``before``; None when there is nothing to prune."""
    first = await store.search(limit=1)
    if not first:
        return None
    newer = await store.search(AuditFilter(since=before), limit=1)
    if newer:
        through_seq = newer[0].seq - 1
    else:
        head = await store.head()
        through_seq = head.seq if head else 0
    if through_seq < first[0].seq:
        return None
    [through] = await store.search(limit=1, after_seq=through_seq - 1)
    return first[0], through.link


class _ArchiveFile:
    """An archive being written: ``<name>.partial`` until :meth:`finish` renames it, its
    SHA-256 computed on the way. Lines are buffered and written from a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.sha256 = hashlib.sha256()
        self._buffer: list[bytes] = []
        self._file: IO[bytes] | None = None
        self._finished = False

    async def open(self) -> None:
        def create() -> IO[bytes]:
            if self.path.exists():
                raise FileExistsError(f"{self.path} exists: an archive is never overwritten")
            return self.partial.open("xb")

        self._file = await asyncio.to_thread(create)

    def write(self, line: str) -> None:
        data = (line + "\n").encode()
        self._buffer.append(data)
        self.sha256.update(data)

    async def flush(self) -> None:
        data, self._buffer = b"".join(self._buffer), []
        if self._file is not None and data:
            await asyncio.to_thread(self._file.write, data)

    async def finish(self) -> str:
        """Flush, sync, close and rename; the file's SHA-256."""
        await self.flush()
        file = self._file
        assert file is not None

        def close() -> None:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            self.partial.rename(self.path)

        await asyncio.to_thread(close)
        self._finished = True
        return self.sha256.hexdigest()

    async def discard(self) -> None:
        """Remove what this object wrote: the partial file, or the archive once finished."""

        def remove() -> None:
            if self._file is not None:
                self._file.close()
                self.partial.unlink(missing_ok=True)
                if self._finished:
                    self.path.unlink(missing_ok=True)

        await asyncio.to_thread(remove)


async def _records(store: AuditStore, first: int, through: int) -> AsyncIterator[StoredRecord]:
    after = first - 1
    while after < through and (batch := await store.search(limit=PAGE, after_seq=after)):
        for stored in batch:
            if stored.seq > through:
                return
            yield stored
        after = batch[-1].seq


async def _summarise(
    store: AuditStore, first: StoredRecord, through: ChainLink, out: _ArchiveFile | None
) -> tuple[int, str, str]:
    """Walk the records to prune (writing them to ``out`` when given): count, first and last
    time (fixed-width text, so text order is time order)."""
    count, earliest, latest = 0, "~", ""
    written: set[str] = set()
    pending: list[StoredRecord] = []

    async def flush(out: _ArchiveFile) -> None:
        named = [document_of(stored.canonical) for stored in pending]
        texts = await store.documents({d for d in named if d is not None} - written)
        for stored, digest in zip(pending, named, strict=True):
            if digest is not None and digest not in written and digest in texts:
                out.write(document_line(digest, texts[digest]))
                written.add(digest)
            out.write(stored.to_jsonl())
        pending.clear()
        await out.flush()

    async for stored in _records(store, first.seq, through.seq):
        time = json.loads(stored.canonical)["time"]
        earliest, latest = min(earliest, time), max(latest, time)
        count += 1
        if out is not None:
            pending.append(stored)
            if len(pending) >= PAGE:
                await flush(out)
    if out is not None:
        await flush(out)
    return count, earliest, latest


async def prune_trail(
    store: AuditStore,
    before: datetime,
    *,
    archive: Path | None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PruneResult | None:
    """Archive (to ``archive``, a new file; None: no archive) and prune every record of the
    longest start of the trail older than ``before``. None when there is nothing to prune.
    Raises :class:`PruneConflict` when another prune got there first (the archive is removed),
    FileExistsError when ``archive`` exists."""
    point = await prune_point(store, before)
    if point is None:
        return None
    first, through = point
    header = ArchiveHeader(first.seq, through.seq, through.seq - first.seq + 1, first.prev_hash,
                           through.hash)  # fmt: skip
    out = None if archive is None else _ArchiveFile(archive)
    digest = None
    try:
        if out is not None:
            await out.open()
            out.write(header.line())
        count, earliest, latest = await _summarise(store, first, through, out)
        if count != header.count:
            raise PruneConflict(f"{count} records between seq {first.seq} and {through.seq}")
        if out is not None:
            digest = await out.finish()
    except BaseException:
        if out is not None:
            await out.discard()
        raise
    checkpoint = Checkpoint(
        first_seq=first.seq, through_seq=through.seq, count=count, prev_hash=first.prev_hash,
        through_hash=through.hash, first_time=_time(earliest), last_time=_time(latest),
        archive=archive.name if archive else None, archive_sha256=digest,
    )  # fmt: skip
    record = AuditRecord(
        time=now(), client_id=CHECKPOINT_CLIENT, operation_name=CHECKPOINT_OPERATION,
        document="", outcome="ok", checkpoint=checkpoint,
    )  # fmt: skip
    try:
        stored = await store.prune(through, record)
    except PruneConflict:
        if out is not None:
            await out.discard()  # no checkpoint names it
        raise
    return PruneResult(checkpoint, stored, archive)


def _time(text: str) -> datetime:
    moment = parse_time(text)
    assert moment is not None
    return moment


class ArchiveSource:
    """An archive file as a :class:`gateway.record.audit_chain.ChainSource`; its rows have no index
    columns, and a record's document must appear earlier in the same file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open(encoding="utf-8") as file:
            self.header = ArchiveHeader.parse(file.readline(), path.name)
        self._checkpoints: list[tuple[int, str]] | None = None

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def _lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        with self.path.open(encoding="utf-8") as file:
            next(file)  # the header
            for number, line in enumerate(file, start=2):
                try:
                    entry = json.loads(line)
                except ValueError:
                    raise ArchiveError(f"{self.path.name}:{number}: not JSON") from None
                if not isinstance(entry, dict):
                    raise ArchiveError(f"{self.path.name}:{number}: not a JSON object")
                yield number, entry

    async def chain_rows(self) -> AsyncIterator[ChainRow]:
        documents: dict[str, bool] = {}  # hash -> whether its text still has that hash
        count, last = 0, None
        for number, entry in self._lines():
            if "document" in entry:
                try:
                    digest, text = entry["document"]["sha256"], entry["document"]["text"]
                    documents[str(digest)] = sha256_hex(str(text)) == digest
                except (KeyError, TypeError):
                    raise ArchiveError(f"{self.path.name}:{number}: a bad document line") from None
                continue
            try:
                seq, prev_hash, digest = int(entry["seq"]), str(entry["prev_hash"]), entry["hash"]
                canonical = _canonical(entry["record"])
            except (KeyError, TypeError, ValueError):
                raise ArchiveError(f"{self.path.name}:{number}: a bad record line") from None
            named = document_of(canonical) if isinstance(entry["record"], dict) else None
            state: DocumentState = "stored"
            if named is not None:
                state = "missing" if named not in documents else (
                    "stored" if documents[named] else "edited")  # fmt: skip
            count, last = count + 1, (seq, str(digest))
            yield ChainRow(seq, prev_hash, str(digest), canonical, None, state)
        self._check_end(count, last)

    def _check_end(self, count: int, last: tuple[int, str] | None) -> None:
        header, name = self.header, self.path.name
        if count != header.count:
            raise ArchiveError(f"{name}: {count} record(s), but its header says {header.count}")
        if last is not None and last != (header.through_seq, header.through_hash):
            raise ArchiveError(f"{name}: it ends at seq {last[0]}, not where its header says")

    async def seq_of_hash(self, digest: str) -> int | None:
        return None  # an archive is walked once; a break in it is reported as a deletion

    async def checkpoint_for(self, seq: int, prev_hash: str) -> int | None:
        if self._checkpoints is None:
            self._checkpoints = [
                (int(entry["seq"]), _canonical(entry["record"]))
                for _, entry in self._lines()
                if isinstance(entry.get("record"), dict) and entry["record"].get("checkpoint")
            ]
        return accounting_checkpoint(self._checkpoints, seq, prev_hash)


def _canonical(record: object) -> str:
    """A record line's record as the text that was hashed."""
    if not isinstance(record, dict):
        raise ValueError("not a record")
    return json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


async def verify_archives(
    paths: Sequence[Path], store: AuditStore | None = None, progress: Progress | None = None
) -> VerifyReport:
    """Verify archives (oldest first) on their own, or, with ``store``, end to end with the
    trail they were pruned from."""
    try:
        archives = [ArchiveSource(path) for path in paths]
        sources: list[ChainSource] = [*archives]
        trusted = None
        if store is None:
            first = archives[0].header
            trusted = ChainLink(first.first_seq - 1, first.prev_hash)
        else:
            sources.append(store)
        report = await verify_chain(sources, progress, trusted_start=trusted)
    except ArchiveError as exc:
        return VerifyReport(0, None, None, "edited", str(exc))
    except OSError as exc:
        return VerifyReport(0, None, None, "deleted", f"cannot read an archive: {exc}")
    if not report.ok or store is None:
        return report
    named = {c.through_seq: c for c in report.checkpoints}
    for archive in archives:
        checkpoint = named.get(archive.header.through_seq)
        if checkpoint is None:
            reason = f"{archive.path.name}: no checkpoint in the chain names it"
            return VerifyReport(report.count, report.head, None, "deleted", reason, report.start)
        if checkpoint.archive_sha256 not in (None, archive.sha256()):
            reason = f"{archive.path.name}: its SHA-256 is not the one its checkpoint names"
            return VerifyReport(report.count, report.head, None, "edited", reason, report.start)
    return report


class RetentionSchedule:
    """The gateway's own pruning: every ``every`` seconds, archive (into ``archive_dir``, when
    set) and prune the records older than ``retention``. A replica that finds another pruning
    the same records leaves it to that one."""

    def __init__(
        self,
        store: Callable[[], AuditStore | None],
        *,
        retention: float,
        every: float,
        archive_dir: Path | None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._retention = retention
        self._every = every
        self._archive_dir = archive_dir
        self._clock = clock
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> PruneResult | None:
        """One prune now; None when there was nothing to prune or the store is not open."""
        store = self._store()
        if store is None:
            return None
        now = self._clock()
        before = now - timedelta(seconds=self._retention)
        point = await prune_point(store, before)
        if point is None:
            return None
        archive = None
        if self._archive_dir is not None:
            self._archive_dir.mkdir(parents=True, exist_ok=True)
            archive = self._archive_dir / archive_name(point[0].seq, point[1].seq)
        result = await prune_trail(store, before, archive=archive, now=self._clock)
        if result is not None:
            c = result.checkpoint
            log.info("audit trail pruned: seq %d-%d (%d records, %s to %s)%s", c.first_seq,
                     c.through_seq, c.count, c.first_time, c.last_time,
                     f", archived to {archive}" if archive else ", not archived")  # fmt: skip
        return result

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="audit-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except (PruneConflict, FileExistsError) as exc:
                log.info("audit prune skipped: %s", exc)
            except Exception:
                log.exception("audit prune failed; trying again in %gs", self._every)
            await self._sleep(self._every)
