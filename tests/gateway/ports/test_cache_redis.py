"""The cache shared through the real Redis server on this machine (127.0.0.1:6379)."""

import asyncio
import contextlib
import pickle
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as redis

from gateway.config import CacheSettings, ResolvedPort
from gateway.planning.plan import PortQuery
from gateway.ports.cache import redis_cache
from gateway.ports.fetch import FanOut
from gateway.ports.upstream import PortAnswer, PortRequest
from tests.gateway.conftest import REDIS_URL, GatewayFactory

PORTS = {"ports": [{"UNLocationCode": "USLAX", "_pg_port": "USLAX"}]}
QUERY = "{ ports { UNLocationCode } }"


async def keys_in(namespace: str) -> list[bytes]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return [key async for key in client.scan_iter(match=f"{namespace}:*")]
    finally:
        await client.aclose()


def counting(answer: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"data": answer}, headers=headers)

    return httpx.MockTransport(handler), calls


async def test_a_query_answered_by_one_replica_is_a_cache_hit_on_the_other(
    make_gateway: GatewayFactory, namespace: str
) -> None:
    transport, calls = counting(PORTS)
    cache = {"redis_url": REDIS_URL, "namespace": namespace}
    first = await make_gateway({"USLAX": transport}, cache=cache)
    second = await make_gateway({"USLAX": transport}, cache=cache)

    started = time.monotonic()
    one = (await first.query(QUERY)).json()
    two = (await second.query(QUERY)).json()
    elapsed = time.monotonic() - started
    assert one["data"] == two["data"] == {"ports": [{"UNLocationCode": "USLAX"}]}
    assert one["extensions"]["sources"][0]["status"] == "ok"
    source = two["extensions"]["sources"][0]
    assert source["status"] == "cached"
    assert 0 <= source["cacheAgeSeconds"] <= round(elapsed, 1) + 0.1  # stored by the first query
    assert len(calls) == 1
    assert await keys_in(namespace)


async def test_a_port_marked_no_store_is_never_cached(
    make_gateway: GatewayFactory, namespace: str
) -> None:
    transport, calls = counting(PORTS, {"cache-control": "no-store"})
    cache = {"redis_url": REDIS_URL, "namespace": namespace}
    first = await make_gateway({"USLAX": transport}, cache=cache)
    second = await make_gateway({"USLAX": transport}, cache=cache)
    for gateway in (first, second, first):
        body = (await gateway.query(QUERY)).json()
        assert body["extensions"]["sources"][0]["status"] == "ok"
    assert len(calls) == 3
    assert await keys_in(namespace) == []


async def test_replicas_sharing_redis_ask_a_port_once_for_one_key(namespace: str) -> None:
    """Replica B arrives while replica A's fetch is in flight: B waits for A's answer."""
    port = ResolvedPort(
        id="USLAX", name="LA", url="http://lax/graphql", timeout=5, capabilities=frozenset()
    )
    query = PortQuery(port, QUERY, {}, ["ports"], ["ports"])
    arrived, release = asyncio.Event(), asyncio.Event()
    calls = 0

    class SlowPort:
        port = "USLAX"

        async def execute(self, request: PortRequest, *, timeout: float) -> PortAnswer:
            nonlocal calls
            calls += 1
            arrived.set()
            await release.wait()
            return PortAnswer(PORTS, [])

    settings = CacheSettings(redis_url=REDIS_URL, namespace=namespace)
    cache_a = redis_cache(REDIS_URL, namespace=namespace)
    cache_b = redis_cache(REDIS_URL, namespace=namespace)
    b_lost_the_lease = asyncio.Event()
    take_lease = cache_b.lease

    async def watched_lease(key: str, seconds: float) -> bool:
        won = await take_lease(key, seconds)
        if not won:
            b_lost_the_lease.set()
        return won

    cache_b.lease = watched_lease  # type: ignore[method-assign]
    replica_a = FanOut(lambda _: SlowPort(), cache=cache_a, cache_settings=settings)
    replica_b = FanOut(lambda _: SlowPort(), cache=cache_b, cache_settings=settings)
    deadline = time.monotonic() + 10
    try:
        a = asyncio.create_task(replica_a.fetch([query], deadline))
        await arrived.wait()
        b = asyncio.create_task(replica_b.fetch([query], deadline))
        await b_lost_the_lease.wait()
        release.set()
        [from_a], [from_b] = await asyncio.gather(a, b)
    finally:
        await cache_a.close()
        await cache_b.close()
    assert calls == 1
    assert (from_a.status, from_b.status) == ("ok", "cached")
    assert from_b.answer is not None
    assert from_b.answer.data == PORTS


async def test_redis_forgets_an_answer_after_its_ttl_plus_staleness(namespace: str) -> None:
    cache = redis_cache(REDIS_URL, namespace=namespace)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await cache.put("USLAX:e:k", PORTS, 30, 600)
        [key] = await keys_in(namespace)
        ttl = await client.ttl(key)
        assert 600 < ttl <= 630  # Redis itself drops it: fresh 30 s plus 600 s stale
    finally:
        await cache.close()
        await client.aclose()


class _Exploit:
    """Unpickling this creates a file: what a pickle in a shared Redis could do."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


async def test_a_pickle_written_to_redis_is_a_miss_and_never_loaded(
    namespace: str, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    cache = redis_cache(REDIS_URL, namespace=namespace)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        key = "USLAX:e:k"
        await client.set(cache._backend.build_key(key), pickle.dumps(_Exploit(str(marker))))
        assert await cache.get(key) is None
    finally:
        await cache.close()
        await client.aclose()
    assert not marker.exists()


async def test_answers_are_stored_as_json(namespace: str) -> None:
    cache = redis_cache(REDIS_URL, namespace=namespace)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        await cache.put("USLAX:e:k", PORTS, 30, 0, {"OTHER_PORT": 2})
        [key] = await keys_in(namespace)
        stored = orjson.loads(await client.get(key))
    finally:
        await cache.close()
        await client.aclose()
    assert stored["data"] == PORTS
    assert stored["dropped"] == {"OTHER_PORT": 2}


async def test_dropping_a_port_empties_its_keys_in_redis_only(namespace: str) -> None:
    cache = redis_cache(REDIS_URL, namespace=namespace)
    try:
        for key in ("USLAX:e1:a", "USLAX:e2:b", "USLAXX:e:c", "USOAK:e:d"):
            await cache.put(key, PORTS, 30, 0)
        assert await cache.drop_port("USLAX") == 2
        left = sorted(k.decode().rsplit(":", 3)[-3] for k in await keys_in(namespace))
    finally:
        await cache.close()
    assert left == ["USLAXX", "USOAK"]


async def test_notices_are_stored_with_their_answer_and_nothing_else_is_believed(
    namespace: str,
) -> None:
    cache = redis_cache(REDIS_URL, namespace=namespace)
    client = redis.Redis.from_url(REDIS_URL)
    notice = {"code": "EVENTS_QUARANTINED", "path": ["containers"], "count": 2}
    try:
        await cache.put("USLAX:e:k", PORTS, 30, 0, None, [notice])
        [key] = await keys_in(namespace)
        stored = orjson.loads(await client.get(key))
        entry = await cache.get("USLAX:e:k")
        # Someone with write access to Redis slips an error in: the entry is not ours, a miss.
        forged = {**stored, "notices": [{"code": "SOURCE_UNAVAILABLE", "path": None}]}
        await client.set(key, orjson.dumps(forged))
        refused = await cache.get("USLAX:e:k")
    finally:
        await cache.close()
        await client.aclose()
    assert stored["notices"] == [notice]
    assert entry is not None
    assert entry.notices == [notice]
    assert refused is None


async def test_dropping_a_port_empties_every_one_of_its_keys_however_many(namespace: str) -> None:
    cache = redis_cache(REDIS_URL, namespace=namespace)
    try:
        for i in range(1_201):  # more than two batches of deletes
            await cache.put(f"USLAX:e:{i}", PORTS, 30, 0)
        await cache.put("USOAK:e:0", PORTS, 30, 0)
        assert await cache.drop_port("USLAX") == 1_201
        assert len(await keys_in(namespace)) == 1
    finally:
        await cache.close()


async def test_dropping_a_port_stays_inside_a_namespace_that_looks_like_a_pattern(
    namespace: str,
) -> None:
    # SCAN matches glob patterns: a namespace's * ? [ ] \ must match only themselves.
    odd = [f"{namespace}:a[1]*?\\", f"{namespace}:a1xy\\"]  # [1] * ? would match "1", "x", "y"
    caches = [redis_cache(REDIS_URL, namespace=name) for name in odd]
    try:
        for cache in caches:
            await cache.put("USLAX:e:k", PORTS, 30, 0)
        assert await caches[0].drop_port("USLAX") == 1
        assert await caches[0].get("USLAX:e:k") is None
        assert await caches[1].get("USLAX:e:k") is not None
    finally:
        for cache in caches:
            await cache.close()


async def test_a_lease_that_ran_out_and_was_taken_again_is_not_released_by_its_first_holder(
    namespace: str,
) -> None:
    # Two replicas whose clocks read the same instant: their leases are still their own.
    a, b = (redis_cache(REDIS_URL, namespace=namespace, clock=lambda: 1_000.0) for _ in "ab")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        assert await a.lease("USLAX:e:k", 30)
        assert not await b.lease("USLAX:e:k", 30)
        await client.delete(a._backend.build_key("USLAX:e:k:lease"))  # as if it ran out
        assert await b.lease("USLAX:e:k", 30)
        await a.release("USLAX:e:k")  # too late: the lease is b's now
        assert not await a.lease("USLAX:e:k", 30)
        await b.release("USLAX:e:k")
        await b.release("USLAX:e:k")  # releasing what one does not hold changes nothing
        assert await a.lease("USLAX:e:k", 30)
    finally:
        await a.close()
        await b.close()
        await client.aclose()


async def test_a_redis_url_without_host_port_or_database_means_127_0_0_1_6379_0(
    namespace: str,
) -> None:
    client = redis.Redis.from_url(REDIS_URL)  # database 0
    try:
        for url in ("redis://", "redis://127.0.0.1", "redis://127.0.0.1:6379"):
            cache = redis_cache(url, namespace=namespace)
            try:
                await cache.put("USLAX:e:k", PORTS, 30, 0)
                assert await client.exists(cache._backend.build_key("USLAX:e:k")) == 1, url
                await client.delete(cache._backend.build_key("USLAX:e:k"))
            finally:
                await cache.close()
    finally:
        await client.aclose()


async def test_a_redis_url_names_the_database(namespace: str) -> None:
    cache = redis_cache("redis://127.0.0.1:6379/3", namespace=namespace)
    zero, three = (redis.Redis.from_url(f"redis://127.0.0.1:6379/{db}") for db in (0, 3))
    try:
        await cache.put("USLAX:e:k", PORTS, 30, 0)
        key = cache._backend.build_key("USLAX:e:k")
        assert (await three.exists(key), await zero.exists(key)) == (1, 0)
    finally:
        await three.delete(cache._backend.build_key("USLAX:e:k"))
        await cache.close()
        await zero.aclose()
        await three.aclose()


@contextlib.asynccontextmanager
async def redis_stand_in_on_ipv6_loopback() -> AsyncIterator[tuple[int, list[list[bytes]]]]:
    """A stand-in for Redis listening on ::1 only (its port is closed on 127.0.0.1): it notes
    each command and says OK (to HELLO, that it speaks RESP3)."""
    commands: list[list[bytes]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                parts = []
                for _ in range(int(line[1:])):  # *<count>, then $<length> and each part
                    length = int((await reader.readline())[1:])
                    parts.append((await reader.readexactly(length + 2))[:-2])
                commands.append(parts)
                hello = parts[0].upper() == b"HELLO"
                writer.write(b"%1\r\n$5\r\nproto\r\n:3\r\n" if hello else b"+OK\r\n")
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, host="::1", port=0)
    try:
        yield server.sockets[0].getsockname()[1], commands
    finally:
        server.close()
        await server.wait_closed()


async def test_a_redis_url_names_the_host_the_password_and_the_database() -> None:
    async with redis_stand_in_on_ipv6_loopback() as (port, commands):
        cache = redis_cache(f"redis://:s3cret@[::1]:{port}/5", namespace="ns", clock=lambda: 7.0)
        try:
            await cache.put("USLAX:e:k", PORTS, 30, 0)
        finally:
            await cache.close()
    assert any(b"s3cret" in command for command in commands)  # AUTH (or HELLO ... AUTH)
    assert [b"SELECT", b"5"] in commands
    [(stored, ttl, value)] = [c[1:] for c in commands if c[0] == b"SETEX"]
    assert (stored.endswith(b"USLAX:e:k"), ttl) == (True, b"30")
    assert orjson.loads(value) == {"data": PORTS, "at": 7.0, "fresh": 37.0, "dropped": {},
                                   "notices": []}  # fmt: skip
