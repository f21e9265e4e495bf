"""Rate limits per client: 429 RATE_LIMITED with Retry-After, other clients unaffected; in
memory and in the real Redis on this machine (127.0.0.1:6379), where replicas share counts.
Time is a fake clock, or a window of an hour that no test outlives."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from gateway.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.ratelimit import CounterStore, MemoryCounters, RateLimiter, RedisCounters
from tests.gateway.conftest import (
    OPEN_POLICY,
    REDIS_URL,
    PortRouter,
    answering,
    port_url,
    settings_for_tests,
)
from tests.gateway.started import started_gateway

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}
QUERY = "{ ports { UNLocationCode } }"
WINDOW_START = 60.0 * 20_000_000  # the start of a 60 s (and of a 10 s) window


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[CounterStore]:
    counters: CounterStore = (
        MemoryCounters()
        if request.param == "memory"
        else RedisCounters.from_url(REDIS_URL, namespace)
    )
    yield counters
    await counters.close()


async def test_a_client_past_its_rate_waits_while_others_go_on(store: CounterStore) -> None:
    clock = Clock(WINDOW_START)
    limiter = RateLimiter(store, 60.0, clock=clock)
    assert [(await limiter.take("a", 3)).allowed for _ in range(4)] == [True] * 3 + [False]
    assert (await limiter.take("b", 3)).allowed
    clock.now += 30
    refused = await limiter.take("a", 3)
    assert not refused.allowed
    assert refused.retry_after == 50  # the window ends in 30 s; 1/3 of the next must pass
    clock.now += 30
    assert not (await limiter.take("a", 3)).allowed  # the last window still weighs 3
    clock.now += 21
    assert (await limiter.take("a", 3)).allowed  # 3 x 39/60 + 0 + 1 <= 3
    assert not (await limiter.take("a", 3)).allowed


async def test_the_window_slides_across_its_boundary(store: CounterStore) -> None:
    clock = Clock(WINDOW_START + 50)  # late in a window
    limiter = RateLimiter(store, 60.0, clock=clock)
    assert all([(await limiter.take("a", 10)).allowed for _ in range(10)])
    clock.now += 15  # a new fixed window: a fixed-window counter would allow 10 more now
    assert not (await limiter.take("a", 10)).allowed  # 10 x 55/60 still counted
    clock.now += 25  # half of the new window gone: the last one weighs 5
    decisions = [await limiter.take("a", 10) for _ in range(10)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 5  # 5 + 4 + 1 <= 10
    assert decisions[-1].retry_after == 6  # once 10 x (1 - f) + 5 + 1 <= 10: at f = 0.6


async def test_refused_requests_are_not_counted(store: CounterStore) -> None:
    clock = Clock(WINDOW_START)
    limiter = RateLimiter(store, 10.0, clock=clock)
    for _ in range(50):
        await limiter.take("a", 2)
    clock.now += 20  # two windows later: nothing of the flood is left
    assert (await limiter.take("a", 2)).allowed


async def test_a_store_that_fails_lets_requests_through() -> None:
    unreachable = RedisCounters.from_url("redis://127.0.0.1:1/0", "nowhere")
    limiter = RateLimiter(unreachable, 60.0)
    try:
        assert all([(await limiter.take("a", 1)).allowed for _ in range(3)])
    finally:
        await limiter.close()


async def query(client: httpx.AsyncClient, **headers: str) -> httpx.Response:
    return await client.post("/graphql", json={"query": QUERY}, headers=headers)


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_429_with_retry_after_for_one_client_only(
    backend: str, namespace: str, tmp_path: Path
) -> None:
    keys = ApiKeyStore(tmp_path / "keys.sqlite3")
    alice, _ = keys.create(client_id="alice", organisation="A", roles=["public"])
    bob, _ = keys.create(client_id="bob", organisation="B", roles=["public"])
    keys.close()
    rate = {"requests": 3, "anonymous_requests": 2, "window": "1h", "namespace": namespace}
    if backend == "redis":
        rate["redis_url"] = REDIS_URL
    async with started_gateway(
        {"USLAX": answering(PORTS)},
        rate_limit=rate,
        auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
        cache={"enabled": False},  # every request let through asks the port once
    ) as gateway:
        statuses = [(await query(gateway.client, **{"x-api-key": alice})).status_code
                    for _ in range(4)]  # fmt: skip
        assert statuses == [200, 200, 200, 429]
        refused = await query(gateway.client, **{"x-api-key": alice})
        assert refused.status_code == 429
        # The rest of this window, and part of the next one, where this one still weighs.
        assert 1 <= int(refused.headers["retry-after"]) < 2 * 3600
        [error] = refused.json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfter"] == int(refused.headers["retry-after"])
        assert "3 requests per 3600s" in error["message"]
        assert (await query(gateway.client, **{"x-api-key": bob})).status_code == 200
        # Without a credential: counted per client IP, with the anonymous rate.
        assert [(await query(gateway.client)).status_code for _ in range(3)] == [200, 200, 429]
        # 3 of alice's, 1 of bob's and 2 anonymous ones went through; the 3 refused asked
        # no port.
        assert len(gateway.router.requests) == 3 + 1 + 2


@contextlib.asynccontextmanager
async def clients_of_one_gateway(
    addresses: list[str], **settings: Any
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One started gateway, and a client of it connecting from each of ``addresses``."""
    config = settings_for_tests(
        None,
        ports=[{"id": "USLAX", "name": "LA", "url": port_url("USLAX")}],
        policy={"file": OPEN_POLICY},
        **settings,
    )
    async with contextlib.AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(
            httpx.AsyncClient(transport=PortRouter({"USLAX": answering(PORTS)}))
        )
        app = create_app(config, client=upstream)
        await stack.enter_async_context(app.router.lifespan_context(app))
        yield [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                    base_url="http://gw",
                )
            )
            for address in addresses
        ]


async def test_anonymous_clients_of_one_gateway_are_told_apart_by_ip() -> None:
    rate = {"anonymous_requests": 1, "window": "1h"}
    async with clients_of_one_gateway(["10.0.0.1", "10.0.0.2"], rate_limit=rate) as (a, b):
        assert (await query(a)).status_code == 200
        assert (await query(a)).status_code == 429
        assert (await query(b)).status_code == 200  # another address, its own allowance
        assert (await query(b)).status_code == 429
        assert (await query(a)).status_code == 429


async def test_ipv6_callers_are_counted_by_their_network() -> None:
    rate = {"anonymous_requests": 1, "window": "1h", "anonymous_ipv6_prefix": 64}
    addresses = ["2001:db8:0:1::a", "2001:db8:0:1::b", "2001:db8:0:2::a", "::ffff:10.0.0.1",
                 "::ffff:10.0.0.2"]  # fmt: skip
    async with clients_of_one_gateway(addresses, rate_limit=rate) as clients:
        assert [(await query(c)).status_code for c in clients] == [200, 429, 200, 200, 200]


async def test_replicas_share_counts_through_redis(namespace: str) -> None:
    rate = {"anonymous_requests": 2, "window": "1h", "redis_url": REDIS_URL, "namespace": namespace}
    async with (
        started_gateway({"USLAX": answering(PORTS)}, rate_limit=rate) as first,
        started_gateway({"USLAX": answering(PORTS)}, rate_limit=rate) as second,
    ):
        assert (await query(first.client)).status_code == 200
        assert (await query(second.client)).status_code == 200
        assert (await query(first.client)).status_code == 429
        assert (await query(second.client)).status_code == 429
        client = redis.Redis.from_url(REDIS_URL)
        keys = [key.decode() async for key in client.scan_iter(match=f"{namespace}:*")]
        await client.aclose()
        assert keys
        assert all("127.0.0.1" not in key for key in keys)


async def test_rate_limiting_can_be_switched_off() -> None:
    rate = {"enabled": False, "anonymous_requests": 1, "window": "1h"}
    async with started_gateway({"USLAX": answering(PORTS)}, rate_limit=rate) as gateway:
        assert [(await query(gateway.client)).status_code for _ in range(3)] == [200] * 3


async def test_memory_counters_forget_the_least_recently_seen_client_past_their_bytes() -> None:
    counters = MemoryCounters(max_bytes=64 * 1024)
    limiter = RateLimiter(counters, 60.0, clock=Clock(WINDOW_START))
    assert [(await limiter.take("kept", 2)).allowed for _ in range(3)] == [True, True, False]
    for i in range(1_000):  # far more clients than 64 KiB holds
        await limiter.take(f"198.51.100.{i}", 2)
        if i % 50 == 0:
            assert not (await limiter.take("kept", 2)).allowed  # seen again: still counted
    assert counters.bytes <= counters.max_bytes
    assert counters.evictions > 0
    assert counters.bytes >= counters.max_bytes - 1_000  # full, not emptied
    # The first of the crowd was forgotten: it starts afresh (let through, never refused).
    assert (await limiter.take("198.51.100.0", 1)).allowed
    assert (await limiter.take("198.51.100.0", 1)).allowed is False
