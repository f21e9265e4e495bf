"""In-flight coalescing: identical concurrent fetches share one upstream request.

The first caller for a key runs the fetch; every caller that arrives while it runs awaits the
same result (or the same exception). Each caller still waits only as long as its own deadline
allows: a follower that gives up does not cancel the fetch for the others.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Coalescer(Generic[T]):
    def __init__(self) -> None:
        self._in_flight: dict[str, asyncio.Future[T]] = {}

    def in_flight(self, key: str) -> bool:
        return key in self._in_flight

    async def run(self, key: str, fetch: Callable[[], Awaitable[T]], timeout: float) -> T:
        """``fetch()``'s result, shared with every concurrent caller of the same ``key``."""
        future = self._in_flight.get(key)
        if future is None:
            future = asyncio.ensure_future(fetch())
            self._in_flight[key] = future
            future.add_done_callback(lambda done: self._finished(key, done))
        async with asyncio.timeout(timeout):
            return await asyncio.shield(future)

    def _finished(self, key: str, future: "asyncio.Future[T]") -> None:
        self._in_flight.pop(key, None)
        if not future.cancelled():
            future.exception()  # retrieved: every caller may have given up waiting
