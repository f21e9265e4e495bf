"""Slow clients are timed out, on a real uvicorn on loopback served as ``portgate serve`` serves
the gateway, over raw sockets: headers that stop coming or trickle in get a 408 and a closed
connection (so do bodies), a connection that never sends a request is closed, headers past their
size limit get a 431, and a client that leaves mid-body is counted, never an incident.

The timeouts are small and configured; the assertions are on what the server answers and
counts, never on how long it took."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import orjson
import pytest

from tests.gateway.conftest import answering
from tests.gateway.edge_server import (
    HANG_GUARD_SECONDS,
    UvicornGateway,
    body_of,
    exchange,
    header_of,
    status_of,
    uvicorn_gateway,
)

PORTS = {"ports": [{"UNLocationCode": "USLAX", "name": "LA", "_pg_port": "USLAX"}]}
TIMEOUTS = {"header_timeout": "300ms", "body_timeout": "300ms", "max_header_bytes": 4096}
BODY = b'{"query": "{ ports { UNLocationCode } }"}'
REQUEST_HEAD = (
    b"POST /graphql HTTP/1.1\r\nHost: gw\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\n\r\n" % len(BODY)
)
TRICKLE_EVERY = 0.02  # seconds between two bytes of a slow client


@pytest.fixture
async def gateway() -> AsyncIterator[UvicornGateway]:
    async with uvicorn_gateway({"USLAX": answering(PORTS)}, server=TIMEOUTS) as served:
        yield served


def error_code(raw: bytes) -> str:
    [error] = orjson.loads(body_of(raw))["errors"]
    code: str = error["extensions"]["code"]
    return code


async def trickle(address: tuple[str, int], start: bytes, byte: bytes) -> bytes:
    """A client that sends ``start``, then one ``byte`` every TRICKLE_EVERY seconds for as long
    as the connection lasts; what the server answered."""
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        reader, writer = await asyncio.open_connection(*address)

        async def send_slowly() -> None:
            writer.write(start)
            while True:
                await writer.drain()
                await asyncio.sleep(TRICKLE_EVERY)  # the client's slowness, not a wait
                writer.write(byte)

        sender = asyncio.create_task(send_slowly())
        try:
            return await reader.read()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
            writer.close()


async def test_headers_that_stop_coming_get_a_408_and_a_closed_connection(
    gateway: UvicornGateway,
) -> None:
    raw = await exchange(gateway.address, b"POST /graphql HTTP/1.1\r\nHost: gw\r\n")
    assert status_of(raw) == 408
    assert error_code(raw) == "REQUEST_TIMEOUT"
    assert header_of(raw, b"connection") == b"close"
    assert gateway.counts.refused["header_timeout"] == 1
    assert 'portgate_requests_refused_total{reason="header_timeout"} 1.0' in (
        await gateway.metrics()
    )


async def test_headers_trickling_in_are_timed_out_as_a_whole(gateway: UvicornGateway) -> None:
    """A byte every 20 ms keeps any idle timer quiet; the headers' deadline still passes."""
    raw = await trickle(gateway.address, b"GET /graphql HTTP/1.1\r\nX-Slow: ", b"a")
    assert status_of(raw) == 408
    assert error_code(raw) == "REQUEST_TIMEOUT"
    assert gateway.router.requests == []


async def test_a_connection_that_never_sends_a_request_is_closed(gateway: UvicornGateway) -> None:
    assert await exchange(gateway.address) == b""
    assert gateway.counts.refused["idle_timeout"] == 1


async def test_headers_past_their_size_limit_get_a_431(gateway: UvicornGateway) -> None:
    huge = b"X-Big: " + b"a" * 8192 + b"\r\n"
    raw = await exchange(gateway.address, b"GET /graphql HTTP/1.1\r\nHost: gw\r\n" + huge)
    assert status_of(raw) == 431
    assert error_code(raw) == "BAD_REQUEST"
    assert gateway.counts.refused["headers_too_large"] == 1


async def test_a_slow_second_request_on_a_kept_alive_connection_is_timed_out(
    gateway: UvicornGateway,
) -> None:
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        reader, writer = await asyncio.open_connection(*gateway.address)
        writer.write(REQUEST_HEAD + BODY)
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        length = int(header_of(head, b"content-length") or b"0")
        assert b'"USLAX"' in await reader.readexactly(length)
        writer.write(b"POST /graphql HTTP/1.1\r\nHost: gw\r\n")  # and no more
        raw = await reader.read()
        writer.close()
    assert status_of(raw) == 408
    assert error_code(raw) == "REQUEST_TIMEOUT"


async def test_a_body_that_stops_coming_gets_a_408_and_a_closed_connection(
    gateway: UvicornGateway,
) -> None:
    raw = await exchange(gateway.address, REQUEST_HEAD + BODY[:10])
    assert status_of(raw) == 408
    assert error_code(raw) == "REQUEST_TIMEOUT"
    assert "body" in orjson.loads(body_of(raw))["errors"][0]["message"]
    assert header_of(raw, b"connection") == b"close"
    assert gateway.counts.refused["body_timeout"] == 1
    assert gateway.router.requests == []


async def test_a_body_trickling_in_is_timed_out_as_a_whole(gateway: UvicornGateway) -> None:
    head = REQUEST_HEAD.replace(b"content-length: %d" % len(BODY), b"content-length: 100000")
    raw = await trickle(gateway.address, head + b'{"query": "', b" ")
    assert status_of(raw) == 408
    assert error_code(raw) == "REQUEST_TIMEOUT"
    assert gateway.router.requests == []


async def test_a_request_sent_in_time_is_answered(gateway: UvicornGateway) -> None:
    head = REQUEST_HEAD.replace(b"Host: gw\r\n", b"Host: gw\r\nConnection: close\r\n")
    raw = await exchange(gateway.address, head[:20], head[20:], BODY[:5], BODY[5:])
    assert status_of(raw) == 200
    assert orjson.loads(body_of(raw))["data"] == {"ports": [{"UNLocationCode": "USLAX"}]}


class Records(logging.Handler):
    """Every log record, and an event once a record holding ``awaited`` arrives."""

    def __init__(self, awaited: str) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.awaited = awaited
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if self.awaited in record.getMessage():
            self.arrived.set()


@contextlib.contextmanager
def recording(awaited: str) -> Iterator[Records]:
    handler = Records(awaited)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_a_client_that_leaves_mid_body_is_counted_not_an_incident(
    gateway: UvicornGateway,
) -> None:
    with recording("went away before sending its whole request body") as log:
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            _, writer = await asyncio.open_connection(*gateway.address)
            writer.write(REQUEST_HEAD + BODY[:10])
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            await log.arrived.wait()  # the gateway has seen the client go
    assert gateway.counts.client_disconnects == 1
    assert gateway.counts.refused["body_timeout"] == 0
    messages = [r.getMessage() for r in log.records]
    assert not [r for r in log.records if r.levelno >= logging.WARNING], messages
    assert not [m for m in messages if "incident" in m or "Exception" in m]
    assert not [r for r in log.records if r.exc_info]
    assert "portgate_client_disconnects_total 1.0" in await gateway.metrics()


async def keep_sending(writer: asyncio.StreamWriter, head: bytes, chunk: bytes) -> None:
    """Send ``head``, then ``chunk`` after ``chunk`` for as long as the connection takes them."""
    writer.write(head)
    with contextlib.suppress(ConnectionError):
        while True:
            writer.write(chunk)
            await writer.drain()


async def test_a_client_still_sending_gets_its_answer_not_a_reset(gateway: UvicornGateway) -> None:
    """The server answers 413 at once for a body declared too large, while the client goes on
    sending it: the answer must arrive whole (the server ends its side and drops the rest
    rather than closing on unread data, which would send a reset that loses the answer)."""
    head = REQUEST_HEAD.replace(b"content-length: %d" % len(BODY), b"content-length: 50000000")
    chunk = b" " * 65_536
    for _ in range(5):
        async with asyncio.timeout(HANG_GUARD_SECONDS):
            reader, writer = await asyncio.open_connection(*gateway.address)

            sender = asyncio.create_task(keep_sending(writer, head, chunk))
            try:
                raw = await reader.read()
            finally:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await sender
                writer.close()
        assert status_of(raw) == 413
        assert error_code(raw) == "BAD_REQUEST"
