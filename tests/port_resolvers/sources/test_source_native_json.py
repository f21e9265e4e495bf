"""NativeJsonSource against the simulated terminal API: the records match the generated data."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from port_resolvers.kit.source import VesselCallFilter
from port_resolvers.sources.native_json import NativeJsonSource
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
    port.system.knobs.labor_keys = True
    raw = await port.client.get(
        "http://uslgb.sim/api/v1/containers", params={"ids": ",".join(references)}
    )
    raw_keys = all_keys(raw.json())
    assert {"crane_operator_id", "gang_id", "driver_name", "twic_card_number"} <= raw_keys
    leaky = await port.source.containers(references)
    leaky_calls = await port.source.vessel_calls(VesselCallFilter())
    leaky_metrics = await port.source.metrics("LAST_7_DAYS", None)
    assert (leaky, leaky_calls, leaky_metrics) == (clean, clean_calls, clean_metrics)
    assert not [k for k in all_keys([leaky, leaky_calls, leaky_metrics]) if is_labor_key(k)]


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
