"""What the kit derives, unit by unit: container status, vessel-call pages, the scalars."""

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from port_resolvers.kit.derive import container_status, derive_container, vessel_call_page
from port_resolvers.kit.scalars import parse_datetime, serialize_date, serialize_datetime
from port_resolvers.kit.source import VesselCallFilter
from portcontract.cursor import decode_cursor

T0 = datetime(2026, 11, 21, 10, tzinfo=UTC)


def ev(
    kind: str, classifier: str = "ACT", hours: int = 0, onto: str | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventID": f"{kind}-{classifier}-{hours}",
        "equipmentEventTypeCode": kind,
        "eventClassifierCode": classifier,
        "eventDateTime": T0 + timedelta(hours=hours),
    }
    if onto is not None:
        event["transportCall"] = {"transportCallReference": "TC1", "modeOfTransport": onto}
    return event


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([ev("DISC")], "IN_TERMINAL"),
        ([ev("GTIN")], "IN_TERMINAL"),
        ([ev("DISC"), ev("STRP", hours=1)], "IN_TERMINAL"),
        ([ev("GTIN"), ev("STUF", hours=1)], "IN_TERMINAL"),
        ([ev("DISC"), ev("INSP", hours=1)], "IN_TERMINAL"),
        ([ev("DISC"), ev("GTOT", hours=1)], "GATED_OUT"),
        # PICK and DROP happen at the customer's premises, not at the terminal gate.
        ([ev("DISC"), ev("GTOT", hours=1), ev("DROP", hours=3)], "DELIVERED_TO_CUSTOMER"),
        ([ev("DROP"), ev("STUF", hours=1), ev("PICK", hours=2)], "COLLECTED_FROM_CUSTOMER"),
        ([ev("GTIN"), ev("LOAD", hours=1)], "LOADED"),
        ([ev("GTIN"), ev("LOAD", hours=1, onto="VESSEL")], "LOADED"),
        ([ev("GTIN"), ev("LOAD", hours=1, onto="BARGE")], "LOADED"),
        # On-dock rail: a LOAD onto a train is not a load onto an outbound vessel.
        ([ev("DISC"), ev("LOAD", hours=9, onto="RAIL")], "LOADED_ON_RAIL"),
        ([ev("DISC"), ev("LOAD", hours=9, onto="TRUCK")], "GATED_OUT"),
        ([ev("DISC", onto="RAIL")], "IN_TERMINAL"),
        # Availability and customs events do not move the box.
        ([ev("DISC"), ev("AVPU", hours=1)], "IN_TERMINAL"),
        ([ev("DISC"), ev("CUSI", hours=1), ev("CUSR", hours=30)], "IN_TERMINAL"),
        ([ev("GTOT"), ev("CUSR", hours=1)], "GATED_OUT"),
        ([ev("CUSS")], None),
        ([ev("STUF")], None),
        ([ev("DISC"), ev("RSEA", hours=1), ev("RMVD", hours=2)], "IN_TERMINAL"),
        ([ev("DISC", "PLN")], "INBOUND"),
        ([ev("DISC", "EST")], "INBOUND"),
        ([ev("DISC", "EST"), ev("LOAD", "PLN", hours=1)], "INBOUND"),
        ([ev("LOAD", "EST")], None),
        ([ev("RSEA")], None),
        ([], None),
        # An actual event wins over any plan, whatever the plan says.
        ([ev("GTOT", hours=1), ev("DISC", "EST", hours=5)], "GATED_OUT"),
    ],
)
def test_container_status(events, status):
    assert container_status(events) == status


def test_derive_container_sorts_events_and_fills_the_derived_fields():
    record = {
        "equipmentReference": "CSQU3054383",
        "status": "LOADED",  # a source's own claim is replaced by what its events say
        "events": [ev("GTOT", hours=5), ev("DISC", "ACT", 1), ev("LOAD", "EST", hours=9)],
    }
    derived = derive_container(record, "USLAX")
    assert [e["equipmentEventTypeCode"] for e in derived["events"]] == ["DISC", "GTOT", "LOAD"]
    assert derived["status"] == "GATED_OUT"
    assert derived["lastEventDateTime"] == T0 + timedelta(hours=5)
    assert derived["isISO6346Valid"] is True
    assert derived["sourcePort"] == "USLAX"


def test_derive_container_without_events():
    derived = derive_container({"equipmentReference": "CSQU3054384", "events": []}, "USOAK")
    assert derived["isISO6346Valid"] is False
    assert derived["status"] is None
    assert derived["lastEventDateTime"] is None
    assert derived["sourcePort"] == "USOAK"


def call(reference: str, hours: float, status: str | None = None) -> dict[str, Any]:
    return {
        "transportCallReference": reference,
        "UNLocationCode": "USLAX",
        "plannedArrivalDateTime": T0 + timedelta(hours=hours),
        "statusCode": status,
        "vessel": {"vesselIMONumber": "9321483"},
    }


def test_page_orders_ties_by_reference_and_pages_strictly_after():
    calls = [call("C", 1), call("A", 1), call("B", 1), call("Z", 0), call("D", 2)]
    first = vessel_call_page(calls, VesselCallFilter(), first=2, after=None)
    assert [n["transportCallReference"] for n in first["nodes"]] == ["Z", "A"]
    assert first["pageInfo"]["hasNextPage"] is True
    after = decode_cursor(first["pageInfo"]["endCursor"])
    second = vessel_call_page(calls, VesselCallFilter(), first=2, after=after)
    assert [n["transportCallReference"] for n in second["nodes"]] == ["B", "C"]
    third = vessel_call_page(
        calls, VesselCallFilter(), first=2, after=decode_cursor(second["pageInfo"]["endCursor"])
    )
    assert [n["transportCallReference"] for n in third["nodes"]] == ["D"]
    assert third["pageInfo"]["hasNextPage"] is False
    assert {first["totalCount"], second["totalCount"], third["totalCount"]} == {5}


def test_page_exactly_full_has_no_next_page():
    page = vessel_call_page([call("A", 0), call("B", 1)], VesselCallFilter(), first=2, after=None)
    assert page["pageInfo"]["hasNextPage"] is False


def test_filters_are_applied_again():
    calls = [call("A", 0, "OMIT"), call("B", 1), call("C", 2, "OMIT"), call("D", 3, "OMIT")]
    page = vessel_call_page(
        calls,
        VesselCallFilter(
            planned_from=T0 + timedelta(hours=1),
            planned_to=T0 + timedelta(hours=3),
            status_codes=frozenset({"OMIT"}),
            vessel_imo_number="9321483",
        ),
        first=10,
        after=None,
    )
    assert [n["transportCallReference"] for n in page["nodes"]] == ["C"]
    other_vessel = VesselCallFilter(vessel_imo_number="9319466")
    assert vessel_call_page(calls, other_vessel, first=10, after=None)["totalCount"] == 0


def test_datetime_is_served_in_utc_with_its_offset():
    pacific = timezone(timedelta(hours=-8))
    assert serialize_datetime(datetime(2026, 11, 21, 2, tzinfo=pacific)) == (
        "2026-11-21T10:00:00+00:00"
    )
    with pytest.raises(ValueError, match="time zone"):
        serialize_datetime(datetime(2026, 11, 21, 2))
    with pytest.raises(TypeError):
        serialize_datetime("2026-11-21T10:00:00Z")


def test_date_is_served_as_a_day_only():
    assert serialize_date(date(2026, 11, 25)) == "2026-11-25"
    with pytest.raises(TypeError):
        serialize_date(T0)


def test_datetime_input_needs_an_offset():
    assert parse_datetime("2026-11-21T10:00:00Z") == T0
    assert parse_datetime("2026-11-21T02:00:00-08:00") == T0
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_datetime("2026-11-21T10:00:00")
