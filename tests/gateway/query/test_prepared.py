"""Prepared operations (gateway/query/prepared.py): a plan reused with another request's values asks
the ports exactly what planning afresh would, and answers the client the same.

Two gateways over the same recording ports, one preparing plans and one planning every request
afresh, are sent the same corpus (each request twice, so the second finds its plan); what each
port was asked (document and variables) and what each client got must be the same."""

from typing import Any

import httpx
import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from graphql.execution.values import VariableValues

from gateway.planning.plan import Plan, Planner
from gateway.query.prepared import PreparedPlans, structural_variables
from tests.gateway.conftest import Gateway, GatewayFactory, graphql_body

PORTS = ("USLAX", "USLGB", "USOAK")
BOX = "CSQU3054383"
OTHER_BOX = "MSCU6639870"


def recording_port(port: str, asked: list[Any]) -> httpx.MockTransport:
    """A port that notes what it is asked and answers with nothing (every field null)."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = graphql_body(request)
        asked.append((port, body["query"], body.get("variables") or {}))
        return httpx.Response(200, json={"data": None})

    return httpx.MockTransport(answer)


BOX_QUERY = """query Box($ref: String!, $ports: [String!], $withEvents: Boolean = false) {
  container(reference: $ref, ports: $ports) {
    equipmentReference status
    events @include(if: $withEvents) { eventID eventDateTime }
  }
}"""
CALLS_QUERY = """query Calls($first: Int!, $after: String, $imo: String, $skipName: Boolean!) {
  vesselCalls(first: $first, after: $after, vesselIMONumber: $imo) {
    edges { node { ...Call } }
  }
}
fragment Call on VesselCall { vessel { vesselName @skip(if: $skipName) vesselIMONumber } }"""
MANY_QUERY = """query Many($refs: [String!], $bl: String) {
  containers(references: $refs, transportDocumentReference: $bl) { equipmentReference }
  ports { UNLocationCode }
}"""

CORPUS: list[tuple[str, dict[str, Any]]] = [
    (BOX_QUERY, {"ref": BOX}),
    (BOX_QUERY, {"ref": OTHER_BOX}),  # another value: the plan is reused
    (BOX_QUERY, {"ref": BOX, "withEvents": True}),  # a directive's variable: another plan
    (BOX_QUERY, {"ref": OTHER_BOX, "ports": ["USLAX"]}),  # the ports argument: another plan
    (BOX_QUERY, {"ref": BOX, "ports": ["uslgb", "USOAK"]}),
    (BOX_QUERY, {"ref": "NOT-A-BOX"}),  # refused on the reused path: planned afresh, same error
    (BOX_QUERY, {"ref": BOX, "ports": ["USXXX"]}),  # an unknown port
    (CALLS_QUERY, {"first": 5, "skipName": False}),
    (CALLS_QUERY, {"first": 7, "skipName": True, "imo": "9321483"}),
    (CALLS_QUERY, {"first": 7, "skipName": True, "imo": None}),  # a null: another document
    (CALLS_QUERY, {"first": -1, "skipName": False}),
    (MANY_QUERY, {"refs": [BOX, OTHER_BOX]}),
    (MANY_QUERY, {"bl": "MAEU123456789"}),  # the other argument: another port document
    (MANY_QUERY, {"refs": [BOX], "bl": "MAEU123456789"}),  # both: refused
]


async def gateway_pair(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> tuple[tuple[Gateway, list[Any]], tuple[Gateway, list[Any]]]:
    prepared_asked: list[Any] = []
    afresh_asked: list[Any] = []
    no_cache = {"enabled": False}  # every request asks the ports
    prepared = await make_gateway(
        {p: recording_port(p, prepared_asked) for p in PORTS}, cache=no_cache
    )
    afresh = await make_gateway({p: recording_port(p, afresh_asked) for p in PORTS}, cache=no_cache)

    def plan_afresh(planner: Planner, operation: Any, fragments: Any, variables: Any,
                    access: Any) -> Any:  # fmt: skip
        return planner.plan(operation, fragments, variables, access)

    monkeypatch.setattr(pipeline_of(afresh).prepared, "plan", plan_afresh)
    return (prepared, prepared_asked), (afresh, afresh_asked)


def without_latency(body: dict[str, Any]) -> dict[str, Any]:
    """The answer less what no two requests share: how long each port took."""
    for source in (body.get("extensions") or {}).get("sources", []):
        source.pop("latencyMs", None)
    return body


def pipeline_of(gateway: Gateway) -> Any:
    """The gateway's query pipeline (the GraphQL route's view's schema runs it)."""
    [route] = [r for r in gateway.app.routes if getattr(r, "path", None) == "/graphql"]
    return route.endpoint.schema._pipeline


async def test_a_prepared_plan_asks_the_ports_what_planning_afresh_would(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (prepared, prepared_asked), (afresh, afresh_asked) = await gateway_pair(
        make_gateway, monkeypatch
    )
    for query, variables in CORPUS:
        for _ in range(2):
            answers = [await g.query(query, variables) for g in (prepared, afresh)]
            assert answers[0].status_code == answers[1].status_code, variables
            assert without_latency(answers[0].json()) == without_latency(answers[1].json())
            assert sorted(map(repr, prepared_asked)) == sorted(map(repr, afresh_asked))
            prepared_asked.clear()
            afresh_asked.clear()
    store = pipeline_of(prepared).prepared
    assert store.hits >= len(CORPUS) - 4  # every second request but the refused ones
    assert pipeline_of(afresh).prepared.hits == 0


async def test_each_value_reaches_its_port_and_the_plan_is_made_once(
    make_gateway: GatewayFactory,
) -> None:
    asked: list[Any] = []
    gateway = await make_gateway(
        {p: recording_port(p, asked) for p in PORTS}, cache={"enabled": False}
    )
    for ref in (BOX, OTHER_BOX, BOX):
        await gateway.query(BOX_QUERY, {"ref": ref})
    references = [variables for _, _, variables in asked]
    assert references == [{"a0": ref} for ref in (BOX, OTHER_BOX, BOX) for _ in PORTS]
    assert len({document for _, document, _ in asked}) == 1
    assert pipeline_of(gateway).prepared.hits == 2


async def test_prepared_plans_are_a_bounded_store_in_the_metrics(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway({p: recording_port(p, []) for p in PORTS})
    store = pipeline_of(gateway).prepared
    store.max_bytes = 40_000
    for i in range(60):  # distinct operations, each a plan of a few kilobytes
        await gateway.query(f"query Q{i} {{ ports {{ UNLocationCode name }} }}")
    assert 0 < store.bytes <= store.max_bytes
    assert store.evictions > 0
    text = (await gateway.client.get("/metrics")).text
    assert 'portgate_store_max_bytes{store="prepared_plans"} 40000.0' in text


def test_structural_variables_are_those_of_directives_and_ports_arguments() -> None:
    document = parse(
        CALLS_QUERY.replace("vesselCalls(", "vesselCalls(ports: $where, ").replace(
            "query Calls(", "query Calls($where: [String!], "
        )
    )
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}  # fmt: skip
    assert structural_variables(operation, fragments) == ("skipName", "where")


def test_a_policy_reload_or_another_role_never_reuses_another_access_s_plan() -> None:
    """Plans are kept by the Access object itself: a reloaded policy makes new ones."""
    calls: list[Any] = []

    class CountingPlanner:
        def plan(self, *args: Any) -> Plan:
            calls.append(args)
            return Plan()

        def refill(self, plan: Plan, variables: Any) -> Plan:
            return plan

    [operation] = parse("{ ports { name } }").definitions
    assert isinstance(operation, OperationDefinitionNode)
    store = PreparedPlans()
    first, second = object(), object()
    planner: Any = CountingPlanner()
    for access in (first, first, second, second, first):
        store.plan(planner, operation, {}, VariableValues({}, {}), access)  # type: ignore[arg-type]
    assert len(calls) == 2  # one plan for each access
    assert store.hits == 3
