"""Ports over HTTP/1.1 on the gateway's own kept-alive connections: how a served gateway reaches
its ports.

aiohttp's client spent about 12% of the CPU of a one-port request (in process, 32 requests in
flight) in its request and response machinery: multidicts, traces, timers, payload registries,
stream readers, none of which a POST of a few hundred bytes and its JSON answer need.
:class:`PortConnections` does that exchange on plain asyncio protocols, the response read by
httptools (llhttp, the parser uvicorn and aiohttp use too): one request line, the headers, the
body; a status, ``Cache-Control`` and the body back, with a chunked body, keep-alive and
``Connection: close`` as HTTP/1.1 says.

The rest is what :class:`gateway.ports.upstream_aiohttp.PortSessions` did, and the same tests hold
it to it (tests/gateway/ports/test_upstream_aiohttp.py runs against both):

- the egress rules: an endpoint URL is judged as written (:class:`~gateway.ports.port_http
  .UrlVerdicts`), and every address a name resolves to that the rules refuse is dropped before
  a connection is made (:func:`~gateway.ports.egress.allowed_addresses`);
- at most ``per_port`` connections to one endpoint, kept alive for ``KEEPALIVE_SECONDS`` when
  idle; a kept connection the port closed meanwhile is replaced, and an exchange on one that
  the port dropped before answering a byte is tried once more on a new connection (a query
  changes nothing at the port);
- one deadline (``timeout``) over connecting, sending and the whole answer; an answer past
  ``max_bytes`` is refused as soon as it runs past (its connection closed);
- redirects are answers like any other, never followed; HTTPS with the system's trust store.

Failures are ``PortFailure`` s as :mod:`gateway.ports.port_http` lists them.
"""

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import urlsplit

import httptools

from gateway.errors import PortEgressRefused, PortError, PortTimeout, PortUnavailable
from gateway.ports.egress import (
    EgressRefused,
    EgressRules,
    Resolver,
    SystemResolver,
    allowed_addresses,
)
from gateway.ports.port_http import HttpAnswer, StreamOpened, UrlVerdicts

MAX_POOLS = 1024  # endpoints whose connections are kept; past it, those with none idle go
KEEPALIVE_SECONDS = 15.0  # idle kept connections are closed after this
CHUNK_BYTES = 64 * 1024  # read at a time from a streamed answer


@dataclass(frozen=True, slots=True)
class _Target:
    scheme: str
    host: str  # as in the URL, without brackets
    port: int
    path: str  # with the query string
    host_header: str


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = 443 if parts.scheme == "https" else 80
    port = parts.port or default
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default else f"{shown}:{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(parts.scheme, host, port, path, host_header)


class ConnectionDropped(ConnectionError):
    """The port closed the connection before its answer was whole."""

    def __init__(self, answered: bool) -> None:
        super().__init__("the connection was closed before the whole answer")
        self.answered = answered  # some of the answer had come


class _TooLarge(Exception):
    pass


class _Connection(asyncio.Protocol):
    """One connection to a port, one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self.idle_timer: asyncio.TimerHandle | None = None
        self._answer: asyncio.Future[HttpAnswer] | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._body = bytearray()
        self._max_bytes = 0
        self._cache_control: list[bytes] = []
        self._got_bytes = False
        self._headers_done = False
        self._length_known = False
        self._status = 0

    # -- the exchange ---------------------------------------------------------------------------

    async def exchange(self, request: bytes, max_bytes: int) -> HttpAnswer:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._answer = loop.create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._body = bytearray()
        self._max_bytes = max_bytes
        self._cache_control = []
        self._got_bytes = self._headers_done = self._length_known = False
        self.reusable = False
        self.transport.write(request)
        try:
            return await self._answer
        finally:
            self._answer = None

    def close(self) -> None:
        self.closed = True
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: BaseException) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        self.close()

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's is one without deriving from asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._parser is None or self._answer is None or self._answer.done():
            self.close()  # nothing was asked: a port that talks out of turn is not kept
            return
        self._got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ConnectionDropped(answered=True))
        except httptools.HttpParserError as exc:
            self._fail(exc)

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself; connection_lost says the rest

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if self._answer is not None and not self._answer.done():
            if self._headers_done and not self._length_known:  # an answer that ends at EOF
                self._answer.set_result(self._answered())
            else:
                self._answer.set_exception(ConnectionDropped(answered=self._got_bytes))

    # -- httptools callbacks --------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"cache-control":
            self._cache_control.append(value)
        elif name in (b"content-length", b"transfer-encoding"):
            self._length_known = True

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._status = self._parser.get_status_code()
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body += body
        if len(self._body) > self._max_bytes:
            self._fail(_TooLarge())

    def on_message_complete(self) -> None:
        assert self._parser is not None
        if self._answer is None or self._answer.done():
            return
        self.reusable = self._parser.should_keep_alive()
        self._answer.set_result(self._answered())

    def _answered(self) -> HttpAnswer:
        cache_control = b", ".join(self._cache_control).decode("latin-1") or None
        return HttpAnswer(self._status, bytes(self._body), cache_control)


@dataclass(slots=True)
class _StreamHead:
    """httptools callbacks for a streamed answer: the headers, then the body as it comes."""

    media_type: str = ""
    done: bool = False  # the headers are in
    ended: bool = False  # the whole body is in
    body: list[bytes] = field(default_factory=list)

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self.media_type = value.decode("latin-1").partition(";")[0].strip()

    def on_headers_complete(self) -> None:
        self.done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.ended = True


async def _streamed(
    port: str,
    reader: asyncio.StreamReader,
    parser: httptools.HttpResponseParser,
    head: _StreamHead,
) -> AsyncIterator[bytes]:
    """The body of a streamed answer, chunk by chunk, until it ends or the port hangs up."""
    while True:
        if head.body:
            chunk, head.body = b"".join(head.body), []
            yield chunk
        if head.ended:
            return
        try:
            data = await reader.read(CHUNK_BYTES)
            if not data:
                return
            parser.feed_data(data)
        except (OSError, httptools.HttpParserError) as exc:
            raise PortUnavailable(port, f"the stream broke ({type(exc).__name__})") from exc


class _Pool:
    """The connections to one endpoint: at most ``limit`` at once, the idle ones kept."""

    def __init__(self, target: _Target, limit: int, owner: "PortConnections") -> None:
        self.target = target
        self._slots = asyncio.Semaphore(limit)
        self._idle: list[_Connection] = []
        self._owner = owner

    @property
    def idle(self) -> int:
        return len(self._idle)

    async def exchange(self, request: bytes, max_bytes: int) -> HttpAnswer:
        async with self._slots:
            connection = self._take_idle()
            if connection is not None:
                try:
                    return await self._exchange_on(connection, request, max_bytes)
                except ConnectionDropped as exc:
                    if exc.answered:
                        raise
                    # The port closed a kept connection as it was being used: once more, anew.
            connection = await self._owner.connect(self.target)
            return await self._exchange_on(connection, request, max_bytes)

    async def _exchange_on(
        self, connection: _Connection, request: bytes, max_bytes: int
    ) -> HttpAnswer:
        try:
            answer = await connection.exchange(request, max_bytes)
        except BaseException:
            connection.close()
            raise
        if connection.reusable and not connection.closed:
            loop = asyncio.get_running_loop()
            connection.idle_timer = loop.call_later(self._owner.keepalive, self._expire, connection)
            self._idle.append(connection)
        else:
            connection.close()
        return answer

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the least likely closed
            if connection.idle_timer is not None:
                connection.idle_timer.cancel()
                connection.idle_timer = None
            if not connection.closed:
                return connection
        return None

    def _expire(self, connection: _Connection) -> None:
        connection.idle_timer = None
        if connection in self._idle:
            self._idle.remove(connection)
        connection.close()

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()


class PortConnections:
    """The served gateway's :class:`~gateway.ports.port_http.PortHttp`: every port's connections."""

    def __init__(
        self,
        per_port: int,
        rules: EgressRules | None = None,
        resolver: Resolver | None = None,
        *,
        keepalive: float = KEEPALIVE_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._per_port = per_port
        rules = rules or EgressRules()
        self._verdicts = UrlVerdicts(rules)
        self._resolver = resolver or SystemResolver()
        self._rules = rules
        self.keepalive = keepalive
        self._ssl = ssl_context
        self._pools: dict[str, _Pool] = {}

    async def post(
        self,
        port: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout: float,
        max_bytes: int,
    ) -> HttpAnswer:
        self._verdicts.admit(port, url)
        pool = self._pools.get(url)
        if pool is None:
            pool = self._pools[url] = _Pool(_target(url), self._per_port, self)
            self._forget_unused()
        try:
            request = _request(pool.target, body, headers)
        except ValueError as exc:
            raise PortError(port, str(exc)) from None
        try:
            async with asyncio.timeout(timeout):
                return await pool.exchange(request, max_bytes)
        except TimeoutError as exc:
            raise PortTimeout(port, f"no answer within {timeout:.3g}s") from exc
        except _TooLarge:
            raise PortError(port, f"its answer is larger than {max_bytes} bytes") from None
        except EgressRefused as exc:
            raise PortEgressRefused(port, exc.reason) from exc
        except _Resolution as exc:
            raise PortUnavailable(port, "cannot resolve its host", transient=True) from exc
        except (OSError, ssl.SSLError, httptools.HttpParserError) as exc:
            raise PortUnavailable(
                port, f"cannot connect ({type(exc).__name__})", transient=True
            ) from exc

    @contextlib.asynccontextmanager
    async def get_stream(
        self, port: str, url: str, headers: Mapping[str, str], *, timeout: float
    ) -> AsyncIterator[StreamOpened]:
        """A GET whose answer is read as it comes, on a connection of its own (a port's change
        notices): the same egress rules as :meth:`post`; closed when the block ends."""
        self._verdicts.admit(port, url)
        target = _target(url)
        try:
            request = _request(target, b"", headers, method="GET")
        except ValueError as exc:
            raise PortError(port, str(exc)) from None
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await self._open_stream(target)
                writer.write(request)
                head = _StreamHead()
                parser = httptools.HttpResponseParser(head)
                while not head.done:
                    data = await reader.read(CHUNK_BYTES)
                    if not data:
                        raise ConnectionDropped(answered=False)
                    parser.feed_data(data)
        except TimeoutError as exc:
            if writer is not None:
                writer.close()
            raise PortTimeout(port, f"no answer within {timeout:.3g}s") from exc
        except EgressRefused as exc:
            raise PortEgressRefused(port, exc.reason) from exc
        except _Resolution as exc:
            raise PortUnavailable(port, "cannot resolve its host", transient=True) from exc
        except (OSError, ssl.SSLError, httptools.HttpParserError) as exc:
            if writer is not None:
                writer.close()
            raise PortUnavailable(
                port, f"cannot connect ({type(exc).__name__})", transient=True
            ) from exc
        try:
            chunks = _streamed(port, reader, parser, head)
            yield StreamOpened(parser.get_status_code(), head.media_type, chunks)
        finally:
            writer.close()

    async def _open_stream(
        self, target: _Target
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=CHUNK_BYTES, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport = await self._dial(target, lambda: protocol)
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    async def connect(self, target: _Target) -> _Connection:
        """A new connection to ``target``: each address the egress rules allow, in turn."""
        connection = _Connection()
        await self._dial(target, lambda: connection)
        return connection

    async def _dial(
        self, target: _Target, protocol: Callable[[], asyncio.BaseProtocol]
    ) -> asyncio.Transport:
        """A connection to the first address of ``target`` the egress rules allow that takes
        one, TLS for https, speaking ``protocol``."""
        loop = asyncio.get_running_loop()
        context = None
        if target.scheme == "https":
            context = self._ssl = self._ssl or ssl.create_default_context()
        failure: OSError | None = None
        for address, family in await self._addresses(target):
            try:
                transport, _ = await loop.create_connection(
                    protocol,
                    host=address,
                    port=target.port,
                    family=family,
                    ssl=context,
                    server_hostname=target.host if context is not None else None,
                )
            except OSError as exc:
                failure = exc
                continue
            return transport
        raise failure or OSError(f"no address to connect to for {target.host}")

    async def _addresses(self, target: _Target) -> list[tuple[str, int]]:
        try:
            literal = ipaddress.ip_address(target.host)
        except ValueError:
            pass
        else:  # judged with the URL (UrlVerdicts): nothing to resolve
            return [(str(literal), _family(str(literal)))]
        try:
            found = await self._resolver.resolve(target.host, target.port, socket.AF_UNSPEC)
        except OSError as exc:
            raise _Resolution(str(exc)) from exc
        allowed = allowed_addresses(self._rules, target.host, target.port, found)
        return [(str(r["host"]), _family(str(r["host"]))) for r in allowed]

    def _forget_unused(self) -> None:
        if len(self._pools) <= MAX_POOLS:
            return
        for url, pool in list(self._pools.items()):
            if pool.idle == 0:
                del self._pools[url]

    async def aclose(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def _family(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


class _Resolution(OSError):
    """The port's host name could not be resolved."""


def _request(
    target: _Target, body: bytes, headers: Mapping[str, str], *, method: str = "POST"
) -> bytes:
    """The request's bytes: a POST (or ``method``) with ``body`` and ``headers`` (no line
    breaks in either a name or a value: they would write another header)."""
    lines = [f"{method} {target.path} HTTP/1.1", f"Host: {target.host_header}"]
    for name, value in headers.items():
        if name.lower() in ("host", "content-length", "connection", "transfer-encoding"):
            continue
        if any(c in name or c in value for c in "\r\n\0"):
            raise ValueError("a request header holds a line break")
        lines.append(f"{name}: {value}")
    lines += [f"Content-Length: {len(body)}", "Connection: keep-alive", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body
