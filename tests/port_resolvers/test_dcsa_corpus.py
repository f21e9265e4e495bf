"""The corpus of real-shaped DCSA feeds, each through the ready-made resolver over loopback HTTP.

Every case in ``dcsa_corpus/`` is a DCSA T&T source's recorded answers (served by
:class:`~tests.port_resolvers.dcsa_replay.ReplayedSource` on 127.0.0.1), a GraphQL question to
the ready-made DCSA resolver (``portgate resolver dcsa``'s app, on 127.0.0.1, reading that
source over HTTP), and the answer it must give: the data, the notices (what was left out, by
code and count) and any error. The cases come from the official T&T 2.2 spec's own examples,
from each way the issue says real feeds broke the old adapter, and from DCSA's published
material (see ``dcsa_corpus/README.md``).
"""

import ssl
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.app import create_app
from port_resolvers.dcsa_resolver import DcsaResolverSettings, dcsa_resolver_app, parse_duration
from port_resolvers.loopback import serve_on_loopback
from portcontract.errors import CONTRACT_CODES
from tests.gateway.conftest import settings_for_tests
from tests.port_resolvers.dcsa_replay import ReplayedSource

CORPUS = Path(__file__).parent / "dcsa_corpus"
OPEN_POLICY = Path(__file__).parents[1] / "gateway" / "policies" / "open.yaml"
CASES = sorted(CORPUS.glob("*.yaml"))
TLS = ssl.create_default_context()  # built once: the clients here only speak HTTP on loopback
DURATIONS = {"container_history", "calls_past", "calls_ahead", "schedule_horizon", "timeout"}
# Every variant the issue names, and the spec's examples: a case each (file stem).
REQUIRED = {
    "spec-equipment-event-at-frpar", "spec-equipment-event-at-the-port",
    "spec-transport-event-at-frpar", "spec-transport-event-at-the-port",
    "spec-shipment-event-in-an-equipment-answer", "spec-next-page-bare-cursor",
    "spec-imo-number-as-json-number",
    "stale-eta-newest-listed-first", "many-eta-revisions-across-pages",
    "requests-are-bounded-and-sorted", "dcsa-codes-avpu-cuss-cusi-cusr",
    "requested-time-req", "unknown-future-code", "insp-is-a-seal-inspection",
    "pick-and-drop-at-the-customer", "load-onto-rail", "rail-and-ramp-calls-are-not-vessel-calls",
    "anchorage-and-pilot-boarding", "event-without-event-id", "lowercase-timestamps",
    "latitude-not-a-number", "events-for-another-port", "next-page-cursor-header",
    "unencoded-plus-in-a-linked-cursor", "duplicates-across-pages", "transport-call-without-vessel",
    "paging-loop-is-bounded", "not-dcsa-at-all", "invalid-events-are-quarantined",
}  # fmt: skip


def _load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return case


def _settings(case: dict[str, Any], source_url: str) -> DcsaResolverSettings:
    options = dict(case.get("settings") or {})
    for name in DURATIONS & options.keys():
        options[name] = parse_duration(options[name])
    options.setdefault("port_id", "USLAX")
    return DcsaResolverSettings(source=source_url, **options)


def _left_out(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(e.get("path") or ()), e["extensions"]["code"], e["extensions"].get("count"))
        for e in body.get("errors") or ()
    )


def _expected_errors(expect: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(n["path"]), n["code"], n.get("count"))
        for n in [*(expect.get("notices") or ()), *(expect.get("errors") or ())]
    )


async def ask_through_the_ready_made_resolver(
    case: dict[str, Any],
) -> tuple[dict[str, Any], ReplayedSource]:
    replay = ReplayedSource(case["answers"], case.get("refuse") or [])
    now = datetime.fromisoformat(case["now"])
    async with (
        serve_on_loopback(replay.app()) as source_url,
        httpx.AsyncClient(timeout=5.0, verify=TLS) as to_source,
    ):
        app = dcsa_resolver_app(
            _settings(case, source_url), to_source, environment={}, clock=lambda: now
        )
        async with (
            serve_on_loopback(app) as resolver_url,
            httpx.AsyncClient(verify=TLS) as caller,
        ):
            response = await caller.post(
                f"{resolver_url}/graphql",
                json={"query": case["query"], "variables": case.get("variables")},
            )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body, replay


@pytest.mark.parametrize("path", CASES, ids=lambda path: path.stem)
async def test_case(path: Path):
    case = _load(path)
    body, replay = await ask_through_the_ready_made_resolver(case)
    expect = case["expect"]
    assert body.get("data") == expect["data"]
    assert _left_out(body) == _expected_errors(expect)
    first = replay.first_request()
    for name, value in (case.get("asked") or {}).items():
        if value is True:
            assert name in first, f"{name} not asked: {replay.requests[0]}"
        elif value is False:
            assert name not in first, f"{name} asked: {replay.requests[0]}"
        else:
            assert first.get(name) == str(value), replay.requests[0]
    if "requests" in case:
        assert len(replay.requests) == case["requests"], replay.requests


def test_the_corpus_has_a_case_for_every_spec_example_and_every_variant_of_the_issue():
    stems = {path.stem for path in CASES}
    assert stems >= REQUIRED, sorted(REQUIRED - stems)
    for path in CASES:
        case = _load(path)
        assert case.get("source"), f"{path.name} does not say where it comes from"
        assert case.get("shows"), f"{path.name} does not say what it shows"


async def test_through_the_gateway_a_quarantine_makes_the_port_partial_not_failed():
    """The gateway in front of the ready-made resolver: the events left out make the port's
    source entry ``partial`` with the contract code, the data still answers, and no word of the
    port's own message reaches the client."""
    case = _load(CORPUS / "events-for-another-port.yaml")
    replay = ReplayedSource(case["answers"], [])
    now = datetime.fromisoformat(case["now"])
    async with (
        serve_on_loopback(replay.app()) as source_url,
        httpx.AsyncClient(timeout=5.0, verify=TLS) as to_source,
    ):
        resolver = dcsa_resolver_app(
            _settings(case, source_url), to_source, environment={}, clock=lambda: now
        )
        async with serve_on_loopback(resolver) as resolver_url:
            config = settings_for_tests(
                None,
                ports=[{"id": "USLAX", "name": "Los Angeles", "url": f"{resolver_url}/graphql"}],
                policy={"file": OPEN_POLICY},
            )
            gateway = create_app(config, clock=lambda: now)
            async with (
                gateway.router.lifespan_context(gateway),  # closes its port connections
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=gateway), base_url="http://gw"
                ) as client,
            ):
                response = await client.post("/graphql", json={"query": case["query"]})
                asked = len(replay.requests)
                again = await client.post("/graphql", json={"query": case["query"]})
    body = response.json()
    assert body["data"] == case["expect"]["data"]
    [error] = body["errors"]
    assert error["extensions"] == {
        "code": "PORT_ERROR",
        "port": "USLAX",
        "portCode": "EVENTS_QUARANTINED",
        "count": 2,
    }
    assert error["path"] == ["container"]
    # The gateway's words, from the contract code; not the resolver's own message.
    assert error["message"] == "port USLAX: it " + CONTRACT_CODES["EVENTS_QUARANTINED"]
    [source] = body["extensions"]["sources"]
    assert (source["port"], source["status"], source["code"]) == ("USLAX", "partial", "PORT_ERROR")
    # An answer with only notices is an answer: cached, and served again with its notice.
    repeated = again.json()
    assert len(replay.requests) == asked
    assert repeated["data"] == body["data"]
    assert repeated["errors"] == body["errors"]
    [source] = repeated["extensions"]["sources"]
    assert source["status"] == "partial"
    assert source["cacheAgeSeconds"] >= 0
