"""Optional capabilities: a source serves the optional fields it ``offers``; for any other the
kit answers null and says NOT_OFFERED with the field's coordinate, never an invented value."""

from datetime import date, timedelta
from typing import Any

import pytest

from port_resolvers.kit import offered_fields
from portcontract.capabilities import OPTIONAL_FIELDS
from tests.port_resolvers.kit.conftest import T0, FakeSource, GraphQL

BOX = "CSQU3054383"
CUT_OFFS = [
    {"cutOffDateTimeCode": "EFC", "cutOffDateTime": T0 - timedelta(days=5), "reefer": False},
    {"cutOffDateTimeCode": "FCO", "cutOffDateTime": T0 - timedelta(days=1), "reefer": False},
]
GATE_DAY = {
    "date": date(2026, 11, 21),
    "open": True,
    "periods": [
        {
            "opensDateTime": T0 + timedelta(hours=15),
            "closesDateTime": T0 + timedelta(hours=25),
            "offPeak": False,
        }
    ],
    "closureReason": None,
}
RAIL = {
    "onDock": True,
    "railCarrierSCACCode": "BNSF",
    "destinationRamp": {"locationName": "Logistics Park Chicago", "UNLocationCode": "USCHI"},
    "departureDateTime": T0 + timedelta(days=1),
    "departureClassifierCode": "PLN",
}


def with_capabilities(source: FakeSource) -> FakeSource:
    """``source`` with a value for every optional field in its records (whether it offers the
    field or not is up to each test)."""
    for call in source.call_records:
        call["cutOffTimes"] = CUT_OFFS
    for terminal in source.port_record["terminals"]:
        terminal["gateHours"] = [GATE_DAY]
        terminal["usesAppointments"] = True
        terminal["appointmentSlots"] = []
        terminal["emptyReturns"] = [
            {"date": date(2026, 11, 21), "carrierSCACCode": "MAEU", "ISOEquipmentCode": "45G1",
             "accepted": True}
        ]  # fmt: skip
    for box in source.container_records:
        box["railLeg"] = RAIL
        if box.get("availability") is not None:
            box["availability"]["emptyReturnDeadline"] = date(2026, 11, 30)
    return source


EVERY_OPTIONAL = (
    "calls: vesselCalls(first: 1) { edges { node { cutOffTimes { cutOffDateTimeCode } } } } "
    "ports { terminals { gateHours { date } usesAppointments appointmentSlots { transaction } "
    "emptyReturns { accepted } } } "
    f'box: container(reference: "{BOX}") {{ railLeg {{ onDock }} '
    "availability { emptyReturnDeadline } }"
)


def not_offered(body: dict[str, Any]) -> set[tuple[str, str]]:
    """(root field, coordinate) of every NOT_OFFERED notice in an answer."""
    return {
        (e["path"][0], e["extensions"]["coordinate"])
        for e in body.get("errors", [])
        if e["extensions"]["code"] == "NOT_OFFERED"
    }


async def test_a_source_without_offers_gets_null_and_a_notice_per_field_asked(
    source: FakeSource, gql: GraphQL
):
    with_capabilities(source)  # its records hold values, but it offers none of them
    response = await gql("{ " + EVERY_OPTIONAL + " }")
    body = response.json()
    assert response.status_code == 200
    assert body["data"]["calls"]["edges"][0]["node"] == {"cutOffTimes": None}
    assert {t["gateHours"] for t in body["data"]["ports"][0]["terminals"]} == {None}
    assert body["data"]["ports"][0]["terminals"][0] == {
        "gateHours": None, "usesAppointments": None, "appointmentSlots": None,
        "emptyReturns": None,
    }  # fmt: skip
    assert body["data"]["box"] == {"railLeg": None, "availability": {"emptyReturnDeadline": None}}
    assert not_offered(body) == {
        ("calls", "VesselCall.cutOffTimes"),
        ("ports", "Terminal.gateHours"),
        ("ports", "Terminal.usesAppointments"),
        ("ports", "Terminal.appointmentSlots"),
        ("ports", "Terminal.emptyReturns"),
        ("box", "Container.railLeg"),
        ("box", "ImportAvailability.emptyReturnDeadline"),
    }
    notice = next(e for e in body["errors"] if e["path"] == ["calls"])
    assert (
        notice["message"] == "USLAX: the port's systems do not offer VesselCall.cutOffTimes (null)"
    )
    assert notice["extensions"] == {
        "code": "NOT_OFFERED", "port": "USLAX", "count": 1, "coordinate": "VesselCall.cutOffTimes"
    }  # fmt: skip
    # A port that lacks a capability has still answered: the answer is cached like any other.
    assert response.headers["cache-control"].startswith("max-age=")


async def test_an_offered_field_is_served_and_reported_by_no_notice(
    source: FakeSource, gql: GraphQL
):
    with_capabilities(source).offers = frozenset(OPTIONAL_FIELDS)  # type: ignore[attr-defined]
    body = (await gql("{ " + EVERY_OPTIONAL + " }")).json()
    assert "errors" not in body
    node = body["data"]["calls"]["edges"][0]["node"]
    assert node == {"cutOffTimes": [{"cutOffDateTimeCode": "EFC"}, {"cutOffDateTimeCode": "FCO"}]}
    terminal = body["data"]["ports"][0]["terminals"][0]
    assert terminal == {
        "gateHours": [{"date": "2026-11-21"}], "usesAppointments": True, "appointmentSlots": [],
        "emptyReturns": [{"accepted": True}],
    }  # fmt: skip
    assert body["data"]["box"] == {
        "railLeg": {"onDock": True}, "availability": {"emptyReturnDeadline": "2026-11-30"}
    }  # fmt: skip


async def test_only_the_fields_not_offered_are_reported(source: FakeSource, gql: GraphQL):
    with_capabilities(source).offers = frozenset({"Terminal.gateHours"})  # type: ignore[attr-defined]
    body = (
        await gql("{ ports { terminals { gateHours { open } emptyReturns { accepted } } } }")
    ).json()
    assert body["data"]["ports"][0]["terminals"][0] == {
        "gateHours": [{"open": True}],
        "emptyReturns": None,
    }
    assert not_offered(body) == {("ports", "Terminal.emptyReturns")}


async def test_fields_asked_through_fragments_are_reported_once_per_root_field(
    source: FakeSource, gql: GraphQL
):
    with_capabilities(source)
    query = """
        query Cuts { a: vesselCalls(first: 2) { ...Calls } b: vesselCalls(first: 1) { ...Calls } }
        fragment Calls on VesselCallConnection {
            edges { node { ...Call ... on VesselCall { cutOffTimes { reefer } } } }
        }
        fragment Call on VesselCall { transportCallReference cutOffTimes { cutOffDateTime } }
    """
    body = (await gql(query)).json()
    assert not_offered(body) == {("a", "VesselCall.cutOffTimes"), ("b", "VesselCall.cutOffTimes")}
    assert len(body["errors"]) == 2  # one per root field, however often the field is asked


async def test_a_root_field_that_does_not_reach_an_optional_field_reports_nothing(
    source: FakeSource, gql: GraphQL
):
    with_capabilities(source)
    body = (await gql("{ ports { terminals { facilitySMDGCode } } vesselCalls(first: 1) { "
                      "edges { node { transportCallReference } } } }")).json()  # fmt: skip
    assert "errors" not in body


async def test_a_port_not_asked_still_says_what_its_systems_lack(source: FakeSource, gql: GraphQL):
    # What a port offers is a fact about its systems, not about one answer: the gateway lists
    # it whenever the field is asked, even of a port left out by the ``ports`` argument.
    body = (await gql('{ ports(ports: ["USOAK"]) { terminals { gateHours { open } } } }')).json()
    assert body["data"]["ports"] == []
    assert not_offered(body) == {("ports", "Terminal.gateHours")}


@pytest.mark.parametrize(
    ("offers", "expected"),
    [
        (None, frozenset()),
        ("Terminal.gateHours", frozenset()),  # a string is not a set of coordinates
        (frozenset({"Terminal.gateHours", "Terminal.nope", 7}), frozenset({"Terminal.gateHours"})),
        (["Container.railLeg"], frozenset({"Container.railLeg"})),
    ],
)
def test_offered_fields_keeps_only_the_contracts_coordinates(offers: Any, expected: frozenset[str]):
    class Source:
        pass

    source = Source()
    if offers is not None:
        source.offers = offers  # type: ignore[attr-defined]
    assert offered_fields(source) == expected


@pytest.mark.parametrize(
    ("query", "max_age"),
    [
        ("{ ports { terminals { facilitySMDGCode } } }", 3600),  # the terminal list: an hour
        ("{ ports { terminals { gateHours { open } } } }", 60),
        ("{ ports { ...T } } fragment T on Port { terminals { appointmentSlots { transaction } } }",
         60),
        ("{ ports { terminals { ... on Terminal { emptyReturns { accepted } } } } }", 60),
        ('{ container(reference: "CSQU3054383") { equipmentReference } '
         "ports { terminals { usesAppointments } } }", 30),  # the shorter still wins
    ],
)  # fmt: skip
async def test_terminal_services_are_cached_for_a_minute_not_an_hour(
    source: FakeSource, gql: GraphQL, query: str, max_age: int
):
    with_capabilities(source).offers = frozenset(OPTIONAL_FIELDS)  # type: ignore[attr-defined]
    response = await gql(query)
    assert "errors" not in response.json()
    assert response.headers["cache-control"] == f"max-age={max_age}"
