"""The whole path over real HTTP on loopback: client -> gateway -> five port resolvers -> the
five simulated port systems (two DCSA Track & Trace 2.2, three native JSON)."""

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, build_schema

from gateway.app import create_app
from gateway.config import load_settings
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import RunningPort, run_simulated_ports
from port_resolvers.sim.data import containers_only_at, generate_all_ports
from portcontract import schema_sdl
from tests.gateway.conftest import OPEN_POLICY, besides_withheld_metrics, with_test_egress

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
SEED = 2026
# A guard far past every deadline in these tests: reaching it means the gateway hung.
HANG_GUARD_SECONDS = 20


@pytest.fixture
async def ports() -> AsyncIterator[list[RunningPort]]:
    async with run_simulated_ports(seed=SEED, now=NOW) as running:
        yield running


async def serve_gateway(ports: list[RunningPort], **settings: Any) -> Any:
    settings.setdefault("policy", {"file": OPEN_POLICY})
    config = load_settings(
        None,
        ports=[{"id": p.id, "name": p.name, "url": p.resolver_url, "timeout": "5s"} for p in ports]
        + settings.pop("extra_ports", []),
        **with_test_egress(settings),
    )
    return serve_on_loopback(create_app(config))


async def ask(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    async with (
        asyncio.timeout(HANG_GUARD_SECONDS),
        httpx.AsyncClient(base_url=url, timeout=HANG_GUARD_SECONDS) as client,
    ):
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


OVERVIEW = """
query Overview($refs: [String!]!, $after: String) {
  containers(references: $refs) {
    equipmentReference sourcePort isISO6346Valid status
    location { UNLocationCode facilitySMDGCode yardBlock }
    events { equipmentEventTypeCode eventClassifierCode eventDateTime }
  }
  vesselCalls(first: 40, after: $after) {
    edges { cursor node { UNLocationCode transportCallReference plannedArrivalDateTime } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
  portMetrics(period: LAST_7_DAYS) { UNLocationCode facilitySMDGCode metric value sampleSize }
}
"""


async def test_one_query_finds_containers_lists_calls_in_order_and_gets_metrics(
    ports: list[RunningPort],
) -> None:
    data = generate_all_ports(seed=SEED, now=NOW)
    oak_only = containers_only_at(data, "USOAK")[0].reference
    lax_only = containers_only_at(data, "USLAX")[0].reference
    expected_calls = sum(len(d.vessel_calls) for d in data.values())

    async with await serve_gateway(ports) as url:
        calls: list[dict[str, Any]] = []
        after = None
        while True:
            body = await ask(url, OVERVIEW, {"refs": [oak_only, lax_only], "after": after})
            assert besides_withheld_metrics(body) == []
            page = body["data"]["vesselCalls"]
            assert page["totalCount"] == expected_calls
            calls += [edge["node"] for edge in page["edges"]]
            if after is None:
                first_body = body
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]

    found = {c["equipmentReference"]: c for c in first_body["data"]["containers"]}
    assert found[oak_only]["sourcePort"] == "USOAK"
    assert found[lax_only]["sourcePort"] == "USLAX"
    assert [c["equipmentReference"] for c in first_body["data"]["containers"]] == [
        oak_only,
        lax_only,
    ]
    assert all(c["events"] for c in found.values())

    assert len(calls) == expected_calls
    keys = [(c["UNLocationCode"], c["transportCallReference"]) for c in calls]
    assert len(set(keys)) == len(keys)  # no call twice across pages
    times = [datetime.fromisoformat(c["plannedArrivalDateTime"]) for c in calls]
    assert times == sorted(times)
    assert {c["UNLocationCode"] for c in calls} == {"USLAX", "USLGB", "USOAK", "USNTD", "USSAN"}

    metric_ports = {m["UNLocationCode"] for m in first_body["data"]["portMetrics"]}
    assert metric_ports == {"USLAX", "USLGB", "USOAK", "USNTD", "USSAN"}
    sources = {s["port"]: s["status"] for s in first_body["extensions"]["sources"]}
    assert sources == dict.fromkeys(metric_ports, "ok")


def a_port_nobody_listens_on() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/graphql"


async def test_a_dead_port_and_a_slow_port_do_not_sink_the_query(
    ports: list[RunningPort],
) -> None:
    data = generate_all_ports(seed=SEED, now=NOW)
    lax_only = containers_only_at(data, "USLAX")[0].reference
    by_id = {p.id: p for p in ports}
    by_id["USOAK"].system.knobs.latency_ms = 1000  # its resolver waits on its own system
    live = [p for p in ports if p.id not in ("USLGB", "USOAK")]
    extra = [
        {"id": "USLGB", "name": "Port of Long Beach", "url": a_port_nobody_listens_on()},
        {"id": "USOAK", "name": "Port of Oakland", "url": by_id["USOAK"].resolver_url,
         "timeout": "200ms"},
    ]  # fmt: skip

    async with await serve_gateway(live, extra_ports=extra, deadline="5s") as url:
        body = await ask(url, OVERVIEW, {"refs": [lax_only]})

    assert [c["equipmentReference"] for c in body["data"]["containers"]] == [lax_only]
    call_ports = {e["node"]["UNLocationCode"] for e in body["data"]["vesselCalls"]["edges"]}
    metric_ports = {m["UNLocationCode"] for m in body["data"]["portMetrics"]}
    assert metric_ports == {"USLAX", "USNTD", "USSAN"}
    assert call_ports <= metric_ports
    port_errors = besides_withheld_metrics(body)
    errors = {e["extensions"]["port"]: e["extensions"]["code"] for e in port_errors}
    assert errors == {"USLGB": "PORT_UNAVAILABLE", "USOAK": "PORT_TIMEOUT"}
    assert len(port_errors) == 2
    sources = {s["port"]: s for s in body["extensions"]["sources"]}
    assert {p: s["status"] for p, s in sources.items()} == {
        "USLAX": "ok", "USNTD": "ok", "USSAN": "ok", "USLGB": "error", "USOAK": "timeout",
    }  # fmt: skip
    assert all(isinstance(s["latencyMs"], float) for s in sources.values())


def full_selection(type_: GraphQLObjectType, depth: int = 4) -> str:
    """Every field of a type, nested objects included, down to ``depth`` levels."""
    parts = []
    for name, field in type_.fields.items():
        inner = field.type
        while isinstance(inner, GraphQLNonNull | GraphQLList):
            inner = inner.of_type
        if isinstance(inner, GraphQLObjectType):
            if depth > 1:
                parts.append(f"{name} {{ {full_selection(inner, depth - 1)} }}")
        else:
            parts.append(name)
    return " ".join(parts)


LABOR_MARKERS = (
    "craneOperator", "crane_operator", "gangID", "gang_id", "shift", "clerk", "driver",
    "LicensePlate", "license_plate", "twic", "movesPerHour", "moves_per_hour", '"OP0',
)  # fmt: skip


async def test_labor_keys_in_raw_port_payloads_never_reach_a_client(
    ports: list[RunningPort],
) -> None:
    schema = build_schema(schema_sdl())

    def selection(type_name: str) -> str:
        type_ = schema.get_type(type_name)
        assert isinstance(type_, GraphQLObjectType)
        return full_selection(type_)

    data = generate_all_ports(seed=SEED, now=NOW)
    references = [containers_only_at(data, p)[0].reference for p in data]
    imo = data["USLAX"].vessel_calls[0].vessel.imo
    query = (
        "query All($refs: [String!]!, $imo: String!) { "
        f"ports {{ {selection('Port')} }} "
        f"containers(references: $refs) {{ {selection('Container')} }} "
        f"vesselCalls(first: 100) {{ {selection('VesselCallConnection')} }} "
        f"vessel(imo: $imo) {{ {selection('Vessel')} }} "
        f"portMetrics {{ {selection('PortMetric')} }} }}"
    )
    for port in ports:
        port.system.knobs.labor_keys = True

    async with httpx.AsyncClient() as client:  # the raw payloads do carry labor keys
        raw = [await client.get(f"{p.system_url}/v2/events?eventType=EQUIPMENT") for p in ports
               if p.kind == "DCSA"]  # fmt: skip
        assert all("craneOperatorID" in r.text for r in raw)

    async with await serve_gateway(ports) as url:
        body = await ask(url, query, {"refs": references, "imo": imo})
    assert besides_withheld_metrics(body) == []
    assert len(body["data"]["containers"]) == 5
    text = str(body)
    assert [m for m in LABOR_MARKERS if m.lower() in text.lower()] == []
