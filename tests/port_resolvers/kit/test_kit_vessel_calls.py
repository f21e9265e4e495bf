"""vesselCalls: filters applied again, the shared order, keyset paging with the shared cursor."""

from datetime import UTC, datetime
from typing import Any

import pytest

from port_resolvers.kit import VesselCallFilter
from portcontract.cursor import CallKey, call_key, decode_cursor, encode_cursor

PAGE_QUERY = """
query Calls($first: Int!, $after: String, $from: DateTime, $to: DateTime,
            $status: [TransportCallStatusCode!], $imo: String) {
  vesselCalls(first: $first, after: $after, from: $from, to: $to, status: $status,
              vesselIMONumber: $imo) {
    totalCount
    edges { cursor node { transportCallReference plannedArrivalDateTime } }
    nodes { transportCallReference UNLocationCode statusCode vessel { vesselIMONumber } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def expected_order(records: list[dict[str, Any]]) -> list[str]:
    """The shared order, computed independently: instant, then port, then reference."""
    ordered = sorted(
        records,
        key=lambda r: (
            r["plannedArrivalDateTime"].astimezone(UTC),
            r["UNLocationCode"],
            r["transportCallReference"],
        ),
    )
    return [r["transportCallReference"] for r in ordered]


async def page(gql, **variables: Any) -> dict[str, Any]:
    variables.setdefault("first", 20)
    response = await gql(PAGE_QUERY, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["vesselCalls"]
    return connection


async def test_first_page_in_the_shared_order(gql, source):
    connection = await page(gql, first=20)
    references = [edge["node"]["transportCallReference"] for edge in connection["edges"]]
    assert references == expected_order(source.call_records)[:20]
    assert [n["transportCallReference"] for n in connection["nodes"]] == references
    assert connection["totalCount"] == 23
    assert connection["pageInfo"] == {
        "hasNextPage": True,
        "endCursor": connection["edges"][-1]["cursor"],
    }


async def test_planned_arrival_served_in_utc(gql, source):
    connection = await page(gql, first=100)
    times = {
        e["node"]["transportCallReference"]: e["node"]["plannedArrivalDateTime"]
        for e in connection["edges"]
    }
    # Call number 4 was reported with a -08:00 offset; the instant is 2026-11-21T06:00Z.
    assert times["LAX005"] == "2026-11-21T06:00:00+00:00"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 22, 23, 100])
async def test_paging_through_every_page_has_no_gap_no_duplicate(gql, source, size):
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        connection = await page(gql, first=size, after=after)
        pages += 1
        assert connection["totalCount"] == 23
        edges = connection["edges"]
        assert len(edges) <= size
        seen += [edge["node"]["transportCallReference"] for edge in edges]
        for edge in edges:
            key = decode_cursor(edge["cursor"])
            assert key.port == "USLAX"
            assert key.reference == edge["node"]["transportCallReference"]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert after == edges[-1]["cursor"]
    assert seen == expected_order(source.call_records)
    assert pages == -(-23 // size)


async def test_after_the_last_call_is_an_empty_page(gql, source):
    last = (await page(gql, first=100))["edges"][-1]["cursor"]
    connection = await page(gql, first=5, after=last)
    assert connection["edges"] == []
    assert connection["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    assert connection["totalCount"] == 23


async def test_after_a_cursor_from_another_port_keeps_the_global_order(gql, source):
    # The gateway forwards the cursor of the last call it served, here one at USLGB at 06:00Z:
    # our calls at 06:00Z sort before USLGB's (USLAX < USLGB), so they were served already.
    cursor = encode_cursor(call_key(datetime(2026, 11, 21, 6, tzinfo=UTC), "USLGB", "LGB001"))
    connection = await page(gql, first=100, after=cursor)
    order = expected_order(source.call_records)
    assert [n["transportCallReference"] for n in connection["nodes"]] == order[6:]


async def test_after_a_key_that_is_not_a_served_call(gql, source):
    cursor = encode_cursor(CallKey("2026-11-21T06:00:00+00:00", "USLAX", "LAX010"))
    connection = await page(gql, first=100, after=cursor)
    order = expected_order(source.call_records)
    # Strictly after (06:00Z, USLAX, LAX010): the 06:00Z calls with a later reference, onward.
    at_six = order[3:6]
    assert [n["transportCallReference"] for n in connection["nodes"]] == [
        r for r in at_six if r > "LAX010"
    ] + order[6:]


async def test_from_is_inclusive_and_to_exclusive(gql, source):
    connection = await page(
        gql, first=100, **{"from": "2026-11-21T06:00:00Z", "to": "2026-11-21T12:00:00+00:00"}
    )
    assert [n["transportCallReference"] for n in connection["nodes"]] == expected_order(
        source.call_records
    )[3:6]
    assert connection["totalCount"] == 3
    assert source.calls == [
        (
            "vessel_calls",
            VesselCallFilter(
                planned_from=datetime(2026, 11, 21, 6, tzinfo=UTC),
                planned_to=datetime(2026, 11, 21, 12, tzinfo=UTC),
            ),
        )
    ]


async def test_from_with_another_offset_compares_instants(gql, source):
    # 2026-11-20T22:00-08:00 is 2026-11-21T06:00Z.
    connection = await page(gql, first=100, **{"from": "2026-11-20T22:00:00-08:00"})
    assert connection["totalCount"] == 23 - 3


async def test_status_filter(gql, source):
    connection = await page(gql, first=100, status=["OMIT"])
    assert {n["statusCode"] for n in connection["nodes"]} == {"OMIT"}
    assert connection["totalCount"] == sum(
        1 for r in source.call_records if r["statusCode"] == "OMIT"
    )
    assert source.calls[0][1].status_codes == frozenset({"OMIT"})


async def test_empty_status_list_matches_nothing(gql):
    connection = await page(gql, first=100, status=[])
    assert connection["totalCount"] == 0


async def test_vessel_filter_normalises_the_imo(gql, source):
    connection = await page(gql, first=100, imo="IMO 9319466")
    assert {n["vessel"]["vesselIMONumber"] for n in connection["nodes"]} == {"9319466"}
    assert connection["totalCount"] == sum(
        1 for r in source.call_records if r["vessel"]["vesselIMONumber"] == "9319466"
    )
    assert source.calls[0][1].vessel_imo_number == "9319466"


async def test_filters_combined_with_paging(gql, source):
    variables = {"from": "2026-11-21T06:00:00Z", "status": ["OMIT", "ADHO"]}
    everything = await page(gql, first=100, **variables)
    seen: list[str] = []
    after = None
    while True:
        connection = await page(gql, first=2, after=after, **variables)
        assert connection["totalCount"] == everything["totalCount"]
        seen += [n["transportCallReference"] for n in connection["nodes"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [n["transportCallReference"] for n in everything["nodes"]]
    assert len(seen) == everything["totalCount"] > 0
