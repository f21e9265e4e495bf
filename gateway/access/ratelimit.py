"""Requests per client over a sliding window, counted in memory or in Redis.

Each client (an authenticated client id, or the client IP of an anonymous caller) may send
``limit`` requests per ``window``. The window slides: the estimate is the current fixed window's
count plus the previous window's count weighted by how much of it still overlaps the sliding
window (``previous x (1 - elapsed fraction) + current``), so a client cannot double its rate
across a window boundary, and only two counters per client are kept. A refused request is not
counted, so a client that waits ``Retry-After`` seconds gets through.

Counters live in one process (:class:`MemoryCounters`, bounded in bytes: past
``rate_limit.memory_max_bytes`` the least recently seen clients are forgotten, which only ever
lets a forgotten client through sooner) or in Redis (:class:`RedisCounters`), where one Lua
script reads both windows and increments atomically, so every replica shares the count. When
Redis cannot be reached the request is let through and the failure is logged (at most once per
window): a broken limiter must not take the API down with it.
"""

import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from gateway.access.settings import RateLimitSettings

if TYPE_CHECKING:  # the Redis client loads only when rate_limit.redis_url is set
    import redis.asyncio as redis

log = logging.getLogger(__name__)

Clock = Callable[[], float]  # seconds since the epoch (shared by replicas, for Redis)
# What one client's counters hold in this process, measured with tracemalloc (key string of a
# client id or IP address, the tuple, the OrderedDict entry): about 250 bytes; counted high.
COUNTER_OVERHEAD_BYTES = 300


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # whole seconds until a request would be allowed (when refused)


@dataclass(frozen=True, slots=True)
class Counts:
    """What a counter store saw: whether it counted this request, and the two windows."""

    taken: bool
    current: int
    previous: int


class CounterStoreUnavailable(Exception):
    """The counters could not be read or written (Redis did not answer); the cause is chained."""


class CounterStore(Protocol):
    async def take(self, key: str, window: int, elapsed: float, limit: int, ttl: float) -> Counts:
        """Count one request of ``key`` in fixed window number ``window`` if the sliding
        estimate (``elapsed``: fraction of this window gone) stays within ``limit``."""
        ...

    async def close(self) -> None: ...


def _allows(current: int, previous: int, elapsed: float, limit: int) -> bool:
    return previous * (1.0 - elapsed) + current + 1 <= limit


class MemoryCounters:
    """Counters of one process: client -> (window number, current count, previous count),
    at most ``max_bytes`` of them (each client's key plus :data:`COUNTER_OVERHEAD_BYTES`); past
    it the least recently seen client is forgotten and counted in ``evictions``."""

    def __init__(self, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.evictions = 0
        self._counts: OrderedDict[str, tuple[int, int, int]] = OrderedDict()

    async def take(self, key: str, window: int, elapsed: float, limit: int, ttl: float) -> Counts:
        stored = self._counts.get(key)
        stored_window, current, previous = stored or (window, 0, 0)
        if stored_window == window - 1:
            current, previous = 0, current
        elif stored_window != window:
            current, previous = 0, 0
        taken = _allows(current, previous, elapsed, limit)
        if taken:
            current += 1
        self._counts[key] = (window, current, previous)
        if stored is None:
            self.bytes += _size(key)
            self._evict()
        else:
            self._counts.move_to_end(key)
        return Counts(taken, current, previous)

    def _evict(self) -> None:
        while self.bytes > self.max_bytes and len(self._counts) > 1:
            key, _ = self._counts.popitem(last=False)
            self.bytes -= _size(key)
            self.evictions += 1

    async def close(self) -> None:
        self._counts.clear()
        self.bytes = 0


def _size(key: str) -> int:
    return len(key) + COUNTER_OVERHEAD_BYTES


# KEYS: this window's counter, the previous window's. ARGV: limit, elapsed fraction, ttl (ms).
_SLIDING_WINDOW = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * (1 - tonumber(ARGV[2])) + current + 1 > tonumber(ARGV[1]) then
  return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, current, previous}
"""


class RedisCounters:
    """Counters in Redis, shared by every replica; one atomic script call per request."""

    def __init__(self, client: "redis.Redis", namespace: str) -> None:
        self._client = client
        self._namespace = namespace
        self._script = client.register_script(_SLIDING_WINDOW)

    @classmethod
    def from_url(cls, url: str, namespace: str) -> "RedisCounters":
        import redis.asyncio as redis

        return cls(
            redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0), namespace
        )

    def _key(self, client_key: str, window: int) -> str:
        # Hashed: no client id or IP address in Redis; the hash tag keeps both windows of a
        # client in one slot of a Redis Cluster.
        digest = hashlib.sha256(client_key.encode()).hexdigest()[:32]
        return f"{self._namespace}:rate:{{{digest}}}:{window}"

    async def take(self, key: str, window: int, elapsed: float, limit: int, ttl: float) -> Counts:
        from redis.exceptions import RedisError

        keys = [self._key(key, window), self._key(key, window - 1)]
        try:
            taken, current, previous = await self._script(
                keys=keys, args=[limit, repr(elapsed), max(1, int(ttl * 1000))]
            )
        except RedisError as exc:
            raise CounterStoreUnavailable(type(exc).__name__) from exc
        return Counts(bool(taken), int(current), int(previous))

    async def close(self) -> None:
        await self._client.aclose()


class RateLimiter:
    """Decides, per client key, whether one more request fits its rate."""

    def __init__(self, store: CounterStore, window: float, *, clock: Clock = time.time) -> None:
        self.store = store
        self.window = window
        self._clock = clock
        self._last_failure_logged = -math.inf

    async def take(self, key: str, limit: int) -> Decision:
        now = self._clock()
        window, offset = divmod(now, self.window)
        elapsed = offset / self.window
        try:
            counts = await self.store.take(key, int(window), elapsed, limit, 2 * self.window)
        except (CounterStoreUnavailable, OSError) as exc:
            if now - self._last_failure_logged >= self.window:
                self._last_failure_logged = now
                cause = exc.__cause__ if isinstance(exc, CounterStoreUnavailable) else exc
                log.warning(
                    "rate limiter store unavailable (%s): requests let through",
                    type(cause).__name__,
                )
            return Decision(True)
        if counts.taken:
            return Decision(True)
        return Decision(False, self._retry_after(counts, offset, limit))

    def _retry_after(self, counts: Counts, offset: float, limit: int) -> int:
        """Seconds until the sliding estimate leaves room for one more request."""
        window = self.window
        if counts.current + 1 > limit:
            # Not in this window: in the next one, this window's count is the weighted one.
            fraction = max(0.0, 1.0 - (limit - 1) / counts.current)
            wait = (window - offset) + window * fraction
        else:
            fraction = 1.0 - (limit - 1 - counts.current) / counts.previous
            wait = window * fraction - offset
        return max(1, math.ceil(wait - 1e-6))  # not a second more for float noise

    async def close(self) -> None:
        await self.store.close()


def rate_limiter(settings: RateLimitSettings) -> RateLimiter | None:
    """The limiter the settings ask for: counters in Redis or in memory; None when it is off."""
    if not settings.enabled:
        return None
    counters: CounterStore = (
        RedisCounters.from_url(settings.redis_url, settings.namespace)
        if settings.redis_url
        else MemoryCounters(settings.memory_max_bytes)
    )
    return RateLimiter(counters, settings.window)
