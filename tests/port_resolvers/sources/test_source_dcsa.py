"""DcsaTrackAndTraceSource against the simulated DCSA ports (T&T 2.2 plus the terminal API)."""

import copy
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from port_resolvers.kit.source import VesselCallFilter
from port_resolvers.sources.dcsa import DcsaTrackAndTraceSource
from portcontract.capabilities import OPTIONAL_FIELDS
from portcontract.labor import is_labor_key
from tests.port_resolvers.sources.conftest import all_keys, collected

DCSA_PORTS = ["USLAX", "USOAK"]


def _as_tnt_reports_it(records: list[Any]) -> list[Any]:
    """Expected containers as T&T carries them: vessels inside events lack MMSI and SCAC (T&T
    has no MMSI, and one operator code: the SMDG one here), events sorted."""
    records = copy.deepcopy(records)
    for record in records:
        record["events"].sort(key=lambda e: (e["eventDateTime"], e["eventID"]))
        for event in record["events"]:
            vessel = (event.get("transportCall") or {}).get("vessel") or {}
            vessel.pop("MMSINumber", None)
            vessel.pop("vesselOperatorSCACCode", None)
    return records


def _sorted_events(records: list[Any]) -> list[Any]:
    for record in records:
        record["events"].sort(key=lambda e: (e["eventDateTime"], e["eventID"]))
    return records


def _reference(call: Any) -> str:
    return str(call["transportCallReference"])


@pytest.mark.parametrize("port_id", DCSA_PORTS)
async def test_containers_match_the_generated_data(
    wire: Callable[..., Any], normalise: Callable[[Any], Any], port_id: str
):
    port = wire(port_id)
    references = [box.reference for box in port.data.containers] + ["MSCU1234565"]
    got = await port.source.containers(references)
    expected = await port.expected.containers(references)
    assert len(got) == len(port.data.containers)
    assert normalise(_sorted_events(got)) == normalise(_as_tnt_reports_it(expected))


async def test_non_iso_references_are_served(wire: Callable[..., Any]):
    port = wire("USOAK")
    soc = [box.reference for box in port.data.containers if box.reference.startswith("SOC")]
    got = await port.source.containers(soc)
    assert [c["equipmentReference"] for c in got] == soc


@pytest.mark.parametrize("port_id", DCSA_PORTS)
async def test_vessel_calls_match_the_generated_data(
    wire: Callable[..., Any], normalise: Callable[[Any], Any], port_id: str
):
    port = wire(port_id)
    got = sorted(await port.source.vessel_calls(VesselCallFilter()), key=_reference)
    expected = sorted(await port.expected.vessel_calls(VesselCallFilter()), key=_reference)
    assert normalise(got) == normalise(expected)
    assert {c["phase"] for c in got} >= {"DEPARTED", "SCHEDULED", "AT_ANCHOR", "OMITTED"}


@pytest.mark.parametrize(
    "make_filter",
    [
        lambda now, imo: VesselCallFilter(planned_from=now - timedelta(days=2), planned_to=now),
        lambda now, imo: VesselCallFilter(status_codes=frozenset({"OMIT"})),
        lambda now, imo: VesselCallFilter(vessel_imo_number=imo),
    ],
)
async def test_vessel_call_filters(
    wire: Callable[..., Any],
    normalise: Callable[[Any], Any],
    now: datetime,
    make_filter: Callable[[datetime, str], VesselCallFilter],
):
    port = wire("USLAX")
    filter = make_filter(now, port.data.vessel_calls[5].vessel.imo)
    got = await port.source.vessel_calls(filter)
    expected = await port.expected.vessel_calls(filter)
    assert got
    assert normalise(sorted(got, key=_reference)) == normalise(sorted(expected, key=_reference))


async def test_vessel_port_and_metrics(wire: Callable[..., Any]):
    port = wire("USOAK")
    imo = port.data.vessels[0].imo
    assert await port.source.vessel(imo) == await port.expected.vessel(imo)
    assert await port.source.vessel("9321483") is None
    assert await port.source.port() == await port.expected.port()
    period = "LAST_30_DAYS"
    assert await port.source.metrics(period, None) == await port.expected.metrics(period, None)


async def test_pages_are_followed_up_to_the_bound(wire: Callable[..., Any]):
    port = wire("USOAK")
    small_pages = DcsaTrackAndTraceSource(
        port.client,
        "http://usoak.sim",
        "USOAK",
        page_size=20,
        max_pages=100,
        clock=lambda: port.data.now,
    )
    calls = await small_pages.vessel_calls(VesselCallFilter())
    assert len(calls) == len(port.data.vessel_calls)
    assert port.system.stats.requests["GET /v2/events"] > 5
    too_few = DcsaTrackAndTraceSource(
        port.client,
        "http://usoak.sim",
        "USOAK",
        page_size=20,
        max_pages=2,
        clock=lambda: port.data.now,
    )
    with collected() as left_out:
        fewer = await too_few.vessel_calls(VesselCallFilter())
    assert left_out == [("EVENTS_TRUNCATED", 1)]  # an answer from what was read, flagged
    assert len(fewer) < len(calls)


async def test_next_page_is_followed_by_cursor_on_the_configured_host():
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if "cursor" in request.url.params:
            return httpx.Response(200, json=[])
        return httpx.Response(
            200, json=[], headers={"Next-Page": "https://elsewhere.example/v2/events?cursor=abc"}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        source = DcsaTrackAndTraceSource(client, "http://uslax.sim", "USLAX")
        assert await source.vessel_calls(VesselCallFilter()) == []
    assert [u.host for u in seen] == ["uslax.sim", "uslax.sim"]
    assert dict(seen[1].params) == {"cursor": "abc"}


async def test_without_a_supplement_what_tnt_cannot_say_stays_empty(wire: Callable[..., Any]):
    port = wire("USLAX")
    alone = DcsaTrackAndTraceSource(
        port.client, "http://uslax.sim", "USLAX", clock=lambda: port.data.now
    )
    assert await alone.port() == {"UNLocationCode": "USLAX", "name": None, "terminals": []}
    assert alone.offers == frozenset()  # T&T 2.2 has no cut-offs, gates or rail legs

    # What T&T's calls tell of now: vessels at berth; at anchor only where the feed has the
    # anchorage arrivals (T&T 2.2 has no anchorage; a JIT port sends them): no false zero.
    def snapshot(records: list[Any]) -> dict[str, float]:
        return {r["metric"]: r["value"] for r in records if r["facilitySMDGCode"] is None}

    phases = Counter(c.phase for c in port.data.vessel_calls)
    assert phases["AT_ANCHOR"] > 0  # the port has vessels waiting, which T&T cannot show
    assert snapshot(await alone.metrics("LAST_7_DAYS", None)) == {
        "VESSELS_AT_BERTH": phases["AT_BERTH"]
    }
    assert await alone.metrics("LAST_7_DAYS", ["VESSELS_AT_ANCHOR"]) == []
    port.system.knobs.jit_places = True
    assert snapshot(await alone.metrics("LAST_7_DAYS", ["VESSELS_AT_ANCHOR"])) == {
        "VESSELS_AT_ANCHOR": phases["AT_ANCHOR"]
    }
    port.system.knobs.jit_places = False
    # What T&T's own events tell of availability: AVPU, and customs selection and release.
    available = next(
        b
        for b in port.data.containers
        if b.status == "IN_TERMINAL" and b.availability and b.availability.available_for_pickup
    )
    (record,) = await alone.containers([available.reference])
    assert record["availability"] == {"availableForPickup": True, "holds": []}
    assert record["location"]["yardBlock"] is None
    examined = next(
        b
        for b in port.data.containers
        if {"CUSS", "CUSI"} & {e.type_code for e in b.actual_events}
        and "CUSR" not in {e.type_code for e in b.actual_events}
    )
    (record,) = await alone.containers([examined.reference])
    assert record["availability"]["availableForPickup"] is False
    assert [(h["type"], h["status"]) for h in record["availability"]["holds"]] == [
        ("CUSTOMS", "HOLD")
    ]
    omitted = next(c for c in port.data.vessel_calls if c.status_code == "OMIT")
    calls = await alone.vessel_calls(VesselCallFilter(planned_from=omitted.planned_arrival))
    assert next(c for c in calls if c["transportCallReference"] == omitted.reference)["phase"] == (
        "SCHEDULED"
    )


async def test_labor_keys_never_reach_the_records(wire: Callable[..., Any]):
    port = wire("USLAX")
    references = [box.reference for box in port.data.containers[:40]]
    clean = await port.source.containers(references)
    clean_calls = await port.source.vessel_calls(VesselCallFilter())
    port.system.knobs.labor_keys = True
    raw = await port.client.get("http://uslax.sim/v2/events", params={"limit": 300})
    assert {"craneOperatorID", "gangID", "shiftCode", "driverName", "movesPerHour"} <= all_keys(
        raw.json()
    )
    leaky = await port.source.containers(references)
    leaky_calls = await port.source.vessel_calls(VesselCallFilter())
    assert (leaky, leaky_calls) == (clean, clean_calls)
    assert not [k for k in all_keys([leaky, leaky_calls]) if is_labor_key(k)]


@pytest.mark.parametrize("kind", ["TRD", "BKG"])
async def test_containers_of_a_bill_of_lading_or_booking(
    wire: Callable[..., Any], normalise: Callable[[Any], Any], kind: str
):
    port = wire("USLAX")
    shared = next(
        b
        for b in port.data.containers
        if b.bill_of_lading and len(port.data.containers_of_document("TRD", b.bill_of_lading)) > 1
    )
    reference = shared.bill_of_lading if kind == "TRD" else shared.booking
    assert reference is not None
    ask = {"transport_document": reference} if kind == "TRD" else {"booking": reference}
    got = await port.source.containers_by_document(**ask)
    expected = await port.expected.containers_by_document(**ask)
    assert len(got) >= (2 if kind == "TRD" else 1)
    by_number = sorted(_sorted_events(got), key=lambda c: c["equipmentReference"])
    assert normalise(by_number) == normalise(
        sorted(_as_tnt_reports_it(expected), key=lambda c: c["equipmentReference"])
    )


@pytest.mark.parametrize("port_id", DCSA_PORTS)
async def test_the_terminal_api_completes_tnt_with_what_it_offers(
    wire: Callable[..., Any], port_id: str
):
    port = wire(port_id)
    assert port.source.offers == OPTIONAL_FIELDS  # its supplement's
    assert port.source.offers == port.source.supplement.offers
    calls = await port.source.vessel_calls(VesselCallFilter())
    assert all(len(c["cutOffTimes"]) == 6 for c in calls if c["statusCode"] is None)
    terminals = (await port.source.port())["terminals"]
    assert all(len(t["gateHours"]) == 7 for t in terminals)
    assert any(t["emptyReturns"] for t in terminals)  # a terminal no carrier calls at has none
    assert all(t["usesAppointments"] and t["appointmentSlots"] for t in terminals)
    railed = [b for b in port.data.containers if b.rail is not None]
    gated_out = [b for b in port.data.containers if b.status == "GATED_OUT" and b.availability]
    assert railed
    records = await port.source.containers([b.reference for b in railed + gated_out[:5]])
    by_reference = {r["equipmentReference"]: r for r in records}
    for box in railed:
        leg = by_reference[box.reference]["railLeg"]
        assert leg["onDock"] == box.rail.on_dock
        if box.status == "LOADED_ON_RAIL":  # T&T's rail load, the terminal API's rail leg
            assert leg["loadedOnRailDateTime"] == box.actual_events[-1].event_datetime
    for box in gated_out[:5]:
        availability = by_reference[box.reference]["availability"]
        assert availability["emptyReturnDeadline"] is not None
