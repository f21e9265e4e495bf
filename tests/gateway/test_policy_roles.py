"""Callers with several roles: they see the union of their roles' fields, and for each metric
the most permissive minimum sample size among their roles that may see metric values, never
below the hard minimum. Each role alone sees less, so a policy that counted one role only, or
took the strictest floor, fails here."""

from pathlib import Path

import pytest

from gateway.access.auth import Principal
from gateway.access.policy import Access
from gateway.access.policy_file import load_policy
from gateway.schema import build_schema
from tests.gateway.conftest import GatewayFactory
from tests.gateway.test_policy_enforcement import key_for, keyed_gateway

SCHEMA = build_schema()._schema
PORTS = ("USLAX", "USLGB", "USOAK", "USNTD", "USSAN")

POLICY = """\
roles:
  public:
    allow: [Query.ports, Port.*]
  analyst_strict:
    allow: [Query.portMetrics, PortMetric.*]
    min_sample_size: {CONTAINER_DWELL_DAYS: 41, TEU_LOADED: 30}
  berth_planner:
    allow: [Query.portMetrics, PortMetric.*, Query.container, Container.location,
            ContainerLocation.*]
    min_sample_size: {CONTAINER_DWELL_DAYS: 30, TEU_LOADED: 15}
  yard_viewer:
    allow: [Query.container, Container.availability, ImportAvailability.*]
    min_sample_size: {CONTAINER_DWELL_DAYS: 11}
  lax_desk:
    ports: [USLAX]
    allow: [Query.container, Container.events, EquipmentEvent.*]
  counter:
    allow: [Query.portMetrics, PortMetric.*]
  wide_floor:
    allow: [Query.portMetrics, PortMetric.*]
    min_sample_size: 20
"""


def access(*roles: str) -> Access:
    policy = load_policy(POLICY, SCHEMA, PORTS)
    return policy.access(Principal("c", "", frozenset(roles), None, "api_key"))


def test_fields_are_the_union_of_the_callers_roles() -> None:
    both = access("berth_planner", "yard_viewer")
    for port in PORTS:
        assert both.allows("Container.location", port)
        assert both.allows("Container.availability", port)
    alone = access("berth_planner")
    assert not alone.allows("Container.availability", "USLAX")
    desk = access("yard_viewer", "lax_desk")
    assert desk.allows("Container.events", "USLAX")
    assert not desk.allows("Container.events", "USOAK")
    assert desk.allows("Container.availability", "USOAK")


@pytest.mark.parametrize(
    ("roles", "dwell", "teu"),
    [
        (("analyst_strict",), 41, 30),
        (("berth_planner",), 30, 15),
        (("analyst_strict", "berth_planner"), 30, 15),  # the most permissive of the two
        # A role with no floor of its own still has the hard one: 10, never 0.
        (("analyst_strict", "counter"), 10, 10),
        # A role that may not see metric values does not lower anyone's floor.
        (("analyst_strict", "yard_viewer"), 41, 30),
        (("analyst_strict", "berth_planner", "public"), 30, 15),
        # One number for every metric counts for the metrics another role names.
        (("analyst_strict", "wide_floor"), 20, 20),
        # A caller who may see no metric value at all still has the hard floor, and no other.
        (("public",), 10, 10),
    ],
)
def test_a_caller_gets_the_most_permissive_floor_of_its_roles_never_below_the_hard_one(
    roles: tuple[str, ...], dwell: int, teu: int
) -> None:
    caller = access(*roles)
    assert caller.min_sample_size("CONTAINER_DWELL_DAYS") == dwell
    assert caller.min_sample_size("TEU_LOADED") == teu
    assert caller.min_sample_size("TRUCK_TURN_TIME_MINUTES") == 10
    assert caller.min_sample_size("VESSELS_AT_BERTH") == 0


async def test_a_key_with_two_roles_sees_both_roles_fields_and_the_lower_floor(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    """Through the gateway: the in-memory ports have a container with location, availability
    and events, and a dwell figure over 40 boxes (tests/gateway/query/test_merge.py)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    gateway, store = await keyed_gateway(make_gateway, tmp_path, policy={"file": policy})
    query = (
        '{ container(reference: "CSQU3054383") { location { yardBlock } '
        "availability { lastFreeDay } } "
        "portMetrics(metrics: [CONTAINER_DWELL_DAYS]) { value } }"
    )

    async def ask(*roles: str) -> dict[str, object]:
        body = await gateway.query(query, headers=key_for(store, *roles, client="-".join(roles)))
        return body.json()["data"]  # type: ignore[no-any-return]

    strict = await ask("analyst_strict")
    assert strict["portMetrics"] == [{"value": None}, {"value": None}]  # 40 boxes < 41
    planner = await ask("berth_planner")
    assert planner["portMetrics"] == [{"value": 3.5}, {"value": 3.5}]
    assert planner["container"] == {"location": {"yardBlock": "B7"}, "availability": None}
    both = await ask("analyst_strict", "berth_planner", "yard_viewer")
    assert both["portMetrics"] == [{"value": 3.5}, {"value": 3.5}]
    assert both["container"]["location"] == {"yardBlock": "B7"}  # type: ignore[index]
    assert both["container"]["availability"] == {"lastFreeDay": "2026-11-21"}  # type: ignore[index]
