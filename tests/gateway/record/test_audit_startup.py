"""A PostgreSQL audit store that is down when the gateway starts: with ``required: false`` the
gateway serves anyway, queues records (dropping and counting them past the queue's size), says
so in its log, ``/readyz`` and ``portgate_audit_store_up``, and tries the store again with a
bounded backoff until it answers; with ``required: true`` it does not start. The store is the
real PostgreSQL server, first behind a loopback port that refuses, then let through."""

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.record.audit import AuditFilter, open_audit_store
from gateway.record.audit_trail import AuditTrail
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.audit_helpers import (
    closed_port,
    postgres_forwarded_from,
    postgres_schema,
    postgres_url_on,
    sample,
)
from tests.gateway.conftest import settings_for_tests

QUERY = "query Boxes { ports { name } }"
GUARD_SECONDS = 20  # past any wait here: reaching it means the trail never connected


@pytest.fixture
def schema_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


async def test_the_trail_retries_with_a_bounded_backoff_then_writes_what_it_queued(
    schema_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = closed_port()
    waits: list[float] = []
    forwarding: list[Any] = []

    async def sleep(seconds: float) -> None:  # no time passes; the 9th attempt finds the server
        waits.append(seconds)
        if len(waits) == 9:
            forwarding.append(postgres_forwarded_from(port))
            await forwarding[0].__aenter__()

    with caplog.at_level(logging.WARNING, logger="gateway.record.audit_trail"):
        trail = await AuditTrail.open(
            postgres_url_on(port, schema_url), backoff=0.5, backoff_max=30, sleep=sleep
        )
        assert trail.state == "connecting"
        for n in range(5):
            await trail.record(sample(n))
        async with trail:
            await trail.connected.wait()
            await trail.flush()
            assert trail.state == "up"
    try:
        assert waits == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
        assert (trail.written, trail.dropped, trail.failed) == (5, 0, 0)
        messages = [r.getMessage() for r in caplog.records]
        assert "serving without it" in messages[0]
        assert sum("still cannot be reached" in m for m in messages) == 8
        assert "reached after 10 attempts" in messages[-1]
        store = await open_audit_store(schema_url)
        try:
            assert len(await store.search()) == 5
            assert (await store.verify()).ok
        finally:
            await store.close()
    finally:
        await forwarding[0].__aexit__(None, None, None)


async def test_a_full_queue_while_the_store_is_down_drops_and_counts(
    schema_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def never(_: float) -> None:
        await trail.connected.wait()  # nobody sets it: the store stays down

    trail = await AuditTrail.open(
        postgres_url_on(closed_port(), schema_url), queue_size=3, sleep=never
    )
    for n in range(5):
        await trail.record(sample(n))
    assert (trail.pending, trail.dropped) == (3, 2)
    assert trail.status() == {"store": "connecting", "required": False, "queued": 3,
                              "dropped": 2, "failed": 0}  # fmt: skip
    await trail.close()
    assert (trail.written, trail.dropped) == (0, 5)
    assert "the store was never reached" in caplog.text


async def test_the_gateway_serves_without_its_store_and_catches_up(
    schema_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = closed_port()
    monkeypatch.setenv("PORTGATE_AUDIT__STORE", postgres_url_on(port, schema_url))
    keys = ApiKeyStore(tmp_path / "keys.sqlite3")
    auditor, _ = keys.create(client_id="auditor-1", organisation="State", roles=["auditor"])
    keys.close()
    config = settings_for_tests(
        None,
        ports=[{"id": "USLAX", "name": "Port of Los Angeles",
                "url": f"http://127.0.0.1:{closed_port()}/graphql"}],
        auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
        audit={"connect_backoff": "10ms", "connect_backoff_max": "50ms"},
    )  # fmt: skip
    app = create_app(config)
    headers = {"x-api-key": auditor}
    async with serve_on_loopback(app) as url, httpx.AsyncClient(base_url=url) as client:
        for _ in range(3):
            answered = await client.post("/graphql", json={"query": QUERY})
            assert answered.status_code == 200  # served, the audit store down
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["audit"] == {"store": "connecting", "required": False, "queued": 3,
                                         "dropped": 0, "failed": 0}  # fmt: skip
        metrics = (await client.get("/metrics")).text
        assert "portgate_audit_store_up 0.0" in metrics
        assert "portgate_audit_queued_records 3.0" in metrics
        refused = await client.get("/audit/records", headers=headers)
        assert refused.status_code == 503
        assert refused.json()["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"

        async with postgres_forwarded_from(port):  # the database comes up
            async with asyncio.timeout(GUARD_SECONDS):
                await app.state.observer.trail.connected.wait()
            found = await client.get("/audit/records", headers=headers)  # flushes first
            assert len(found.text.splitlines()) == 3
            ready = (await client.get("/readyz")).json()
            assert ready["audit"]["store"] == "up"
            assert "portgate_audit_store_up 1.0" in (await client.get("/metrics")).text
    assert "cannot be reached" in caplog.text
    assert "serving without it" in caplog.text
    store = await open_audit_store(schema_url)
    try:
        assert len(await store.search(AuditFilter(operation_name="Boxes"))) == 3
    finally:
        await store.close()


async def test_with_required_the_gateway_does_not_start_without_its_store(
    schema_url: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTGATE_AUDIT__STORE", postgres_url_on(closed_port(), schema_url))
    config = settings_for_tests(
        None,
        ports=[{"id": "USLAX", "name": "Port of Los Angeles",
                "url": f"http://127.0.0.1:{closed_port()}/graphql"}],
        audit={"required": True},
    )  # fmt: skip
    app = create_app(config)
    with pytest.raises(psycopg.OperationalError, match="refused"):
        async with app.router.lifespan_context(app):
            pass  # never reached: the lifespan fails before the app serves
    assert "audit.required is true: not starting" in caplog.text


async def test_a_required_trail_whose_store_fails_is_not_ready_until_it_answers(
    tmp_path: Path,
) -> None:
    config = settings_for_tests(
        None,
        ports=[{"id": "USLAX", "name": "Port of Los Angeles",
                "url": f"http://127.0.0.1:{closed_port()}/graphql"}],
        audit={"required": True},  # SQLite under tmp_path (tests/conftest.py)
    )  # fmt: skip
    async with serve_on_loopback(create_app(config)) as url, httpx.AsyncClient(base_url=url) as c:
        assert (await c.get("/readyz")).json()["audit"]["store"] == "up"
        (tmp_path / "audit.sqlite3").rename(tmp_path / "saved.sqlite3")
        (tmp_path / "audit.sqlite3").mkdir()  # the store can no longer be written
        refused = await c.post("/graphql", json={"query": QUERY})
        assert refused.status_code == 503
        ready = await c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "audit store down"
        assert ready.json()["audit"]["store"] == "down"
        (tmp_path / "audit.sqlite3").rmdir()
        (tmp_path / "saved.sqlite3").rename(tmp_path / "audit.sqlite3")  # back: noticed unasked
        ready = await c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["audit"]["store"] == "up"
