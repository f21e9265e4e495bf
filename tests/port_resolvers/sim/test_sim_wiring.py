"""Each simulated port's adapter, as ``source_for`` wires it, offers what the port's systems
publish, and the resolver kit over it answers the optional fields as the in-memory source does:
null with a NOT_OFFERED notice for what the port lacks (all of them at San Diego)."""

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from port_resolvers.kit import create_resolver_app
from port_resolvers.kit.source import PortDataSource, offered_fields
from port_resolvers.sim.model import PortData
from port_resolvers.sim.records import InMemoryPortSource
from port_resolvers.sim.reference import PORT_IDS
from port_resolvers.sim.systems import SimulatedPortSystem
from port_resolvers.sim.transport import TimedASGITransport
from port_resolvers.sim.wiring import source_for
from portcontract.capabilities import OPTIONAL_FIELDS
from portcontract.errors import NOT_OFFERED

EVERYTHING = set(OPTIONAL_FIELDS)
OFFERED = {
    "USLAX": EVERYTHING,
    "USLGB": EVERYTHING,
    "USOAK": EVERYTHING,
    "USNTD": EVERYTHING - {"Container.railLeg"},  # no rail at Hueneme
    "USSAN": set(),  # an older terminal system
}
ROOT_FIELD = {
    "VesselCall.cutOffTimes": "vesselCalls",
    "Terminal.gateHours": "ports",
    "Terminal.usesAppointments": "ports",
    "Terminal.appointmentSlots": "ports",
    "Terminal.emptyReturns": "ports",
    "ImportAvailability.emptyReturnDeadline": "containers",
    "Container.railLeg": "containers",
}
EVERY_OPTIONAL_FIELD = """
query($references: [String!]) {
  ports { terminals {
    facilitySMDGCode usesAppointments
    gateHours { date open closureReason periods { opensDateTime closesDateTime offPeak } }
    appointmentSlots { startDateTime endDateTime transaction availability appointmentsLeft }
    emptyReturns { date carrierSCACCode ISOEquipmentCode accepted }
  } }
  vesselCalls(first: 100) { edges { node {
    transportCallReference statusCode
    cutOffTimes { cutOffDateTimeCode cutOffDateTime reefer }
  } } }
  containers(references: $references) {
    equipmentReference status
    availability { emptyReturnDeadline }
    railLeg {
      onDock railCarrierSCACCode destinationRamp { locationName UNLocationCode }
      loadedOnRailDateTime departureDateTime departureClassifierCode
    }
  }
}"""

Ask = Callable[[PortDataSource, str, str, dict[str, Any] | None], Any]


@pytest.fixture
async def ask(now: datetime) -> AsyncIterator[Ask]:
    """``ask(source, port_id, query, variables)``: the kit's JSON answer, in process."""
    clients: list[httpx.AsyncClient] = []

    async def post(
        source: PortDataSource, port_id: str, query: str, variables: dict[str, Any] | None
    ) -> Any:
        app = create_resolver_app(source, port_id, clock=lambda: now)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kit")
        clients.append(client)
        response = await client.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200, response.text
        return response.json()

    yield post
    for client in clients:
        await client.aclose()


@pytest.fixture
async def adapter_for(
    system_for: Callable[[str], SimulatedPortSystem], now: datetime
) -> AsyncIterator[Callable[[str], PortDataSource]]:
    """The adapter ``source_for`` picks, reading the port's simulated system in process."""
    clients: list[httpx.AsyncClient] = []

    def make(port_id: str) -> PortDataSource:
        system = system_for(port_id)
        client = httpx.AsyncClient(transport=TimedASGITransport(app=system.app))
        clients.append(client)
        return source_for(port_id, f"http://{port_id.lower()}.sim", client, clock=lambda: now)

    yield make
    for client in clients:
        await client.aclose()


def _not_offered(answer: Any) -> set[tuple[str, str]]:
    """(root field, coordinate) of every NOT_OFFERED notice."""
    return {
        (error["path"][0], error["extensions"]["coordinate"])
        for error in answer.get("errors") or []
        if error["extensions"]["code"] == NOT_OFFERED
    }


def _references(data: PortData) -> list[str]:
    """Boxes that show the container fields: railed, gated out, in the terminal, others."""
    railed = [b.reference for b in data.containers if b.rail is not None][:20]
    gated_out = [b.reference for b in data.containers if b.status == "GATED_OUT"][:20]
    others = [b.reference for b in data.containers[:20]]
    return list(dict.fromkeys(railed + gated_out + others))


@pytest.mark.parametrize("port_id", PORT_IDS)
async def test_each_adapter_offers_what_the_ports_systems_publish(
    adapter_for: Callable[[str], PortDataSource], all_ports: dict[str, PortData], port_id: str
):
    assert offered_fields(adapter_for(port_id)) == OFFERED[port_id]
    assert offered_fields(InMemoryPortSource(all_ports[port_id])) == OFFERED[port_id]


@pytest.mark.parametrize("port_id", PORT_IDS)
async def test_gate_hours_through_the_kit_or_not_offered(
    adapter_for: Callable[[str], PortDataSource], ask: Ask, port_id: str
):
    answer = await ask(
        adapter_for(port_id), port_id, "{ ports { terminals { gateHours { date open } } } }", None
    )
    (port,) = answer["data"]["ports"]
    hours = [t["gateHours"] for t in port["terminals"]]
    if port_id == "USSAN":
        assert hours == [None]
        assert _not_offered(answer) == {("ports", "Terminal.gateHours")}
        (notice,) = answer["errors"]
        assert notice["extensions"]["port"] == "USSAN"
    else:
        assert "errors" not in answer
        assert all(len(days) == 7 for days in hours)
        assert any(day["open"] for days in hours for day in days)
        assert any(not day["open"] for days in hours for day in days)  # Sunday at least


@pytest.mark.parametrize("port_id", PORT_IDS)
async def test_every_optional_field_through_the_kit_as_the_in_memory_source_answers_it(
    adapter_for: Callable[[str], PortDataSource],
    ask: Ask,
    all_ports: dict[str, PortData],
    port_id: str,
):
    data = all_ports[port_id]
    variables = {"references": _references(data)}
    answer = await ask(adapter_for(port_id), port_id, EVERY_OPTIONAL_FIELD, variables)
    expected = await ask(InMemoryPortSource(data), port_id, EVERY_OPTIONAL_FIELD, variables)
    assert answer == expected
    lacking = EVERYTHING - OFFERED[port_id]
    assert _not_offered(answer) == {(ROOT_FIELD[c], c) for c in lacking}
    assert {e["extensions"]["code"] for e in answer.get("errors") or []} <= {NOT_OFFERED}
    served = _served(answer["data"])
    for coordinate, values in served.items():
        if coordinate in lacking:
            assert values == {None}, coordinate
        else:
            assert values - {None}, coordinate  # given, not merely allowed


def _served(data: Any) -> dict[str, set[Any]]:
    """What each optional field answered, as hashable values (lists by length)."""

    def kind(value: Any) -> Any:
        if isinstance(value, list):
            return ("list", bool(value))
        return value if value is None or isinstance(value, bool | str) else "object"

    terminals = [t for p in data["ports"] for t in p["terminals"]]
    calls = [e["node"] for e in data["vesselCalls"]["edges"] if e["node"]["statusCode"] is None]
    boxes = data["containers"]
    availability = [b["availability"] for b in boxes if b["availability"] is not None]
    return {
        "Terminal.gateHours": {kind(t["gateHours"]) for t in terminals},
        "Terminal.usesAppointments": {kind(t["usesAppointments"]) for t in terminals},
        "Terminal.appointmentSlots": {kind(t["appointmentSlots"]) for t in terminals},
        "Terminal.emptyReturns": {kind(t["emptyReturns"]) for t in terminals},
        "VesselCall.cutOffTimes": {kind(c["cutOffTimes"]) for c in calls},
        "ImportAvailability.emptyReturnDeadline": {
            kind(a["emptyReturnDeadline"]) for a in availability
        },
        "Container.railLeg": {kind(b["railLeg"]) for b in boxes},
    }


async def test_hueneme_takes_trucks_without_appointments(
    adapter_for: Callable[[str], PortDataSource], ask: Ask
):
    query = "{ ports { terminals { usesAppointments appointmentSlots { startDateTime } } } }"
    answer = await ask(adapter_for("USNTD"), "USNTD", query, None)
    assert answer["data"]["ports"][0]["terminals"] == [
        {"usesAppointments": False, "appointmentSlots": []}
    ]
    assert "errors" not in answer
