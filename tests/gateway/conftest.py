"""Gateway test helpers: a gateway app whose ports are httpx transports chosen per test.

Each port is reached at ``http://<port id lower case>.test/graphql``; :class:`PortRouter` hands a
request to that port's transport (an ``httpx.MockTransport`` or an ``httpx.ASGITransport`` of a
real resolver app), so no socket is opened.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis.asyncio as redis

from gateway.app import create_app
from gateway.config import GatewaySettings, load_settings
from port_resolvers.kit import PortRecord, VesselCallFilter

# The query-path tests are about fetching and merging, not the policy: anyone sees everything.
OPEN_POLICY = Path(__file__).parent / "policies" / "open.yaml"
# Egress rules for tests: ports at *.test (handed to transports, never resolved) and on this
# machine's loopback, over http. Tests of the rules themselves set their own.
TEST_EGRESS: dict[str, Any] = {
    "schemes": ["http", "https"],
    "hosts": ["*.test", "127.0.0.1", "::1"],
}


def with_test_egress(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` with ``registry.egress`` set to :data:`TEST_EGRESS` unless given."""
    registry = dict(settings.get("registry") or {})
    registry.setdefault("egress", TEST_EGRESS)
    return settings | {"registry": registry}


def settings_for_tests(path: Path | None = None, **settings: Any) -> GatewaySettings:
    """:func:`gateway.config.load_settings` with the tests' egress rules (unless given)."""
    return load_settings(path, **with_test_egress(settings))


PortHandler = Callable[[httpx.Request], Awaitable[httpx.Response] | httpx.Response]
PORT_NAMES = {
    "USLAX": "Port of Los Angeles",
    "USLGB": "Port of Long Beach",
    "USOAK": "Port of Oakland",
    "USNTD": "Port of Hueneme",
    "USSAN": "Port of San Diego",
    "USRCH": "Port of Richmond",
}


class PortRouter(httpx.AsyncBaseTransport):
    def __init__(self, transports: Mapping[str, httpx.AsyncBaseTransport]) -> None:
        self.transports = {port.lower() + ".test": t for port, t in transports.items()}
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return await self.transports[request.url.host].handle_async_request(request)


def port_url(port: str) -> str:
    return f"http://{port.lower()}.test/graphql"


def graphql_body(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(request.content)
    return body


class Gateway:
    """A gateway app and a client for it."""

    def __init__(self, client: httpx.AsyncClient, router: PortRouter, app: Any = None) -> None:
        self.client = client
        self.router = router
        self.app = app  # the Starlette app, when a test needs what it holds

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.client.post("/graphql", json=body, **kwargs)


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway() -> AsyncIterator[GatewayFactory]:
    """Gateways with their lifespan running (stores opened, and at the end closed: the Redis
    connections of a cache or a rate limit among them)."""
    async with contextlib.AsyncExitStack() as stack:
        yield partial(_started, stack)


async def _started(
    stack: contextlib.AsyncExitStack,
    transports: Mapping[str, httpx.AsyncBaseTransport],
    **settings: Any,
) -> Gateway:
    settings.setdefault("policy", {"file": OPEN_POLICY})
    router = PortRouter(transports)
    upstream_client = await stack.enter_async_context(httpx.AsyncClient(transport=router))
    config = load_settings(
        None,
        ports=[
            {"id": port, "name": PORT_NAMES.get(port, port), "url": port_url(port)}
            for port in transports
        ],
        **with_test_egress(settings),
    )
    app = create_app(config, client=upstream_client)
    await stack.enter_async_context(app.router.lifespan_context(app))
    client = await stack.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
    )
    return Gateway(client, router, app)


def answering(data: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.MockTransport:
    """A port that answers every request with ``data``."""
    return httpx.MockTransport(lambda _: httpx.Response(200, json={"data": data}, headers=headers))


class EmptyPort:
    """A port's systems that know their port and nothing else (for registry and tracing tests)."""

    def __init__(self, port_id: str) -> None:
        self.port_id = port_id

    async def port(self) -> PortRecord:
        return {"UNLocationCode": self.port_id, "name": PORT_NAMES[self.port_id], "terminals": []}

    async def containers(self, references: Sequence[str]) -> list[Any]:
        return []

    async def vessel_calls(self, filter: VesselCallFilter) -> list[Any]:
        return []

    async def vessel(self, imo: str) -> None:
        return None

    async def metrics(self, period: str, metrics: Sequence[str] | None) -> list[Any]:
        return []


REDIS_URL = "redis://127.0.0.1:6379/0"  # the real Redis server on this machine


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    """A Redis key namespace of this test's own, emptied afterwards."""
    name = f"pgtest-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def besides_withheld_metrics(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A response's errors, but the one that counts metric values withheld under the sample
    floor (the simulated ports' small samples: no configuration lowers that floor)."""
    return [
        error
        for error in body.get("errors", [])
        if not (
            error["extensions"].get("coordinate") == "PortMetric.value"
            and "withheld" in error["extensions"]
        )
    ]
