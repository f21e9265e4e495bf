"""Rate limits per client: 429 RATE_LIMITED with Retry-After, other clients unaffected; in
memory and in the real Redis on this machine (127.0.0.1:6379), where replicas share counts.
Time is a fake clock, or a window of an hour that no test outlives."""

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from gateway.access.apikeys import ApiKeyStore
from gateway.access.ratelimit import (
    COUNTER_OVERHEAD_BYTES,
    CounterStore,
    CounterStoreUnavailable,
    Counts,
    MemoryCounters,
    RateLimiter,
    RedisCounters,
)
from gateway.app import create_app
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


# -- the counters' own bookkeeping ----------------------------------------------------------------


def client_bytes(key: str) -> int:
    """What one client's counters are counted as: its key and the documented overhead."""
    return len(key) + COUNTER_OVERHEAD_BYTES


async def test_memory_counters_count_each_client_s_bytes_once_and_nothing_when_closed() -> None:
    counters = MemoryCounters()
    assert (counters.bytes, counters.evictions) == (0, 0)
    limiter = RateLimiter(counters, 60.0, clock=Clock(WINDOW_START))
    for key in ("a", "client:bob", "ip:2001:db8::/64", "a", "a"):  # "a" three times, once counted
        await limiter.take(key, 10)
    assert counters.bytes == sum(map(client_bytes, ("a", "client:bob", "ip:2001:db8::/64")))
    assert counters.evictions == 0
    await counters.close()
    assert counters.bytes == 0
    assert (await limiter.take("a", 1)).allowed  # forgotten with the rest
    assert counters.bytes == client_bytes("a")


async def test_memory_counters_fill_to_their_bound_exactly_and_evict_one_client_at_a_time() -> None:
    keys = [f"client-{i}" for i in range(4)]  # all of one length
    counters = MemoryCounters(max_bytes=3 * client_bytes(keys[0]))
    limiter = RateLimiter(counters, 60.0, clock=Clock(WINDOW_START))
    for key in keys[:3]:
        await limiter.take(key, 1)
    assert (counters.bytes, counters.evictions) == (counters.max_bytes, 0)  # full, none out
    await limiter.take(keys[3], 1)
    assert (counters.bytes, counters.evictions) == (counters.max_bytes, 1)
    assert (await limiter.take(keys[0], 1)).allowed  # the oldest was the one forgotten
    assert counters.evictions == 2  # and coming back pushed out the next oldest
    assert not (await limiter.take(keys[3], 1)).allowed  # the newest is still counted


@pytest.mark.parametrize("max_bytes", [1, 300])
async def test_memory_counters_keep_the_latest_client_even_when_it_alone_is_over_the_bound(
    max_bytes: int,
) -> None:
    """Forgetting the client just counted would let it through every time."""
    counters = MemoryCounters(max_bytes=max_bytes)
    limiter = RateLimiter(counters, 60.0, clock=Clock(WINDOW_START))
    for key in ("first", "second"):
        assert (await limiter.take(key, 1)).allowed
        assert not (await limiter.take(key, 1)).allowed
    assert (counters.evictions, counters.bytes) == (1, client_bytes("second"))


async def test_a_client_back_after_a_window_or_more_of_silence_starts_afresh(
    store: CounterStore,
) -> None:
    clock = Clock(WINDOW_START)
    limiter = RateLimiter(store, 10.0, clock=clock)
    assert (await limiter.take("a", 1)).allowed
    clock.now += 20  # two windows on, at the start of one: neither of its windows counted "a"
    assert (await limiter.take("a", 1)).allowed
    assert not (await limiter.take("a", 1)).allowed


async def test_retry_after_is_one_second_when_less_than_one_is_left(store: CounterStore) -> None:
    clock = Clock(WINDOW_START)
    limiter = RateLimiter(store, 10.0, clock=clock)
    assert [(await limiter.take("a", 2)).allowed for _ in range(2)] == [True, True]
    clock.now += 14.5  # the last window weighs 2 x 5.5/10 = 1.1: 1.1 + 0 + 1 > 2
    refused = await limiter.take("a", 2)
    assert (refused.allowed, refused.retry_after) == (False, 1)  # room again in 0.5 s
    clock.now += 0.5
    assert (await limiter.take("a", 2)).allowed


class FailingStore:
    """A counter store that cannot be reached, the way each kind of failure arrives."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure
        self.calls = 0

    async def take(self, key: str, window: int, elapsed: float, limit: int, ttl: float) -> Counts:
        self.calls += 1
        raise self.failure

    async def close(self) -> None:
        pass


def unavailable() -> Exception:
    try:
        try:
            raise ConnectionError("redis down")
        except ConnectionError as exc:
            raise CounterStoreUnavailable("ConnectionError") from exc
    except CounterStoreUnavailable as wrapped:
        return wrapped


@pytest.mark.parametrize(
    ("failure", "named"),
    [(unavailable(), "ConnectionError"), (OSError("socket closed"), "OSError")],
)
async def test_a_failing_store_is_logged_by_its_cause_once_per_window(
    failure: Exception, named: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(WINDOW_START)
    store = FailingStore(failure)
    limiter = RateLimiter(store, 60.0, clock=clock)
    logged = []
    with caplog.at_level(logging.WARNING, logger="gateway.access.ratelimit"):
        for step in (0, 30, 29.5, 0.5, 1):  # at 0, 30, 59.5, 60 and 61 s
            clock.now += step
            assert (await limiter.take("a", 1)).allowed  # let through, every time
            logged.append(len(caplog.records))
    # Logged at once, then not again until a whole window later: at 60 s, not at 59.5 or 61 s.
    assert logged == [1, 1, 1, 2, 2]
    message = f"rate limiter store unavailable ({named}): requests let through"
    assert [r.getMessage() for r in caplog.records] == [message, message]
    assert store.calls == 5


async def test_redis_counters_name_the_failure_they_wrap() -> None:
    unreachable = RedisCounters.from_url("redis://127.0.0.1:1/0", "nowhere")
    try:
        with pytest.raises(CounterStoreUnavailable, match=r"^ConnectionError$"):
            await unreachable.take("a", 1, 0.0, 1, 120.0)
    finally:
        await unreachable.close()


async def test_redis_keeps_a_client_s_windows_under_a_hash_for_two_windows(namespace: str) -> None:
    counters = RedisCounters.from_url(REDIS_URL, namespace)
    limiter = RateLimiter(counters, 60.0, clock=Clock(WINDOW_START))
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await limiter.take("ip:192.0.2.7", 5)
        digest = hashlib.sha256(b"ip:192.0.2.7").hexdigest()[:32]
        key = f"{namespace}:rate:{{{digest}}}:{int(WINDOW_START // 60)}"
        assert [k.decode() async for k in client.scan_iter(match=f"{namespace}:*")] == [key]
        ttl_ms = await client.pttl(key)
        assert 110_000 < ttl_ms <= 120_000  # two windows of 60 s, less what passed since
    finally:
        await client.aclose()
        await counters.close()


async def test_a_redis_that_stops_answering_lets_the_request_through_within_its_timeout() -> None:
    """A server on loopback that speaks Redis's protocol while the connection is set up (every
    command answered OK) and then never answers the counting script: the read times out (after
    1 s) and the request goes on."""
    silent: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)
        while command := await read_command(reader):
            if command[0].upper() in (b"EVALSHA", b"EVAL", b"SCRIPT"):
                return  # and never a word more
            writer.write(b"+OK\r\n")
            await writer.drain()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RateLimiter(RedisCounters.from_url(f"redis://127.0.0.1:{port}/0", "silent"), 60.0)
    try:
        started = time.monotonic()
        decision = await asyncio.wait_for(limiter.take("a", 1), timeout=30)
        assert decision.allowed
        # Our 1 s, with a generous margin; not the Redis client's own default of 5 s.
        assert time.monotonic() - started < 4.0
        assert silent  # it did connect, and was left waiting for the script
    finally:
        await limiter.close()
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()


async def read_command(reader: asyncio.StreamReader) -> list[bytes]:
    """One command a Redis client sent (a RESP array of bulk strings); [] at the end."""
    header = await reader.readline()
    if not header.startswith(b"*"):
        return []
    parts = []
    for _ in range(int(header[1:])):
        length = int((await reader.readline())[1:])
        parts.append((await reader.readexactly(length + 2))[:-2])
    return parts
