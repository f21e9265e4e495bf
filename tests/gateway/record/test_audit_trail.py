"""The audit trail in front of a store: best effort (queued, counted) or required (fail closed)."""

import logging
from collections.abc import Iterable
from pathlib import Path

import pytest

from gateway.config import AuditSettings, ConfigError
from gateway.errors import AuditUnavailable
from gateway.record.audit import AuditRecord, StoredRecord, open_audit_store
from gateway.record.audit_sqlite import SqliteAuditStore
from gateway.record.audit_trail import RECORD_OVERHEAD_BYTES, AuditTrail
from tests.gateway.audit_helpers import sample
from tests.gateway.conftest import settings_for_tests


class BrokenStore(SqliteAuditStore):
    """A store whose writes fail, as a full disk or an unreachable database would."""

    async def append_many(self, records: Iterable[AuditRecord]) -> list[StoredRecord]:
        raise OSError("disk full")


async def test_queued_records_are_written_in_batches_and_flushed_on_close(tmp_path: Path) -> None:
    store = await open_audit_store(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    trail = AuditTrail(store, queue_size=100, batch_size=7)
    await trail.start()
    for n in range(30):
        await trail.record(sample(n))  # returns at once: nothing is written yet
    assert trail.pending + trail.written == 30
    await trail.close()
    assert (trail.written, trail.failed, trail.dropped, trail.pending) == (30, 0, 0, 0)
    reopened = await open_audit_store(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    report = await reopened.verify()
    assert report.ok
    assert report.count == 30


async def test_a_failing_store_is_logged_and_counted_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trail = AuditTrail(BrokenStore(tmp_path / "audit.sqlite3"), batch_size=4)
    async with trail:
        for n in range(10):
            await trail.record(sample(n))
    assert (trail.written, trail.failed, trail.dropped) == (0, 10, 0)
    assert "audit store failed" in caplog.text
    assert caplog.records[0].levelno == logging.ERROR


async def test_a_full_queue_drops_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await open_audit_store(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    trail = AuditTrail(store, queue_size=3)
    for n in range(5):  # not started yet: nothing drains the queue
        await trail.record(sample(n))
    assert (trail.pending, trail.dropped) == (3, 2)
    await trail.start()
    await trail.close()
    assert (trail.written, trail.dropped) == (3, 2)
    await trail.record(sample(9))  # after close: dropped, not lost silently
    assert trail.dropped == 3
    assert "dropped" in caplog.text


async def test_the_queue_is_bounded_in_bytes_as_well_as_in_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await open_audit_store(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    trail = AuditTrail(store, queue_size=1_000, queue_max_bytes=1024 * 1024)
    document = "{ ports { name } }" + " " * 15_000
    big = sample(0, document=document, variables=None, requested=(), denied=())
    # Each record counts its text and the overhead: about 19 KB, so about 53 fit in 1 MiB.
    each = len(document) + RECORD_OVERHEAD_BYTES
    for _ in range(100):  # not started yet: nothing drains the queue
        await trail.record(big)
    assert trail.pending == (1024 * 1024) // each
    assert trail.dropped == 100 - trail.pending
    assert trail.queued_bytes == trail.pending * each <= 1024 * 1024
    await trail.start()
    await trail.close()
    assert (trail.written, trail.queued_bytes) == ((1024 * 1024) // each, 0)
    assert "bytes) wait for the store" in caplog.text


async def test_required_mode_writes_before_returning(tmp_path: Path) -> None:
    store = await open_audit_store(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    async with AuditTrail(store, required=True) as trail:
        await trail.record(sample(1))
        assert trail.written == 1
        assert len(await store.search()) == 1


async def test_required_mode_fails_closed(tmp_path: Path) -> None:
    async with AuditTrail(BrokenStore(tmp_path / "audit.sqlite3"), required=True) as trail:
        with pytest.raises(AuditUnavailable) as caught:
            await trail.record(sample(1))
    assert trail.failed == 1
    assert caught.value.code == "AUDIT_UNAVAILABLE"
    assert "disk" not in caught.value.message  # the store's details stay in the log


async def test_open_from_a_url(tmp_path: Path) -> None:
    trail = await AuditTrail.open(f"sqlite:///{tmp_path / 'audit.sqlite3'}", queue_size=5)
    await trail.record(sample(1))
    await trail.close()
    assert trail.written == 1


def test_the_audit_config_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTGATE_AUDIT__STORE")  # set for every test by tests/conftest.py
    monkeypatch.delenv("PORTGATE_REGISTRY__STORE")
    assert settings_for_tests(None).audit == AuditSettings()
    assert AuditSettings().store.startswith("sqlite:///")
    settings = settings_for_tests(None, audit={"required": True, "queue_size": 50})
    assert (settings.audit.required, settings.audit.queue_size) == (True, 50)
    with pytest.raises(ConfigError) as caught:
        settings_for_tests(None, audit={"store": "mysql://auditor:s3cret@db/audit"})
    assert "audit.store" in str(caught.value)
    assert "s3cret" not in str(caught.value)


async def test_records_arriving_together_are_written_in_one_transaction() -> None:
    calls: list[int] = []

    class CountingStore:
        async def append_many(self, records: Iterable[AuditRecord]) -> list[StoredRecord]:
            calls.append(len(list(records)))
            return []

        async def close(self) -> None:
            return None

    trail = AuditTrail(CountingStore(), batch_window=60)  # type: ignore[arg-type]
    await trail.start()
    for i in range(10):
        await trail.record(sample(i))
    await trail.close()  # wakes the writer: no waiting out the 60 s window
    assert calls == [10]
    assert trail.written == 10
