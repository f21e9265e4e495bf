"""The cache shared through the real Redis server on this machine (127.0.0.1:6379)."""

import asyncio
import pickle
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis.asyncio as redis

from gateway.cache import redis_cache
from gateway.config import CacheSettings, ResolvedPort
from gateway.fetch import FanOut
from gateway.plan import PortQuery
from gateway.upstream import PortAnswer, PortRequest
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
