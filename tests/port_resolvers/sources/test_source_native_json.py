"""NativeJsonSource against the simulated terminal API: the records match the generated data."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from port_resolvers.kit.source import SourceUnavailable, VesselCallFilter
from port_resolvers.sources.native_json import NativeJsonSource
from portcontract.capabilities import OPTIONAL_FIELDS
from portcontract.labor import is_labor_key
from tests.port_resolvers.sources.conftest import all_keys

NATIVE_PORTS = ["USLGB", "USNTD", "USSAN"]
METRIC_PERIODS = ["LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS"]


def _as_the_terminal_api_reports_it(calls: list[Any]) -> list[Any]:
    """Expected calls as the terminal API carries them: the times, not their history (no
    creation times, so no timestamps list)."""
    return [{k: v for k, v in call.items() if k != "timestamps"} for call in calls]


def _by_time(records: list[Any]) -> list[Any]:
    for record in records:
        record["events"].sort(key=lambda e: (e["eventDateTime"], e["eventID"]))
    return records


@pytest.mark.parametrize("port_id", NATIVE_PORTS)
async def test_containers_match_the_generated_data(
    wire: Callable[..., Any], normalise: Callable[[Any], Any], port_id: str
):
    port = wire(port_id)
    references = [box.reference for box in port.data.containers] + ["MSCU1234565"]
    got = await port.source.containers(references)
    expected = await port.expected.containers(references)
    assert len(got) == len(port.data.containers)
    assert normalise(_by_time(got)) == normalise(_by_time(expected))


@pytest.mark.parametrize("port_id", NATIVE_PORTS)
async def test_vessel_calls_match_the_generated_data(
    wire: Callable[..., Any], normalise: Callable[[Any], Any], port_id: str
):
    port = wire(port_id)
    got = await port.source.vessel_calls(VesselCallFilter())
    expected = await port.expected.vessel_calls(VesselCallFilter())
    assert normalise(got) == normalise(_as_the_terminal_api_reports_it(expected))


@pytest.mark.parametrize(
    "make_filter",
    [
        lambda now: VesselCallFilter(planned_from=now - timedelta(days=2), planned_to=now),
        lambda now: VesselCallFilter(planned_from=now + timedelta(days=7)),
        lambda now: VesselCallFilter(status_codes=frozenset({"OMIT"})),
    ],
)
async def test_vessel_call_filters(
    wire: Callable[..., Any],
    normalise: Callable[[Any], Any],
    now: datetime,
    make_filter: Callable[[datetime], VesselCallFilter],
):
    port = wire("USLGB")
    filter = make_filter(now)
    got = await port.source.vessel_calls(filter)
    assert got
    expected = await port.expected.vessel_calls(filter)
    assert normalise(got) == normalise(_as_the_terminal_api_reports_it(expected))


async def test_vessel_by_imo(wire: Callable[..., Any]):
    port = wire("USLGB")
    vessel = port.data.vessels[3]
    calls = await port.source.vessel_calls(VesselCallFilter(vessel_imo_number=vessel.imo))
    assert {c["vessel"]["vesselIMONumber"] for c in calls} == {vessel.imo}
    assert await port.source.vessel(vessel.imo) == await port.expected.vessel(vessel.imo)
    assert await port.source.vessel("9321483") is None


@pytest.mark.parametrize("period", METRIC_PERIODS)
async def test_metrics_and_port(wire: Callable[..., Any], period: str):
    port = wire("USNTD")
    assert await port.source.metrics(period, None) == await port.expected.metrics(period, None)
    only = ["TEU_LOADED", "VESSELS_AT_BERTH"]
    assert await port.source.metrics(period, only) == await port.expected.metrics(period, only)
    assert await port.source.port() == await port.expected.port()


async def test_labor_keys_never_reach_the_records(wire: Callable[..., Any]):
    port = wire("USLGB")
    references = [box.reference for box in port.data.containers[:100]]
    clean = await port.source.containers(references)
    clean_calls = await port.source.vessel_calls(VesselCallFilter())
    clean_metrics = await port.source.metrics("LAST_7_DAYS", None)
    clean_port = await port.source.port()
    port.system.knobs.labor_keys = True
    raw = await port.client.get(
        "http://uslgb.sim/api/v1/containers", params={"ids": ",".join(references)}
    )
    raw_keys = all_keys(raw.json())
    assert {"crane_operator_id", "gang_id", "driver_name", "twic_card_number"} <= raw_keys
    for path in ("/api/v1/gate-schedule", "/api/v1/appointments"):
        raw_keys |= all_keys((await port.client.get(f"http://uslgb.sim{path}")).json())
    assert {"shift_code", "lane_id", "clerk_id"} <= raw_keys
    leaky = await port.source.containers(references)
    leaky_calls = await port.source.vessel_calls(VesselCallFilter())
    leaky_metrics = await port.source.metrics("LAST_7_DAYS", None)
    leaky_port = await port.source.port()
    assert (leaky, leaky_calls, leaky_metrics) == (clean, clean_calls, clean_metrics)
    assert leaky_port == clean_port
    everything = [leaky, leaky_calls, leaky_metrics, leaky_port]
    assert not [k for k in all_keys(everything) if is_labor_key(k)]


async def test_local_times_are_read_across_the_autumn_dst_change():
    facility = {
        "port_code": "USSAN",
        "port_name": "Port of San Diego",
        "tz": "America/Los_Angeles",
        "terminals": [
            {"terminal_id": "TAMT", "terminal_name": "Tenth Avenue", "lat": 32.7, "lon": -117.15}
        ],
    }

    def visit(visit_id: str, planned: str) -> dict[str, Any]:
        return {
            "visit_id": visit_id,
            "terminal_id": "TAMT",
            "visit_state": "EXPECTED",
            "vessel": {"imo": "9321483"},
            "berth_window": {"planned_arrival": planned},
        }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/facility":
            return httpx.Response(200, json=facility)
        visits = [visit("first", "2026-11-01 01:30 PDT"), visit("second", "2026-11-01 01:30 PST")]
        return httpx.Response(200, json={"visits": visits})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        calls = await NativeJsonSource(client, "http://ussan.sim").vessel_calls(VesselCallFilter())
    assert [c["plannedArrivalDateTime"] for c in calls] == [
        datetime(2026, 11, 1, 8, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 9, 30, tzinfo=UTC),
    ]


async def test_containers_of_a_bill_of_lading(
    wire: Callable[..., Any], normalise: Callable[[Any], Any]
):
    port = wire("USLGB")
    shared = next(
        b
        for b in port.data.containers
        if b.bill_of_lading and len(port.data.containers_of_document("TRD", b.bill_of_lading)) > 1
    )
    got = await port.source.containers_by_document(transport_document=shared.bill_of_lading)
    expected = await port.expected.containers_by_document(transport_document=shared.bill_of_lading)
    assert len(got) > 1
    assert normalise(_by_time(got)) == normalise(_by_time(expected))


ALL_OPTIONAL = set(OPTIONAL_FIELDS)
TERMINAL_ROUTES = {"GET /api/v1/gate-schedule", "GET /api/v1/appointments",
                   "GET /api/v1/empty-returns"}  # fmt: skip


@pytest.mark.parametrize(
    ("port_id", "offered"),
    [
        ("USLGB", ALL_OPTIONAL),
        ("USNTD", ALL_OPTIONAL - {"Container.railLeg"}),
        ("USSAN", set()),
    ],
)
async def test_each_port_offers_what_its_terminal_system_publishes(
    wire: Callable[..., Any], port_id: str, offered: set[str]
):
    port = wire(port_id)
    assert port.source.offers == offered
    await port.source.port()
    asked = set(port.system.stats.requests)
    assert asked & TERMINAL_ROUTES == (TERMINAL_ROUTES if offered else set())


async def test_gate_hours_appointments_and_empty_returns_come_with_the_terminals(
    wire: Callable[..., Any],
):
    port = wire("USLGB")
    record = await port.source.port()
    assert record == await port.expected.port()
    lbct = next(t for t in record["terminals"] if t["facilitySMDGCode"] == "LBCT")
    monday = lbct["gateHours"][0]
    assert monday["date"] == date(2026, 3, 2)
    assert [(p["opensDateTime"], p["offPeak"]) for p in monday["periods"]] == [
        (datetime(2026, 3, 2, 15, 0, tzinfo=UTC), False),  # 07:00 PST
        (datetime(2026, 3, 3, 2, 0, tzinfo=UTC), True),  # 18:00 PST, off-peak
    ]
    assert lbct["usesAppointments"] is True
    assert {s["transaction"] for s in lbct["appointmentSlots"]} == {
        "IMPORT_PICKUP", "EXPORT_DROPOFF", "EMPTY_RETURN", "EMPTY_PICKUP"
    }  # fmt: skip
    assert {s["availability"] for t in record["terminals"] for s in t["appointmentSlots"]} == {
        "OPEN", "LIMITED", "FULL"
    }  # fmt: skip
    assert {r["ISOEquipmentCode"] for r in lbct["emptyReturns"]} == {
        "22G1", "42G1", "45G1", "L5G1", "22R1", "45R1"
    }  # fmt: skip


async def test_cut_offs_rail_legs_and_empty_return_deadlines_are_mapped(
    wire: Callable[..., Any], now: datetime
):
    port = wire("USLGB")
    calls = await port.source.vessel_calls(VesselCallFilter())
    cut_offs = [c["cutOffTimes"] for c in calls if c["statusCode"] is None]
    assert all(len(c) == 6 for c in cut_offs)
    assert [c["cutOffTimes"] for c in calls if c["statusCode"] == "OMIT"] == [[], []]
    railed = [b for b in port.data.containers if b.rail is not None and b.rail.on_dock]
    gated_out = [b for b in port.data.containers if b.status == "GATED_OUT" and b.availability]
    references = [b.reference for b in railed[:5] + gated_out[:5]]
    records = {r["equipmentReference"]: r for r in await port.source.containers(references)}
    for box in railed[:5]:
        leg = records[box.reference]["railLeg"]
        assert leg["onDock"] is True
        assert leg["railCarrierSCACCode"] in {"UPRR", "BNSF"}
        assert leg["destinationRamp"]["UNLocationCode"].startswith("US")
    for box in gated_out[:5]:
        deadline = records[box.reference]["availability"]["emptyReturnDeadline"]
        assert box.availability is not None
        assert deadline == box.availability.empty_return_deadline
        assert deadline > box.actual_events[-1].event_datetime.date()


async def test_a_source_reads_only_what_it_is_told_the_system_publishes(
    wire: Callable[..., Any],
):
    port = wire("USLGB")
    plain = NativeJsonSource(port.client, "http://uslgb.sim")
    assert plain.offers == frozenset()
    record = await plain.port()
    assert {k for t in record["terminals"] for k in t} == {
        "facilitySMDGCode", "name", "UNLocationCode"
    }  # fmt: skip
    assert not set(port.system.stats.requests) & TERMINAL_ROUTES
    calls = await plain.vessel_calls(VesselCallFilter())
    boxes = await plain.containers([b.reference for b in port.data.containers[:50]])
    keys = all_keys([calls, boxes])
    assert not keys & {"cutOffTimes", "railLeg", "emptyReturnDeadline"}
    with pytest.raises(ValueError, match=r"Terminal\.gateHour"):
        NativeJsonSource(port.client, "http://uslgb.sim", offers={"Terminal.gateHour"})


async def test_a_capability_the_system_does_not_publish_is_a_failure_not_an_empty_answer(
    wire: Callable[..., Any],
):
    port = wire("USSAN")
    claims = NativeJsonSource(port.client, "http://ussan.sim", offers={"Terminal.gateHours"})
    with pytest.raises(SourceUnavailable, match="gate-schedule answered HTTP 404"):
        await claims.port()


async def test_codes_the_schema_does_not_know_are_skipped_or_said_as_other():
    facility = {
        "port_code": "USLGB",
        "port_name": "Port of Long Beach",
        "tz": "America/Los_Angeles",
        "terminals": [{"terminal_id": "LBCT", "terminal_name": "LBCT"}],
    }
    hours = {"from": "2026-11-02 07:00 PST", "to": "2026-11-02 17:00 PST", "off_peak": False}
    answers = {
        "/api/v1/facility": facility,
        "/api/v1/gate-schedule": {"terminals": [{"terminal_id": "LBCT", "days": [
            {"date": "11/02/2026", "status": "OPEN", "closed_for": None, "hours": [hours]},
            {"date": "11/03/2026", "status": "CLOSED", "closed_for": "STRIKE", "hours": []},
        ]}, {"terminal_id": "ELSEWHERE", "days": []}]},
        "/api/v1/appointments": {"terminals": [{"terminal_id": "LBCT",
            "appointments_required": True, "slots": [
                {"from": "2026-11-02 07:00 PST", "to": "2026-11-02 08:00 PST",
                 "appt_type": "Chassis Drop", "status": "Open", "remaining": 3},
                {"from": "2026-11-02 07:00 PST", "to": "2026-11-02 08:00 PST",
                 "appt_type": "Import Pick Up", "status": "Waitlist", "remaining": 0},
                {"from": "2026-11-02 07:00 PST", "to": "2026-11-02 08:00 PST",
                 "appt_type": "Empty Drop Off", "status": "Few Left", "remaining": 2},
            ]}]},
        "/api/v1/empty-returns": {"empties": [
            {"terminal_id": "LBCT", "date": "11/02/2026", "ssl_scac": "MAEU",
             "size_type": "45G1", "receiving": "N"},
            {"terminal_id": "NOWHERE", "date": "11/02/2026", "ssl_scac": "MAEU",
             "size_type": "45G1", "receiving": "Y"},
        ]},
        "/api/v1/vessel-visits": {"visits": [{
            "visit_id": "V1", "terminal_id": "LBCT", "visit_state": "EXPECTED",
            "berth_window": {"planned_arrival": "2026-11-09 12:00 PST"},
            "cutoffs": {"dry_cutoff": "2026-11-08 00:00 PST",
                        "hazmat_cutoff": "2026-11-07 12:00 PST",
                        "doc_cutoff": "2026-11-06 12:00 PST", "vgm_cutoff": None},
        }]},
        "/api/v1/containers": {"unknown_ids": [], "containers": [{
            "container_no": "MSCU1234566", "size_type": "45G1", "full_empty": "F",
            "terminal_id": "LBCT", "moves": [], "import_status": None,
            "rail": {"on_dock": True, "railroad": "KCS", "ramp": None, "loaded_ts": None,
                     "departs": None, "departure_stage": "Rumoured"},
        }]},
    }  # fmt: skip

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers[request.url.path])

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        source = NativeJsonSource(client, "http://uslgb.sim", offers=OPTIONAL_FIELDS)
        (terminal,) = (await source.port())["terminals"]
        (call,) = await source.vessel_calls(VesselCallFilter())
        (box,) = await source.containers(["MSCU1234566"])
    assert [(d["open"], d["closureReason"]) for d in terminal["gateHours"]] == [
        (True, None), (False, "OTHER")
    ]  # fmt: skip
    assert [(s["transaction"], s["availability"]) for s in terminal["appointmentSlots"]] == [
        ("EMPTY_RETURN", "LIMITED")
    ]
    assert [(r["carrierSCACCode"], r["accepted"]) for r in terminal["emptyReturns"]] == [
        ("MAEU", False)
    ]
    assert [(c["cutOffDateTimeCode"], c["reefer"]) for c in call["cutOffTimes"]] == [
        ("DCO", False), ("FCO", False)
    ]  # fmt: skip
    assert box["railLeg"] == {
        "onDock": True,
        "railCarrierSCACCode": None,
        "destinationRamp": None,
        "loadedOnRailDateTime": None,
        "departureDateTime": None,
        "departureClassifierCode": None,
    }
