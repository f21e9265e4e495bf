"""A GET whose kept-alive connection the port's system had already closed is sent once more;
one that keeps failing, or times out, is SourceUnavailable. A real HTTP server on 127.0.0.1 that
closes connections without answering, as a system's idle timeout does."""

import asyncio
from collections.abc import Callable

import httpx
import pytest

from port_resolvers.kit.source import SourceUnavailable
from port_resolvers.sources.fetch import ATTEMPTS, get_json

BODY = b'{"ok": true, "craneId": "QC07"}'
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


class Server:
    """Answers the n-th request with ``answer(n)``: bytes to send, or None to close at once."""

    def __init__(self, answer: Callable[[int], bytes | None]) -> None:
        self.answer = answer
        self.requests = 0
        self.connections = 0
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.requests += 1
                reply = self.answer(self.requests)
                if reply is None:
                    return  # closed without an answer
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()


async def running(server: Server) -> asyncio.Server:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    return listening


async def test_a_connection_closed_without_an_answer_is_tried_once_more() -> None:
    server = Server(lambda n: None if n == 1 else ANSWER)
    listening = await running(server)
    async with listening, httpx.AsyncClient() as client:
        answer = await get_json(client, f"http://127.0.0.1:{server.port}/events")
    assert answer is not None
    assert answer.payload == {"ok": True}  # labor keys dropped, as on any answer
    assert (server.requests, server.connections) == (2, 2)


async def test_a_kept_alive_connection_the_system_dropped_is_replaced() -> None:
    # The first GET is answered and its connection kept; the system then drops it while idle
    # (here: it closes instead of answering the next request on it).
    server = Server(lambda n: None if n == 2 else ANSWER)
    listening = await running(server)
    async with listening, httpx.AsyncClient() as client:
        url = f"http://127.0.0.1:{server.port}/events"
        assert (await get_json(client, url)) is not None
        assert (await get_json(client, url)) is not None
    assert (server.requests, server.connections) == (3, 2)


async def test_a_system_that_always_closes_is_unavailable_after_two_attempts() -> None:
    server = Server(lambda n: None)
    listening = await running(server)
    async with listening, httpx.AsyncClient() as client:
        with pytest.raises(SourceUnavailable, match="GET /events failed: RemoteProtocolError"):
            await get_json(client, f"http://127.0.0.1:{server.port}/events")
    assert server.requests == ATTEMPTS == 2


async def test_a_timeout_is_never_retried() -> None:
    silent = asyncio.Event()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.requests += 1
        await silent.wait()
        writer.close()

    server = Server(lambda n: None)
    listening = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening, httpx.AsyncClient(timeout=httpx.Timeout(0.2)) as client:
        with pytest.raises(SourceUnavailable, match="timed out"):
            await get_json(client, f"http://127.0.0.1:{port}/events")
        silent.set()
    assert server.requests == 1
