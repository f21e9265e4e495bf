"""A gateway served by uvicorn on loopback exactly as ``portgate serve`` serves it
(gateway/cli/server.py: the edge's protocol, no proxy headers of uvicorn's own, the metrics
listener), with its lifespan, for tests where the server matters. Ports are httpx transports as
in conftest.py; raw-socket helpers speak HTTP/1.1 to it byte by byte."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.cli.server import Listeners, serving
from gateway.edge.counts import EdgeCounts
from gateway.edge.overload import EventLoopLag
from tests.gateway.conftest import OPEN_POLICY, PORT_NAMES, PortRouter, port_url, settings_for_tests

# A guard far past every timeout these tests configure: reaching it means the server hung.
HANG_GUARD_SECONDS = 20


@dataclass
class UvicornGateway:
    app: Starlette
    listeners: Listeners
    client: httpx.AsyncClient  # to the API listener
    router: PortRouter

    @property
    def counts(self) -> EdgeCounts:
        counts: EdgeCounts = self.app.state.edge.counts
        return counts

    @property
    def address(self) -> tuple[str, int]:
        url = urlsplit(self.listeners.api)
        assert url.hostname is not None
        assert url.port is not None
        return url.hostname, url.port

    async def metrics(self) -> str:
        url = self.listeners.metrics or self.listeners.api
        async with httpx.AsyncClient(timeout=HANG_GUARD_SECONDS) as client:
            response = await client.get(url + "/metrics")
        assert response.status_code == 200, response.text
        return response.text


@contextlib.asynccontextmanager
async def uvicorn_gateway(
    transports: Mapping[str, httpx.AsyncBaseTransport],
    *,
    host: str = "127.0.0.1",
    loop_lag: EventLoopLag | None = None,
    **settings: Any,
) -> AsyncIterator[UvicornGateway]:
    settings.setdefault("policy", {"file": OPEN_POLICY})
    router = PortRouter(transports)
    config = settings_for_tests(
        None,
        ports=[
            {"id": port, "name": PORT_NAMES.get(port, port), "url": port_url(port)}
            for port in transports
        ],
        **settings,
    )
    async with contextlib.AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(httpx.AsyncClient(transport=router))
        app = create_app(config, client=upstream, loop_lag=loop_lag)
        listeners = await stack.enter_async_context(serving(app, config, host=host))
        client = await stack.enter_async_context(
            httpx.AsyncClient(base_url=listeners.api, timeout=HANG_GUARD_SECONDS)
        )
        yield UvicornGateway(app, listeners, client, router)


async def exchange(address: tuple[str, int], *parts: bytes) -> bytes:
    """Send ``parts`` on a new connection, then read until the server closes it."""
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        reader, writer = await asyncio.open_connection(*address)
        try:
            for part in parts:
                writer.write(part)
                await writer.drain()
            return await reader.read()
        finally:
            writer.close()


def status_of(raw: bytes) -> int:
    """The status code of a raw HTTP/1.1 response."""
    return int(raw.split(b" ", 2)[1])


def body_of(raw: bytes) -> bytes:
    return raw.partition(b"\r\n\r\n")[2]


def header_of(raw: bytes, name: bytes) -> bytes | None:
    head = raw.partition(b"\r\n\r\n")[0]
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None
