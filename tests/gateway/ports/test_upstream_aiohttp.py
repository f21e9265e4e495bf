"""The upstream against real loopback servers, over each client the served gateway has had
(aiohttp's, and the gateway's own connections, gateway/ports/port_client.py): an answer, each
failure as its error, and the egress rules applied when connecting (names resolved by a scripted
resolver, never DNS)."""

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.errors import (
    PortEgressRefused,
    PortError,
    PortFailure,
    PortTimeout,
    PortUnavailable,
)
from gateway.ports.egress import EgressRules
from gateway.ports.port_client import PortConnections
from gateway.ports.port_http import GraphQLOverPortHttp, PortHttp
from gateway.ports.upstream import PortRequest
from gateway.ports.upstream_aiohttp import PortSessions
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.fake_dns import ScriptedResolver

seen: list[tuple[dict[str, object], dict[str, str]]] = []


async def graphql(request: Request) -> Response:
    body = orjson.loads(await request.body())
    seen.append((body, dict(request.headers)))
    return Response(
        orjson.dumps({"data": {"echo": body.get("variables")}}),
        media_type="application/json",
        headers={"cache-control": "max-age=30"},
    )


async def unavailable(_: Request) -> Response:
    return Response(b"down", status_code=503)


async def garbage(_: Request) -> Response:
    return Response(b"<html>", status_code=200)


async def slow(_: Request) -> Response:
    await asyncio.sleep(1)
    return Response(b"{}")


async def redirect(_: Request) -> Response:
    return Response(b"", status_code=307, headers={"location": "/graphql"})


APP = Starlette(
    routes=[
        Route("/graphql", graphql, methods=["POST"]),
        Route("/unavailable", unavailable, methods=["POST"]),
        Route("/garbage", garbage, methods=["POST"]),
        Route("/slow", slow, methods=["POST"]),
        Route("/redirect", redirect, methods=["POST"]),
    ]
)
LOOPBACK = EgressRules(schemes=["http"], hosts=["127.0.0.1"])


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    async with serve_on_loopback(APP) as url:
        yield url


Pools = Callable[..., Any]


@pytest.fixture(params=["aiohttp", "own connections"])
async def make_pool(request: pytest.FixtureRequest) -> AsyncIterator[Pools]:
    """Port clients of one kind (closed at the end), made with ``per_port`` and the rules."""
    kind = PortSessions if request.param == "aiohttp" else PortConnections
    made: list[Any] = []

    def make(*args: Any, **kwargs: Any) -> Any:
        made.append(kind(*args, **kwargs))
        return made[-1]

    yield make
    for pool in made:
        await pool.aclose()


@pytest.fixture
async def sessions(make_pool: Pools) -> PortHttp:
    pool: PortHttp = make_pool(per_port=4, rules=LOOPBACK)
    return pool


REQUEST = PortRequest(
    "query Q($a0: String!) { echo(reference: $a0) }",
    {"a0": "CSQU3054383"},
    "Q",
    {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
)


async def test_an_answer_carries_data_errors_and_cache_control(
    base_url: str, sessions: PortHttp
) -> None:
    upstream = GraphQLOverPortHttp("USLAX", f"{base_url}/graphql", sessions, SecretStr("s3cret"))
    answer = await upstream.execute(REQUEST, timeout=2)
    assert answer.data == {"echo": {"a0": "CSQU3054383"}}
    assert answer.errors == []
    assert answer.cache_control == "max-age=30"
    body, headers = seen[-1]
    assert body == {"query": REQUEST.document, "variables": {"a0": "CSQU3054383"},
                    "operationName": "Q"}  # fmt: skip
    assert headers["traceparent"] == REQUEST.headers["traceparent"]
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("path", "failure", "code"),
    [
        ("/unavailable", PortUnavailable, "PORT_UNAVAILABLE"),
        ("/garbage", PortError, "PORT_ERROR"),
        ("/slow", PortTimeout, "PORT_TIMEOUT"),
    ],
)
async def test_failures_are_port_failures_naming_the_port(
    base_url: str, sessions: PortHttp, path: str, failure: type[PortFailure], code: str
) -> None:
    upstream = GraphQLOverPortHttp("USOAK", f"{base_url}{path}", sessions)
    with pytest.raises(failure) as raised:
        # Only /slow may time out (it answers after 1 s); the others answer at once, and a
        # loaded machine must not turn their answer into a timeout.
        await upstream.execute(REQUEST, timeout=0.2 if path == "/slow" else 10)
    assert raised.value.port == "USOAK"
    assert raised.value.code == code


async def test_a_refused_connection_is_unavailable_not_a_timeout(sessions: PortHttp) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    upstream = GraphQLOverPortHttp("USOAK", f"http://127.0.0.1:{port}/graphql", sessions)
    with pytest.raises(PortUnavailable) as raised:
        await upstream.execute(REQUEST, timeout=2)
    assert raised.value.transient


async def test_a_redirect_is_never_followed(base_url: str, sessions: PortHttp) -> None:
    before = len(seen)
    upstream = GraphQLOverPortHttp("USLAX", f"{base_url}/redirect", sessions)
    with pytest.raises(PortError):
        await upstream.execute(REQUEST, timeout=2)
    assert len(seen) == before  # /graphql, where it pointed, was never asked


async def test_a_refused_ip_literal_is_never_connected_to(base_url: str, make_pool: Pools) -> None:
    before = len(seen)
    pool = make_pool(per_port=4, rules=EgressRules(schemes=["http"]))  # no loopback
    upstream = GraphQLOverPortHttp("USLAX", f"{base_url}/graphql", pool)
    with pytest.raises(PortEgressRefused) as raised:
        await upstream.execute(REQUEST, timeout=2)
    assert len(seen) == before
    assert raised.value.code == "PORT_UNAVAILABLE"  # what a client sees: nothing more
    assert "loopback" in raised.value.reason


async def test_a_name_resolving_to_a_refused_address_is_refused_when_connecting(
    base_url: str, make_pool: Pools
) -> None:
    port = base_url.rsplit(":", 1)[1]
    resolver = ScriptedResolver({"rebound.example": [["127.0.0.1"]]})
    pool = make_pool(per_port=4, rules=EgressRules(schemes=["http"]), resolver=resolver)
    before = len(seen)
    upstream = GraphQLOverPortHttp("USLAX", f"http://rebound.example:{port}/graphql", pool)
    with pytest.raises(PortEgressRefused):
        await upstream.execute(REQUEST, timeout=2)
    assert resolver.lookups == ["rebound.example"]
    assert len(seen) == before


async def test_a_listed_name_is_trusted_whatever_it_resolves_to(
    base_url: str, make_pool: Pools
) -> None:
    port = base_url.rsplit(":", 1)[1]
    resolver = ScriptedResolver({"resolver.ports.internal": [["127.0.0.1"]]})
    rules = EgressRules(schemes=["http"], hosts=["*.ports.internal"])
    pool = make_pool(per_port=4, rules=rules, resolver=resolver)
    url = f"http://resolver.ports.internal:{port}/graphql"
    answer = await GraphQLOverPortHttp("USLAX", url, pool).execute(REQUEST, timeout=2)
    assert answer.data == {"echo": {"a0": "CSQU3054383"}}
