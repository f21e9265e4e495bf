"""The gateway's own port connections (gateway/ports/port_client.py) against raw HTTP/1.1 servers on
loopback that answer as real ones may: kept alive or closed, chunked or to the end of the
stream, too much, over TLS. What every port client must do is in test_upstream_aiohttp.py."""

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.errors import PortError, PortTimeout, PortUnavailable
from gateway.ports.egress import EgressRules
from gateway.ports.port_client import PortConnections

RULES = EgressRules(schemes=["http", "https"], hosts=["127.0.0.1", "localhost"])
ANSWER = b'{"data":{"ok":true}}'
Answer = Callable[[bytes, "Server"], Awaitable[bytes | None]]


@dataclass
class Server:
    """Counts connections, requests and requests in flight; answers with ``answer``."""

    answer: Answer
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    two_in_flight: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.StreamReader | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.reader = reader
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))  # fmt: skip
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                if self.in_flight >= 2:
                    self.two_in_flight.set()
                try:
                    reply = await self.answer(head + body, self)
                finally:
                    self.in_flight -= 1
                if reply is None:  # close without a word
                    break
                writer.write(reply)
                await writer.drain()
                if b"connection: close" in reply.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self.closed.set()


@asynccontextmanager
async def serving(
    answer: Answer, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[Server, str]]:
    server = Server(answer)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    port = listening.sockets[0].getsockname()[1]
    scheme = "https" if tls else "http"
    try:
        yield server, f"{scheme}://{'localhost' if tls else '127.0.0.1'}:{port}/graphql"
    finally:
        listening.close()
        await listening.wait_closed()


def reply(body: bytes = ANSWER, *headers: str, status: str = "200 OK") -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join([*lines, "", ""])).encode() + body


async def kept_alive(_: bytes, __: Server) -> bytes:
    return reply(ANSWER, "Cache-Control: max-age=30", "Cache-Control: public")


@pytest.fixture
async def client() -> AsyncIterator[PortConnections]:
    connections = PortConnections(per_port=4, rules=RULES)
    yield connections
    await connections.aclose()


async def post(client: PortConnections, url: str, *, timeout: float = 10, **headers: str) -> bytes:
    answer = await client.post(
        "USLAX", url, b'{"query":"{ ok }"}', headers, timeout=timeout, max_bytes=1000
    )
    assert answer.status == 200
    return answer.content


async def test_one_connection_carries_one_request_after_another(client: PortConnections) -> None:
    async with serving(kept_alive) as (server, url):
        for _ in range(5):
            assert await post(client, url, traceparent="00-abc-def-01") == ANSWER
        answer = await client.post("USLAX", url, b"{}", {}, timeout=10, max_bytes=1000)
    assert server.connections == 1
    assert answer.cache_control == "max-age=30, public"  # both lines, as one value
    first = server.requests[0]
    assert first.startswith(b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\ntraceparent: 00-abc-def-01\r\n" in first
    assert first.endswith(b'\r\n\r\n{"query":"{ ok }"}')


async def test_a_connection_the_port_closes_is_replaced(client: PortConnections) -> None:
    async def closing(_: bytes, __: Server) -> bytes:
        return reply(ANSWER, "Connection: close")

    async with serving(closing) as (server, url):
        for _ in range(3):
            assert await post(client, url) == ANSWER
    assert server.connections == 3


async def test_a_kept_connection_dropped_before_a_word_is_tried_once_more(
    client: PortConnections,
) -> None:
    """The port kept the connection after its first answer, then dropped it on the next
    request (its keep-alive ran out as the request came): the request goes again, anew."""

    async def first_then_drop(_: bytes, server: Server) -> bytes | None:
        return reply() if len(server.requests) != 2 else None

    async with serving(first_then_drop) as (server, url):
        assert await post(client, url) == ANSWER
        assert await post(client, url) == ANSWER
    assert (server.connections, len(server.requests)) == (2, 3)


async def test_a_chunked_answer_and_one_read_to_the_end_are_whole(client: PortConnections) -> None:
    async def chunked(_: bytes, __: Server) -> bytes:
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (ANSWER[:7], ANSWER[7:]))
        return reply(chunks + b"0\r\n\r\n", "Transfer-Encoding: chunked")

    async def to_the_end(_: bytes, __: Server) -> bytes:
        return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + ANSWER

    for answer in (chunked, to_the_end):
        async with serving(answer) as (_, url):
            assert await post(client, url) == ANSWER


async def test_an_answer_past_the_cap_is_refused_and_its_connection_not_kept(
    client: PortConnections,
) -> None:
    async def large(_: bytes, __: Server) -> bytes:
        return reply(b"x" * 5000)

    async with serving(large) as (server, url):
        for _ in range(2):
            with pytest.raises(PortError, match="larger than 1000 bytes"):
                await post(client, url)
    assert server.connections == 2


async def test_at_most_per_port_connections_at_once() -> None:
    async def held(_: bytes, server: Server) -> bytes:
        await server.release.wait()
        return reply()

    client = PortConnections(per_port=2, rules=RULES)
    try:
        async with serving(held) as (server, url):
            asked = [asyncio.create_task(post(client, url)) for _ in range(5)]
            await asyncio.wait_for(server.two_in_flight.wait(), timeout=10)
            server.release.set()
            assert await asyncio.gather(*asked) == [ANSWER] * 5
        assert server.most_in_flight == 2
        assert server.connections == 2
    finally:
        await client.aclose()


async def test_no_answer_within_the_deadline_is_a_timeout_and_the_connection_goes(
    client: PortConnections,
) -> None:
    async def never(_: bytes, server: Server) -> bytes | None:
        assert server.reader is not None
        await server.reader.read()  # nothing more comes: until the gateway hangs up
        return None

    async with serving(never) as (server, url):
        with pytest.raises(PortTimeout):
            await post(client, url, timeout=0.05)
        await asyncio.wait_for(server.closed.wait(), timeout=10)  # the gateway hung up


async def test_idle_connections_are_closed_after_the_keepalive() -> None:
    client = PortConnections(per_port=2, rules=RULES, keepalive=0.01)
    try:
        async with serving(kept_alive) as (server, url):
            assert await post(client, url) == ANSWER
            await asyncio.wait_for(server.closed.wait(), timeout=10)
            assert await post(client, url) == ANSWER
        assert server.connections == 2
    finally:
        await client.aclose()


async def test_a_header_with_a_line_break_is_refused_and_nothing_sent(
    client: PortConnections,
) -> None:
    async with serving(kept_alive) as (server, url):
        with pytest.raises(PortError, match="line break"):
            await post(client, url, traceparent="x\r\nX-Injected: 1")
    assert server.requests == []


async def test_a_port_that_is_not_http_is_unavailable(client: PortConnections) -> None:
    async def gibberish(_: bytes, __: Server) -> bytes:
        return b"SSH-2.0-OpenSSH_9.6\r\n\r\n"

    async with serving(gibberish) as (_, url):
        with pytest.raises(PortUnavailable) as raised:
            await post(client, url)
    assert raised.value.transient


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_https_with_a_trusted_certificate_and_never_an_untrusted_one(
    tmp_path: Path,
) -> None:
    cert, key = certificate(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    resolver_rules = EgressRules(schemes=["https"], hosts=["localhost"])
    trusted = PortConnections(per_port=2, rules=resolver_rules, ssl_context=trusting)
    untrusted = PortConnections(per_port=2, rules=resolver_rules)  # the system's trust store
    try:
        async with serving(kept_alive, tls=served) as (server, url):
            assert await post(trusted, url) == ANSWER
            with pytest.raises(PortUnavailable, match="cannot connect"):
                await post(untrusted, url)
        assert len(server.requests) == 1
    finally:
        await trusted.aclose()
        await untrusted.aclose()


def test_the_connections_work_on_the_served_gateway_s_event_loop() -> None:
    """``portgate serve`` runs on uvloop, whose transports do not derive from asyncio's."""

    async def exchange() -> bytes:
        connections = PortConnections(per_port=2, rules=RULES)
        try:
            async with serving(kept_alive) as (server, url):
                answers = [await post(connections, url) for _ in range(3)]
            assert server.connections == 1
            return answers[-1]
        finally:
            await connections.aclose()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(exchange()) == ANSWER
