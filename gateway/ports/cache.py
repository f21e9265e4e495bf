"""Port answers kept for a short time, behind one small interface.

In memory by default (:class:`BoundedMemoryAnswers`: bounded in bytes, least recently used
first out); Redis through aiocache when configured, so every gateway replica shares it (bound
Redis itself with ``maxmemory`` and an LRU policy). Entries are serialized with orjson, never
pickle (anyone who can write to a shared Redis must not be able to run code in the gateway): a
value that is not our JSON is a miss.

A key names the port, the endpoint that answered (a fingerprint of its URL and credential, so an
answer never outlives a change of endpoint: see :func:`endpoint_fingerprint`), the document sent
and its variables: never the client's operation name or anything else a client chooses freely.
A port's entries are dropped when its registration changes (:meth:`AnswerCache.drop_port`).

An entry is *fresh* until its TTL (the configured TTL of the data it holds, capped by the port's
``Cache-Control: max-age``), then *stale* for at most the configured maximum staleness, during
which it is served only when the port fails (stale-if-error); then it is gone. No entry outlives
its TTL plus that maximum staleness. Errors and ``no-store`` answers are never stored; an answer
whose only errors are notices (what the port left out, :data:`portcontract.errors.NOTICE_CODES`)
is stored with its notices, and served again with them.
"""

import hashlib
import heapq
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from gateway.ports.settings import DEFAULT_CACHE_MAX_BYTES
from portcontract.errors import NOTICE_CODES

if TYPE_CHECKING:  # aiocache (and the Redis client) load only when a Redis cache is configured
    from aiocache.base import BaseCache

Clock = Callable[[], float]  # seconds since the epoch, shared by replicas
KEY_VERSION = "v2"
ENTRY_OVERHEAD_BYTES = 200  # what an entry costs besides its key and value (dict slot, tuple)


class OrjsonSerializer:
    """aiocache's serializer interface (``encoding``, ``dumps``, ``loads``) over orjson."""

    encoding = None  # bytes in, bytes out

    def dumps(self, value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(self, value: bytes | None) -> Any:
        return None if value is None else orjson.loads(value)


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A port's answer as stored: its data and when it stops being fresh."""

    data: dict[str, Any]
    stored_at: float
    fresh_until: float
    dropped: dict[str, int] = field(default_factory=dict)  # what the boundary left out
    # The answer's notices as the boundary held them ({"code", "path", "count"}): an answer
    # whose only errors are notices is cached, and served again with them.
    notices: list[dict[str, Any]] = field(default_factory=list)

    def age(self, now: float) -> float:
        return max(0.0, now - self.stored_at)

    def is_fresh(self, now: float) -> bool:
        return now < self.fresh_until


@dataclass(frozen=True, slots=True)
class PortCacheControl:
    """What a port's ``Cache-Control`` answer allows."""

    no_store: bool = False
    max_age: float | None = None

    @classmethod
    def parse(cls, header: str | None) -> "PortCacheControl":
        if not header:
            return cls()
        directives = {d.strip().lower() for d in header.split(",")}
        no_store = bool(directives & {"no-store", "no-cache", "private"})
        max_age = None
        for directive in directives:
            if match := re.fullmatch(r"max-age\s*=\s*\"?(\d+)\"?", directive):
                max_age = float(match[1])
        return cls(no_store=no_store, max_age=max_age)


def endpoint_fingerprint(url: str, credential: str | None) -> str:
    """Which endpoint answered: its URL and credential, hashed (the credential never shows)."""
    digest = hashlib.sha256(url.encode())
    digest.update(b"\0" + (credential or "").encode())
    return digest.hexdigest()[:16]


def answer_key(port: str, document: str, variables: Mapping[str, Any], endpoint: str) -> str:
    """Port + its endpoint + the document actually sent to it (normalised by printing) + its
    variables."""
    digest = hashlib.sha256(document.encode())
    digest.update(orjson.dumps(variables, option=orjson.OPT_SORT_KEYS))
    return f"{port}:{endpoint}:{digest.hexdigest()}"


def _entry(
    data: dict[str, Any],
    now: float,
    fresh: float,
    dropped: dict[str, int],
    notices: list[dict[str, Any]],
) -> Any:
    return {"data": data, "at": now, "fresh": now + fresh, "dropped": dropped, "notices": notices}


def _read_entry(stored: Any) -> CachedAnswer | None:
    if not isinstance(stored, dict):
        return None
    try:
        dropped = stored.get("dropped") or {}
        notices = stored.get("notices") or []
        if not all(_is_notice(n) for n in notices):
            return None  # only notices are ever stored: anything else is not ours, a miss
        return CachedAnswer(
            stored["data"], float(stored["at"]), float(stored["fresh"]), dropped, notices
        )
    except (KeyError, TypeError, ValueError):
        return None  # written by another version: a miss, not a crash


def _is_notice(error: Any) -> bool:
    return isinstance(error, dict) and error.get("code") in NOTICE_CODES


class AnswerCache(Protocol):
    """Where port answers are kept between queries."""

    shared: bool  # seen by other gateway replicas (so a lease across replicas is worth taking)

    async def get(self, key: str) -> CachedAnswer | None: ...

    async def put(
        self,
        key: str,
        data: dict[str, Any],
        fresh: float,
        stale: float,
        dropped: dict[str, int] | None = None,
        notices: list[dict[str, Any]] | None = None,
    ) -> None:
        """Keep ``data`` fresh for ``fresh`` seconds, then as a stand-in for ``stale`` more;
        with what the boundary ``dropped`` and the answer's ``notices``."""
        ...

    async def drop_port(self, port: str) -> int:
        """Forget every answer of ``port`` (its registration changed); how many were dropped."""
        ...

    async def lease(self, key: str, seconds: float) -> bool:
        """Take the right to fetch ``key`` for ``seconds``; False if another holder has it."""
        ...

    async def release(self, key: str) -> None: ...

    async def close(self) -> None: ...


class AiocacheAnswers:
    """:class:`AnswerCache` over aiocache's Redis backend (:func:`redis_cache`)."""

    def __init__(self, backend: "BaseCache", *, shared: bool, clock: Clock = time.time) -> None:
        self._backend = backend
        self.shared = shared
        self._clock = clock
        self._lease_tokens: dict[str, str] = {}

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            stored = await self._backend.get(key)
        except orjson.JSONDecodeError:
            return None  # not our JSON (say, a pickle someone wrote): a miss, never loaded
        return _read_entry(stored)

    async def put(
        self,
        key: str,
        data: dict[str, Any],
        fresh: float,
        stale: float,
        dropped: dict[str, int] | None = None,
        notices: list[dict[str, Any]] | None = None,
    ) -> None:
        entry = _entry(data, self._clock(), fresh, dropped or {}, notices or [])
        await self._backend.set(key, entry, ttl=_whole_seconds(fresh + stale))

    async def drop_port(self, port: str) -> int:
        client = self._backend.client
        pattern = _glob_escape(self._backend.build_key(f"{port}:")) + "*"
        dropped = 0
        batch: list[Any] = []
        async for key in client.scan_iter(match=pattern, count=500):
            batch.append(key)
            if len(batch) >= 500:
                dropped += await client.delete(*batch)
                batch.clear()
        if batch:
            dropped += await client.delete(*batch)
        return dropped

    async def lease(self, key: str, seconds: float) -> bool:
        token = hashlib.sha256(f"{id(self)}:{key}:{self._clock()}".encode()).hexdigest()
        try:
            await self._backend.add(f"{key}:lease", token, ttl=_whole_seconds(seconds))
        except ValueError:
            return False
        self._lease_tokens[key] = token
        return True

    async def release(self, key: str) -> None:
        token = self._lease_tokens.pop(key, None)
        if token is not None:
            # Deletes the lease only if it is still ours (atomically, in Redis), as aiocache's
            # own RedLock does; the stored value is the serialized token.
            await self._backend._redlock_release(
                self._backend.build_key(f"{key}:lease"), self._backend.serializer.dumps(token)
            )

    async def close(self) -> None:
        await self._backend.close()


def _whole_seconds(seconds: float) -> int:
    return max(1, int(seconds + 0.999))


def _glob_escape(text: str) -> str:
    return re.sub(r"([\\*?\[\]])", r"\\\1", text)


class BoundedMemoryAnswers:
    """:class:`AnswerCache` in this process, bounded in bytes and in time.

    Entries are kept serialized (their size is known exactly); past ``max_bytes`` the least
    recently used go first, counted in ``evictions``. An entry is gone once its TTL plus its
    staleness bound has passed: never served, and removed at the next write or read.
    """

    shared = False

    def __init__(self, max_bytes: int, *, clock: Clock = time.time) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.evictions = 0
        self._clock = clock
        # key -> (serialized entry, when it is gone), least recently used first
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._expiry: list[tuple[float, str]] = []  # (gone at, key), a heap

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedAnswer | None:
        now = self._clock()
        self._purge(now)
        stored = self._entries.get(key)
        if stored is None:
            return None
        self._entries.move_to_end(key)
        return _read_entry(orjson.loads(stored[0]))

    async def put(
        self,
        key: str,
        data: dict[str, Any],
        fresh: float,
        stale: float,
        dropped: dict[str, int] | None = None,
        notices: list[dict[str, Any]] | None = None,
    ) -> None:
        now = self._clock()
        self._purge(now)
        value = orjson.dumps(_entry(data, now, fresh, dropped or {}, notices or []))
        size = _size(key, value)
        if size > self.max_bytes:
            return  # larger than the whole cache: never kept
        self._remove(key)
        gone_at = now + fresh + stale
        self._entries[key] = (value, gone_at)
        self.bytes += size
        heapq.heappush(self._expiry, (gone_at, key))
        while self.bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._remove(oldest)
            self.evictions += 1

    async def drop_port(self, port: str) -> int:
        prefix = f"{port}:"
        gone = [key for key in self._entries if key.startswith(prefix)]
        for key in gone:
            self._remove(key)
        return len(gone)

    async def lease(self, key: str, seconds: float) -> bool:
        return True  # one process: coalescing already makes its fetches one

    async def release(self, key: str) -> None:
        return None

    async def close(self) -> None:
        self._entries.clear()
        self._expiry.clear()
        self.bytes = 0

    def _remove(self, key: str) -> None:
        stored = self._entries.pop(key, None)
        if stored is not None:
            self.bytes -= _size(key, stored[0])

    def _purge(self, now: float) -> None:
        """Remove every entry whose time is up (the heap may name keys since replaced)."""
        while self._expiry and self._expiry[0][0] <= now:
            gone_at, key = heapq.heappop(self._expiry)
            stored = self._entries.get(key)
            if stored is not None and stored[1] == gone_at:
                self._remove(key)
        if len(self._expiry) > 2 * len(self._entries) + 64:  # replaced keys pile up: rebuild
            self._expiry = [(gone_at, key) for key, (_, gone_at) in self._entries.items()]
            heapq.heapify(self._expiry)


def _size(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD_BYTES


def memory_cache(
    *, max_bytes: int = DEFAULT_CACHE_MAX_BYTES, clock: Clock = time.time
) -> BoundedMemoryAnswers:
    return BoundedMemoryAnswers(max_bytes, clock=clock)


def redis_cache(url: str, *, namespace: str, clock: Clock = time.time) -> AiocacheAnswers:
    """A cache shared through Redis at ``url`` (``redis://host:port/db``)."""
    from urllib.parse import urlsplit

    from aiocache import RedisCache

    parts = urlsplit(url)
    backend = RedisCache(
        serializer=OrjsonSerializer(),
        namespace=f"{namespace}:{KEY_VERSION}:",
        endpoint=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        db=int(parts.path.lstrip("/") or 0),
        password=parts.password,
        create_connection_timeout=2,
    )
    return AiocacheAnswers(backend, shared=True, clock=clock)
