"""How ``portgate serve`` (and the demo) run the gateway: uvicorn, with the edge's own rules.

One place builds the server, so the gateway behaves the same under ``portgate serve``, the demo,
the tests and the benchmarks:

- **No proxy headers in the server.** uvicorn would rewrite the client address from
  ``X-Forwarded-For`` for any peer in ``forwarded_allow_ips`` (127.0.0.1 by default, which
  trusts anything on the same host, the demo's clients included). It is switched off: the
  client address comes from :mod:`gateway.edge.client_address` and ``server.trusted_proxies``
  alone.
- **Header read timeout and size.** uvicorn has a keep-alive timeout but none for a request's
  headers, and with httptools no bound on their size. :class:`EdgeHttpProtocol` (uvicorn's
  httptools protocol, pinned with uvicorn) arms a timer when a connection opens and when a
  request's first bytes arrive past the first packet, and cancels it when the headers are
  complete: past ``server.header_timeout`` the client gets HTTP 408 ``REQUEST_TIMEOUT`` (or,
  when it never sent a byte, just a closed connection), past ``server.max_header_bytes`` HTTP
  431; either way the connection is closed. A request whose headers come in one packet (nearly
  all) sets no timer. Body reads are timed by the app (:mod:`gateway.edge.body_limit`), where a
  408 can still be answered in the GraphQL error format.
- **Lingering close.** A connection the server closes while the client may still be sending
  (a 408 for a body that trickles, a 413 for one too large) would reach the client as a TCP
  reset, and a reset makes the client's system drop the answer it had not read yet. So the
  server first ends its own side (FIN after the answer), discards what still arrives, and closes
  when the client does or after :data:`LINGER_SECONDS` (as nginx's ``lingering_close``).
- **Metrics listener.** With ``metrics.listen``, ``/metrics`` is served by a second uvicorn
  server in the same process and event loop, for as long as the API's.
"""

import asyncio
import contextlib
import gc
import logging
import math
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.config import GatewaySettings, ServerSettings, parse_listen
from gateway.edge.counts import EdgeCounts
from gateway.errors import BadRequest, GatewayError, RequestTimeout

log = logging.getLogger("uvicorn.error")  # where uvicorn says what it listens on

LINGER_SECONDS = 2.0  # how long a closed connection discards what its client still sends


class _LingeringTransport:
    """The connection's transport as the protocol sees it, whose ``close`` lingers (see the
    module's docstring); everything else is the transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None
        self.lingering = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def is_closing(self) -> bool:
        return self.lingering or self._transport.is_closing()

    def close(self) -> None:
        transport = self._transport
        if self.lingering or transport.is_closing():
            return
        if not transport.can_write_eof():
            transport.close()
            return
        self.lingering = True
        transport.write_eof()  # the answer goes out, then FIN
        transport.resume_reading()  # read (and drop) what the client still sends
        self._timer = self._loop.call_later(LINGER_SECONDS, transport.close)

    def closed_by_peer(self) -> None:
        """The client closed its side (or the connection is gone): close ours now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._transport.is_closing():
            self._transport.close()


def _raw_response(status: int, reason: str, error: GatewayError) -> bytes:
    body = orjson.dumps({"errors": [{"message": error.message, "extensions": error.extensions()}]})
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class EdgeHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline and a size bound on each request's headers.

    Subclassed per server by :func:`edge_protocol`, which sets the class attributes."""

    header_timeout: ClassVar[float] = 10.0
    max_header_bytes: ClassVar[int] = 65_536
    counts: ClassVar[EdgeCounts] = EdgeCounts()
    timeout_response: ClassVar[bytes] = b""
    too_large_response: ClassVar[bytes] = b""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._headers_pending = False  # a request has begun and its headers are not complete
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._lingering = _LingeringTransport(transport, self.loop)
        self.transport = self._lingering  # type: ignore[assignment]
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_overdue)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        self._lingering.closed_by_peer()
        super().connection_lost(exc)

    def eof_received(self) -> None:
        if self._lingering.lingering:
            self._lingering.closed_by_peer()
        super().eof_received()

    def data_received(self, data: bytes) -> None:
        if self._lingering.lingering:
            return  # the answer is out and the connection closing: dropped
        super().data_received(data)
        if not self._headers_pending or self.transport.is_closing():
            return
        self._header_bytes += len(data)
        if self._header_bytes > self.max_header_bytes:
            self._refuse("headers_too_large", self.too_large_response)
        elif self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_overdue)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._headers_pending = True
        self._header_bytes = 0

    def on_headers_complete(self) -> None:
        self._headers_pending = False
        self._cancel_header_timer()
        super().on_headers_complete()

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_overdue(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if not self._headers_pending:  # opened, and not a byte of a request since
            self.counts.refused["idle_timeout"] += 1
            self.transport.close()
        elif self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request's headers are late while the previous answer is going out:
            # let that answer finish, then close.
            self.counts.refused["header_timeout"] += 1
            self.cycle.keep_alive = False
        else:
            self._refuse("header_timeout", self.timeout_response)

    def _refuse(self, reason: str, response: bytes) -> None:
        self._cancel_header_timer()
        self._headers_pending = False
        self.counts.refused[reason] += 1
        self.transport.write(response)
        self.transport.close()


def edge_protocol(settings: ServerSettings, counts: EdgeCounts) -> type[EdgeHttpProtocol]:
    """The protocol class for one server: ``settings``' header rules, counted in ``counts``."""
    timeout = RequestTimeout(
        f"the request headers did not arrive within {settings.header_timeout:g}s"
    )
    too_large = BadRequest(f"request headers larger than {settings.max_header_bytes} bytes")

    class ConfiguredEdgeHttpProtocol(EdgeHttpProtocol):
        header_timeout = settings.header_timeout
        max_header_bytes = settings.max_header_bytes
        timeout_response = _raw_response(408, "Request Timeout", timeout)
        too_large_response = _raw_response(431, "Request Header Fields Too Large", too_large)

    ConfiguredEdgeHttpProtocol.counts = counts
    return ConfiguredEdgeHttpProtocol


def _counts_of(app: Starlette) -> EdgeCounts:
    edge = getattr(app.state, "edge", None)
    return edge.counts if edge is not None else EdgeCounts()


def server_config(
    app: Starlette,
    settings: GatewaySettings,
    *,
    host: str,
    port: int,
    access_log: bool = False,
    log_level: str = "info",
) -> uvicorn.Config:
    """The uvicorn configuration of the gateway's API listener."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=edge_protocol(settings.server, _counts_of(app)),
        **api_options(settings.server),
        access_log=access_log,
        log_level=log_level,
    )


def api_options(server: ServerSettings) -> dict[str, Any]:
    """The uvicorn options of the API listener that come from the settings."""
    return {
        "proxy_headers": False,  # the client address is gateway.edge.client_address's business
        "timeout_keep_alive": math.ceil(server.keep_alive_timeout),
        "timeout_graceful_shutdown": math.ceil(server.shutdown_timeout),
        "lifespan": "on",
    }


def metrics_server_config(
    app: Starlette, settings: GatewaySettings, *, log_level: str = "info"
) -> uvicorn.Config | None:
    """The uvicorn configuration of the ``/metrics`` listener, when ``metrics.listen`` is set."""
    metrics_app = getattr(app.state, "metrics_app", None)
    if settings.metrics.listen is None or metrics_app is None:
        return None
    host, port = parse_listen(settings.metrics.listen)
    return uvicorn.Config(
        metrics_app,
        host=host,
        port=port,
        http=edge_protocol(settings.server, _counts_of(app)),
        proxy_headers=False,
        timeout_keep_alive=math.ceil(settings.server.keep_alive_timeout),
        lifespan="off",
        access_log=False,
        log_level=log_level,
    )


@contextlib.asynccontextmanager
async def _listening(server: uvicorn.Server) -> AsyncIterator[str]:
    """Run ``server`` (its lifespan included) inside the running loop, without taking over the
    process's signals; yields its base URL once it listens."""
    config = server.config
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.create_server((config.host, config.port), family=family, reuse_port=False)
    try:
        config.load()
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        if server.should_exit:  # the app's lifespan startup failed
            raise RuntimeError(f"the server for {config.host}:{config.port} did not start")
        host, port = sock.getsockname()[:2]
        ticking = asyncio.create_task(server.main_loop())
        try:
            yield f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        finally:
            server.should_exit = True
            await ticking
            await server.shutdown(sockets=[sock])
    finally:
        sock.close()


def tune_collector(young_threshold: int) -> None:
    """Python's cycle collector for a server: what start-up made is frozen out of its view
    (it lives as long as the process), and with ``young_threshold`` (when not 0) it looks at
    new objects that much less often (``server.gc_young_threshold``)."""
    gc.freeze()
    if young_threshold:
        _, middle, oldest = gc.get_threshold()
        gc.set_threshold(young_threshold, middle, oldest)


async def serve(
    app: Starlette,
    settings: GatewaySettings,
    *,
    host: str,
    port: int,
    access_log: bool = False,
    log_level: str = "info",
) -> None:
    """Serve the gateway until SIGINT or SIGTERM, with its metrics listener if configured."""
    tune_collector(settings.server.gc_young_threshold)
    api = uvicorn.Server(
        server_config(app, settings, host=host, port=port, access_log=access_log,
                      log_level=log_level)
    )  # fmt: skip
    metrics_config = metrics_server_config(app, settings, log_level=log_level)
    async with contextlib.AsyncExitStack() as stack:
        if metrics_config is not None:
            url = await stack.enter_async_context(_listening(uvicorn.Server(metrics_config)))
            log.info("Metrics on %s/metrics", url)
        await api.serve()


def run(
    app: Starlette,
    settings: GatewaySettings,
    *,
    host: str,
    port: int,
    access_log: bool = False,
) -> None:
    """:func:`serve` in an event loop of its own (uvloop when installed), as ``uvicorn.run``."""
    config = server_config(app, settings, host=host, port=port)
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=config.get_loop_factory()) as runner,
    ):
        runner.run(serve(app, settings, host=host, port=port, access_log=access_log))


@dataclass(frozen=True, slots=True)
class Listeners:
    """Base URLs of a running gateway: its API, and its metrics listener if it has one."""

    api: str
    metrics: str | None = None


@contextlib.asynccontextmanager
async def serving(
    app: Starlette, settings: GatewaySettings, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[Listeners]:
    """The gateway served exactly as :func:`serve` serves it, inside the running loop (tests,
    benchmarks); ``port`` 0 picks a free port (so does a ``metrics.listen`` port of 0)."""
    async with contextlib.AsyncExitStack() as stack:
        api = uvicorn.Server(
            server_config(app, settings, host=host, port=port, log_level="warning")
        )
        api_url = await stack.enter_async_context(_listening(api))
        metrics_url = None
        metrics_config = metrics_server_config(app, settings, log_level="warning")
        if metrics_config is not None:
            metrics_url = await stack.enter_async_context(
                _listening(uvicorn.Server(metrics_config))
            )
        yield Listeners(api_url, metrics_url)
