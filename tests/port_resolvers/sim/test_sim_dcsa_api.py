"""The simulated DCSA Track & Trace 2.2 API, checked against DCSA's own OpenAPI document."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse

from port_resolvers.sim.model import PortData
from port_resolvers.sim.systems import SimulatedPortSystem

Client = Callable[[SimulatedPortSystem], httpx.AsyncClient]


def _validate(openapi: OpenAPI, response: httpx.Response) -> None:
    """Validate a request and its answer against the T&T 2.2 OpenAPI (raises when invalid)."""
    url = response.request.url
    request = MockRequest(
        f"{url.scheme}://{url.host}",
        "GET",
        url.path,
        args=dict(url.params),
        headers=dict(response.request.headers),
    )
    openapi.validate_request(request)
    answer = MockResponse(response.content, response.status_code, headers=dict(response.headers))
    openapi.validate_response(request, answer)


async def _all_pages(
    client: httpx.AsyncClient, openapi: OpenAPI, params: dict[str, Any], validate: bool = True
) -> tuple[list[dict[str, Any]], int]:
    """Every event of a query, page by page, each page validated unless told not to."""
    response = await client.get("/v2/events", params=params)
    pages, events = 1, []
    while True:
        if validate:
            _validate(openapi, response)
        assert response.status_code == 200
        events += response.json()
        if "Next-Page" not in response.headers:
            return events, pages
        response = await client.get(response.headers["Next-Page"])
        pages += 1


@pytest.fixture
def lax(system_for: Callable[[str], SimulatedPortSystem]) -> SimulatedPortSystem:
    return system_for("USLAX")


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"eventType": "TRANSPORT"},
        {"eventType": "EQUIPMENT", "equipmentEventTypeCode": "GTIN,GTOT", "limit": 250},
        {"eventType": "TRANSPORT,EQUIPMENT", "transportEventTypeCode": "ARRI", "limit": 7},
        {"UNLocationCode": "USLAX", "carrierServiceCode": "MX1", "limit": 3},
        {"eventCreatedDateTime:gte": "2026-03-01T00:00:00-08:00", "sort": "eventDateTime:DESC"},
    ],
)
async def test_answers_validate_against_the_dcsa_openapi(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI, params: dict[str, Any]
):
    response = await client_for(lax).get("/v2/events", params=params)
    _validate(dcsa_openapi, response)
    assert response.status_code == 200
    assert response.headers["API-Version"] == "2.2.0"
    assert response.json()


async def test_answers_with_labor_keys_still_validate(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    lax.knobs.labor_keys = True
    response = await client_for(lax).get("/v2/events", params={"limit": 200})
    _validate(dcsa_openapi, response)
    keys = {k for event in response.json() for k in event}
    assert {"craneOperatorID", "gangID", "shiftCode", "clerkID", "driverName"} <= keys


async def test_the_validator_rejects_what_the_spec_forbids(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    response = await client_for(lax).get("/v2/events", params={"limit": 2})
    broken = response.json()
    broken[0]["eventClassifierCode"] = "MAYBE"
    forged = httpx.Response(200, json=broken, headers=response.headers, request=response.request)
    with pytest.raises(OpenAPIError):
        _validate(dcsa_openapi, forged)


async def test_pages_follow_next_page_to_the_same_events(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    client = client_for(lax)
    params = {"eventType": "TRANSPORT", "vesselIMONumber": lax.data.vessel_calls[0].vessel.imo}
    whole, _ = await _all_pages(client, dcsa_openapi, {**params, "limit": 1000})
    paged, pages = await _all_pages(client, dcsa_openapi, {**params, "limit": 2})
    assert [e["eventID"] for e in paged] == [e["eventID"] for e in whole]
    assert pages == -(-len(whole) // 2) > 1
    first_page = await client.get("/v2/events", params={**params, "limit": 2})
    assert "Prev-Page" not in first_page.headers
    assert "Last-Page" in first_page.headers


async def test_equipment_reference_gives_that_containers_events_only(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    box = next(b for b in lax.data.containers if b.flow == "IMPORT" and len(b.events) >= 4)
    events, _ = await _all_pages(
        client_for(lax), dcsa_openapi, {"equipmentReference": box.reference}
    )
    assert sorted(e["eventID"] for e in events) == sorted(e.event_id for e in box.events)
    assert {e["eventType"] for e in events} == {"EQUIPMENT"}
    vessel_moves = [e for e in events if e["equipmentEventTypeCode"] == "DISC"]
    assert vessel_moves
    for event in vessel_moves:
        call = event["transportCall"]
        assert call["vessel"]["vesselIMONumber"] == box.events[0].call.vessel.imo
        assert call["UNLocationCode"] == "USLAX"
        assert call["facilityCode"] == event["eventLocation"]["facilityCode"]


async def test_transport_events_give_planned_estimated_and_actual_times_per_call(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    departed = next(c for c in lax.data.vessel_calls if c.phase == "DEPARTED")
    events, _ = await _all_pages(
        client_for(lax),
        dcsa_openapi,
        {"eventType": "TRANSPORT", "transportCallID": departed.reference},
    )
    times = {
        (e["transportEventTypeCode"], e["eventClassifierCode"]): datetime.fromisoformat(
            e["eventDateTime"]
        )
        for e in events
    }
    assert times == {
        ("ARRI", "PLN"): departed.planned_arrival,
        ("ARRI", "EST"): departed.estimated_arrival,
        ("ARRI", "ACT"): departed.actual_arrival,
        ("DEPA", "PLN"): departed.planned_departure,
        ("DEPA", "EST"): departed.estimated_departure,
        ("DEPA", "ACT"): departed.actual_departure,
    }
    assert {e["transportCall"]["facilityTypeCode"] for e in events} == {"POTE"}


async def test_filters_narrow_only_their_own_kind_of_event(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI, now: datetime
):
    client = client_for(lax)
    events, _ = await _all_pages(
        client, dcsa_openapi, {"equipmentEventTypeCode": "GTOT", "limit": 1000}, validate=False
    )
    assert {e.get("equipmentEventTypeCode") for e in events} == {"GTOT", None}
    assert {e["eventType"] for e in events} == {"EQUIPMENT", "TRANSPORT"}
    arrivals, _ = await _all_pages(
        client,
        dcsa_openapi,
        {"eventType": "TRANSPORT", "transportEventTypeCode": "ARRI", "limit": 1000},
    )
    assert {e["transportEventTypeCode"] for e in arrivals} == {"ARRI"}
    since = now - timedelta(days=1)
    recent, _ = await _all_pages(
        client,
        dcsa_openapi,
        {"eventCreatedDateTime:gt": since.isoformat(), "limit": 1000},
        validate=False,
    )
    assert recent
    assert all(datetime.fromisoformat(e["eventCreatedDateTime"]) > since for e in recent)
    elsewhere = await client.get("/v2/events", params={"UNLocationCode": "USOAK"})
    assert elsewhere.json() == []
    shipments = await client.get("/v2/events", params={"eventType": "SHIPMENT"})
    assert shipments.json() == []


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"limit": "0"}, {}),
        ({"eventType": "PARCEL"}, {}),
        ({"colour": "red"}, {}),
        ({"cursor": "not-a-cursor"}, {}),
        ({}, {"API-Version": "3"}),
    ],
)
async def test_bad_queries_get_a_dcsa_error(
    lax: SimulatedPortSystem,
    client_for: Client,
    dcsa_openapi: OpenAPI,
    params: dict[str, str],
    headers: dict[str, str],
):
    response = await client_for(lax).get("/v2/events", params=params, headers=headers)
    assert response.status_code == 400
    answer = MockResponse(response.content, 400, headers=dict(response.headers))
    url = response.request.url
    dcsa_openapi.validate_response(MockRequest("http://uslax.sim", "GET", url.path), answer)
    body = response.json()
    assert body["statusCode"] == 400
    assert body["errors"][0]["message"]


async def test_every_generated_event_is_served(
    all_ports: dict[str, PortData],
    system_for: Callable[[str], SimulatedPortSystem],
    client_for: Client,
):
    system = system_for("USOAK")
    response = await client_for(system).get("/v2/events", params={"limit": 100_000})
    served = [e["eventID"] for e in response.json()]
    generated = [e.event_id for b in all_ports["USOAK"].containers for e in b.events]
    transport = sum(
        sum(
            t is not None
            for t in (
                c.planned_arrival,
                c.estimated_arrival,
                c.actual_arrival,
                c.planned_departure,
                c.estimated_departure,
                c.actual_departure,
            )
        )
        for c in all_ports["USOAK"].vessel_calls
    )
    assert len(served) == len(set(served)) == len(generated) + transport
    assert set(generated) <= set(served)
