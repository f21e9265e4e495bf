"""The field policy through the HTTP API: what each role gets, and proof from the documents the
ports received that a denied field was never asked for.

Ports are the resolver kit over small in-memory sources (tests/gateway/query/test_merge.py); every
request a port gets is captured by the test router.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import FieldNode, GraphQLObjectType, TypeInfo, TypeInfoVisitor, Visitor, parse, visit

from gateway.access.apikeys import ApiKeyStore
from gateway.access.policy_file import default_policy_text
from gateway.schema import build_schema
from port_resolvers.kit import ContainerRecord
from tests.gateway.conftest import Gateway, GatewayFactory, answering, graphql_body
from tests.gateway.query.test_merge import T0, MemoryPort, call, transports
from tests.gateway.test_end_to_end import full_selection

SCHEMA = build_schema()._schema
REFERENCE = "CSQU3054383"

# What the shipped roles may not see of the query below, under the shipped policy
# (README, "Who sees what"). Everything else in the query must come back.
TERMINAL_SERVICES = {
    "Terminal.gateHours",
    "Terminal.usesAppointments",
    "Terminal.appointmentSlots",
    "Terminal.emptyReturns",
}
DENIED = {
    "public": {
        "Container.location",
        "Container.availability",
        "Container.events",
        "Container.railLeg",
        "Terminal.appointmentSlots",
    },
    "trucker": {"Container.events", "Container.railLeg"},
    "cargo_owner": set(),
    "port_operator": {"Container.availability"},
    "state_analyst": {"Query.container", "Query.vesselCalls", "Query.vessel", *TERMINAL_SERVICES},
    "auditor": set(),
    "port_admin": set(),
    "admin": set(),
}


def _type(name: str) -> GraphQLObjectType:
    type_ = SCHEMA.get_type(name)
    assert isinstance(type_, GraphQLObjectType)
    return type_


EVERYTHING = (
    "query Everything { "
    f'container(reference: "{REFERENCE}") {{ {full_selection(_type("Container"))} }} '
    f"vesselCalls(first: 5) {{ {full_selection(_type('VesselCallConnection'))} }} "
    f'vessel(imo: "9321483") {{ {full_selection(_type("Vessel"))} }} '
    f"portMetrics {{ {full_selection(_type('PortMetric'))} }} "
    f"ports {{ {full_selection(_type('Port'))} }} }}"
)


def boxed(port: str, seen_days_ago: int) -> ContainerRecord:
    moment = T0 - timedelta(days=seen_days_ago)
    return {
        "equipmentReference": REFERENCE,
        "location": {"UNLocationCode": port, "facilitySMDGCode": "T1", "yardBlock": "B7"},
        "availability": {"availableForPickup": True, "lastFreeDay": T0.date(),
                         "holds": [{"type": "CUSTOMS", "status": "RELEASED"}]},
        "events": [{"eventID": f"{port}-1", "eventDateTime": moment,
                    "eventClassifierCode": "ACT", "equipmentEventTypeCode": "DISC"}],
    }  # fmt: skip


def ports() -> dict[str, httpx.AsyncBaseTransport]:
    lax = MemoryPort("USLAX", [boxed("USLAX", 3)], [call("USLAX", "L1", T0)])
    oak = MemoryPort("USOAK", [boxed("USOAK", 1)], [call("USOAK", "O1", T0)])
    return transports(lax, oak)


def coordinates(document: str) -> set[tuple[tuple[str, ...], str]]:
    """(response path, schema coordinate) of every field a document asks for."""
    info = TypeInfo(SCHEMA)
    found: set[tuple[tuple[str, ...], str]] = set()
    path: list[str] = []

    class Collect(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            parent = info.get_parent_type()
            path.append(node.alias.value if node.alias else node.name.value)
            if parent is not None and not node.name.value.startswith("__"):
                found.add((tuple(path), f"{parent.name}.{node.name.value}"))

        def leave_field(self, *_: Any) -> None:
            path.pop()

    visit(parse(document), TypeInfoVisitor(info, Collect()))
    return found


def asked(gateway: Gateway) -> set[str]:
    """Every coordinate any port was asked for."""
    return {c for r in gateway.router.requests for _, c in coordinates(graphql_body(r)["query"])}


def null_at(data: Any, path: list[str]) -> bool:
    """Whether the field at ``path`` (response keys, lists crossed) is null everywhere."""
    if data is None:
        return True
    if isinstance(data, list):
        return all(null_at(item, path) for item in data)
    return not path or null_at(data.get(path[0]), path[1:])


async def keyed_gateway(
    make_gateway: GatewayFactory, tmp_path: Path, **settings: Any
) -> tuple[Gateway, ApiKeyStore]:
    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    settings.setdefault("policy", {})  # the shipped default policy
    gateway = await make_gateway(ports(), auth={"api_keys": {"database": store.path}}, **settings)
    return gateway, store


def key_for(store: ApiKeyStore, *roles: str, client: str = "c1", **kwargs: Any) -> dict[str, str]:
    key, _ = store.create(client_id=client, organisation=f"org of {client}", roles=roles, **kwargs)
    return {"X-API-Key": key}


@pytest.mark.parametrize("role", sorted(DENIED))
async def test_each_default_role_gets_exactly_what_the_policy_grants(
    make_gateway: GatewayFactory, tmp_path: Path, role: str
) -> None:
    gateway, store = await keyed_gateway(make_gateway, tmp_path)
    bound = {"ports": ["USLAX", "USOAK"]} if role == "port_admin" else {}  # it exists bound
    headers = {} if role == "public" else key_for(store, role, **bound)
    body = (await gateway.query(EVERYTHING, headers=headers)).json()
    denied = DENIED[role]

    errors = body.get("errors", [])
    forbidden = [e for e in errors if "withheld" not in e["extensions"]]
    assert {e["extensions"]["code"] for e in forbidden} <= {"FORBIDDEN_FIELD"}
    assert {e["extensions"]["coordinate"] for e in forbidden} == denied
    assert len(forbidden) == len(denied)  # one error per denied field
    for error in forbidden:
        assert null_at(body["data"], error["path"]), error
    # No metric value is withheld: every shipped role has the same floor (10 samples for
    # aggregates over containers, trucks or moves; the ports' dwell counts 40), and the 2
    # vessels at berth are a public count with no floor.
    assert [e for e in errors if e not in forbidden] == []

    selected = coordinates(EVERYTHING)
    denied_paths = [p for p, c in selected if c in denied]
    expected = {c for p, c in selected if not any(p[: len(q)] == q for q in denied_paths)}
    assert asked(gateway) == expected  # every granted field asked, no denied one
    assert asked(gateway).isdisjoint(denied)


async def test_denied_fields_never_reach_a_port_even_one_that_sends_them(
    make_gateway: GatewayFactory,
) -> None:
    rogue = {
        "container": {
            "equipmentReference": REFERENCE,
            "status": "IN_TERMINAL",
            "availability": {"lastFreeDay": "2026-11-25"},  # sent though not asked for
            "_pg_reference": REFERENCE,
        }
    }
    gateway = await make_gateway({"USLAX": answering(rogue)}, policy={})
    response = await gateway.query(
        f'{{ container(reference: "{REFERENCE}") {{ status availability {{ lastFreeDay }} }} }}'
    )
    [sent] = gateway.router.requests
    assert "availability" not in graphql_body(sent)["query"]
    body = response.json()
    assert body["data"] == {"container": {"status": "IN_TERMINAL", "availability": None}}
    assert body["errors"] == [
        {"message": "Container.availability is not available to your role",
         "path": ["container", "availability"],
         "extensions": {"code": "FORBIDDEN_FIELD", "coordinate": "Container.availability"}},
    ]  # fmt: skip
    assert "2026-11-25" not in response.text


async def test_two_clients_of_one_role_get_identical_answers(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    # Without the cache, so that both requests reach the ports and their documents can be compared.
    gateway, store = await keyed_gateway(make_gateway, tmp_path, cache={"enabled": False})
    bodies = []
    for client in ("acme-trucking", "zeta-drayage"):
        response = await gateway.query(EVERYTHING, headers=key_for(store, "trucker", client=client))
        body = response.json()
        for source in body["extensions"]["sources"]:
            source.pop("latencyMs")
        bodies.append(body)
    assert bodies[0] == bodies[1]
    documents = [graphql_body(r)["query"] for r in gateway.router.requests]
    assert documents[: len(documents) // 2] == documents[len(documents) // 2 :]


def policy_with(tmp_path: Path, ports_section: str, extra_roles: str = "") -> dict[str, Path]:
    text = default_policy_text().replace("ports: {}", ports_section)
    text = text.replace("roles:\n", "roles:\n" + extra_roles, 1)
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return {"file": path}


async def test_a_ports_sharing_rule_narrows_what_a_role_sees_of_that_port_only(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    rule = "ports:\n  USOAK:\n    share:\n      Container.availability: [cargo_owner]\n"
    gateway, store = await keyed_gateway(make_gateway, tmp_path, policy=policy_with(tmp_path, rule))
    query = (
        f'{{ containers(references: ["{REFERENCE}"]) {{ sourcePort '
        "availability { lastFreeDay } } }"
    )
    for port in ("USLAX", "USOAK"):
        gateway.router.requests.clear()
        body = (
            await gateway.query(
                query.replace("])", f'], ports: ["{port}"])'), headers=key_for(store, "trucker")
            )
        ).json()
        [sent] = gateway.router.requests
        if port == "USLAX":
            assert body["data"]["containers"][0]["availability"] == {"lastFreeDay": "2026-11-21"}
            assert "availability" in graphql_body(sent)["query"]
            assert "errors" not in body
        else:
            assert body["data"]["containers"][0]["availability"] is None
            assert "availability" not in graphql_body(sent)["query"]
            assert body["errors"] == [
                {"message": "Container.availability is not available to your role from USOAK",
                 "path": ["containers", "availability"],
                 "extensions": {"code": "FORBIDDEN_FIELD",
                                "coordinate": "Container.availability", "ports": ["USOAK"]}},
            ]  # fmt: skip
    gateway.router.requests.clear()
    owner = (await gateway.query(query, headers=key_for(store, "cargo_owner"))).json()
    assert "errors" not in owner  # the rule names cargo_owner: it sees USOAK's availability
    assert all("availability" in graphql_body(r)["query"] for r in gateway.router.requests)


async def test_a_withheld_merge_field_is_not_asked_and_the_merge_falls_back(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    # USOAK saw the box last, but does not share lastEventDateTime with truckers: the gateway
    # may not ask for it, even hidden, so USOAK's answer ranks below USLAX's.
    rule = "ports:\n  USOAK:\n    share:\n      Container.lastEventDateTime: [cargo_owner]\n"
    gateway, store = await keyed_gateway(make_gateway, tmp_path, policy=policy_with(tmp_path, rule))
    query = f'{{ container(reference: "{REFERENCE}") {{ sourcePort }} }}'
    trucker = (await gateway.query(query, headers=key_for(store, "trucker"))).json()
    by_port = {r.url.host: graphql_body(r)["query"] for r in gateway.router.requests}
    assert "lastEventDateTime" in by_port["uslax.test"]
    assert "lastEventDateTime" not in by_port["usoak.test"]
    assert trucker["data"]["container"]["sourcePort"] == "USLAX"
    owner = (await gateway.query(query, headers=key_for(store, "cargo_owner"))).json()
    assert owner["data"]["container"]["sourcePort"] == "USOAK"


async def test_a_role_limited_to_some_ports_and_a_key_bound_to_a_port(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    lax_analyst = (
        "  lax_analyst:\n    aggregates_only: true\n    ports: [USLAX]\n"
        "    allow: [Query.portMetrics, PortMetric.*]\n"
    )
    gateway, store = await keyed_gateway(
        make_gateway, tmp_path, policy=policy_with(tmp_path, "ports: {}", lax_analyst)
    )
    body = (
        await gateway.query(
            "{ portMetrics { UNLocationCode } }", headers=key_for(store, "lax_analyst")
        )
    ).json()
    assert {m["UNLocationCode"] for m in body["data"]["portMetrics"]} == {"USLAX"}
    assert [r.url.host for r in gateway.router.requests] == ["uslax.test"]

    gateway.router.requests.clear()
    bound = key_for(store, "trucker", ports=["USOAK"])
    body = (await gateway.query("{ ports { UNLocationCode } }", headers=bound)).json()
    assert body["data"]["ports"] == [{"UNLocationCode": "USOAK"}]
    assert [r.url.host for r in gateway.router.requests] == ["usoak.test"]

    gateway.router.requests.clear()
    named = (await gateway.query('{ ports(ports: ["USLAX"]) { name } }', headers=bound)).json()
    assert named["data"]["ports"] is None
    assert named["errors"][0]["extensions"] == {
        "code": "FORBIDDEN_FIELD", "coordinate": "Query.ports", "ports": ["USLAX"],
    }  # fmt: skip
    assert gateway.router.requests == []


async def test_metric_values_below_the_minimum_sample_size_are_withheld(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        default_policy_text()
        .replace(
            "  state_analyst:\n",
            "  state_analyst:\n    min_sample_size: {CONTAINER_DWELL_DAYS: 41}\n",
        )
        .replace("    min_sample_size: *small_samples\n\n  auditor:", "\n  auditor:")
    )
    gateway, store = await keyed_gateway(make_gateway, tmp_path, policy={"file": policy})
    query = '{ portMetrics(ports: ["USLAX"]) { metric value } }'
    body = (await gateway.query(query, headers=key_for(store, "state_analyst"))).json()
    [sent] = gateway.router.requests
    assert "sampleSize" in graphql_body(sent)["query"]  # hidden: the client did not select it
    values = {m["metric"]: m["value"] for m in body["data"]["portMetrics"]}
    assert values == {"VESSELS_AT_BERTH": 2.0, "CONTAINER_DWELL_DAYS": None}  # samples 2, 40
    assert body["errors"] == [
        {"message": "PortMetric.value withheld in 1 metric(s) whose sampleSize is below your "
                    "role's minimum",
         "path": ["portMetrics"],
         "extensions": {"code": "FORBIDDEN_FIELD", "coordinate": "PortMetric.value",
                        "withheld": 1}},
    ]  # fmt: skip
    admin = (await gateway.query(query, headers=key_for(store, "admin"))).json()
    assert "errors" not in admin
    assert {m["value"] for m in admin["data"]["portMetrics"]} == {2.0, 3.5}


async def test_reject_mode_refuses_the_whole_request_before_any_port_is_asked(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway, _ = await keyed_gateway(make_gateway, tmp_path, policy={"on_denied": "reject"})
    response = await gateway.query(
        f'{{ ports {{ name }} container(reference: "{REFERENCE}") {{ availability {{ holds '
        "{ type } } } }"
    )
    assert response.status_code == 403
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["coordinate"] for e in body["errors"]] == ["Container.availability"]
    assert gateway.router.requests == []
    allowed = await gateway.query("{ ports { name } }")
    assert allowed.status_code == 200


async def test_introspection_stays_allowed_for_everyone(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway, _ = await keyed_gateway(make_gateway, tmp_path)
    body = (await gateway.query('{ __type(name: "Container") { fields { name } } }')).json()
    assert "availability" in {f["name"] for f in body["data"]["__type"]["fields"]}


async def test_fragments_and_aliases_are_restricted_like_plain_fields(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway, _ = await keyed_gateway(make_gateway, tmp_path)
    query = (
        'query Q($avail: Boolean!) { box: container(reference: "CSQU3054383") { ...Box } }'
        " fragment Box on Container { state: status free: availability @include(if: $avail) "
        "{ lastFreeDay } }"
    )
    body = (await gateway.query(query, {"avail": True})).json()
    assert body["data"]["box"]["free"] is None
    assert body["errors"][0]["path"] == ["box", "free"]
    sent = [graphql_body(r)["query"] for r in gateway.router.requests]
    assert all("availability" not in q and "state: status" in q for q in sent)


async def test_a_nested_field_one_port_does_not_share_comes_back_null_beside_the_others(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    # Both ports know the box; the trucker asks each for it. USOAK's answer has no
    # outstandingFeesUSD (not asked of it), and the client still gets the key, null: the
    # merge rebuilds USOAK's objects on the client's selection instead of taking them whole.
    rule = (
        "ports:\n  USOAK:\n    share:\n      ImportAvailability.outstandingFeesUSD: [cargo_owner]\n"
    )
    gateway, store = await keyed_gateway(make_gateway, tmp_path, policy=policy_with(tmp_path, rule))
    query = (
        f'{{ oak: containers(references: ["{REFERENCE}"], ports: ["USOAK"]) {{ '
        "availability { lastFreeDay outstandingFeesUSD } } "
        f'lax: containers(references: ["{REFERENCE}"], ports: ["USLAX"]) {{ '
        "availability { lastFreeDay outstandingFeesUSD } } "
        f'both: container(reference: "{REFERENCE}") {{ sourcePort '
        "availability { lastFreeDay outstandingFeesUSD } } }"
    )
    body = (await gateway.query(query, headers=key_for(store, "trucker"))).json()
    data = body["data"]
    assert data["oak"] == [{"availability": {"lastFreeDay": "2026-11-21",
                                             "outstandingFeesUSD": None}}]  # fmt: skip
    assert list(data["lax"][0]["availability"]) == ["lastFreeDay", "outstandingFeesUSD"]
    assert list(data["both"]["availability"]) == ["lastFreeDay", "outstandingFeesUSD"]
