"""The generated data: deterministic, well-formed numbers, stories that make sense."""

import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from port_resolvers.sim.data import (
    SHIPPER_OWNED_EXPORT,
    SOC_BOXES,
    container_count,
    containers_at_several_ports,
    containers_only_at,
    generate_all_ports,
    generate_port_data,
)
from port_resolvers.sim.model import Container, PortData
from port_resolvers.sim.reference import (
    DEMURRAGE_USD_PER_DAY,
    FREE_DAYS,
    LINERS,
    PORT_IDS,
    PORTS,
    SCACS,
)
from portcontract.identifiers import (
    DCSA_REFERENCE_PATTERN,
    is_imo,
    is_iso6346,
    is_mmsi,
    is_smdg_terminal_code,
)

PACIFIC = ZoneInfo("America/Los_Angeles")
ACTUAL_STORIES = {
    # discharge, maybe a customs scan or exam and its release, available, picked up or railed
    "IMPORT": re.compile(r"^(DISC( (CUSS|CUSI( RMVD RSEA)?))?( CUSR)?( AVPU)?( GTOT| LOAD)?)?$"),
    "EXPORT": re.compile(r"^GTIN( LOAD)?$"),
    "EMPTY_RETURN": re.compile(r"^GTIN( LOAD)?$"),
}


def _boxes(all_ports: dict[str, PortData]) -> list[Container]:
    return [box for data in all_ports.values() for box in data.containers]


def test_same_seed_and_now_give_identical_data(all_ports: dict[str, PortData], now: datetime):
    again = generate_all_ports(seed=2024, now=now + timedelta(seconds=42))  # same minute
    assert again == all_ports
    assert generate_port_data("USOAK", seed=2025, now=now) != all_ports["USOAK"]


def test_now_must_be_timezone_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_port_data("USLAX", now=datetime(2026, 3, 2, 12, 0))


def test_every_port_has_its_real_terminals(all_ports: dict[str, PortData]):
    assert set(all_ports) == {"USLAX", "USLGB", "USOAK", "USNTD", "USSAN"}
    codes = {p: [t.facility_code for t in d.port.terminals] for p, d in all_ports.items()}
    assert codes["USLAX"] == ["APMT", "ETS", "EAGLE", "TRAP", "WBCT", "YUSEN"]
    assert codes["USLGB"] == ["LBCT", "TTI", "SSAPCT", "SSATA", "ITS", "MATU"]
    assert codes["USOAK"] == ["B58", "TPOAK", "BENT"]
    assert codes["USNTD"] == ["HUE"]
    assert codes["USSAN"] == ["TAMT"]
    assert all(is_smdg_terminal_code(c) for cs in codes.values() for c in cs)
    assert {d.port.time_zone for d in all_ports.values()} == {"America/Los_Angeles"}


def test_container_numbers_pass_iso6346_except_oaklands_shipper_owned_boxes(
    all_ports: dict[str, PortData],
):
    for port_id, data in all_ports.items():
        references = [box.reference for box in data.containers]
        assert len(references) == len(set(references)), port_id
        non_iso = [r for r in references if not is_iso6346(r)]
        showcased = int(SHIPPER_OWNED_EXPORT[0] == port_id)
        assert len(non_iso) == SOC_BOXES.get(port_id, 0) + showcased, port_id
        assert all(DCSA_REFERENCE_PATTERN.match(r) for r in non_iso)
        assert all(r[3] == "U" for r in references if is_iso6346(r))


def test_vessels_have_valid_numbers_and_call_at_several_ports(all_ports: dict[str, PortData]):
    vessels = {v.imo: v for data in all_ports.values() for v in data.vessels}
    for vessel in vessels.values():
        assert is_imo(vessel.imo), vessel
        assert re.fullmatch(r"[2-7]\d{8}", vessel.mmsi), vessel
        assert is_mmsi(vessel.mmsi)
        assert 0 < len(vessel.name) <= 35
        assert len(vessel.flag) == 2
        assert vessel.call_sign
        assert vessel.liner_code in LINERS
        assert vessel.scac == SCACS[vessel.liner_code]
    assert len({v.name for v in vessels.values()}) == len(vessels)
    ports_of = Counter(imo for data in all_ports.values() for imo in {v.imo for v in data.vessels})
    assert sum(1 for n in ports_of.values() if n >= 2) >= 10


def test_vessel_calls_are_consistent_with_now(all_ports: dict[str, PortData], now: datetime):
    for data in all_ports.values():
        assert len({c.reference for c in data.vessel_calls}) == len(data.vessel_calls)
        for call in data.vessel_calls:
            assert now - timedelta(days=14) <= call.planned_arrival < now + timedelta(days=21)
            assert call.planned_departure > call.planned_arrival
            assert call.facility_code in {t.facility_code for t in data.port.terminals}
            if call.actual_arrival is not None:
                assert call.actual_arrival <= now
            if call.actual_departure is not None:
                assert call.actual_arrival is not None
                assert call.actual_arrival < call.actual_departure <= now
            if call.phase == "AT_ANCHOR":
                assert call.anchorage_arrival is not None
                assert call.anchorage_arrival <= now
                assert call.actual_arrival is None
                assert call.berth_arrival > now
            if call.phase == "AT_BERTH":
                assert call.actual_arrival is not None
                assert call.actual_departure is None
            if call.phase == "OMITTED":
                assert call.status_code == "OMIT"
                assert call.actual_arrival is None
            if call.planned_arrival < now - timedelta(days=5) and call.status_code is None:
                assert call.phase == "DEPARTED", call
            if call.planned_arrival > now + timedelta(days=3):
                assert call.phase in {"SCHEDULED", "OMITTED"}, call
    phases = Counter(c.phase for c in all_ports["USLAX"].vessel_calls)
    assert phases["AT_ANCHOR"] >= 2
    assert phases["AT_BERTH"] >= 1
    assert phases["OMITTED"] == 2
    late = [
        c
        for c in all_ports["USLAX"].vessel_calls
        if c.estimated_arrival and c.estimated_arrival - c.planned_arrival >= timedelta(hours=3)
    ]
    assert late


def test_every_event_is_at_the_ports_terminals_and_vessel_moves_name_their_call(
    all_ports: dict[str, PortData], now: datetime
):
    for data in all_ports.values():
        terminals = {t.facility_code for t in data.port.terminals}
        calls = {c.reference: c for c in data.vessel_calls}
        for box in data.containers:
            assert box.events, box.reference
            for event in box.events:
                assert event.facility_code in terminals
                assert event.created <= now
                if event.classifier == "ACT":
                    assert event.event_datetime <= now
                if event.type_code in {"DISC", "LOAD"} and event.mode == "VESSEL":
                    assert event.call is not None
                    assert calls[event.call.reference] == event.call
                    assert event.call.facility_code == event.facility_code
                elif event.type_code == "LOAD":  # onto on-dock rail, at the same terminal
                    assert event.train is not None
                    assert event.train.startswith(f"{data.port_id}-{event.facility_code}-RAIL-")
                else:
                    assert event.call is None


def test_actual_events_tell_each_flows_story_in_order(all_ports: dict[str, PortData]):
    for box in _boxes(all_ports):
        actual = box.actual_events
        story = " ".join(e.type_code for e in actual)
        assert ACTUAL_STORIES[box.flow].match(story), (box.reference, story)
        times = [e.event_datetime for e in actual]
        assert times == sorted(times)
        for kind in {e.type_code for e in box.events}:
            created = {e.classifier: e.created for e in box.events if e.type_code == kind}
            if "PLN" in created and "EST" in created:
                assert created["PLN"] <= created["EST"]


def test_no_box_leaves_the_gate_while_a_hold_is_on(all_ports: dict[str, PortData]):
    imports = [b for b in _boxes(all_ports) if b.availability is not None]
    assert {b.flow for b in imports} == {"IMPORT"}
    picked_up_after_holds = 0
    for box in imports:
        assert box.availability is not None
        holds = box.availability.holds
        gate_out = [e.event_datetime for e in box.actual_events if e.type_code == "GTOT"]
        if gate_out:
            assert all(h.status == "RELEASED" and h.updated <= gate_out[0] for h in holds)
            picked_up_after_holds += bool(holds)
        on_hold = any(h.status == "HOLD" for h in holds)
        assert box.availability.available_for_pickup == (
            box.status == "IN_TERMINAL" and not on_hold
        )
        released = [e.event_datetime for e in box.actual_events if e.type_code == "CUSR"]
        for exam in (h for h in holds if h.description.startswith("CBP exam")):
            assert released == ([exam.updated] if exam.status == "RELEASED" else [])
    assert picked_up_after_holds > 20


def test_free_days_and_fees_follow_discharge(all_ports: dict[str, PortData], now: datetime):
    today = now.astimezone(PACIFIC).date()
    charged = 0
    for box in _boxes(all_ports):
        availability = box.availability
        if availability is None:
            continue
        discharge = [e for e in box.actual_events if e.type_code == "DISC"]
        if not discharge:
            assert availability.last_free_day is None
            assert availability.outstanding_fees_usd == 0
            continue
        first = discharge[0].event_datetime.astimezone(PACIFIC).date()
        assert availability.first_available_date == first
        assert availability.last_free_day == first + timedelta(days=FREE_DAYS[box.port_id])
        expected = 0.0
        if box.status == "IN_TERMINAL" and today > availability.last_free_day:
            days = (today - availability.last_free_day).days
            expected = days * DEMURRAGE_USD_PER_DAY[box.port_id]
            charged += 1
        assert availability.outstanding_fees_usd == expected
    assert charged > 0


def test_yard_block_only_while_in_the_terminal(all_ports: dict[str, PortData]):
    for box in _boxes(all_ports):
        if box.status == "IN_TERMINAL":
            assert box.yard is not None
            assert re.fullmatch(r"[A-H]\d{1,2}", box.yard.block)
        else:
            assert box.yard is None


def test_volumes_follow_2024_teu(all_ports: dict[str, PortData]):
    own = {p: len(containers_only_at(all_ports, p)) for p in PORT_IDS}
    assert 950 <= own["USLAX"] <= 1050
    for port_id in ("USLGB", "USOAK"):
        expected = own["USLAX"] * PORTS[port_id].teu_2024_millions / 10.0
        assert abs(own[port_id] - expected) / expected < 0.1, port_id
    assert own["USNTD"] >= 8
    assert own["USSAN"] >= 10
    assert container_count("USLAX", scale=0.5) == 500
    assert container_count("USSAN", scale=0.5) == 10
    sizes = Counter(box.iso_code[0] for box in all_ports["USLAX"].containers)
    assert 0.7 <= sizes["4"] / sum(sizes.values()) <= 0.9


def test_some_boxes_are_known_at_two_ports_in_a_sensible_order(all_ports: dict[str, PortData]):
    shared = containers_at_several_ports(all_ports)
    assert len(shared) >= 3
    for reference, ports in shared.items():
        assert len(ports) == 2
        boxes = [all_ports[p].container(reference) for p in ports]
        imported = next(b for b in boxes if b is not None and b.flow == "IMPORT")
        returned = next(b for b in boxes if b is not None and b.flow == "EMPTY_RETURN")
        assert imported.status == "GATED_OUT"
        assert returned.empty_indicator == "EMPTY"
        assert imported.actual_events[-1].event_datetime < returned.actual_events[0].event_datetime
    for port_id in PORT_IDS:
        assert containers_only_at(all_ports, port_id)


def test_metrics_cover_every_metric_period_and_terminal(all_ports: dict[str, PortData]):
    for port_id, data in all_ports.items():
        scopes = {None, *(t.facility_code for t in data.port.terminals)}
        grid = {(m.metric, m.period, m.facility_code) for m in data.metrics}
        assert len(grid) == len(data.metrics) == 6 * 3 * len(scopes), port_id


def test_a_later_now_moves_the_call_window_but_keeps_the_schedule(now: datetime):
    earlier = generate_port_data("USSAN", now=now)
    later = generate_port_data("USSAN", now=now + timedelta(days=3))
    assert later.now == now + timedelta(days=3)
    assert min(c.planned_arrival for c in later.vessel_calls) >= later.now - timedelta(days=14)
    planned = {c.reference: c.planned_arrival for c in earlier.vessel_calls}
    for call in later.vessel_calls:
        assert planned.get(call.reference, call.planned_arrival) == call.planned_arrival


def test_cut_offs_come_before_the_planned_arrival_in_order_at_whole_local_hours(
    all_ports: dict[str, PortData],
):
    order = [("EFC", False), ("EFC", True), ("DCO", False), ("VCO", False), ("FCO", False),
             ("FCO", True)]  # fmt: skip
    for data in all_ports.values():
        for call in data.vessel_calls:
            if call.status_code == "OMIT":
                assert call.cut_offs == ()
                continue
            assert [(c.code, c.reefer) for c in call.cut_offs] == order
            times = [c.at for c in call.cut_offs]
            assert times == sorted(set(times))
            assert times[-1] < call.planned_arrival
            assert all(t.astimezone(PACIFIC).minute == 0 for t in times)
            before = {(c.code, c.reefer): call.planned_arrival - c.at for c in call.cut_offs}
            assert timedelta(days=4.5) < before["EFC", False] <= timedelta(days=5, hours=1)
            assert timedelta(days=2.5) < before["DCO", False] <= timedelta(days=3, hours=1)
            assert timedelta(days=1) <= before["FCO", True] <= timedelta(days=1, hours=1)


def test_a_recorded_change_is_what_the_port_knows_from_then_on(now: datetime) -> None:
    data = generate_port_data("USLGB", now=now)
    box = data.containers[0]
    moved = replace(box, bill_of_lading="RECORDED-BL")
    data.record(moved)
    assert data.container(box.reference) is moved
    assert data.containers_of_document("TRD", "RECORDED-BL") == [moved]
    assert len(data.containers) == len({c.reference for c in data.containers})
    with pytest.raises(KeyError, match="not a box of USLGB"):
        data.record(replace(box, reference="MSCU0000000"))


class _Listener:
    def __init__(self) -> None:
        self.boxes: list[Container] = []

    def recorded(self, container: Container) -> None:
        self.boxes.append(container)


def test_a_recorded_change_is_told_to_the_systems_that_listen(now: datetime) -> None:
    data = generate_port_data("USLGB", now=now)
    box = data.containers[0]
    kept, dropped = _Listener(), _Listener()
    data.listen(kept)
    data.listen(kept)  # once is enough
    data.listen(dropped)
    told_dropped = dropped.boxes
    del dropped  # held weakly: a system nobody keeps stops listening
    moved = replace(box, bill_of_lading="RECORDED-BL")
    data.record(moved)
    assert kept.boxes == [moved]
    assert told_dropped == []
    data.unlisten(kept)
    data.record(replace(moved, bill_of_lading="AGAIN-BL"))
    assert kept.boxes == [moved]
