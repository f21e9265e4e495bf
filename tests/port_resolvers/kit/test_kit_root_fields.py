"""Every root field of the shared schema, answered for one port, with the kit's derived fields."""

from typing import Any

import pytest

CONTAINER_FIELDS = """
    equipmentReference ISOEquipmentCode isISO6346Valid emptyIndicatorCode status
    lastEventDateTime sourcePort
    location { UNLocationCode facilitySMDGCode terminalName yardBlock }
    availability {
      availableForPickup firstAvailableDate lastFreeDay outstandingFeesUSD
      holds { type status description updatedDateTime }
    }
    events {
      eventID eventDateTime eventClassifierCode equipmentEventTypeCode
      transportCall { vessel { vesselIMONumber vesselName } }
    }
"""


def data(response: Any) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_ports_answers_this_port_with_its_terminals(gql, source):
    result = data(
        await gql("{ ports { UNLocationCode name timeZone terminals { facilitySMDGCode } } }")
    )
    assert result["ports"] == [
        {
            "UNLocationCode": "USLAX",
            "name": "Port of Los Angeles",
            "timeZone": "America/Los_Angeles",
            "terminals": [{"facilitySMDGCode": "APMT"}, {"facilitySMDGCode": "TRAP"}],
        }
    ]
    assert source.methods_called() == ["port"]


async def test_container_by_number_with_derived_fields(gql, source):
    query = f'{{ container(reference: "csqu 305438-3") {{ {CONTAINER_FIELDS} }} }}'
    container = data(await gql(query))["container"]
    assert source.calls == [("containers", ["CSQU3054383"])]
    assert container["equipmentReference"] == "CSQU3054383"
    assert container["isISO6346Valid"] is True
    assert container["status"] == "GATED_OUT"
    assert container["sourcePort"] == "USLAX"
    assert container["lastEventDateTime"] == "2026-11-24T00:00:00+00:00"
    assert [e["eventID"] for e in container["events"]] == ["e1", "e2", "e3", "e4"]
    assert container["events"][0]["transportCall"]["vessel"]["vesselName"] == "PACIFIC DAWN"
    assert container["availability"]["lastFreeDay"] == "2026-11-25"
    assert container["availability"]["holds"] == [
        {
            "type": "CUSTOMS",
            "status": "HOLD",
            "description": None,
            "updatedDateTime": "2026-11-21T00:00:00+00:00",
        }
    ]
    assert container["location"]["yardBlock"] == "B12"


@pytest.mark.parametrize(
    ("reference", "status", "last_event", "iso"),
    [
        ("APZU4812090", "INBOUND", None, True),  # only an estimated discharge
        ("MSCU1234566", "IN_TERMINAL", "2026-11-23T00:00:00+00:00", True),  # RSEA keeps DISC
        ("TGHU7654320", "LOADED", "2026-11-21T00:00:00+00:00", True),  # served in UTC
        ("ACMEREF0042", None, None, False),  # a carrier reference, not ISO 6346
    ],
)
async def test_container_status_and_last_event(gql, reference, status, last_event, iso):
    query = (
        f'{{ container(reference: "{reference}") {{ status lastEventDateTime isISO6346Valid }} }}'
    )
    container = data(await gql(query))["container"]
    assert container == {"status": status, "lastEventDateTime": last_event, "isISO6346Valid": iso}


async def test_container_unknown_to_the_port_is_null(gql):
    result = data(await gql('{ container(reference: "TCLU1234568") { status } }'))
    assert result == {"container": None}


async def test_containers_in_the_order_asked_unknown_left_out_once_each(gql, source):
    query = """query ($refs: [String!]!) {
        containers(references: $refs) { equipmentReference sourcePort }
    }"""
    refs = ["TGHU7654320", "TCLU1234568", "csqu3054383", "TGHU 765432-0"]
    result = data(await gql(query, {"refs": refs}))
    assert [c["equipmentReference"] for c in result["containers"]] == [
        "TGHU7654320",
        "CSQU3054383",
    ]
    assert source.calls == [("containers", ["TGHU7654320", "TCLU1234568", "CSQU3054383"])]


async def test_containers_with_no_references_does_not_ask_the_source(gql, source):
    assert data(await gql("{ containers(references: []) { status } }")) == {"containers": []}
    assert source.calls == []


async def test_vessel_by_imo(gql, source):
    query = """{ vessel(imo: "IMO 9321483") {
        vesselIMONumber MMSINumber vesselName vesselFlag vesselCallSign vesselOperatorSMDGLinerCode
    } }"""
    assert data(await gql(query))["vessel"] == {
        "vesselIMONumber": "9321483",
        "MMSINumber": "636019825",
        "vesselName": "PACIFIC DAWN",
        "vesselFlag": "LR",
        "vesselCallSign": "D5AB2",
        "vesselOperatorSMDGLinerCode": "MSC",
    }
    assert source.calls == [("vessel", "9321483")]


async def test_vessel_unknown_is_null(gql):
    assert data(await gql('{ vessel(imo: "9700005") { vesselName } }')) == {"vessel": None}


async def test_port_metrics_all_for_the_default_period(gql, source):
    query = "{ portMetrics { metric value unit sampleSize periodStart periodEnd } }"
    dwell, teu, vessels = data(await gql(query))["portMetrics"]
    # The last whole Los Angeles week closed by T0 (Saturday 2026-11-21 00:00 UTC).
    week = {"periodStart": "2026-11-09T08:00:00+00:00", "periodEnd": "2026-11-16T08:00:00+00:00"}
    assert dwell == {"metric": "CONTAINER_DWELL_DAYS", "value": 3.4, "unit": "days",
                     "sampleSize": 5120, **week}  # fmt: skip
    assert teu == {"metric": "TEU_LOADED", "value": 81000.0, "unit": "TEU", "sampleSize": 45000,
                   **week}  # fmt: skip
    assert vessels == {"metric": "VESSELS_AT_ANCHOR", "value": 2.0, "unit": "vessels",
                       "sampleSize": 2, "periodStart": "2026-11-21T00:00:00+00:00",
                       "periodEnd": "2026-11-21T00:00:00+00:00"}  # fmt: skip
    # The port's time zone is asked of the source once, after the figures.
    assert source.calls == [("metrics", ("LAST_7_DAYS", None)), ("port", None)]


async def test_port_metrics_filtered_again_by_the_kit(gql, source):
    query = "{ portMetrics(metrics: [TEU_LOADED], period: LAST_30_DAYS) { metric value } }"
    metrics = data(await gql(query))["portMetrics"]
    assert metrics == [{"metric": "TEU_LOADED", "value": 4 * 81000.0}]  # four weeks
    assert source.calls[0] == ("metrics", ("LAST_30_DAYS", ["TEU_LOADED"]))


ROOT_FIELDS_ASKING_ANOTHER_PORT = [
    ('{ ports(ports: ["USOAK"]) { UNLocationCode } }', {"ports": []}),
    ('{ container(reference: "CSQU3054383", ports: ["USOAK"]) { status } }', {"container": None}),
    ('{ containers(references: ["CSQU3054383"], ports: []) { status } }', {"containers": []}),
    (
        '{ vesselCalls(ports: ["USLGB", "USOAK"]) '
        "{ totalCount edges { cursor } nodes { UNLocationCode } "
        "pageInfo { hasNextPage endCursor } } }",
        {
            "vesselCalls": {
                "totalCount": 0,
                "edges": [],
                "nodes": [],
                "pageInfo": {"hasNextPage": False, "endCursor": None},
            }
        },
    ),
    ('{ vessel(imo: "9321483", ports: ["USSAN"]) { vesselName } }', {"vessel": None}),
    ('{ portMetrics(ports: ["USNTD"]) { metric } }', {"portMetrics": []}),
]


@pytest.mark.parametrize(("query", "expected"), ROOT_FIELDS_ASKING_ANOTHER_PORT)
async def test_ports_argument_without_this_port_answers_empty_without_the_source(
    gql, source, query, expected
):
    assert data(await gql(query)) == expected
    assert source.calls == []


async def test_ports_argument_naming_this_port_is_normalised(gql, source):
    result = data(await gql('{ ports(ports: ["us lax", "USOAK"]) { UNLocationCode } }'))
    assert result == {"ports": [{"UNLocationCode": "USLAX"}]}


async def test_several_root_fields_and_aliases_in_one_query(gql):
    query = """{
        a: container(reference: "CSQU3054383") { status }
        b: container(reference: "TGHU7654320") { status }
        vessel(imo: "9319466") { vesselName }
        ports { UNLocationCode }
    }"""
    assert data(await gql(query)) == {
        "a": {"status": "GATED_OUT"},
        "b": {"status": "LOADED"},
        "vessel": {"vesselName": "SIERRA CREST"},
        "ports": [{"UNLocationCode": "USLAX"}],
    }


async def test_get_request_with_variables(client):
    response = await client.get(
        "/graphql",
        params={
            "query": "query V($imo: String!) { vessel(imo: $imo) { vesselName } }",
            "variables": '{"imo": "9512343"}',
            "operationName": "V",
        },
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"vessel": {"vesselName": "MOJAVE STAR"}}}
    assert response.headers["content-type"] == "application/json"
