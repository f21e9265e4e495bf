"""Load shedding on a real uvicorn on loopback: one client's requests in flight past its limit
get 429 CONCURRENCY_LIMITED, the gateway's past its own limit or with its event loop running
late get 503 OVERLOADED, each with Retry-After, asking no port and counted in /metrics; health
checks are never shed.

Requests are held in flight by a port that answers only when the test releases it; the event
loop's lag is measured by the real monitor on a clock the test advances. No timing luck."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from gateway.access.apikeys import ApiKeyStore
from gateway.config import load_settings
from gateway.edge.counts import EdgeCounts
from gateway.edge.in_flight import ClientConcurrency
from gateway.edge.overload import EventLoopLag
from tests.gateway.edge.dcsa_spec import validate
from tests.gateway.edge_server import HANG_GUARD_SECONDS, UvicornGateway, uvicorn_gateway

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}
QUERY = {"query": "{ ports { UNLocationCode } }"}
NO_SHARING = {"enabled": False, "coalesce": False}  # every request asks the port itself
FACADE = "/dcsa/tnt/v2/events"
TRANSPORT_EVENTS = {"eventType": "TRANSPORT"}  # the vessel calls of every port: one question each


class HeldPort(httpx.AsyncBaseTransport):
    """A port that answers only once released; it knows how many requests wait for it."""

    def __init__(self) -> None:
        self.waiting = 0
        self.released = asyncio.Event()
        self._arrived = asyncio.Condition()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with self._arrived:
            self.waiting += 1
            self._arrived.notify_all()
        await self.released.wait()
        return httpx.Response(200, json={"data": PORTS})

    async def until_waiting(self, count: int) -> None:
        async with self._arrived:
            await self._arrived.wait_for(lambda: self.waiting >= count)


@contextlib.asynccontextmanager
async def held(
    gateway: UvicornGateway,
    port: HeldPort,
    count: int,
    headers: dict[str, str] | None = None,
    *,
    dcsa: bool = False,
) -> AsyncIterator[list["asyncio.Task[httpx.Response]"]]:
    """``count`` requests in flight (GraphQL ones, or to the DCSA facade), waiting at the port
    until the block ends."""

    def ask() -> Coroutine[Any, Any, httpx.Response]:
        if dcsa:
            return gateway.client.get(FACADE, params=TRANSPORT_EVENTS, headers=headers)
        return gateway.client.post("/graphql", json=QUERY, headers=headers)

    async with asyncio.timeout(HANG_GUARD_SECONDS):
        waiting = port.waiting
        tasks = [asyncio.create_task(ask()) for _ in range(count)]
        await port.until_waiting(waiting + count)
        try:
            yield tasks
        finally:
            port.released.set()
            await asyncio.gather(*tasks)


def dcsa_refusal(response: httpx.Response) -> tuple[int, str, str]:
    """A refusal on the DCSA facade: the spec's error body (checked against the spec), with
    Retry-After."""
    validate(response)
    body = response.json()
    [error] = body["errors"]
    assert body["statusCode"] == response.status_code
    assert "requestUri" in body
    return response.status_code, error["reason"], response.headers["retry-after"]


def refusal(response: httpx.Response) -> tuple[int, str, str, int]:
    [error] = response.json()["errors"]
    extensions = error["extensions"]
    return (
        response.status_code,
        extensions["code"],
        response.headers["retry-after"],
        extensions["retryAfter"],
    )


async def test_a_client_past_its_requests_in_flight_gets_429_and_others_go_on(
    tmp_path: Path,
) -> None:
    keys = ApiKeyStore(tmp_path / "keys.sqlite3")
    key, _ = keys.create(client_id="acme", organisation="ACME", roles=["public"])
    keys.close()
    port = HeldPort()
    async with uvicorn_gateway(
        {"USLAX": port},
        cache=NO_SHARING,
        rate_limit={"max_in_flight": 2},
        auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
    ) as gateway:
        async with held(gateway, port, 2) as in_flight:  # two anonymous ones from 127.0.0.1
            refused = await gateway.client.post("/graphql", json=QUERY)
            assert refusal(refused) == (429, "CONCURRENCY_LIMITED", "1", 1)
            assert "at most 2 at once" in refused.json()["errors"][0]["message"]
            assert port.waiting == 2  # the refused request asked no port
            other = asyncio.create_task(
                gateway.client.post("/graphql", json=QUERY, headers={"x-api-key": key})
            )
            await port.until_waiting(3)  # another client is not held back
        assert [t.result().status_code for t in in_flight] == [200, 200]
        assert (await other).status_code == 200
        assert (await gateway.client.post("/graphql", json=QUERY)).status_code == 200
        assert gateway.counts.refused["client_in_flight"] == 1
        metrics = await gateway.metrics()
        assert 'portgate_requests_refused_total{reason="client_in_flight"} 1.0' in metrics
        assert 'portgate_requests_refused_total{reason="rate_limited"} 0.0' in metrics


async def test_with_the_rate_limit_off_so_is_the_in_flight_limit_per_client() -> None:
    port = HeldPort()
    async with uvicorn_gateway(
        {"USLAX": port}, cache=NO_SHARING, rate_limit={"enabled": False, "max_in_flight": 1}
    ) as gateway:
        async with held(gateway, port, 3) as in_flight:
            assert port.waiting == 3
        assert [t.result().status_code for t in in_flight] == [200, 200, 200]


async def test_past_its_requests_in_flight_the_gateway_answers_503_and_stays_healthy() -> None:
    port = HeldPort()
    async with uvicorn_gateway(
        {"USLAX": port},
        cache=NO_SHARING,
        rate_limit={"max_in_flight": 10},
        load_shedding={"max_in_flight": 2},
    ) as gateway:
        async with held(gateway, port, 2):
            refused = await gateway.client.post("/graphql", json=QUERY)
            assert refusal(refused) == (503, "OVERLOADED", "1", 1)
            assert port.waiting == 2
            assert (await gateway.client.get("/healthz")).status_code == 200
            assert (await gateway.client.get("/readyz")).status_code == 200
            assert "portgate_requests_in_flight 2.0" in await gateway.metrics()
        assert (await gateway.client.post("/graphql", json=QUERY)).status_code == 200
        metrics = await gateway.metrics()
        assert 'portgate_requests_refused_total{reason="overloaded_in_flight"} 1.0' in metrics
        assert "portgate_requests_in_flight 0.0" in metrics


async def test_the_dcsa_facade_is_shed_in_dcsa_form_and_counts_in_flight() -> None:
    port = HeldPort()
    async with uvicorn_gateway(
        {"USLAX": port},
        cache=NO_SHARING,
        rate_limit={"max_in_flight": 10},
        load_shedding={"max_in_flight": 2},
    ) as gateway:
        async with held(gateway, port, 2):
            shed = await gateway.client.get(FACADE, params=TRANSPORT_EVENTS)
            assert dcsa_refusal(shed) == (503, "overloaded", "1")
            assert port.waiting == 2  # the refused request asked no port
        port.released.clear()
        async with held(gateway, port, 2, dcsa=True) as in_flight:  # the facade's own count
            assert refusal(await gateway.client.post("/graphql", json=QUERY))[:2] == (
                503,
                "OVERLOADED",
            )
            assert dcsa_refusal(await gateway.client.get(FACADE, params=TRANSPORT_EVENTS))[1] == (
                "overloaded"
            )
            assert port.waiting == 4
        assert [t.result().status_code for t in in_flight] == [200, 200]
        metrics = await gateway.metrics()
        assert 'portgate_requests_refused_total{reason="overloaded_in_flight"} 3.0' in metrics
        assert "portgate_requests_in_flight 0.0" in metrics


async def test_a_client_past_its_requests_in_flight_is_refused_by_the_facade_in_dcsa_form(
    tmp_path: Path,
) -> None:
    keys = ApiKeyStore(tmp_path / "keys.sqlite3")
    key, _ = keys.create(client_id="acme", organisation="ACME", roles=["public"])
    keys.close()
    acme = {"x-api-key": key}
    port = HeldPort()
    async with uvicorn_gateway(
        {"USLAX": port},
        cache=NO_SHARING,
        rate_limit={"max_in_flight": 2},
        auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
    ) as gateway:
        async with held(gateway, port, 1, acme), held(gateway, port, 1, acme, dcsa=True):
            refused = await gateway.client.get(FACADE, params=TRANSPORT_EVENTS, headers=acme)
            assert dcsa_refusal(refused) == (429, "concurrencyLimited", "1")
            assert "at most 2 at once" in refused.json()["errors"][0]["message"]
            assert port.waiting == 2
            # counted by client, not by address: anyone else at 127.0.0.1 goes on
            other = asyncio.create_task(gateway.client.get(FACADE, params=TRANSPORT_EVENTS))
            await port.until_waiting(3)
        assert (await other).status_code == 200
        assert gateway.counts.refused["client_in_flight"] == 1


class SteppedLoop:
    """A clock and a sleep for :class:`EventLoopLag` that the test steps: each sleep ends when
    the test says how late it ends (:meth:`measure`)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._asleep = asyncio.Event()
        self._lateness: asyncio.Queue[float] = asyncio.Queue()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self._asleep.set()
        late = await self._lateness.get()
        self.now += seconds + late

    async def measure(self, late: float) -> None:
        """Let one measurement happen, the timer firing ``late`` seconds late; returns once the
        monitor has stored it."""
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            await self._asleep.wait()
            self._asleep.clear()
            self._lateness.put_nowait(late)
            await self._asleep.wait()


async def test_when_the_event_loop_runs_late_new_queries_get_503() -> None:
    stepped = SteppedLoop()
    lag = EventLoopLag(0.1, clock=stepped.clock, sleep=stepped.sleep)
    async with uvicorn_gateway(
        {"USLAX": httpx.MockTransport(lambda _: httpx.Response(200, json={"data": PORTS}))},
        load_shedding={"max_event_loop_lag": "500ms", "retry_after": 2},
        loop_lag=lag,
    ) as gateway:

        async def ask() -> httpx.Response:
            return await gateway.client.post("/graphql", json=QUERY)

        await stepped.measure(0.0)
        assert (await ask()).status_code == 200
        await stepped.measure(2.0)  # one late timer: a pause, not a backlog
        assert (await ask()).status_code == 200
        await stepped.measure(1.5)  # late twice in a row: shed
        asked = len(gateway.router.requests)
        refused = await ask()
        assert refusal(refused) == (503, "OVERLOADED", "2", 2)
        shed = await gateway.client.get(FACADE, params=TRANSPORT_EVENTS)
        assert dcsa_refusal(shed) == (503, "overloaded", "2")
        assert "1.50s late" in shed.json()["errors"][0]["message"]
        assert "1.50s late" in refused.json()["errors"][0]["message"]
        assert len(gateway.router.requests) == asked
        assert (await gateway.client.get("/healthz")).status_code == 200
        metrics = await gateway.metrics()
        assert "portgate_event_loop_lag_seconds 1.5" in metrics
        assert 'portgate_requests_refused_total{reason="overloaded_lag"} 2.0' in metrics
        await stepped.measure(0.01)  # caught up
        assert (await ask()).status_code == 200


async def test_lag_is_how_late_the_timer_fires() -> None:
    stepped = SteppedLoop()
    lag = EventLoopLag(0.25, clock=stepped.clock, sleep=stepped.sleep)
    monitor = asyncio.create_task(lag.run())
    try:
        readings = []
        for late in (0.0, 0.7, 0.3, 0.0):
            await stepped.measure(late)
            readings.append((round(lag.latest, 6), round(lag.sustained, 6)))
    finally:
        monitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await monitor
    assert readings == [(0.0, 0.0), (0.7, 0.0), (0.3, 0.3), (0.0, 0.0)]


async def test_the_in_flight_table_holds_only_clients_with_requests_in_flight() -> None:
    release, all_in = asyncio.Event(), asyncio.Event()
    started = 0
    clients = 1000

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal started
        started += 1
        if started == clients:
            all_in.set()
        await release.wait()

    async def receive() -> Message:
        raise AssertionError("nothing reads a body here")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    limit = ClientConcurrency(app, EdgeCounts(), limit=1, retry_after=1)
    tasks = [
        asyncio.create_task(
            limit({"type": "http", "path": "/graphql", "client": (f"10.0.{i // 250}.{i % 250}", 1)},
                  receive, send)
        )
        for i in range(clients)
    ]  # fmt: skip
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        await all_in.wait()
    assert limit.in_flight("ip:10.0.3.249") == 1
    release.set()
    await asyncio.gather(*tasks)
    assert limit.in_flight("ip:10.0.3.249") == 0
    assert limit._in_flight == {}  # nothing kept for clients that have nothing in flight
    assert sent == []  # nobody was refused


@pytest.mark.parametrize("max_lag", [None, "1s"])
def test_lag_shedding_can_be_switched_off(max_lag: str | None) -> None:
    settings = load_settings(None, load_shedding={"max_event_loop_lag": max_lag})
    assert settings.load_shedding.max_event_loop_lag == (None if max_lag is None else 1.0)
