"""Every way through the gateway answers every request as recorded: a corpus of requests
(valid, invalid, over a limit, denied, failing ports, introspection, persisted queries, GET,
odd bodies and headers) goes to a gateway with the lean lane for POSTed operations
(gateway/edge/graphql_view.py) and to one where strawberry's view answers everything, in front
of the same ports; status, data, errors, sources and the audit records must be the same on
both, and the same as ``corpus/operations.json``.

That file was recorded from strawberry's own execution with the gateway's schema extensions,
the path the gateway's execution (gateway/query/execute.py) replaced, when both still ran side by
side and answered alike. A deliberate change of what clients or auditors get is recorded
again with ``PORTGATE_RECORD_CORPUS=1 .venv/bin/pytest
tests/gateway/query/test_execute_differential.py`` and shows in the file's diff."""

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Iterator
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


CORPUS_FILE = Path(__file__).parent / "corpus" / "operations.json"
RECORDING = os.environ.get("PORTGATE_RECORD_CORPUS") == "1"


@pytest.fixture(scope="module")
def recorded() -> Iterator[dict[str, Any]]:
    """What each case answered when recorded; in recording mode, filled and written out."""
    if not RECORDING:
        yield orjson.loads(CORPUS_FILE.read_bytes())
        return
    found: dict[str, Any] = {}
    yield found
    CORPUS_FILE.parent.mkdir(exist_ok=True)
    ordered = dict(sorted(found.items()))
    CORPUS_FILE.write_bytes(orjson.dumps(ordered, option=orjson.OPT_INDENT_2) + b"\n")


@pytest.fixture(params=["open", "default"])
async def gateways(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, dict[str, Gateway]]]:
    """The policy's name, and a gateway with and one without the lean lane, in front of the
    same ports: USLAX answers, USOAK fails; each with an audit trail of its own."""
    monkeypatch.delenv("PORTGATE_AUDIT__STORE")  # tests/conftest.py's would override theirs
    settings: dict[str, Any] = {"rate_limit": {"enabled": False}, "cache": {"enabled": False}}
    if request.param == "default":
        settings["policy"] = {}  # the shipped policy: an anonymous caller is public
    async with contextlib.AsyncExitStack() as stack:
        kinds: dict[str, Gateway] = {}
        for kind, lean in (("lean lane", True), ("view", False)):
            kinds[kind] = await stack.enter_async_context(started_gateway(
                {"USLAX": httpx.MockTransport(port), "USOAK": httpx.MockTransport(failing)},
                lean=lean, audit={"store": f"sqlite:///{tmp_path / (kind + '.db')}"}, **settings,
            ))  # fmt: skip
        yield request.param, kinds


@pytest.mark.parametrize(("case", "request_args"), CORPUS, ids=[c for c, _ in CORPUS])
async def test_every_path_answers_as_recorded(
    gateways: tuple[str, dict[str, Gateway]],
    recorded: dict[str, Any],
    case: str,
    request_args: dict[str, Any],
) -> None:
    policy, kinds = gateways
    answers, audits = {}, {}
    for kind, gateway in kinds.items():
        args = dict(request_args)
        method, path = args.pop("method", "POST"), args.pop("path", "/graphql")
        answers[kind] = seen(await gateway.client.request(method, path, **args))
        audits[kind] = await audited(gateway)
    assert answers["lean lane"] == answers["view"], case
    assert audits["lean lane"] == audits["view"], case
    observed = {"answer": answers["view"], "audit": audits["view"]}
    key = f"{policy}: {case}"
    if RECORDING:
        recorded[key] = observed
        return
    assert observed == recorded[key], case


async def audited(gateway: Gateway) -> list[dict[str, Any]]:
    """The audit records a gateway wrote, without times, trace ids and durations, as JSON (and
    without ``messages``, which only a subscription's record has)."""
    trail = gateway.app.state.observer.trail
    await trail.flush()
    records = [stored.record for stored in await trail.store.search()]
    listed = [record.model_dump(exclude={"time", "trace_id", "duration_ms", "ports", "messages"})
              | {"ports": [(use.port, use.status, use.cache) for use in record.ports]}
              for record in records]  # fmt: skip
    return list(orjson.loads(orjson.dumps(listed)))
