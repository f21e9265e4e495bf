"""The answer cache without a server: the in-memory cache (bounded in bytes, least recently used
out first, and in time; emptied of a port on demand), keys, entries, what a port's Cache-Control
allows, and how long Redis is asked to keep an answer or a lease
(tests/gateway/ports/test_cache_redis.py has the real Redis)."""

import json

import orjson
import pytest

from gateway.ports.cache import (
    ENTRY_OVERHEAD_BYTES,
    AiocacheAnswers,
    BoundedMemoryAnswers,
    CachedAnswer,
    OrjsonSerializer,
    PortCacheControl,
    answer_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def size_of(key: str, data: dict[str, object], at: float, fresh: float) -> int:
    """What one entry costs, computed from the documented layout of an entry."""
    entry = {"data": data, "at": at, "fresh": at + fresh, "dropped": {}, "notices": []}
    return len(key) + len(orjson.dumps(entry)) + ENTRY_OVERHEAD_BYTES


DATA = {"ports": [{"UNLocationCode": "USLAX", "name": "x" * 200}]}


async def test_the_least_recently_used_answers_go_first_past_the_byte_bound() -> None:
    clock = Clock()
    one = size_of("USLAX:e:a", DATA, clock.now, 60)
    cache = BoundedMemoryAnswers(3 * one, clock=clock)
    for key in ("USLAX:e:a", "USLAX:e:b", "USLAX:e:c"):
        await cache.put(key, DATA, 60, 0)
    assert cache.bytes == 3 * one
    assert await cache.get("USLAX:e:a") is not None  # a is now the most recently used
    await cache.put("USLAX:e:d", DATA, 60, 0)
    assert await cache.get("USLAX:e:b") is None
    assert [await cache.get(k) is not None for k in ("USLAX:e:a", "USLAX:e:c", "USLAX:e:d")] == [
        True,
        True,
        True,
    ]
    assert (cache.bytes, cache.evictions, len(cache)) == (3 * one, 1, 3)


async def test_an_answer_keeps_its_notices_and_an_entry_with_an_error_is_a_miss() -> None:
    cache = BoundedMemoryAnswers(1_000_000, clock=Clock())
    notice = {"code": "LABOR_TEXT_WITHHELD", "path": ["ports"], "count": 1}
    await cache.put("USLAX:e:a", DATA, 60, 0, {"LABOR_TEXT": 1}, [notice])
    entry = await cache.get("USLAX:e:a")
    assert entry is not None
    assert (entry.data, entry.dropped, entry.notices) == (DATA, {"LABOR_TEXT": 1}, [notice])
    # Only notices are ever stored: an entry holding any other error is not believed.
    await cache.put("USLAX:e:b", DATA, 60, 0, None, [{"code": "INTERNAL_ERROR", "path": None}])
    assert await cache.get("USLAX:e:b") is None


async def test_an_answer_larger_than_the_whole_cache_is_never_kept() -> None:
    cache = BoundedMemoryAnswers(100, clock=Clock())
    await cache.put("USLAX:e:a", DATA, 60, 0)
    assert (len(cache), cache.bytes) == (0, 0)


async def test_an_answer_is_gone_after_its_ttl_and_staleness_even_if_never_read() -> None:
    clock = Clock()
    cache = BoundedMemoryAnswers(1_000_000, clock=clock)
    await cache.put("USLAX:e:a", DATA, 10, 5)
    clock.now += 14.9
    entry = await cache.get("USLAX:e:a")
    assert entry is not None
    assert not entry.is_fresh(clock.now)  # stale: kept only as a stand-in
    clock.now += 0.2
    await cache.put("USOAK:e:b", DATA, 100, 0)  # any write sweeps what has expired
    assert len(cache) == 1
    assert cache.bytes == size_of("USOAK:e:b", DATA, clock.now, 100)
    assert await cache.get("USLAX:e:a") is None


async def test_a_replaced_answer_is_counted_once() -> None:
    clock = Clock()
    cache = BoundedMemoryAnswers(1_000_000, clock=clock)
    for _ in range(3):
        await cache.put("USLAX:e:a", DATA, 10, 0)
    assert cache.bytes == size_of("USLAX:e:a", DATA, clock.now, 10)
    clock.now += 11
    assert await cache.get("USLAX:e:a") is None
    assert cache.bytes == 0


async def test_dropping_a_port_leaves_the_others() -> None:
    cache = BoundedMemoryAnswers(1_000_000, clock=Clock())
    for key in ("USLAX:e1:a", "USLAX:e2:b", "USLAXX:e:c", "USOAK:e:d"):
        await cache.put(key, DATA, 60, 0)
    assert await cache.drop_port("USLAX") == 2
    assert [await cache.get(k) is not None for k in ("USLAXX:e:c", "USOAK:e:d")] == [True, True]
    assert len(cache) == 2


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("USLAX", "{ ports { name } }", {}, "e1"), ("USLAX", "{ ports { name } }", {}, "e2")),
        (("USLAX", "{ ports { name } }", {}, "e1"), ("USOAK", "{ ports { name } }", {}, "e1")),
        (("USLAX", "{ a }", {"a0": 1}, "e1"), ("USLAX", "{ a }", {"a0": 2}, "e1")),
    ],
)
def test_a_key_names_the_port_its_endpoint_the_document_and_its_variables(
    first: tuple[str, str, dict[str, int], str], second: tuple[str, str, dict[str, int], str]
) -> None:
    assert answer_key(*first) != answer_key(*second)
    assert answer_key(*first) == answer_key(*first)
    assert answer_key(*first).startswith(f"{first[0]}:{first[3]}:")


@pytest.mark.parametrize(
    ("header", "no_store", "max_age"),
    [
        (None, False, None),
        ("", False, None),
        ("no-store", True, None),
        ("No-Cache", True, None),
        ("private, max-age=60", True, 60.0),
        ("public, max-age=60", False, 60.0),
        ("max-age = 30", False, 30.0),
        ('max-age="45"', False, 45.0),
        ("  MAX-AGE=0  ", False, 0.0),
        ("s-maxage=60", False, None),  # for shared caches in front of the port, not for us
        ("max-age=soon", False, None),
        ("max-age=60, no-transform", False, 60.0),
    ],
)
def test_what_a_ports_cache_control_allows(
    header: str | None, no_store: bool, max_age: float | None
) -> None:
    assert PortCacheControl.parse(header) == PortCacheControl(no_store=no_store, max_age=max_age)


def test_an_entry_is_fresh_until_its_ttl_and_its_age_counts_from_when_it_was_stored() -> None:
    entry = CachedAnswer(DATA, stored_at=1_000.0, fresh_until=1_010.0)
    assert [entry.is_fresh(t) for t in (1_000.0, 1_009.99, 1_010.0, 1_011.0)] == [
        True,
        True,
        False,
        False,
    ]
    assert (entry.age(1_002.5), entry.age(1_000.0)) == (2.5, 0.0)
    assert entry.age(990.0) == 0.0  # stored by a replica whose clock is ahead: not negative


async def test_an_answer_is_gone_at_the_very_moment_its_staleness_ends() -> None:
    clock = Clock()
    cache = BoundedMemoryAnswers(1_000_000, clock=clock)
    await cache.put("USLAX:e:a", DATA, 10, 5)
    clock.now += 15
    assert await cache.get("USLAX:e:a") is None
    assert (len(cache), cache.bytes) == (0, 0)


async def test_an_answer_the_size_of_the_whole_cache_is_kept() -> None:
    clock = Clock()
    one = size_of("USLAX:e:a", DATA, clock.now, 60)
    cache = BoundedMemoryAnswers(one, clock=clock)
    await cache.put("USLAX:e:a", DATA, 60, 0)
    assert (len(cache), cache.bytes, cache.evictions) == (1, one, 0)
    await cache.put("USLAX:e:b", DATA, 60, 0)  # the next one takes its place
    assert await cache.get("USLAX:e:a") is None
    assert await cache.get("USLAX:e:b") is not None
    assert (len(cache), cache.bytes, cache.evictions) == (1, one, 1)
    await cache.put("USLAX:e:c", DATA, 60, 0)
    assert (len(cache), cache.bytes, cache.evictions) == (1, one, 2)


async def test_a_replaced_answer_lives_as_long_as_its_replacement() -> None:
    clock = Clock()
    cache = BoundedMemoryAnswers(1_000_000, clock=clock)
    await cache.put("USLAX:e:a", DATA, 10, 0)
    await cache.put("USLAX:e:a", DATA, 100, 0)
    clock.now += 50  # the first one's time is up, not the second's
    entry = await cache.get("USLAX:e:a")
    assert entry is not None
    assert entry.fresh_until == 1_100.0
    clock.now += 60
    assert await cache.get("USLAX:e:a") is None


async def test_an_answer_replaced_many_times_still_goes_when_its_time_is_up() -> None:
    # Every write leaves a record of when it is gone; past a bound they are tidied up.
    clock = Clock()
    cache = BoundedMemoryAnswers(1_000_000, clock=clock)
    for i in range(300):
        await cache.put("USLAX:e:a", {"n": i}, 10, 0)
        await cache.put("USOAK:e:b", DATA, 1_000, 0)
    assert len(cache) == 2
    clock.now += 10
    assert await cache.get("USLAX:e:a") is None
    assert len(cache) == 1
    assert cache.bytes == size_of("USOAK:e:b", DATA, 1_000.0, 1_000)
    entry = await cache.get("USOAK:e:b")
    assert entry is not None
    assert entry.data == DATA


async def test_closing_the_cache_forgets_everything() -> None:
    cache = BoundedMemoryAnswers(1_000_000, clock=Clock())
    await cache.put("USLAX:e:a", DATA, 60, 0)
    await cache.close()
    assert (len(cache), cache.bytes) == (0, 0)
    assert await cache.get("USLAX:e:a") is None


async def test_one_process_always_holds_the_lease() -> None:
    cache = BoundedMemoryAnswers(1_000_000, clock=Clock())
    assert not cache.shared
    assert await cache.lease("USLAX:e:a", 5)
    assert await cache.lease("USLAX:e:a", 5)  # coalescing, not a lease, makes its fetches one
    await cache.release("USLAX:e:a")


def test_answer_keys_do_not_depend_on_the_order_variables_were_written_in() -> None:
    assert answer_key("USLAX", "{ a }", {"a0": 1, "a1": 2}, "e1") == answer_key(
        "USLAX", "{ a }", {"a1": 2, "a0": 1}, "e1"
    )


def test_entries_are_json_in_and_out_and_a_miss_stays_a_miss() -> None:
    serializer = OrjsonSerializer()
    stored = serializer.dumps({"data": DATA, "at": 1.5})
    assert isinstance(stored, bytes)
    assert json.loads(stored) == {"data": DATA, "at": 1.5}
    assert serializer.loads(stored) == {"data": DATA, "at": 1.5}
    assert serializer.loads(None) is None  # what aiocache hands over for a key it lacks


class Recording:
    """Stands in for aiocache's Redis backend: notes how long each key is to be kept."""

    def __init__(self) -> None:
        self.ttls: dict[str, int] = {}

    async def set(self, key: str, value: object, ttl: int) -> None:
        self.ttls[key] = ttl

    async def add(self, key: str, value: object, ttl: int) -> None:
        self.ttls[key] = ttl


@pytest.mark.parametrize(
    ("fresh", "stale", "seconds"),
    [
        (0, 0, 1),
        (0.2, 0, 1),
        (1, 0, 1),
        (1.5, 0, 2),
        (0.5, 0.5, 1),
        (30, 600, 630),
        (29.5, 0.6, 31),
    ],
)
async def test_redis_keeps_an_answer_its_ttl_and_staleness_in_whole_seconds_rounded_up(
    fresh: float, stale: float, seconds: int
) -> None:
    # Redis counts expiry in whole seconds, and a key given none is kept for ever.
    backend = Recording()
    cache = AiocacheAnswers(backend, shared=True, clock=Clock())  # type: ignore[arg-type]
    await cache.put("USLAX:e:a", DATA, fresh, stale)
    assert backend.ttls == {"USLAX:e:a": seconds}


@pytest.mark.parametrize(("seconds", "kept"), [(0.2, 1), (5, 5), (7.5, 8)])
async def test_a_lease_runs_out_after_its_seconds_rounded_up(seconds: float, kept: int) -> None:
    backend = Recording()
    cache = AiocacheAnswers(backend, shared=True, clock=Clock())  # type: ignore[arg-type]
    assert await cache.lease("USLAX:e:a", seconds)
    assert backend.ttls == {"USLAX:e:a:lease": kept}
