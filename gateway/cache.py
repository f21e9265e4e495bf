"""Port answers kept for a short time: aiocache behind one small interface.

In memory by default; Redis when configured, so every gateway replica shares it. Entries are
serialized with orjson, never pickle (anyone who can write to a shared Redis must not be able to
run code in the gateway).

An entry is *fresh* until its TTL (the configured TTL of the data it holds, capped by the port's
``Cache-Control: max-age``), then *stale* for at most the configured maximum staleness, during
which it is served only when the port fails (stale-if-error); then it is gone. No entry outlives
its TTL plus that maximum staleness. Errors and ``no-store`` answers are never stored.
"""

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from aiocache import RedisCache, SimpleMemoryCache
from aiocache.base import BaseCache
from aiocache.serializers import BaseSerializer

Clock = Callable[[], float]  # seconds since the epoch, shared by replicas
KEY_VERSION = "v1"


class OrjsonSerializer(BaseSerializer):  # type: ignore[misc]  # aiocache is untyped
    DEFAULT_ENCODING = None  # bytes in, bytes out

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


def answer_key(port: str, document: str, variables: Mapping[str, Any]) -> str:
    """Port + the document actually sent to it (normalised by printing) + its variables."""
    digest = hashlib.sha256(document.encode())
    digest.update(orjson.dumps(variables, option=orjson.OPT_SORT_KEYS))
    return f"{port}:{digest.hexdigest()}"


class AnswerCache(Protocol):
    """Where port answers are kept between queries."""

    shared: bool  # seen by other gateway replicas (so a lease across replicas is worth taking)

    async def get(self, key: str) -> CachedAnswer | None: ...

    async def put(self, key: str, data: dict[str, Any], fresh: float, stale: float) -> None: ...

    async def lease(self, key: str, seconds: float) -> bool:
        """Take the right to fetch ``key`` for ``seconds``; False if another holder has it."""
        ...

    async def release(self, key: str) -> None: ...

    async def close(self) -> None: ...


class AiocacheAnswers:
    """:class:`AnswerCache` over an aiocache backend (memory or Redis)."""

    def __init__(self, backend: BaseCache, *, shared: bool, clock: Clock = time.time) -> None:
        self._backend = backend
        self.shared = shared
        self._clock = clock
        self._lease_tokens: dict[str, str] = {}

    async def get(self, key: str) -> CachedAnswer | None:
        stored = await self._backend.get(key)
        if not isinstance(stored, dict):
            return None
        try:
            return CachedAnswer(stored["data"], float(stored["at"]), float(stored["fresh"]))
        except (KeyError, TypeError, ValueError):
            return None  # written by another version: a miss, not a crash

    async def put(self, key: str, data: dict[str, Any], fresh: float, stale: float) -> None:
        now = self._clock()
        entry = {"data": data, "at": now, "fresh": now + fresh}
        await self._backend.set(key, entry, ttl=_whole_seconds(fresh + stale))

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


def memory_cache(*, namespace: str = "portgate", clock: Clock = time.time) -> AiocacheAnswers:
    backend = SimpleMemoryCache(serializer=OrjsonSerializer(), namespace=f"{namespace}:")
    return AiocacheAnswers(backend, shared=False, clock=clock)


def redis_cache(
    url: str, *, namespace: str = "portgate", clock: Clock = time.time
) -> AiocacheAnswers:
    """A cache shared through Redis at ``url`` (``redis://host:port/db``)."""
    from urllib.parse import urlsplit

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
