"""Rail legs: imports leaving by train, on-dock where the terminal has rail, else near-dock,
consistent with the boxes' events and with now."""

from collections import Counter
from datetime import datetime

from port_resolvers.sim.model import Container, PortData, RailLeg
from port_resolvers.sim.reference import RAMPS

ON_DOCK_TERMINALS = {
    "USLAX": {"APMT", "EAGLE", "TRAP", "WBCT", "YUSEN"},
    "USLGB": {"LBCT", "TTI", "SSAPCT", "SSATA", "ITS"},
}


def _railed(all_ports: dict[str, PortData]) -> list[tuple[Container, RailLeg]]:
    return [(b, b.rail) for data in all_ports.values() for b in data.containers if b.rail]


def _act(box: Container, kind: str) -> datetime | None:
    return next((e.event_datetime for e in box.actual_events if e.type_code == kind), None)


def test_only_imports_of_the_ports_with_rail_leave_by_train(all_ports: dict[str, PortData]):
    railed = _railed(all_ports)
    assert {b.flow for b, _ in railed} == {"IMPORT"}
    assert {b.port_id for b, _ in railed} == {"USLAX", "USLGB", "USOAK"}
    for box, rail in railed:
        on_dock_here = box.facility_code in ON_DOCK_TERMINALS.get(box.port_id, set())
        assert rail.on_dock == on_dock_here, box.reference
    kinds = Counter((b.port_id, rail.on_dock) for b, rail in railed)
    assert kinds["USOAK", False] > 0
    assert kinds["USOAK", True] == 0  # near-dock rail only
    assert kinds["USLAX", True] > kinds["USLAX", False] > 0  # Everport's boxes go near-dock


def test_loaded_on_rail_exactly_when_the_rail_leg_says_loaded(all_ports: dict[str, PortData]):
    for data in all_ports.values():
        for box in data.containers:
            loaded = box.rail.loaded if box.rail is not None else None
            assert (box.status == "LOADED_ON_RAIL") == (loaded is not None), box.reference
            if loaded is not None:
                assert loaded == _act(box, "LOAD")


def test_departure_planned_then_estimated_then_actual(all_ports: dict[str, PortData]):
    seen: Counter[tuple[bool, str]] = Counter()
    for box, rail in _railed(all_ports):
        now = all_ports[box.port_id].now
        handed_over = rail.loaded if rail.on_dock else _act(box, "GTOT")
        seen[rail.on_dock, rail.departure_classifier] += 1
        if rail.departure_classifier == "PLN":
            assert handed_over is None
            assert rail.departure > now
        else:
            assert handed_over is not None
            assert rail.departure > handed_over
            assert (rail.departure <= now) == (rail.departure_classifier == "ACT")
        if not rail.on_dock:
            assert rail.loaded is None  # the near-dock yard loads it, out of the port's sight
            assert box.availability is not None  # a truck takes it there
        else:
            assert box.availability is None
    assert {c for _, c in seen} == {"PLN", "EST", "ACT"}
    assert seen[True, "ACT"]
    assert seen[False, "ACT"]


def test_trains_run_to_inland_ramps_on_a_railroad_that_serves_them(
    all_ports: dict[str, PortData],
):
    served = {ramp: railroads for ramp, _, railroads in RAMPS}
    legs = [rail for _, rail in _railed(all_ports)]
    assert all(rail.railroad in served[rail.ramp] for rail in legs)
    ramps = Counter(rail.ramp.un_location_code for rail in legs)
    assert ramps.most_common(1)[0][0] == "USCHI"
    assert {rail.railroad for rail in legs} == {"UPRR", "BNSF"}
