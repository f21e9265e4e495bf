"""The simulation is believable: each port's own trade, carriers and terminals, customs exams at
CBP's rates and durations, volumes at the ports' 2024 magnitudes, and the README's boxes."""

from collections import Counter
from datetime import datetime, timedelta

import pytest

from port_resolvers.sim.data import (
    INBOUND,
    SHIPPER_OWNED_EXPORT,
    SHOWCASE_DOCUMENTS,
    WAITING_FOR_PICKUP,
)
from port_resolvers.sim.fleet import liner_services
from port_resolvers.sim.model import Container, PortData
from port_resolvers.sim.reference import PORT_IDS

DAY = timedelta(days=1)
WEEKLY_DISCHARGED_TEU = {"USLAX": 99_000, "USLGB": 93_000, "USOAK": 22_000}


def _flows(data: PortData) -> Counter[str]:
    return Counter(box.flow for box in data.containers)


def _reefer_share(data: PortData) -> float:
    laden = [b for b in data.containers if b.empty_indicator == "LADEN"]
    return sum("R" in b.iso_code for b in laden) / len(laden)


def test_oakland_is_export_and_reefer_heavy(all_ports: dict[str, PortData]):
    oakland, los_angeles = all_ports["USOAK"], all_ports["USLAX"]
    assert _flows(oakland)["EXPORT"] > _flows(oakland)["IMPORT"]
    assert _flows(los_angeles)["IMPORT"] > 2 * _flows(los_angeles)["EXPORT"]
    assert _reefer_share(oakland) > 2 * _reefer_share(los_angeles)


def test_hueneme_and_san_diego_are_fruit_ports_served_by_fruit_carriers(
    all_ports: dict[str, PortData],
):
    for port_id, carriers in (("USNTD", {"GWF"}), ("USSAN", {"DOL"})):
        data = all_ports[port_id]
        assert _reefer_share(data) >= 0.5, port_id
        assert {c.vessel.liner_code for c in data.vessel_calls} == carriers
    assert {c.vessel.scac for c in all_ports["USSAN"].vessel_calls} == {"DOLQ"}


def test_the_missing_carriers_call_and_matson_has_its_own_terminal(
    all_ports: dict[str, PortData],
):
    carriers = {c.vessel.liner_code for d in all_ports.values() for c in d.vessel_calls}
    assert {"COS", "OOL", "HMM", "MAT"} <= carriers
    at_terminal_c = {c.vessel.liner_code for c in all_ports["USLGB"].vessel_calls
                     if c.facility_code == "MATU"}  # fmt: skip
    assert at_terminal_c == {"MAT"}
    matson_at_long_beach = {c.facility_code for c in all_ports["USLGB"].vessel_calls
                            if c.vessel.liner_code == "MAT"}  # fmt: skip
    assert matson_at_long_beach == {"MATU"}
    assert all(s.vessels[0].scac for s in liner_services(2024))


def _imports_discharged(all_ports: dict[str, PortData]) -> list[Container]:
    return [
        b
        for d in all_ports.values()
        for b in d.containers
        if b.flow == "IMPORT" and any(e.type_code == "DISC" for e in b.actual_events)
    ]


def _at(box: Container, kind: str) -> datetime | None:
    return next((e.event_datetime for e in box.actual_events if e.type_code == kind), None)


def test_customs_exams_at_cbp_rates_and_durations(all_ports: dict[str, PortData]):
    imports = _imports_discharged(all_ports)
    scanned = [b for b in imports if _at(b, "CUSS")]
    examined = [b for b in imports if _at(b, "CUSI")]
    assert len(imports) > 500
    assert 0.02 <= len(scanned) / len(imports) <= 0.07  # about 4 %: non-intrusive scans
    assert 0.002 <= len(examined) / len(imports) <= 0.03  # about 1 %: intensive exams
    for box, low, high in [(b, 1, 3) for b in scanned] + [(b, 5, 10) for b in examined]:
        selected = _at(box, "CUSS") or _at(box, "CUSI")
        released = _at(box, "CUSR")
        assert selected is not None
        if released is not None:
            assert low * DAY <= released - selected <= high * DAY, box.reference
    # The exam opens the box: the seal comes off, a customs seal goes on.
    for box in examined:
        resealed = [e for e in box.actual_events if e.type_code == "RSEA"]
        for event in resealed:
            assert [s.source for s in event.seals] == ["CUS"]


def test_on_dock_rail_takes_a_share_of_san_pedro_bay_imports(all_ports: dict[str, PortData]):
    for port_id in ("USLAX", "USLGB"):
        statuses = Counter(b.status for b in all_ports[port_id].containers)
        left = statuses["LOADED_ON_RAIL"] + statuses["GATED_OUT"]
        assert 0.1 <= statuses["LOADED_ON_RAIL"] / left <= 0.4, port_id


@pytest.mark.parametrize("port_id", PORT_IDS)
def test_port_volumes_at_their_2024_magnitudes(all_ports: dict[str, PortData], port_id: str):
    weekly = {
        (m.metric, m.facility_code): m
        for m in all_ports[port_id].metrics
        if m.period == "LAST_7_DAYS"
    }
    discharged = weekly["TEU_DISCHARGED", None].value
    assert discharged is not None
    if port_id in WEEKLY_DISCHARGED_TEU:
        assert abs(discharged / WEEKLY_DISCHARGED_TEU[port_id] - 1) < 0.15
    else:  # about 0.1 million TEU a year, in and out
        assert 700 <= discharged <= 1_400
    # A port-level figure says how many boxes it stands for: far more than the sample holds.
    assert weekly["TEU_DISCHARGED", None].sample_size > len(all_ports[port_id].containers)


def test_the_readmes_boxes_are_what_the_readme_says(all_ports: dict[str, PortData], now: datetime):
    port_id, reference = WAITING_FOR_PICKUP
    waiting = all_ports[port_id].container(reference)
    assert waiting is not None
    assert waiting.availability is not None
    assert waiting.status == "IN_TERMINAL"
    assert waiting.availability.available_for_pickup
    assert all(h.status == "RELEASED" for h in waiting.availability.holds)
    assert waiting.availability.last_free_day is not None
    assert waiting.availability.last_free_day > now.date()
    assert waiting.yard is not None
    port_id, reference = INBOUND
    inbound = all_ports[port_id].container(reference)
    assert inbound is not None
    assert inbound.status == "INBOUND"
    port_id, reference = SHIPPER_OWNED_EXPORT
    shipper_owned = all_ports[port_id].container(reference)
    assert shipper_owned is not None
    assert shipper_owned.flow == "EXPORT"


def test_the_readmes_bill_of_lading_has_a_box_at_two_ports(all_ports: dict[str, PortData]):
    booking, bill = SHOWCASE_DOCUMENTS
    on_it = {
        port_id: [b.reference for b in data.containers_of_document("TRD", bill)]
        for port_id, data in all_ports.items()
    }
    assert {p: refs for p, refs in on_it.items() if refs} == {
        WAITING_FOR_PICKUP[0]: [WAITING_FOR_PICKUP[1]],
        INBOUND[0]: [INBOUND[1]],
    }
    assert all_ports["USLAX"].containers_of_document("BKG", booking)
