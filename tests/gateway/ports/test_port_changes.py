"""Listening to the ports' change notices (gateway/ports/changes.py): a port that sends them is
pushing while its stream is open, and each notice reaches the hub; a port without the stream is
polled and asked again much later; a refused address is never contacted; a stream that talks
too long, too fast or nonsense is dropped and tried again after a backoff."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.config import PortConfig, PortDefaults
from gateway.ports.changes import PortChanges, StreamBroken, changes_url, read_notices
from gateway.ports.egress import EgressRules
from gateway.ports.port_client import PortConnections
from gateway.ports.port_http import HttpxPortHttp, PortStreams
from gateway.ports.registry import PortRegistry
from port_resolvers.kit import create_resolver_app
from port_resolvers.kit.changes import ChangeNotices
from port_resolvers.loopback import serve_on_loopback
from portcontract.changes import EVERYTHING, MAX_NOTICE_BYTES, ChangeNotice
from tests.gateway.query.test_merge import MemoryPort
from tests.gateway.served import token

LOOPBACK = EgressRules(schemes=["http"], hosts=["127.0.0.1"])
BOX = ChangeNotice(frozenset({"MSCU6639871"}))


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def notices(*parts: bytes, max_rate: float = 1000) -> list[ChangeNotice]:
    return [n async for n in read_notices(chunks(*parts), silence=5, max_rate=max_rate)]


async def test_notices_are_read_across_chunks_past_heartbeats_and_other_events() -> None:
    event = BOX.to_event()
    assert await notices(b": listening\n\n", event[:10], event[10:] + b": ping\r\n\r\n",
                         b"event: other\ndata: {}\n\n", EVERYTHING.to_event()) == [
        BOX, EVERYTHING]  # fmt: skip


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ((b"data: " + b"x" * (MAX_NOTICE_BYTES + 100),), "a line of more than"),
        ((b"data: {\ndata: " + b"x" * MAX_NOTICE_BYTES + b"\n",), "a notice of more than"),
        ((b"event: changed\ndata: [1]\n\n",), "not a change notice"),
        ((BOX.to_event() * 20,), "more than 5 notices a second"),
    ],
)
async def test_a_stream_past_a_bound_is_broken(parts: tuple[bytes, ...], reason: str) -> None:
    with pytest.raises(StreamBroken, match=reason):
        await notices(*parts, max_rate=5)


async def test_a_silent_stream_times_out() -> None:
    never: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def silent() -> AsyncIterator[bytes]:
        yield await never

    with pytest.raises(TimeoutError):
        async for _ in read_notices(silent(), silence=0.01, max_rate=1):
            pass


def test_the_stream_is_beside_the_graphql_endpoint() -> None:
    assert changes_url("http://127.0.0.1:9/graphql") == "http://127.0.0.1:9/changes"
    assert changes_url("https://r.example/usl/graphql") == "https://r.example/usl/changes"


class Waits:
    """The listener's sleep between attempts: recorded, and it waits until the test ends."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.began = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.seconds.append(seconds)
        self.began.set()
        await asyncio.Event().wait()


class Told:
    def __init__(self) -> None:
        self.notices: asyncio.Queue[tuple[str, ChangeNotice]] = asyncio.Queue()

    def __call__(self, port: str, notice: ChangeNotice) -> None:
        self.notices.put_nowait((port, notice))


def registry_of(url: str) -> PortRegistry:
    config = PortConfig.model_validate(
        {"id": "USLAX", "name": "Los Angeles", "url": url, "credential": token("USLAX")}
    )
    return PortRegistry(PortDefaults(), [config])


@contextlib.asynccontextmanager
async def stream_clients(kind: str, rules: EgressRules) -> AsyncIterator[PortStreams]:
    if kind == "own":
        connections = PortConnections(4, rules)
        try:
            yield connections
        finally:
            await connections.aclose()
    else:
        async with httpx.AsyncClient() as client:
            yield HttpxPortHttp(client, rules)


CLIENTS = pytest.mark.parametrize("kind", ["own", "httpx"])


@CLIENTS
async def test_a_port_that_sends_notices_pushes_while_its_stream_is_open(kind: str) -> None:
    sent = ChangeNotices(heartbeat=3600)
    app = create_resolver_app(MemoryPort("USLAX"), "USLAX", gateway_token=token("USLAX"),
                              changes=sent)  # fmt: skip
    told, waits = Told(), Waits()
    async with serve_on_loopback(app) as url, stream_clients(kind, LOOPBACK) as streams:
        changes = PortChanges(streams, registry_of(url + "/graphql"), told, sleep=waits.sleep)
        assert not changes.pushing("USLAX")
        changes.start()
        assert await told.notices.get() == ("USLAX", EVERYTHING)  # what changed meanwhile
        assert changes.pushing("USLAX")
        sent.publish(BOX)
        assert await told.notices.get() == ("USLAX", BOX)
        await changes.close()
        assert not changes.pushing("USLAX")
        assert waits.seconds == []


@CLIENTS
async def test_a_port_without_notices_is_polled_and_asked_again_much_later(kind: str) -> None:
    app = create_resolver_app(MemoryPort("USLAX"), "USLAX", gateway_token=token("USLAX"))
    told, waits = Told(), Waits()
    async with serve_on_loopback(app) as url, stream_clients(kind, LOOPBACK) as streams:
        changes = PortChanges(streams, registry_of(url + "/graphql"), told, sleep=waits.sleep)
        changes.start()
        await waits.began.wait()
        assert waits.seconds == [changes.rediscover]
        assert not changes.pushing("USLAX")
        assert told.notices.empty()
        await changes.close()


class Talker:
    """A port's stream that says what the test wants, and counts who came."""

    def __init__(self, body: Callable[[], AsyncIterator[bytes]]) -> None:
        self.body = body
        self.requests: list[str | None] = []

    def app(self) -> Starlette:
        async def changes(request: Request) -> Response:
            self.requests.append(request.headers.get("authorization"))
            return StreamingResponse(self.body(), media_type="text/event-stream")

        return Starlette(routes=[Route("/changes", changes)])


@CLIENTS
async def test_a_refused_address_is_never_contacted(kind: str) -> None:
    talker = Talker(lambda: chunks(BOX.to_event()))
    told, waits = Told(), Waits()
    async with (
        serve_on_loopback(talker.app()) as url,
        stream_clients(kind, EgressRules(schemes=["http"])) as streams,  # loopback refused
    ):
        changes = PortChanges(streams, registry_of(url + "/graphql"), told, sleep=waits.sleep)
        changes.start()
        await waits.began.wait()
        assert waits.seconds == [changes.backoff]
        assert talker.requests == []
        assert told.notices.empty()
        await changes.close()


@CLIENTS
async def test_a_port_that_floods_is_dropped_and_tried_again_after_a_backoff(kind: str) -> None:
    talker = Talker(lambda: chunks(BOX.to_event() * 500))
    told, waits = Told(), Waits()
    async with serve_on_loopback(talker.app()) as url, stream_clients(kind, LOOPBACK) as streams:
        changes = PortChanges(streams, registry_of(url + "/graphql"), told, sleep=waits.sleep,
                              max_rate=10)  # fmt: skip
        changes.start()
        await waits.began.wait()
        assert waits.seconds == [changes.backoff]
        assert talker.requests == [f"Bearer {token('USLAX')}"]  # with the port's credential
        heard = [told.notices.get_nowait() for _ in range(told.notices.qsize())]
        assert heard[0] == ("USLAX", EVERYTHING)
        assert len(heard) <= 11  # no more than the bound let through before it was dropped
        assert not changes.pushing("USLAX")
        await changes.close()
