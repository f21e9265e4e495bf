"""The port boundary rule by rule: each answer below breaks one part of the contract (or keeps
it), and what the gateway keeps of it is written out by hand."""

from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from gateway.boundary import PortBoundary
from gateway.config import ResolvedPort
from gateway.plan import AskedField, PortQuery
from gateway.schema import build_schema
from gateway.selection import collect_fields, compile_shape
from gateway.upstream import PortAnswer
from portcontract.cursor import call_key, encode_cursor

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
SCHEMA = build_schema()._schema
LAX = ResolvedPort(id="USLAX", name="LA", url="http://lax/graphql", timeout=2.0,
                   capabilities=frozenset(), terminals=frozenset({"APMT", "TRAP"}))  # fmt: skip
BOUNDARY = PortBoundary(SCHEMA, clock=lambda: NOW)


def query(document: str, port: ResolvedPort = LAX, **arguments: dict[str, Any]) -> PortQuery:
    """The port query for ``document``, each root field with its (normalised) ``arguments``."""
    operation = parse(document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    grouped = collect_fields(operation.selection_set, {}, {})
    asked = [
        AskedField(key, nodes[0].name.value, compile_shape(nodes, {}, {}), arguments.get(key, {}))
        for key, nodes in grouped.items()
    ]
    return PortQuery(port, document, {}, list(grouped), [a.name for a in asked], asked)


def hold(
    document: str, data: dict[str, Any], errors: list[dict[str, Any]] | None = None, **args: Any
) -> PortAnswer:
    return BOUNDARY.hold(query(document, **args), PortAnswer(data, errors or []))


def cursor(port: str, reference: str, planned: datetime = NOW) -> str:
    return encode_cursor(call_key(planned, port, reference))


def test_an_answer_within_the_contract_is_kept_as_it_is() -> None:
    data = {
        "ports": [
            {"UNLocationCode": "USLAX", "name": "Port of Los Angeles",
             "terminals": [{"facilitySMDGCode": "APMT", "UNLocationCode": "USLAX"}]}
        ]
    }  # fmt: skip
    held = hold(
        "{ ports { UNLocationCode name terminals { facilitySMDGCode UNLocationCode } } }", data
    )
    assert held.data == data
    assert held.dropped == {}


def test_rows_claiming_another_port_are_dropped_whole() -> None:
    document = "{ portMetrics { UNLocationCode facilitySMDGCode metric value sampleSize } }"
    own = {"UNLocationCode": "USLAX", "facilitySMDGCode": "APMT", "metric": "TEU_LOADED",
           "value": 10.0, "sampleSize": 12}  # fmt: skip
    other = {**own, "UNLocationCode": "USOAK"}
    held = hold(document, {"portMetrics": [own, other, own]})
    assert held.data == {"portMetrics": [own, own]}
    assert held.dropped == {"OTHER_PORT": 1}


def test_a_nested_claim_on_another_port_drops_the_row_it_is_in() -> None:
    document = "{ containers { equipmentReference sourcePort location { UNLocationCode } } }"
    box = {"equipmentReference": "CSQU3054383", "sourcePort": "USLAX",
           "location": {"UNLocationCode": "USOAK"}}  # fmt: skip
    held = hold(document, {"containers": [box]}, containers={"references": ["CSQU3054383"]})
    assert held.data == {"containers": []}
    assert held.dropped == {"OTHER_PORT": 1}


def test_a_root_object_of_another_port_is_null() -> None:
    document = '{ container(reference: "CSQU3054383") { equipmentReference sourcePort } }'
    box = {"equipmentReference": "CSQU3054383", "sourcePort": "USOAK"}
    held = hold(document, {"container": box}, container={"reference": "CSQU3054383"})
    assert held.data == {"container": None}


def test_terminals_are_checked_only_when_registered() -> None:
    document = "{ vesselCalls { nodes { UNLocationCode facilitySMDGCode } } }"
    page = {"vesselCalls": {"nodes": [{"UNLocationCode": "USLAX", "facilitySMDGCode": "B58"}]}}
    assert hold(document, page).data == {"vesselCalls": {"nodes": []}}
    unregistered = LAX.model_copy(update={"terminals": frozenset()})
    held = BOUNDARY.hold(query(document, unregistered), PortAnswer(page, []))
    assert held.data == page


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("LADEN", "LADEN"),
        ("HALF_FULL", None),  # an enum value the schema lacks
        (1, None),  # a number where an enum belongs
        (None, None),
    ],
)
def test_a_bad_value_in_a_nullable_field_becomes_null(value: Any, kept: Any) -> None:
    document = "{ containers { equipmentReference emptyIndicatorCode } }"
    box = {"equipmentReference": "CSQU3054383", "emptyIndicatorCode": value}
    held = hold(document, {"containers": [box]}, containers={"references": ["CSQU3054383"]})
    assert held.data == {"containers": [{**box, "emptyIndicatorCode": kept}]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sampleSize", 2**31),  # past a 32-bit Int
        ("sampleSize", True),  # a Boolean is not an Int
        ("sampleSize", "12"),
        ("value", "12.5"),  # a String is not a Float
        ("periodStart", "2026-11-21T18:00:00"),  # a DateTime without an offset
        ("periodStart", "yesterday"),
        ("metric", "CRANE_MOVES_PER_HOUR"),
        ("unit", ["TEU"]),
    ],
)
def test_a_bad_value_in_a_non_null_field_drops_the_row(field: str, value: Any) -> None:
    document = "{ portMetrics { UNLocationCode metric value unit sampleSize periodStart } }"
    row = {"UNLocationCode": "USLAX", "metric": "TEU_LOADED", "value": 10.0, "unit": "TEU",
           "sampleSize": 12, "periodStart": "2026-11-14T00:00:00-08:00"}  # fmt: skip
    held = hold(document, {"portMetrics": [row, {**row, field: value}]})
    if field == "value":
        assert held.data == {"portMetrics": [row, {**row, "value": None}]}  # nullable
    else:
        assert held.data == {"portMetrics": [row]}
    assert sum(held.dropped.values()) == 1


def test_a_missing_non_null_field_drops_the_row() -> None:
    document = "{ portMetrics { UNLocationCode metric sampleSize } }"
    held = hold(document, {"portMetrics": [{"UNLocationCode": "USLAX", "metric": "TEU_LOADED"}]})
    assert held.data == {"portMetrics": []}
    assert held.dropped == {"MISSING_VALUE": 1}


def test_an_item_of_a_nested_list_is_left_out_not_the_list() -> None:
    document = "{ containers { equipmentReference events { eventID equipmentEventTypeCode } } }"
    good = {"eventID": "e1", "equipmentEventTypeCode": "DISC"}
    box = {"equipmentReference": "CSQU3054383",
           "events": [good, {"eventID": "e2", "equipmentEventTypeCode": "BEAM"}]}  # fmt: skip
    held = hold(document, {"containers": [box]}, containers={"references": ["CSQU3054383"]})
    assert held.data == {"containers": [{**box, "events": [good]}]}
    assert held.dropped == {"UNKNOWN_ENUM_VALUE": 1}


def test_a_string_longer_than_the_contract_allows_is_dropped() -> None:
    document = "{ ports { UNLocationCode name } }"
    held = hold(document, {"ports": [{"UNLocationCode": "USLAX", "name": "x" * 2001}]})
    assert held.data == {"ports": [{"UNLocationCode": "USLAX", "name": None}]}
    assert held.dropped == {"TOO_LONG": 1}


def test_rows_not_asked_for_are_dropped() -> None:
    boxes = hold(
        "{ containers { equipmentReference } }",
        {
            "containers": [
                {"equipmentReference": "CSQU3054383"},
                {"equipmentReference": "APZU4812090"},
            ]
        },
        containers={"references": ["CSQU3054383"]},
    )
    assert boxes.data == {"containers": [{"equipmentReference": "CSQU3054383"}]}
    vessel = hold(
        "{ vessel { vesselIMONumber } }",
        {"vessel": {"vesselIMONumber": "9319466"}},
        vessel={"imo": "9321483"},
    )
    assert vessel.data == {"vessel": None}
    metrics = hold(
        "{ portMetrics { UNLocationCode metric } }",
        {
            "portMetrics": [
                {"UNLocationCode": "USLAX", "metric": "TEU_LOADED"},
                {"UNLocationCode": "USLAX", "metric": "VESSELS_AT_ANCHOR"},
            ]
        },
        portMetrics={"metrics": ["VESSELS_AT_ANCHOR"]},
    )
    assert metrics.data == {
        "portMetrics": [{"UNLocationCode": "USLAX", "metric": "VESSELS_AT_ANCHOR"}]
    }
    assert boxes.dropped == vessel.dropped == metrics.dropped == {"NOT_ASKED": 1}


def test_times_ahead_of_now_are_dropped() -> None:
    document = "{ containers { equipmentReference lastEventDateTime } }"
    soon = "2026-11-21T18:04:00+00:00"  # within the clock skew allowed
    later = "2026-11-21T19:00:00+00:00"
    held = hold(
        document,
        {"containers": [{"equipmentReference": "CSQU3054383", "lastEventDateTime": soon},
                        {"equipmentReference": "APZU4812090", "lastEventDateTime": later}]},
        containers={"references": ["CSQU3054383", "APZU4812090"]},
    )  # fmt: skip
    assert [c["lastEventDateTime"] for c in held.data["containers"]] == [soon, None]  # type: ignore[index]
    assert held.dropped == {"FUTURE_TIME": 1}


def test_free_text_that_names_labor_is_dropped() -> None:
    document = (
        "{ container { equipmentReference availability { holds { type status description } } } }"
    )
    hold_text = {"type": "CUSTOMS", "status": "HOLD", "description": "exam by gang 4, night shift"}
    box = {"equipmentReference": "CSQU3054383", "availability": {"holds": [hold_text]}}
    held = hold(document, {"container": box}, container={"reference": "CSQU3054383"})
    assert held.data == {
        "container": {**box, "availability": {"holds": [{**hold_text, "description": None}]}}
    }
    assert held.dropped == {"LABOR_TEXT": 1}


def test_every_text_value_passes_the_labor_rule_not_only_descriptions() -> None:
    # A remark, a delay reason, a voyage number, a vessel's name: anything a port writes as a
    # String or an ID is read, so labor cannot ride along in a field nobody thought of.
    document = (
        "{ vesselCalls { nodes { UNLocationCode transportCallReference portVisitReference "
        "delayReasonCode carrierExportVoyageNumber timestamps { changeRemark } } } }"
    )
    clean = {"UNLocationCode": "USLAX", "transportCallReference": "TCR-1",
             "portVisitReference": "USLAX-2026-0412", "delayReasonCode": "WEA",
             "carrierExportVoyageNumber": "2411E",
             "timestamps": [{"changeRemark": "berth window moved"}]}  # fmt: skip
    labor = {**clean, "transportCallReference": "TCR-2",
             "portVisitReference": "walking boss Maria", "delayReasonCode": "short gang, 2nd shift",
             "carrierExportVoyageNumber": "crane_moves_per_hour",
             "timestamps": [{"changeRemark": "foreman J. Smith"}]}  # fmt: skip
    held = hold(document, {"vesselCalls": {"nodes": [clean, labor]}}, vesselCalls={"first": 20})
    assert held.data == {"vesselCalls": {"nodes": [clean, {
        **labor, "portVisitReference": None, "delayReasonCode": None,
        "carrierExportVoyageNumber": None, "timestamps": [{"changeRemark": None}],
    }]}}  # fmt: skip
    assert held.dropped == {"LABOR_TEXT": 4}


def test_values_of_a_fixed_form_are_not_read_as_text() -> None:
    # The port's own UN/LOCODE and terminal codes are held to their form by their own rules; a
    # terminal code that happens to spell a role on the quay is the port's to register.
    gang = ResolvedPort(id="USLAX", name="LA", url="http://lax/graphql", timeout=2.0,
                        capabilities=frozenset(), terminals=frozenset({"GANG"}))  # fmt: skip
    terminal = {"facilitySMDGCode": "GANG", "name": "Gang 4 terminal"}
    data = {"ports": [{"UNLocationCode": "USLAX", "terminals": [terminal]}]}
    held = hold("{ ports { UNLocationCode terminals { facilitySMDGCode name } } }", data, port=gang)
    kept = {**terminal, "name": None}
    assert held.data == {"ports": [{"UNLocationCode": "USLAX", "terminals": [kept]}]}
    assert held.dropped == {"LABOR_TEXT": 1}


def test_anchorage_and_pilot_times_ahead_of_now_are_dropped() -> None:
    document = (
        "{ vesselCalls { nodes { UNLocationCode anchorageArrivalDateTime pilotBoardingDateTime "
        "estimatedArrivalDateTime } } }"
    )
    later = "2026-11-21T19:00:00+00:00"
    call = {"UNLocationCode": "USLAX", "anchorageArrivalDateTime": later,
            "pilotBoardingDateTime": later, "estimatedArrivalDateTime": later}  # fmt: skip
    held = hold(document, {"vesselCalls": {"nodes": [call]}}, vesselCalls={"first": 20})
    assert held.data == {"vesselCalls": {"nodes": [{
        **call, "anchorageArrivalDateTime": None, "pilotBoardingDateTime": None
    }]}}  # an estimate may lie ahead  # fmt: skip
    assert held.dropped == {"FUTURE_TIME": 2}


@pytest.mark.parametrize(
    ("count", "kept"),
    [(3, 3), (1, 1), (1_000_000, 1_000_000), (0, None), (-2, None), (1_000_001, None),
     (2.0, None), (True, None), ("7", None), (None, None)],
)  # fmt: skip
def test_a_notice_keeps_its_count_when_it_is_believable(count: Any, kept: int | None) -> None:
    errors = [{"message": "USLAX: left some out", "path": ["containers"],
               "extensions": {"code": "EVENTS_QUARANTINED", "count": count}}]  # fmt: skip
    held = hold("{ containers { equipmentReference } }", {"containers": []}, errors)
    expected: dict[str, Any] = {"code": "EVENTS_QUARANTINED", "path": ["containers"]}
    if kept is not None:
        expected["count"] = kept
    assert held.errors == [expected]


def test_only_notices_carry_a_count() -> None:
    errors = [{"message": "x", "path": ["containers"],
               "extensions": {"code": "INTERNAL_ERROR", "count": 5}},
              {"message": "y", "path": ["containers"],
               "extensions": {"code": "MADE_UP", "count": 5}},
              {"message": "z", "path": ["containers"],
               "extensions": {"code": "LABOR_TEXT_WITHHELD", "count": 2}}]  # fmt: skip
    held = hold("{ containers { equipmentReference } }", {"containers": []}, errors)
    assert held.errors == [
        {"code": "INTERNAL_ERROR", "path": ["containers"]},
        {"code": None, "path": ["containers"]},
        {"code": "LABOR_TEXT_WITHHELD", "path": ["containers"], "count": 2},
    ]


PAGE = (
    "{ vesselCalls { edges { cursor node { UNLocationCode } } nodes { transportCallReference } } }"
)


def page(*calls: tuple[str, str]) -> dict[str, Any]:
    return {
        "vesselCalls": {
            "edges": [{"cursor": cursor(p, r), "node": {"UNLocationCode": p}} for p, r in calls],
            "nodes": [{"transportCallReference": r} for _, r in calls],
        }
    }


def test_a_call_of_another_port_is_dropped_from_every_list_of_the_page() -> None:
    held = hold(
        PAGE, page(("USLAX", "A"), ("USOAK", "B"), ("USLAX", "C")), vesselCalls={"first": 20}
    )
    assert held.data == page(("USLAX", "A"), ("USLAX", "C"))
    assert held.dropped == {"OTHER_PORT": 1}


def test_a_page_keeps_at_most_first_calls_and_whole_rows() -> None:
    answer = page(("USLAX", "A"), ("USLAX", "B"), ("USLAX", "C"))
    assert hold(PAGE, answer, vesselCalls={"first": 2}).data == page(("USLAX", "A"), ("USLAX", "B"))
    uneven = page(("USLAX", "A"), ("USLAX", "B"))
    uneven["vesselCalls"]["nodes"].pop()
    held = hold(PAGE, uneven, vesselCalls={"first": 20})
    assert held.data == page(("USLAX", "A"))
    assert held.dropped == {"MISMATCHED_PAGE": 1}


def test_calls_before_the_cursor_or_outside_the_window_are_dropped() -> None:
    early = datetime(2026, 11, 20, tzinfo=UTC)
    answer = {
        "vesselCalls": {
            "edges": [
                {"cursor": cursor("USLAX", "A", early), "node": {"UNLocationCode": "USLAX"}},
                {"cursor": cursor("USLAX", "B"), "node": {"UNLocationCode": "USLAX"}},
            ],
            "nodes": [{"transportCallReference": "A"}, {"transportCallReference": "B"}],
        }
    }
    after = {"first": 20, "after": cursor("USLAX", "A", early)}
    assert hold(PAGE, answer, vesselCalls=after).data == page(("USLAX", "B"))
    window = {"first": 20, "from": datetime(2026, 11, 21, tzinfo=UTC)}
    assert hold(PAGE, answer, vesselCalls=window).data == page(("USLAX", "B"))


def test_errors_keep_their_contract_code_and_a_path_through_the_document_only() -> None:
    document = "{ containers { equipmentReference events { eventID } } }"
    errors = [
        {"message": "operator Jane Roe, gang 3", "path": ["containers", 0, "events"],
         "extensions": {"code": "SOURCE_UNAVAILABLE"}},
        {"message": "oops", "path": ["containers", 1, "Jane Roe was here", "x"],
         "extensions": {"code": "MADE_UP"}},
        {"message": "elsewhere", "path": ["notAsked"]},
    ]  # fmt: skip
    held = hold(document, {"containers": None}, errors)
    assert held.errors == [
        {"code": "SOURCE_UNAVAILABLE", "path": ["containers", 0, "events"]},
        {"code": None, "path": ["containers", 1]},
        {"code": None, "path": None},
    ]


def test_typename_is_the_schemas_and_root_fields_not_asked_are_left_out() -> None:
    held = hold(
        "{ ports { __typename UNLocationCode } }",
        {"ports": [{"__typename": "Admin", "UNLocationCode": "USLAX"}], "secrets": [1, 2]},
    )
    assert held.data == {"ports": [{"__typename": "Port", "UNLocationCode": "USLAX"}]}
