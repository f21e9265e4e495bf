"""Fuzzing the gateway over HTTP: whatever a client sends, no 5xx, and every answer is a
well-formed GraphQL response.

Queries come from hypothesis-graphql, generated from the shared schema: valid ones, ones with
one schema violation each, and request bodies that are not GraphQL requests at all. They go
through the whole app (``httpx.ASGITransport``) to the five simulated ports, each a resolver kit
over its simulated system, all in process. Bounded and deterministic (``derandomize``, no
example database): the same examples run every time, in ten to twenty seconds.
"""

import asyncio
import gc
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import httpx
import pytest
from graphql import build_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, nodes, queries

from gateway.app import create_app
from gateway.config import load_settings
from port_resolvers.kit import create_resolver_app
from port_resolvers.sim.data import generate_all_ports
from port_resolvers.sim.reference import PORT_IDS
from port_resolvers.sim.systems import create_port_system
from port_resolvers.sim.transport import TimedASGITransport
from port_resolvers.sim.wiring import source_for
from portcontract import schema_sdl
from tests.gateway.conftest import OPEN_POLICY, PORT_NAMES, TEST_EGRESS, PortRouter, port_url

pytestmark = pytest.mark.fuzz

T = TypeVar("T")
Run = Callable[[Awaitable[T]], T]
NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
SEED = 2026
SCHEMA = build_schema(schema_sdl())
FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
TOP_LEVEL_KEYS = {"data", "errors", "extensions"}
PORT_HOSTS = re.compile(r"\b(?:us[a-z]{3}\.(?:test|sim))\b", re.IGNORECASE)
# Valid values of the custom scalars: ISO 8601 with an offset (whole minutes, as the standard
# writes them), and ISO dates. Anything else is a schema violation, tried on its own below.
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
moments = st.datetimes(timezones=offsets).map(lambda d: d.isoformat())
SCALARS = {
    "DateTime": moments.map(nodes.String),
    "Date": st.dates().map(lambda d: d.isoformat()).map(nodes.String),
}
LIMIT_CODES = {
    "QUERY_TOO_DEEP",
    "QUERY_TOO_MANY_ALIASES",
    "QUERY_TOO_MANY_ROOT_FIELDS",
    "QUERY_TOO_MANY_TOKENS",
    "QUERY_TOO_COMPLEX",
}


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[Run[Any], httpx.AsyncClient]]:
    """The gateway in front of the five simulated ports, on a loop of its own (hypothesis
    drives sync tests; each request runs to completion on this loop)."""
    # Strawberry logs every refused document at ERROR with its traceback: thousands of them
    # here, on purpose. Their records would keep the tracebacks' frames alive to the end.
    strawberry_log = logging.getLogger("strawberry.execution")
    strawberry_log.disabled = True
    loop = asyncio.new_event_loop()
    data = generate_all_ports(seed=SEED, now=NOW)
    clients: list[httpx.AsyncClient] = []
    resolvers: dict[str, httpx.AsyncBaseTransport] = {}
    for port in PORT_IDS:
        system = create_port_system(port, data=data[port], seed=SEED)
        base = f"http://{port.lower()}.sim"
        system_client = httpx.AsyncClient(
            transport=TimedASGITransport(app=system.app), base_url=base, timeout=5
        )
        clients.append(system_client)
        resolvers[port] = httpx.ASGITransport(
            app=create_resolver_app(source_for(port, base, system_client), port)
        )
    config = load_settings(
        None,
        ports=[{"id": p, "name": PORT_NAMES[p], "url": port_url(p)} for p in PORT_IDS],
        policy={"file": OPEN_POLICY},
        rate_limit={"enabled": False},  # one client, on purpose a flood
        registry={"egress": TEST_EGRESS},
    )
    upstream = httpx.AsyncClient(transport=PortRouter(resolvers))
    app = create_app(config, client=upstream)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")
    clients += [upstream, client]
    yield loop.run_until_complete, client
    for each in clients:
        loop.run_until_complete(each.aclose())
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    gc.collect()  # whatever is left goes now, not at exit
    strawberry_log.disabled = False


def check_response(response: httpx.Response) -> dict[str, Any]:
    """No 5xx; a JSON object with data and/or errors and nothing else; every error has a
    message and a code; no port's host name anywhere."""
    assert response.status_code < 500, response.text
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    assert set(body) <= TOP_LEVEL_KEYS, body
    assert "data" in body or "errors" in body, body
    assert body.get("data") is None or isinstance(body["data"], dict), body
    if "errors" in body:
        assert isinstance(body["errors"], list), body
        assert body["errors"], body
        for error in body["errors"]:
            assert isinstance(error, dict), body
            assert isinstance(error.get("message"), str), body
            assert error["message"], body
            code = (error.get("extensions") or {}).get("code")
            assert isinstance(code, str), error
            assert code, error
    if response.status_code == 200 and "errors" not in body:
        assert isinstance(body.get("data"), dict), body
    assert not PORT_HOSTS.search(response.text), response.text
    return body


def post(run: Run[httpx.Response], client: httpx.AsyncClient, **kwargs: Any) -> httpx.Response:
    return run(client.post("/graphql", **kwargs))


@settings(FUZZ, max_examples=300)
@given(query=queries(SCHEMA, custom_scalars=SCALARS))
def test_valid_queries(gateway: tuple[Run[Any], httpx.AsyncClient], query: str) -> None:
    run, client = gateway
    response = post(run, client, json={"query": query})
    body = check_response(response)
    if response.status_code == 400:  # a valid query may still be over a limit, nothing else
        codes = {e["extensions"]["code"] for e in body["errors"]}
        assert codes <= LIMIT_CODES, body
    else:
        assert response.status_code == 200, body
        assert isinstance(body["data"], dict), body


not_moments = st.text(max_size=30).filter(lambda text: not _is_moment(text))


def _is_moment(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


@FUZZ
@given(value=not_moments)
def test_a_datetime_literal_that_is_not_one_fails_validation(
    gateway: tuple[Run[Any], httpx.AsyncClient], value: str
) -> None:
    run, client = gateway
    query = f"{{ vesselCalls(from: {json.dumps(value)}) {{ totalCount }} }}"
    response = post(run, client, json={"query": query})
    body = check_response(response)
    assert response.status_code == 400, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]


@FUZZ
@given(query=queries(SCHEMA, custom_scalars=SCALARS, mode=Mode.NEGATIVE))
def test_queries_that_break_the_schema(
    gateway: tuple[Run[Any], httpx.AsyncClient], query: str
) -> None:
    run, client = gateway
    response = post(run, client, json={"query": query})
    body = check_response(response)
    assert response.status_code in (200, 400), body


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)  # fmt: skip
request_bodies = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(st.text(max_size=60), json_values, queries(SCHEMA, fields=["ports"])),
        "variables": json_values,
        "operationName": json_values,
        "extensions": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"persistedQuery": st.fixed_dictionaries(
                    {"version": st.sampled_from([1, 2, "1"]),
                     "sha256Hash": st.one_of(st.text(max_size=64), st.just("a" * 64))})}
            ),
        ),
    },
)  # fmt: skip


@settings(FUZZ, max_examples=250)
@given(
    body=st.one_of(
        request_bodies.map(json.dumps), st.text(max_size=80), json_values.map(json.dumps)
    )
)
def test_arbitrary_request_bodies(gateway: tuple[Run[Any], httpx.AsyncClient], body: str) -> None:
    run, client = gateway
    response = post(
        run, client, content=body.encode(), headers={"content-type": "application/json"}
    )
    check_response(response)


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["query", "variables", "operationName",
                                                "extensions"]), st.text(max_size=40)))  # fmt: skip
def test_arbitrary_get_requests(
    gateway: tuple[Run[Any], httpx.AsyncClient], params: dict[str, str]
) -> None:
    run, client = gateway
    response = run(
        client.get(
            "/graphql",
            params=params,
            headers={"x-portgate-csrf": "1", "accept": "application/json"},
        )
    )
    check_response(response)
