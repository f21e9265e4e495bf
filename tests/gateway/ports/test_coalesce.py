"""In-flight coalescing: concurrent callers of one key share one fetch and its outcome; each waits
only as long as its own timeout; nothing is left behind once the fetch ends. Fetches are held
open with events, never with sleeps."""

import asyncio
import gc
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from gateway.ports.coalesce import Coalescer

LONG = 60.0  # a timeout no test reaches


class HeldFetch:
    """A fetch that runs until released, counting how often it was started."""

    def __init__(self, result: str = "answer") -> None:
        self.started = 0
        self.release = asyncio.Event()
        self.result = result
        self.error: BaseException | None = None

    async def __call__(self) -> str:
        self.started += 1
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return self.result


async def settle() -> None:
    """Let every ready task run until all are waiting again."""
    for _ in range(5):
        await asyncio.sleep(0)


def gather(*calls: Awaitable[str]) -> "asyncio.Future[list[Any]]":
    return asyncio.gather(*calls, return_exceptions=True)


async def test_concurrent_callers_of_one_key_share_one_fetch() -> None:
    coalescer: Coalescer[str] = Coalescer()
    fetch = HeldFetch()
    callers = gather(*(coalescer.run("k", fetch, LONG) for _ in range(5)))
    await settle()
    assert fetch.started == 1
    assert coalescer.in_flight("k")
    fetch.release.set()
    assert await callers == ["answer"] * 5
    assert not coalescer.in_flight("k")


async def test_other_keys_fetch_on_their_own() -> None:
    coalescer: Coalescer[str] = Coalescer()
    a, b = HeldFetch("a"), HeldFetch("b")
    callers = gather(coalescer.run("a", a, LONG), coalescer.run("b", b, LONG))
    await settle()
    assert (a.started, b.started) == (1, 1)
    assert coalescer.in_flight("a")
    assert coalescer.in_flight("b")
    assert not coalescer.in_flight("c")
    a.release.set()
    b.release.set()
    assert await callers == ["a", "b"]


async def test_a_later_caller_after_the_fetch_ended_fetches_again() -> None:
    coalescer: Coalescer[str] = Coalescer()
    fetch = HeldFetch()
    fetch.release.set()
    assert await coalescer.run("k", fetch, LONG) == "answer"
    assert not coalescer.in_flight("k")
    assert await coalescer.run("k", fetch, LONG) == "answer"
    assert fetch.started == 2


async def test_every_caller_gets_the_same_exception() -> None:
    coalescer: Coalescer[str] = Coalescer()
    fetch = HeldFetch()
    fetch.error = ConnectionError("port down")
    callers = gather(*(coalescer.run("k", fetch, LONG) for _ in range(3)))
    await settle()
    fetch.release.set()
    outcomes = await callers
    assert fetch.started == 1
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 1
    assert not coalescer.in_flight("k")


async def test_a_follower_that_gives_up_does_not_cancel_the_fetch_for_the_others() -> None:
    coalescer: Coalescer[str] = Coalescer()
    fetch = HeldFetch()
    leader = asyncio.ensure_future(coalescer.run("k", fetch, LONG))
    await settle()
    with pytest.raises(TimeoutError):
        await coalescer.run("k", fetch, 0.0)  # its own deadline has already passed
    assert coalescer.in_flight("k")  # still running for the leader
    fetch.release.set()
    assert await leader == "answer"
    assert fetch.started == 1


async def test_the_leader_giving_up_does_not_cancel_the_fetch_either() -> None:
    coalescer: Coalescer[str] = Coalescer()
    fetch = HeldFetch()
    with pytest.raises(TimeoutError):
        await coalescer.run("k", fetch, 0.0)
    assert coalescer.in_flight("k")
    follower = asyncio.ensure_future(coalescer.run("k", fetch, LONG))
    await settle()
    fetch.release.set()
    assert await follower == "answer"
    assert fetch.started == 1


async def test_a_failure_nobody_waited_for_is_not_reported_as_unretrieved() -> None:
    """When every caller gave up, the fetch's exception is still retrieved: asyncio would
    otherwise log "Future exception was never retrieved" when the future is collected."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous: Callable[..., Any] | None = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        coalescer: Coalescer[str] = Coalescer()
        fetch = HeldFetch()
        fetch.error = ConnectionError("port down")
        with pytest.raises(TimeoutError):
            await coalescer.run("k", fetch, 0.0)
        fetch.release.set()
        await settle()
        assert not coalescer.in_flight("k")
        del coalescer, fetch
        gc.collect()
        await settle()
    finally:
        loop.set_exception_handler(previous)
    assert reported == []


async def test_a_fetch_cancelled_from_inside_ends_without_a_callback_error() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        coalescer: Coalescer[str] = Coalescer()
        fetch = HeldFetch()
        fetch.error = asyncio.CancelledError()
        follower = asyncio.ensure_future(coalescer.run("k", fetch, LONG))
        await settle()
        fetch.release.set()
        await settle()
        assert follower.cancelled()
        assert not coalescer.in_flight("k")
        gc.collect()
        await settle()
    finally:
        loop.set_exception_handler(previous)
    assert reported == []
