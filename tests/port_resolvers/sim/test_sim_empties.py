"""Empty returns: the terminals' rules for today and tomorrow, and each import's deadline to
come back empty."""

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from port_resolvers.sim.data import generate_port_data
from port_resolvers.sim.model import Container, PortData
from port_resolvers.sim.reference import EMPTY_FREE_DAYS, EMPTY_TYPES, PORT_IDS

PACIFIC = ZoneInfo("America/Los_Angeles")


@pytest.mark.parametrize("port_id", PORT_IDS)
def test_each_terminal_rules_on_its_carriers_empties_of_every_type_today_and_tomorrow(
    all_ports: dict[str, PortData], now: datetime, port_id: str
):
    data = all_ports[port_id]
    today = now.astimezone(PACIFIC).date()
    for terminal in data.port.terminals:
        code = terminal.facility_code
        carriers = {c.vessel.scac for c in data.vessel_calls if c.facility_code == code}
        rules = [r for r in data.empty_returns if r.facility_code == code]
        assert carriers
        grid = Counter((r.day, r.scac, r.iso_code) for r in rules)
        assert set(grid.values()) == {1}
        assert set(grid) == {
            (day, scac, iso_code)
            for day in (today, today + timedelta(days=1))
            for scac in carriers
            for iso_code in EMPTY_TYPES
        }


def test_most_empties_are_taken_and_some_are_refused(all_ports: dict[str, PortData]):
    rules = [r for data in all_ports.values() for r in data.empty_returns]
    refused = [r for r in rules if not r.accepted]
    assert 0.02 < len(refused) / len(rules) < 0.25
    assert {r.iso_code for r in refused} >= {"L5G1", "22G1"}
    assert {r.iso_code for r in refused} & {"22R1", "45R1"}


def test_standing_refusals_hold_on_both_days_and_reefers_go_together(
    all_ports: dict[str, PortData],
):
    for data in all_ports.values():
        refused = {(r.facility_code, r.day, r.scac, r.iso_code)
                   for r in data.empty_returns if not r.accepted}  # fmt: skip
        days = sorted({r.day for r in data.empty_returns})
        for code, day, scac, iso_code in refused:
            if iso_code != "22G1":  # a day's restriction; the others stand for weeks
                assert all((code, d, scac, iso_code) in refused for d in days)
            if iso_code in {"22R1", "45R1"}:
                assert {(code, day, scac, "22R1"), (code, day, scac, "45R1")} <= refused


def test_the_rules_are_seeded_and_a_days_rules_stay_as_now_moves_on(now: datetime):
    first = generate_port_data("USLAX", seed=11, now=now)
    next_day = generate_port_data("USLAX", seed=11, now=now + timedelta(days=1))
    tomorrow = now.astimezone(PACIFIC).date() + timedelta(days=1)
    assert [r for r in first.empty_returns if r.day == tomorrow] == [
        r for r in next_day.empty_returns if r.day == tomorrow
    ]
    other_seed = generate_port_data("USLAX", seed=12, now=now)
    assert other_seed.empty_returns != first.empty_returns


def _gate_out(box: Container) -> datetime | None:
    return next((e.event_datetime for e in box.actual_events if e.type_code == "GTOT"), None)


def _carrier(box: Container) -> str:
    discharge = next(e for e in box.events if e.type_code == "DISC")
    assert discharge.call is not None
    return discharge.call.vessel.scac


def test_an_import_is_due_back_empty_its_carriers_free_days_after_gate_out(
    all_ports: dict[str, PortData],
):
    due = 0
    for data in all_ports.values():
        for box in data.containers:
            if box.availability is None:
                continue
            gate_out = _gate_out(box)
            deadline = box.availability.empty_return_deadline
            if gate_out is None:
                assert deadline is None, box.reference
                continue
            due += 1
            gated_out_on = gate_out.astimezone(PACIFIC).date()
            assert deadline == gated_out_on + timedelta(days=EMPTY_FREE_DAYS[_carrier(box)])
            assert 4 <= (deadline - gated_out_on).days <= 7
    assert due > 100
