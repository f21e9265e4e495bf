"""The trucker's and exporter's next questions over real HTTP on loopback: client -> gateway ->
five port resolvers -> the five simulated port systems. Each answer is checked against the
simulated ports' own data; San Diego's systems offer none of these, Hueneme's no rail legs.

- Where do I return this empty? (a terminal's empty-return rules, a box's return deadline)
- When can I come, and will I get in? (gate hours with closures, appointment slots)
- When can I bring my export box? (cut-offs per call, a booking's box gated in)
- Where is my box on the rail? (the rail leg, status LOADED_ON_RAIL)
"""

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from gateway.edge.graphiql.examples import EXAMPLE_TABS
from port_resolvers.sim.cluster import run_simulated_ports
from port_resolvers.sim.data import SHIPPER_OWNED_EXPORT, generate_all_ports
from port_resolvers.sim.model import Container, PortData
from port_resolvers.sim.reference import OFFERS
from tests.gateway.test_end_to_end import NOW, SEED, ask, serve_gateway

TERMINAL_FIELDS = ["Terminal.appointmentSlots", "Terminal.emptyReturns", "Terminal.gateHours",
                   "Terminal.usesAppointments"]  # fmt: skip


@pytest.fixture(scope="module")
def data() -> dict[str, PortData]:
    return generate_all_ports(seed=SEED, now=NOW)


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with run_simulated_ports(seed=SEED, now=NOW) as ports, await serve_gateway(ports) as url:
        yield url


def sources(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["port"]: s for s in body["extensions"]["sources"]}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


TERMINALS = """{ ports { UNLocationCode terminals {
  facilitySMDGCode
  gateHours { date open closureReason periods { opensDateTime closesDateTime offPeak } }
  usesAppointments
  appointmentSlots { startDateTime endDateTime transaction availability appointmentsLeft }
  emptyReturns { date carrierSCACCode ISOEquipmentCode accepted }
} } }"""


async def test_gates_appointments_and_empty_returns_come_from_each_terminal(
    url: str, data: dict[str, PortData]
) -> None:
    body = await ask(url, TERMINALS)
    assert "errors" not in body  # a port lacking them is not an error
    ports = {p["UNLocationCode"]: p for p in body["data"]["ports"]}
    for port_id, port in ports.items():
        own = data[port_id]
        for terminal in port["terminals"]:
            code = terminal["facilitySMDGCode"]
            if port_id == "USSAN":  # its systems publish none of it: null, never "closed"
                assert terminal == {"facilitySMDGCode": code, "gateHours": None,
                                    "usesAppointments": None, "appointmentSlots": None,
                                    "emptyReturns": None}  # fmt: skip
                continue
            days = [d for d in own.gate_days if d.facility_code == code]
            assert [(d["date"], d["open"], d["closureReason"]) for d in terminal["gateHours"]] == [
                (d.day.isoformat(), d.open, d.closure) for d in days
            ]
            assert [
                [(instant(p["opensDateTime"]), instant(p["closesDateTime"]), p["offPeak"])
                 for p in d["periods"]] for d in terminal["gateHours"]
            ] == [[(p.opens, p.closes, p.off_peak) for p in d.periods] for d in days]  # fmt: skip
            slots = [s for s in own.appointment_slots if s.facility_code == code]
            assert [(instant(s["startDateTime"]), s["transaction"], s["availability"],
                     s["appointmentsLeft"]) for s in terminal["appointmentSlots"]] == [
                (s.start, s.transaction, s.availability, s.left) for s in slots
            ]  # fmt: skip
            assert terminal["usesAppointments"] is (port_id != "USNTD")
            refused = sorted((r["date"], r["carrierSCACCode"], r["ISOEquipmentCode"])
                             for r in terminal["emptyReturns"] if not r["accepted"])  # fmt: skip
            assert refused == sorted(
                (r.day.isoformat(), r.scac, r.iso_code)
                for r in own.empty_returns
                if r.facility_code == code and not r.accepted
            )
    assert ports["USNTD"]["terminals"][0]["appointmentSlots"] == []  # no appointments there
    entries = sources(body)
    assert entries["USSAN"] == entries["USSAN"] | {"status": "ok", "notOffered": TERMINAL_FIELDS}
    assert all("notOffered" not in entries[p] for p in ("USLAX", "USLGB", "USOAK", "USNTD"))
    # Somewhere in the week a gate is closed on a day it would open, and some empties refused.
    assert any(t["emptyReturns"] and not all(r["accepted"] for r in t["emptyReturns"])
               for p in ports.values() for t in p["terminals"])  # fmt: skip


CALLS = """query Cuts($after: String) { vesselCalls(first: 100, after: $after) {
  nodes { UNLocationCode transportCallReference portVisitReference plannedArrivalDateTime
          cutOffTimes { cutOffDateTimeCode cutOffDateTime reefer } }
  pageInfo { hasNextPage endCursor } } }"""


async def test_every_calls_cut_offs_come_from_its_port(url: str, data: dict[str, PortData]) -> None:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        body = await ask(url, CALLS, {"after": after})
        assert "errors" not in body
        page = body["data"]["vesselCalls"]
        nodes += page["nodes"]
        assert sources(body)["USSAN"]["notOffered"] == ["VesselCall.cutOffTimes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    expected = {
        (port_id, call.reference): [(c.code, c.at, c.reefer) for c in call.cut_offs]
        for port_id, own in data.items()
        for call in own.vessel_calls
    }
    checked = 0
    for node in nodes:
        port_id = node["UNLocationCode"]
        if port_id == "USSAN":
            assert node["cutOffTimes"] is None
            continue
        got = [(c["cutOffDateTimeCode"], instant(c["cutOffDateTime"]), c["reefer"])
               for c in node["cutOffTimes"]]  # fmt: skip
        assert got == expected[(port_id, node["transportCallReference"])], node
        assert all(at < instant(node["plannedArrivalDateTime"]) for _, at, _ in got)
        checked += bool(got)
    assert checked >= 20  # calls of the four ports that publish cut-offs, with their cut-offs


def _first(data: dict[str, PortData], port_id: str, wanted: Any) -> Container:
    return next(box for box in data[port_id].containers if wanted(box))


BOXES = """query Boxes($refs: [String!]!) { containers(references: $refs) {
  equipmentReference sourcePort status
  availability { emptyReturnDeadline }
  railLeg { onDock railCarrierSCACCode destinationRamp { locationName UNLocationCode }
            loadedOnRailDateTime departureDateTime departureClassifierCode }
} }"""


async def test_a_boxs_rail_leg_and_empty_return_deadline(
    url: str, data: dict[str, PortData]
) -> None:
    on_dock = _first(data, "USLAX", lambda b: b.rail and b.rail.loaded)
    near_dock = _first(data, "USOAK", lambda b: b.rail and not b.rail.on_dock)
    returning = _first(data, "USLGB", lambda b: b.availability and
                       b.availability.empty_return_deadline)  # fmt: skip
    san = _first(data, "USSAN", lambda b: b.flow == "IMPORT")
    refs = [box.reference for box in (on_dock, near_dock, returning, san)]
    body = await ask(url, BOXES, {"refs": refs})
    assert "errors" not in body
    found = {b["equipmentReference"]: b for b in body["data"]["containers"]}
    for box in (on_dock, near_dock):
        leg = found[box.reference]["railLeg"]
        assert box.rail is not None
        assert leg is not None
        assert leg["onDock"] is box.rail.on_dock
        assert leg["railCarrierSCACCode"] == box.rail.railroad
        ramp = box.rail.ramp
        assert leg["destinationRamp"] == {"locationName": ramp.name,
                                          "UNLocationCode": ramp.un_location_code}  # fmt: skip
        assert instant(leg["departureDateTime"]) == box.rail.departure
        assert leg["departureClassifierCode"] == box.rail.departure_classifier
    assert found[on_dock.reference]["status"] == "LOADED_ON_RAIL"
    assert on_dock.rail is not None
    assert on_dock.rail.loaded is not None
    loaded = found[on_dock.reference]["railLeg"]["loadedOnRailDateTime"]
    assert instant(loaded) == on_dock.rail.loaded
    assert found[near_dock.reference]["railLeg"]["loadedOnRailDateTime"] is None
    assert returning.availability is not None
    deadline = returning.availability.empty_return_deadline
    assert deadline is not None
    assert found[returning.reference]["availability"]["emptyReturnDeadline"] == deadline.isoformat()
    assert found[san.reference]["railLeg"] is None
    assert found[san.reference]["availability"]["emptyReturnDeadline"] is None
    assert sources(body)["USSAN"]["notOffered"] == [
        "Container.railLeg", "ImportAvailability.emptyReturnDeadline"
    ]  # fmt: skip
    assert sources(body)["USNTD"]["notOffered"] == ["Container.railLeg"]


async def test_an_exporters_booking_shows_its_box_gated_in(
    url: str, data: dict[str, PortData]
) -> None:
    box = _first(data, "USLGB", lambda b: b.flow == "EXPORT" and b.booking and
                 b.status == "IN_TERMINAL")  # fmt: skip
    query = """query Booking($booking: String!) {
      containers(carrierBookingReference: $booking) {
        equipmentReference sourcePort status
        events { equipmentEventTypeCode eventClassifierCode emptyIndicatorCode }
      } }"""
    body = await ask(url, query, {"booking": box.booking})
    assert "errors" not in body
    mine = [b for b in body["data"]["containers"] if b["equipmentReference"] == box.reference]
    assert [b["status"] for b in mine] == ["IN_TERMINAL"]
    moves = [(e["equipmentEventTypeCode"], e["emptyIndicatorCode"]) for e in mine[0]["events"]
             if e["eventClassifierCode"] == "ACT"]  # fmt: skip
    assert ("GTIN", "LADEN") in moves


async def test_the_offers_table_is_what_clients_are_told(url: str) -> None:
    """Every optional field asked of every port at once: each port's notOffered is exactly
    what its systems lack (the simulation's table)."""
    query = """{ ports { terminals { gateHours { date } usesAppointments
        appointmentSlots { transaction } emptyReturns { accepted } } }
      vesselCalls(first: 1) { nodes { cutOffTimes { reefer } } }
      containers(references: ["MSCU1234566"]) { railLeg { onDock }
        availability { emptyReturnDeadline } } }"""
    body = await ask(url, query)
    everything = frozenset().union(*OFFERS.values())
    for port_id, entry in sources(body).items():
        assert entry.get("notOffered", []) == sorted(everything - OFFERS[port_id]), port_id


async def test_the_graphiql_tabs_for_these_questions_answer_from_the_demo_data(url: str) -> None:
    tabs = {tab.user: tab for tab in EXAMPLE_TABS}
    gates = await ask(url, tabs["trucker: gates and empties"].query)
    assert "errors" not in gates
    [long_beach] = gates["data"]["ports"]
    assert long_beach["UNLocationCode"] == "USLGB"
    assert all(len(t["gateHours"]) == 7 and t["emptyReturns"] for t in long_beach["terminals"])
    exporter = tabs["exporter"]
    body = await ask(url, exporter.query, json.loads(exporter.variables))
    assert "errors" not in body
    assert any(n["cutOffTimes"] for n in body["data"]["vesselCalls"]["nodes"])
    [box] = body["data"]["myBooking"]
    assert (box["equipmentReference"], box["sourcePort"], box["status"]) == (
        SHIPPER_OWNED_EXPORT[1], "USOAK", "IN_TERMINAL"
    )  # fmt: skip
    assert "GTIN" in {e["equipmentEventTypeCode"] for e in box["events"]}
