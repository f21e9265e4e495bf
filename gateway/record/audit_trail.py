"""How the query path writes audit records: :class:`AuditTrail`, in front of an audit store.

Two modes, chosen by the config's ``audit.required``:

- **best effort** (``required=False``, the default): :meth:`AuditTrail.record` puts the record
  in a bounded queue and returns at once; a background task writes queued records in batches
  (one transaction each). A batch the store refuses is logged and counted in ``failed``; a
  record that finds the queue full is logged and counted in ``dropped``. Nothing is raised into
  the query: a failing store never breaks a query, and never does so silently either.
- **required** (``required=True``): :meth:`AuditTrail.record` writes the record before it
  returns, and raises :class:`gateway.errors.AuditUnavailable` when the store fails, so the
  caller withholds the answer (fails closed).

Every record is bounded before it is kept or queued
(:meth:`gateway.record.audit.AuditRecord.bounded`): its document and variables within
``max_document_bytes`` and ``max_variables_bytes``. The queue is bounded twice: ``queue_size``
records and ``queue_max_bytes`` bytes (each record's texts plus :data:`RECORD_OVERHEAD_BYTES`, see
:func:`record_bytes`), whichever is reached first.

**A store that cannot be reached at start-up.** :meth:`AuditTrail.open` fails at once in required
mode. In best-effort mode it logs the failure and returns a trail without a store (``state`` is
``connecting``): records wait in the queue (dropped and counted once it is full), and a
background task tries the store again after ``backoff`` seconds, doubling the wait after each
failure up to ``backoff_max``, logging each attempt, until it connects; then the queue drains.
``state`` is ``up`` once a store is open and its last write succeeded, ``down`` after a failed
one: ``/readyz`` and ``portgate_audit_store_up`` show it.

``written``, ``failed`` and ``dropped`` only grow: export them as Prometheus counters.
:meth:`AuditTrail.start` and :meth:`AuditTrail.close` belong to the app's lifespan; ``close``
writes whatever is still queued, then closes the store.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

from gateway.errors import AuditUnavailable
from gateway.record.audit import (
    DEFAULT_MAX_DOCUMENT_BYTES,
    DEFAULT_MAX_VARIABLES_BYTES,
    AuditRecord,
    AuditStore,
    describe_url,
    open_audit_store,
)

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_QUEUE_MAX_BYTES = 32 * 1024 * 1024
# What a queued record holds besides its texts (the model, its tuples and small strings):
# measured with tracemalloc at about 2.3 KB for a record of one port; counted high.
RECORD_OVERHEAD_BYTES = 4_096
DEFAULT_BATCH_SIZE = 100
DEFAULT_BATCH_WINDOW = 0.05  # seconds the writer waits to group records in one transaction
DEFAULT_BACKOFF = 0.5  # seconds before the first new attempt to reach the store
DEFAULT_BACKOFF_MAX = 30.0

StoreState = Literal["up", "down", "connecting"]
Sleep = Callable[[float], Awaitable[None]]


class AuditTrail:
    """Records operations in an :class:`gateway.record.audit.AuditStore` without blocking
    queries."""

    def __init__(
        self,
        store: AuditStore | None,
        *,
        required: bool = False,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        queue_max_bytes: int = DEFAULT_QUEUE_MAX_BYTES,
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_window: float = DEFAULT_BATCH_WINDOW,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        max_variables_bytes: int = DEFAULT_MAX_VARIABLES_BYTES,
    ) -> None:
        if store is None and required:
            raise ValueError("a required trail needs its store open")
        self._store = store
        self.required = required
        self.written = 0  # records the store accepted
        self.failed = 0  # records the store refused (or failed to take)
        self.dropped = 0  # records never offered to the store: the queue was full, or closed
        self.connected = asyncio.Event()  # set once a store is open
        if store is not None:
            self.connected.set()
        self._healthy = store is not None  # the last write succeeded
        # None wakes a writer gathering a batch, at close.
        self._queue: asyncio.Queue[AuditRecord | None] = asyncio.Queue(queue_size)
        self.queue_max_bytes = queue_max_bytes
        self.queued_bytes = 0  # bytes of the records queued (record_bytes), not yet written
        self._batch_size = batch_size
        self._batch_window = batch_window
        self._caps = {
            "max_document_bytes": max_document_bytes,
            "max_variables_bytes": max_variables_bytes,
        }
        self._writer: asyncio.Task[None] | None = None
        self._connector: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        required: bool = False,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        queue_max_bytes: int = DEFAULT_QUEUE_MAX_BYTES,
        batch_window: float = DEFAULT_BATCH_WINDOW,
        max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES,
        max_variables_bytes: int = DEFAULT_MAX_VARIABLES_BYTES,
        backoff: float = DEFAULT_BACKOFF,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        sleep: Sleep = asyncio.sleep,
    ) -> "AuditTrail":
        """A started trail on the store at ``url`` (see
        :func:`gateway.record.audit.open_audit_store`). Raises when the store cannot be opened and
        ``required``; otherwise a trail that keeps trying in the background (see the module's
        docstring)."""
        options: dict[str, Any] = {
            "required": required,
            "queue_size": queue_size,
            "queue_max_bytes": queue_max_bytes,
            "batch_window": batch_window,
            "max_document_bytes": max_document_bytes,
            "max_variables_bytes": max_variables_bytes,
        }
        try:
            store = await open_audit_store(url)
        except Exception as exc:
            if required:
                log.error("audit store %s cannot be reached (%s) and audit.required is true: "
                          "not starting", describe_url(url), _reason(exc, url))  # fmt: skip
                raise
            log.warning(
                "audit store %s cannot be reached (%s): serving without it; records wait in the "
                "queue (at most %d, then dropped and counted) while it is tried again in the "
                "background", describe_url(url), _reason(exc, url), queue_size,
            )  # fmt: skip
            trail = cls(None, **options)
            trail._connector = asyncio.create_task(
                trail._connect(url, backoff, backoff_max, sleep), name="audit-connect"
            )
        else:
            trail = cls(store, **options)
        await trail.start()
        return trail

    @property
    def store(self) -> AuditStore | None:
        """The open store; None while it is still being tried (best-effort mode)."""
        return self._store

    @property
    def state(self) -> StoreState:
        if self._store is None:
            return "connecting"
        return "up" if self._healthy else "down"

    @property
    def pending(self) -> int:
        """Records queued, not yet written."""
        return self._queue.qsize()

    async def probe(self) -> StoreState:
        """Read the store's head to see whether a store that failed a write answers again (a
        required trail taken out of traffic writes nothing that would tell)."""
        if self._store is not None and not self._healthy:
            try:
                await self._store.head()
            except Exception as exc:
                log.warning("audit store still failing: %s", type(exc).__name__)
            else:
                self._healthy = True
                log.warning("audit store answers again")
        return self.state

    def status(self) -> dict[str, Any]:
        """What ``/readyz`` says about the trail."""
        return {"store": self.state, "required": self.required, "queued": self.pending,
                "dropped": self.dropped, "failed": self.failed}  # fmt: skip

    async def start(self) -> None:
        """Start the background writer (best-effort mode); records queued before are kept."""
        if self._writer is None and not self.required:
            self._writer = asyncio.create_task(self._write_batches(), name="audit-writer")

    async def record(self, record: AuditRecord) -> None:
        """Keep one operation's record. Raises only in required mode: AuditUnavailable."""
        record = record.bounded(**self._caps)
        if self.required:
            assert self._store is not None
            try:
                await self._store.append(record)
            except Exception as exc:
                self.failed += 1
                self._healthy = False
                log.exception("audit store failed; the operation fails closed (audit.required)")
                raise AuditUnavailable() from exc
            self.written += 1
            self._healthy = True
            return
        if self._closed:
            self.dropped += 1
            log.error("audit record dropped: the audit trail is closed")
            return
        size = record_bytes(record)
        if self.queued_bytes + size > self.queue_max_bytes:
            self.dropped += 1
            log.error("audit record dropped: %d records (%d bytes) wait for the store",
                      self._queue.qsize(), self.queued_bytes)  # fmt: skip
            return
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("audit record dropped: %d records wait for the store", self._queue.qsize())
            return
        self.queued_bytes += size

    async def flush(self) -> None:
        """Wait until every record queued so far has been offered to the store (at once while
        there is no store to offer them to)."""
        if self._writer is not None and self._store is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Write what is queued, stop the writer and close the store."""
        self._closed = True
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
            self._connector = None
        if self._writer is not None and self._store is None:  # never reached the store
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
            if unwritten := self._queue.qsize():
                self.dropped += unwritten
                log.error("%d audit record(s) dropped: the store was never reached", unwritten)
        elif self._writer is not None:
            with contextlib.suppress(asyncio.QueueFull):  # full: the writer is not waiting
                self._queue.put_nowait(None)
            await self._queue.join()
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        elif not self.required and self._queue.qsize():
            self.dropped += self._queue.qsize()  # never started: nobody will write them
            log.error("%d audit record(s) dropped: the trail was never started", self.dropped)
        if self._store is not None:
            await self._store.close()

    async def __aenter__(self) -> "AuditTrail":
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _connect(self, url: str, backoff: float, backoff_max: float, sleep: Sleep) -> None:
        delay, attempt = backoff, 1
        while True:
            await sleep(delay)
            attempt += 1
            try:
                store = await open_audit_store(url)
            except Exception as exc:
                delay = min(delay * 2, backoff_max)
                log.warning("audit store %s still cannot be reached (attempt %d: %s); next "
                            "attempt in %gs", describe_url(url), attempt, _reason(exc, url),
                            delay)  # fmt: skip
                continue
            self._store, self._healthy = store, True
            self.connected.set()
            log.warning("audit store %s reached after %d attempts; writing the %d queued "
                        "record(s)", describe_url(url), attempt, self.pending)  # fmt: skip
            return

    async def _write_batches(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.connected.wait()
            first = await self._queue.get()
            if first is None:  # a wake-up with nothing to write
                self._queue.task_done()
                continue
            batch = [first]
            # Group commit: one transaction per batch_window, not one per record. A record
            # costs ~1 ms of CPU written alone in SQLite, ~0.04 ms in a batch of 200.
            until = loop.time() + self._batch_window
            while len(batch) < self._batch_size:
                remaining = until - loop.time()
                if self._queue.empty() and (remaining <= 0 or self._closed):
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), max(remaining, 0))
                except TimeoutError:
                    break
                if item is None:  # closing: write what we have now
                    self._queue.task_done()
                    break
                batch.append(item)
            try:
                assert self._store is not None
                await self._store.append_many(batch)
            except Exception:
                self.failed += len(batch)
                self._healthy = False
                log.exception("audit store failed: %d record(s) not written", len(batch))
            else:
                self.written += len(batch)
                self._healthy = True
            finally:
                for record in batch:
                    self.queued_bytes -= record_bytes(record)
                    self._queue.task_done()


def record_bytes(record: AuditRecord) -> int:
    """What one queued record is counted as against ``queue_max_bytes``."""
    texts = (
        len(record.document or "")
        + ((record.variables_bytes or 0) if record.variables is not None else 0)
        + len(record.variables_prefix or "")
        + sum(len(c) for c in record.requested)
        + sum(len(c) for c in record.denied)
    )
    return texts + RECORD_OVERHEAD_BYTES


def _reason(exc: BaseException, url: str) -> str:
    """Why the store could not be opened, without the URL's password."""
    text = f"{type(exc).__name__}: {exc}".strip()
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text
