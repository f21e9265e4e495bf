"""The gateway's own execution (gateway/execute.py) and its lean lane for POSTed operations
(gateway/http/graphql_view.py) answer every request as strawberry's view and execution with the
gateway's schema extensions did: a corpus of requests (valid, invalid, over a limit, denied,
failing ports, introspection, persisted queries, GET, odd bodies) goes to a gateway of each
kind, in front of the same ports, and status, data, errors, sources and the audit trail must be
the same."""

import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.gateway.conftest import Gateway
from tests.gateway.started import started_gateway

TERMINAL = {"facilitySMDGCode": "APMT", "name": "APM", "UNLocationCode": "USLAX"}
LAX = {"UNLocationCode": "USLAX", "name": "Port of Los Angeles", "_pg_port": "USLAX",
       "terminals": [TERMINAL]}  # fmt: skip


def port(request: httpx.Request) -> httpx.Response:
    """A port that answers what it is asked from a fixed story, with a notice now and then."""
    body = orjson.loads(request.content)
    query: str = body["query"]
    if "containers" in query or "container(" in query:
        return httpx.Response(
            200,
            json={
                "data": {key: None for key in ("container", "containers") if key in query},
                "errors": [{"message": "left 2 out", "path": ["containers"],
                            "extensions": {"code": "EVENTS_QUARANTINED", "count": 2}}],
            },
        )  # fmt: skip
    return httpx.Response(200, json={"data": {"ports": [LAX]}})


def failing(_: httpx.Request) -> httpx.Response:
    return httpx.Response(500, text="internal: db password hunter2")


def document_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


PORTS_QUERY = "{ ports { UNLocationCode name status terminals { facilitySMDGCode name } } }"
APQ_TEXT = "query Persisted { ports { name } }"
CORPUS: list[tuple[str, dict[str, Any]]] = [
    ("plain", {"json": {"query": PORTS_QUERY}}),
    ("named", {"json": {"query": "query P { ports { name } }", "operationName": "P"}}),
    ("empty name", {"json": {"query": "query P { ports { name } }", "operationName": ""}}),
    ("variables", {"json": {"query": "query V($p: [String!]) { ports(ports: $p) { name } }",
                            "variables": {"p": ["USLAX"]}}}),
    ("bad variable", {"json": {"query": "query V($p: [String!]) { ports(ports: $p) { name } }",
                               "variables": {"p": 12}}}),
    ("notice", {"json": {"query": '{ containers(references: ["CSQU3054383"]) '
                                  "{ equipmentReference } }"}}),
    ("does not parse", {"json": {"query": "{ ports { name "}}),
    ("too many tokens", {"json": {"query": "{ " + "ports { name } " * 900 + "}"}}),
    ("does not validate", {"json": {"query": "{ ports { nope } }"}}),
    ("too deep", {"json": {"query": "{ __schema { types { fields { type "
                                    + "{ ofType " * 8 + "{ name }" + " }" * 8 + " } } } }"}}),
    ("too many aliases", {"json": {"query": "{ " + " ".join(
        f"a{i}: ports {{ name }}" for i in range(40)) + " }"}}),
    ("several operations", {"json": {"query": "query A { ports { name } } "
                                              "query B { __typename }"}}),
    ("unknown operation", {"json": {"query": "query A { ports { name } }", "operationName": "Z"}}),
    ("no query", {"json": {"variables": {}}}),
    ("not an object", {"content": b"[1, 2]", "headers": {"content-type": "application/json"}}),
    ("not json", {"content": b"{", "headers": {"content-type": "application/json"}}),
    ("introspection", {"json": {"query": "{ __schema { queryType { name } } }"}}),
    ("typename", {"json": {"query": "{ __typename }"}}),
    ("mixed", {"json": {"query": '{ __type(name: "Port") { name } ports { name } }'}}),
    ("subscription", {"json": {"query": "subscription S { ports { name } }"}}),
    ("mutation", {"json": {"query": "mutation M { ports { name } }"}}),
    ("unknown port", {"json": {"query": '{ ports(ports: ["USZZZ"]) { name } }'}}),
    ("outlook", {"json": {"query": "{ outlook(days: 2) { ports { UNLocationCode } } }"}}),
    ("apq unknown", {"json": {"extensions": {"persistedQuery": {
        "version": 1, "sha256Hash": document_hash(APQ_TEXT)}}}}),
    ("apq register", {"json": {"query": APQ_TEXT, "extensions": {"persistedQuery": {
        "version": 1, "sha256Hash": document_hash(APQ_TEXT)}}}}),
    ("apq wrong hash", {"json": {"query": APQ_TEXT, "extensions": {"persistedQuery": {
        "version": 1, "sha256Hash": "0" * 64}}}}),
    ("get", {"method": "GET", "params": {"query": "{ ports { name } }"}}),
    ("get, past CSRF", {"method": "GET", "params": {"query": "{ ports { name } }"},
                        "headers": {"x-portgate-csrf": "1"}}),
    ("get mutation", {"method": "GET", "params": {"query": "mutation M { ports { name } }"},
                      "headers": {"x-portgate-csrf": "1"}}),
    ("no-cache", {"json": {"query": "{ ports { name } }"},
                  "headers": {"cache-control": "no-cache"}}),
    ("json null", {"content": b"null", "headers": {"content-type": "application/json"}}),
    ("query not a string", {"json": {"query": 7}}),
    ("variables not an object", {"json": {"query": "{ ports { name } }", "variables": [1]}}),
    ("extensions not an object", {"json": {"query": "{ ports { name } }", "extensions": 1}}),
    ("name not a string", {"json": {"query": "query P { ports { name } }", "operationName": 5}}),
    ("charset", {"content": orjson.dumps({"query": "{ ports { name } }"}),
                 "headers": {"content-type": "Application/JSON; charset=utf-8"}}),
    ("not json content", {"content": b"{ ports { name } }",
                          "headers": {"content-type": "application/graphql"}}),
    ("stream asked", {"json": {"query": "{ ports { name } }"},
                      "headers": {"accept": "text/event-stream"}}),
    ("multipart asked", {"json": {"query": "{ ports { name } }"},
                         "headers": {"accept": "multipart/mixed"}}),
    ("batch", {"json": [{"query": "{ ports { name } }"}]}),
    ("trailing slash", {"json": {"query": "{ ports { name } }"}, "path": "/graphql/"}),
]  # fmt: skip


def seen(response: httpx.Response) -> dict[str, Any]:
    """What a client sees of one answer, without what differs from run to run (latency,
    incident ids)."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict):
        for source in (body.get("extensions") or {}).get("sources") or []:
            source.pop("latencyMs", None)
            source.pop("cacheAgeSeconds", None)
        for error in body.get("errors") or []:
            (error.get("extensions") or {}).pop("incident", None)
    return {"status": response.status_code, "body": body,
            "content-type": response.headers.get("content-type")}  # fmt: skip


@pytest.fixture(params=["open", "default"])
async def gateways(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[dict[str, Gateway]]:
    """A gateway of each execution, in front of the same ports: USLAX answers, USOAK fails;
    each with an audit trail of its own."""
    monkeypatch.delenv("PORTGATE_AUDIT__STORE")  # tests/conftest.py's would override theirs
    settings: dict[str, Any] = {"rate_limit": {"enabled": False}, "cache": {"enabled": False}}
    if request.param == "default":
        settings["policy"] = {}  # the shipped policy: an anonymous caller is public
    async with contextlib.AsyncExitStack() as stack:
        kinds: dict[str, Gateway] = {}
        for kind, execution, lean in (("lean lane", "gateway", True),
                                      ("gateway", "gateway", False),
                                      ("extensions", "extensions", False)):  # fmt: skip
            kinds[kind] = await stack.enter_async_context(started_gateway(
                {"USLAX": httpx.MockTransport(port), "USOAK": httpx.MockTransport(failing)},
                execution=execution, lean=lean,
                audit={"store": f"sqlite:///{tmp_path / (kind + '.db')}"}, **settings,
            ))  # fmt: skip
        yield kinds


@pytest.mark.parametrize(("case", "request_args"), CORPUS, ids=[c for c, _ in CORPUS])
async def test_both_executions_answer_alike(
    gateways: dict[str, Gateway], case: str, request_args: dict[str, Any]
) -> None:
    answers = {}
    for kind, gateway in gateways.items():
        args = dict(request_args)
        method, path = args.pop("method", "POST"), args.pop("path", "/graphql")
        answers[kind] = seen(await gateway.client.request(method, path, **args))
    assert answers["lean lane"] == answers["gateway"] == answers["extensions"], case
    audits = [await audited(gateway) for gateway in gateways.values()]
    assert audits[0] == audits[1] == audits[2], case


async def audited(gateway: Gateway) -> list[dict[str, Any]]:
    """The audit records a gateway wrote, without times, trace ids and durations."""
    trail = gateway.app.state.observer.trail
    await trail.flush()
    records = [stored.record for stored in await trail.store.search()]
    return [record.model_dump(exclude={"time", "trace_id", "duration_ms", "ports"})
            | {"ports": [(use.port, use.status, use.cache) for use in record.ports]}
            for record in records]  # fmt: skip
