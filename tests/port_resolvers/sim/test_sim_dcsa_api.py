"""The simulated DCSA Track & Trace 2.2 API, checked against DCSA's own OpenAPI document."""

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse

from port_resolvers.sim.data import generate_port_data
from port_resolvers.sim.model import EquipmentEvent, PortData
from port_resolvers.sim.systems import SimulatedPortSystem, create_port_system

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

    def at(e: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(e["eventDateTime"])

    def created(e: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(e["eventCreatedDateTime"])

    once = {
        (e["transportEventTypeCode"], e["eventClassifierCode"]): at(e)
        for e in events
        if (e["transportEventTypeCode"], e["eventClassifierCode"]) != ("ARRI", "EST")
    }
    assert once == {
        ("ARRI", "PLN"): departed.planned_arrival,
        ("ARRI", "ACT"): departed.actual_arrival,
        ("DEPA", "PLN"): departed.planned_departure,
        ("DEPA", "EST"): departed.estimated_departure,
        ("DEPA", "ACT"): departed.actual_departure,
    }
    # Every ETA the carrier published, each when it published it; the newest is the estimate.
    etas = sorted(
        (created(e), at(e)) for e in events if e["transportEventTypeCode"] == "ARRI"
        and e["eventClassifierCode"] == "EST"
    )  # fmt: skip
    assert etas == list(departed.eta_revisions)
    assert len(etas) > 3
    assert etas[-1][1] == departed.estimated_arrival
    assert {e["transportCall"]["facilityTypeCode"] for e in events} == {"POTE"}
    assert {e["transportCall"]["portVisitReference"] for e in events} == {
        departed.port_visit_reference
    }


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
        len(c.eta_revisions)
        + sum(
            t is not None
            for t in (
                c.planned_arrival,
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


async def test_sorted_by_creation_and_bounded_by_event_time(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI, now: datetime
):
    client = client_for(lax)
    start, end = now - timedelta(days=2), now + timedelta(days=3)
    params = {
        "eventType": "TRANSPORT",
        "sort": "eventCreatedDateTime:ASC",
        "eventDateTime:gte": start.isoformat(),
        "eventDateTime:lt": end.isoformat(),
        "limit": 40,
    }
    events, pages = await _all_pages(client, dcsa_openapi, params)
    assert pages > 1
    created = [datetime.fromisoformat(e["eventCreatedDateTime"]) for e in events]
    assert created == sorted(created)
    assert all(start <= datetime.fromisoformat(e["eventDateTime"]) < end for e in events)
    everything, _ = await _all_pages(
        client, dcsa_openapi, {"eventType": "TRANSPORT", "limit": 5000}
    )
    inside = [e for e in everything if start <= datetime.fromisoformat(e["eventDateTime"]) < end]
    assert sorted(e["eventID"] for e in events) == sorted(e["eventID"] for e in inside)


async def test_next_page_cursor_is_the_bare_cursor_of_the_next_page_link(
    lax: SimulatedPortSystem, client_for: Client
):
    response = await client_for(lax).get("/v2/events", params={"limit": 3})
    link, bare = response.headers["Next-Page"], response.headers["Next-Page-Cursor"]
    assert link.endswith(f"?cursor={bare}")
    by_cursor = await client_for(lax).get("/v2/events", params={"cursor": bare})
    assert by_cursor.json() == (await client_for(lax).get(link)).json()


async def test_a_bill_of_lading_or_booking_gives_its_boxes_events(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    shared = next(
        b
        for b in lax.data.containers
        if b.bill_of_lading and len(lax.data.containers_of_document("TRD", b.bill_of_lading)) > 1
    )
    boxes = lax.data.containers_of_document("TRD", shared.bill_of_lading or "")
    events, _ = await _all_pages(
        client_for(lax), dcsa_openapi, {"transportDocumentReference": shared.bill_of_lading}
    )
    assert {e["equipmentReference"] for e in events} == {b.reference for b in boxes}
    assert all(
        {"documentReferenceType": "TRD", "documentReferenceValue": shared.bill_of_lading}
        in e["documentReferences"]
        for e in events
    )
    booked, _ = await _all_pages(
        client_for(lax), dcsa_openapi, {"carrierBookingReference": shared.booking}
    )
    assert shared.reference in {e["equipmentReference"] for e in booked}


async def test_customs_exams_and_availability_are_dcsa_equipment_events(
    lax: SimulatedPortSystem, client_for: Client, dcsa_openapi: OpenAPI
):
    events, _ = await _all_pages(
        client_for(lax),
        dcsa_openapi,
        {"equipmentEventTypeCode": "AVPU,CUSS,CUSI,CUSR", "eventType": "EQUIPMENT", "limit": 1000},
    )
    assert {e["equipmentEventTypeCode"] for e in events} >= {"AVPU", "CUSS", "CUSR"}
    assert "INSP" not in {e.type_code for b in lax.data.containers for e in b.events}


async def test_the_jit_places_knob_adds_anchorage_and_pilot_boarding_arrivals(
    lax: SimulatedPortSystem, client_for: Client, now: datetime
):
    anchored = next(c for c in lax.data.vessel_calls if c.phase == "AT_ANCHOR")
    params = {"eventType": "TRANSPORT", "transportCallID": anchored.reference, "limit": 500}
    without = (await client_for(lax).get("/v2/events", params=params)).json()
    assert {e["transportCall"]["facilityTypeCode"] for e in without} == {"POTE"}
    lax.knobs.jit_places = True
    with_places = (await client_for(lax).get("/v2/events", params=params)).json()
    anchorage = [e for e in with_places if e["transportCall"]["facilityTypeCode"] == "ANCH"]
    assert [(e["eventClassifierCode"], datetime.fromisoformat(e["eventDateTime"]))
            for e in anchorage] == [("ACT", anchored.anchorage_arrival)]  # fmt: skip


async def test_a_recorded_box_is_served_as_it_is_now(
    now: datetime, client_for: Client, dcsa_openapi: OpenAPI
):
    data = generate_port_data("USLAX", now=now)  # its own: this test changes it
    system = create_port_system("USLAX", data=data)
    client = client_for(system)
    box = next(b for b in data.containers if b.flow == "IMPORT" and b.status == "IN_TERMINAL")
    params = {"equipmentReference": box.reference}
    customs = {"equipmentEventTypeCode": "CUSR", "eventType": "EQUIPMENT", "limit": 1000}
    before = (await client.get("/v2/events", params=params)).json()
    released_before = (await client.get("/v2/events", params=customs)).json()

    at = now + timedelta(minutes=5)
    release = EquipmentEvent(
        event_id=str(uuid.uuid4()),
        created=at,
        event_datetime=at,
        classifier="ACT",
        type_code="CUSR",
        empty_indicator=box.empty_indicator,
        facility_code=box.facility_code,
        call=None,
    )
    data.record(replace(box, events=(*box.events, release)))

    released = (await client.get("/v2/events", params=customs)).json()  # asked last, and again
    assert [e["eventID"] for e in released] == [
        *(e["eventID"] for e in released_before),
        release.event_id,
    ]
    after, _ = await _all_pages(client, dcsa_openapi, params)
    assert [e["eventID"] for e in after] == [e["eventID"] for e in before] + [release.event_id]
    assert after[-1]["equipmentEventTypeCode"] == "CUSR"
    system.knobs.jit_places = True
    everything = (await client.get("/v2/events", params={"limit": 100_000})).json()
    assert release.event_id in {e["eventID"] for e in everything}


async def test_a_recorded_call_is_served_as_it_is_now(
    now: datetime, client_for: Client, dcsa_openapi: OpenAPI
):
    data = generate_port_data("USLAX", now=now)  # its own: this test changes it
    system = create_port_system("USLAX", data=data)
    client = client_for(system)
    call = next(c for c in data.vessel_calls if c.actual_arrival is None and c.eta_revisions
                and c.status_code is None)  # fmt: skip
    params = {"transportCallID": call.reference, "transportEventTypeCode": "ARRI"}
    before, _ = await _all_pages(client, dcsa_openapi, params)
    eta = call.planned_arrival + timedelta(hours=7)
    created = now - timedelta(minutes=5)
    data.record_call(replace(call, estimated_arrival=eta,
                             eta_revisions=(*call.eta_revisions, (created, eta))))  # fmt: skip
    after, _ = await _all_pages(client, dcsa_openapi, params)
    new = [e for e in after if e["eventID"] not in {b["eventID"] for b in before}]
    assert [(e["eventClassifierCode"], datetime.fromisoformat(e["eventDateTime"]))
            for e in new] == [("EST", eta)]  # fmt: skip
    assert len(after) == len(before) + 1  # the call's other events are as they were
    [now_known] = [c for c in data.vessel_calls if c.reference == call.reference]
    assert now_known.estimated_arrival == eta  # what the terminal API serves too
    with pytest.raises(KeyError, match="not a vessel call of USLAX"):
        data.record_call(replace(call, reference="USLAX-NO-SUCH-CALL"))
