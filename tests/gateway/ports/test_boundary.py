"""The port boundary rule by rule: each answer below breaks one part of the contract (or keeps
it), and what the gateway keeps of it is written out by hand."""

import copy
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    get_named_type,
    parse,
)
from graphql.execution.values import get_argument_values
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.config import ResolvedPort
from gateway.planning.plan import AskedField, PortQuery
from gateway.planning.selection import Shape, collect_fields, compile_shape
from gateway.ports.answer_checks import BYTES_PER_CHECK_NODE, Checks
from gateway.ports.boundary import PortBoundary
from gateway.ports.upstream import PortAnswer
from gateway.schema import build_schema
from portcontract.cursor import CallKey, call_key, encode_cursor

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
SCHEMA = build_schema()._schema
LAX = ResolvedPort(id="USLAX", name="LA", url="http://lax/graphql", timeout=2.0,
                   capabilities=frozenset(), terminals=frozenset({"APMT", "TRAP"}))  # fmt: skip
BOUNDARY = PortBoundary(SCHEMA, clock=lambda: NOW)
QUERY_TYPE = SCHEMA.query_type
assert QUERY_TYPE is not None


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
    document: str,
    data: dict[str, Any] | None,
    errors: list[dict[str, Any]] | None = None,
    **args: Any,
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
    held = hold(document, page)
    assert (held.data, held.dropped) == ({"vesselCalls": {"nodes": []}}, {"UNKNOWN_TERMINAL": 1})
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


def test_a_box_loaded_on_rail_later_than_now_is_not_believed() -> None:
    document = "{ containers { equipmentReference railLeg { onDock loadedOnRailDateTime } } }"
    later = "2026-11-21T19:00:00+00:00"
    held = hold(
        document,
        {"containers": [{"equipmentReference": "CSQU3054383",
                         "railLeg": {"onDock": True, "loadedOnRailDateTime": later}}]},
        containers={"references": ["CSQU3054383"]},
    )  # fmt: skip
    assert held.data == {"containers": [{"equipmentReference": "CSQU3054383",
                                         "railLeg": {"onDock": True,
                                                     "loadedOnRailDateTime": None}}]}  # fmt: skip
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


def test_codes_of_a_fixed_form_are_checked_as_codes_not_read_as_text() -> None:
    # A terminal's SMDG code is one of the port's registered codes, whatever word it spells
    # ("GANG" is a role on the quay in free text): refusing it would hide a real terminal.
    gang = ResolvedPort(id="USLAX", name="LA", url="http://lax/graphql", timeout=2.0,
                        capabilities=frozenset(), terminals=frozenset({"GANG"}))  # fmt: skip
    document = "{ container { equipmentReference location { UNLocationCode facilitySMDGCode } } }"
    box = {"equipmentReference": "CSQU3054383",
           "location": {"UNLocationCode": "USLAX", "facilitySMDGCode": "GANG"}}  # fmt: skip
    asked = query(document, gang, container={"reference": "CSQU3054383"})
    held = BOUNDARY.hold(asked, PortAnswer({"container": box}, []))
    assert held.data == {"container": box}
    assert held.dropped == {}


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


@pytest.mark.parametrize(
    ("coordinate", "kept"),
    [("VesselCall.cutOffTimes", "VesselCall.cutOffTimes"),
     ("Terminal.gateHours", None),  # optional, but not asked of this port
     ("VesselCall.plannedArrivalDateTime", None),  # a field every port must give
     ("Terminal.gateHours <script>", None), (["Terminal.gateHours"], None), (7, None),
     (None, None)],
)  # fmt: skip
def test_not_offered_keeps_its_coordinate_only_when_it_is_an_optional_field(
    coordinate: Any, kept: str | None
) -> None:
    errors = [{"message": "USLAX: no cut-offs here", "path": ["vesselCalls"],
               "extensions": {"code": "NOT_OFFERED", "count": 1,
                              "coordinate": coordinate}}]  # fmt: skip
    held = hold("{ vesselCalls { nodes { cutOffTimes { reefer } } } }", {"vesselCalls": None},
                errors, vesselCalls={"first": 20})  # fmt: skip
    assert held.errors == [
        {"code": "NOT_OFFERED", "path": ["vesselCalls"], "count": 1, "coordinate": kept}
    ]


def test_not_offered_without_a_root_path_names_no_field() -> None:
    errors = [{"message": "x", "path": None, "extensions": {"code": "NOT_OFFERED",
               "coordinate": "VesselCall.cutOffTimes"}}]  # fmt: skip
    held = hold("{ vesselCalls { nodes { cutOffTimes { reefer } } } }", {"vesselCalls": None},
                errors, vesselCalls={"first": 20})  # fmt: skip
    assert held.errors == [{"code": "NOT_OFFERED", "path": None, "coordinate": None}]


def test_only_not_offered_carries_a_coordinate() -> None:
    errors = [{"message": "x", "path": ["containers"],
               "extensions": {"code": "EVENTS_TRUNCATED", "count": 1,
                              "coordinate": "Container.railLeg"}}]  # fmt: skip
    held = hold("{ containers { equipmentReference } }", {"containers": []}, errors)
    assert held.errors == [{"code": "EVENTS_TRUNCATED", "path": ["containers"], "count": 1}]


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


# Each scalar of the schema, at a nullable field: the value is kept as it is, or null and
# counted. The bounds are GraphQL's (Int: 32 bits, signed; Float: finite; ID: a string or an
# integer) and the contract's (Date: YYYY-MM-DD).
INT_VALUES = [(2**31 - 1, True), (-(2**31), True), (2**31, False), (-(2**31) - 1, False),
              (0, True), (1.0, False), (False, False)]  # fmt: skip
FLOAT_VALUES = [(12.5, True), (12, True), (float("nan"), False), (float("inf"), False),
                (True, False), ("12.5", False)]  # fmt: skip
DATE_VALUES = [("2026-11-23", True), ("20261123", False), ("2026-11-23T00:00:00Z", False),
               ("2026-02-30", False), (20261123, False), ("23/11/2026", False)]  # fmt: skip


@pytest.mark.parametrize(("value", "valid"), INT_VALUES)
def test_an_int_is_a_32_bit_integer(value: Any, valid: bool) -> None:
    held = hold("{ vesselCalls { totalCount } }", {"vesselCalls": {"totalCount": value}},
                vesselCalls={"first": 20})  # fmt: skip
    assert held.data == {"vesselCalls": {"totalCount": value if valid else None}}
    assert held.dropped == ({} if valid else {"WRONG_TYPE": 1})


@pytest.mark.parametrize(("value", "valid"), FLOAT_VALUES)
def test_a_float_is_a_finite_number(value: Any, valid: bool) -> None:
    row = {"UNLocationCode": "USLAX", "value": value}
    held = hold("{ portMetrics { UNLocationCode value } }", {"portMetrics": [row]})
    assert held.data == {"portMetrics": [{**row, "value": value if valid else None}]}
    assert held.dropped == ({} if valid else {"WRONG_TYPE": 1})


@pytest.mark.parametrize(("value", "valid"), DATE_VALUES)
def test_a_date_is_a_calendar_day_written_in_full(value: Any, valid: bool) -> None:
    document = "{ container { equipmentReference availability { firstAvailableDate } } }"
    box = {"equipmentReference": "CSQU3054383", "availability": {"firstAvailableDate": value}}
    held = hold(document, {"container": box}, container={"reference": "CSQU3054383"})
    kept = value if valid else None
    assert held.data == {"container": {**box, "availability": {"firstAvailableDate": kept}}}
    assert held.dropped == ({} if valid else {"WRONG_TYPE": 1})


ID_VALUES = [("e1", True), (7, True), (7.5, False), (7.0, False), (True, False), (["e1"], False)]


@pytest.mark.parametrize(("value", "valid"), ID_VALUES)
def test_an_id_is_a_string_or_an_integer(value: Any, valid: bool) -> None:
    # eventID is non-null: an event whose ID is not one is left out of the list.
    document = "{ container { equipmentReference events { eventID } } }"
    box = {"equipmentReference": "CSQU3054383", "events": [{"eventID": value}]}
    held = hold(document, {"container": box}, container={"reference": "CSQU3054383"})
    assert held.data == {"container": {**box, "events": [{"eventID": value}] if valid else []}}
    assert held.dropped == ({} if valid else {"WRONG_TYPE": 1})


def test_a_scalar_the_boundary_does_not_know_is_held_to_its_own_input_rules() -> None:
    # A schema may grow a scalar of its own: what its parser refuses is not kept.
    def percent(value: Any) -> int:
        if type(value) is not int or not 0 <= value <= 100:
            raise ValueError(f"not a percentage: {value!r}")
        return value

    gauge = GraphQLObjectType("Gauge", {"level": GraphQLField(GraphQLScalarType(
        "Percent", parse_value=percent))})  # fmt: skip
    schema = GraphQLSchema(GraphQLObjectType("Query", {"gauges": GraphQLField(
        GraphQLList(GraphQLNonNull(gauge)))}))  # fmt: skip
    shape = compile_shape(parse_fields("{ gauges { level } }")["gauges"], {}, {})
    asked = [AskedField("gauges", "gauges", shape, {})]
    answer = PortAnswer({"gauges": [{"level": 40}, {"level": 140}, {"level": "40"}]}, [])
    held = PortBoundary(schema, clock=lambda: NOW).hold(
        PortQuery(LAX, "{ gauges { level } }", {}, ["gauges"], ["gauges"], asked), answer
    )
    assert held.data == {"gauges": [{"level": 40}, {"level": None}, {"level": None}]}
    assert held.dropped == {"WRONG_TYPE": 2}


def parse_fields(document: str) -> dict[str, Any]:
    operation = parse(document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return collect_fields(operation.selection_set, {}, {})


def test_what_is_dropped_is_counted_once_for_each_value_dropped() -> None:
    # Two rows of one answer breaking the same rule count 2, whichever rule it is.
    document = "{ portMetrics { UNLocationCode metric sampleSize } }"
    missing = {"UNLocationCode": "USLAX", "metric": "TEU_LOADED"}  # sampleSize is non-null
    held = hold(document, {"portMetrics": [missing, missing]})
    assert (held.data, held.dropped) == ({"portMetrics": []}, {"MISSING_VALUE": 2})
    references = ["CSQU3054383", "APZU4812090"]
    boxes = [{"equipmentReference": r, "events": "none"} for r in references]  # not a list
    held = hold("{ containers { equipmentReference events { eventID } } }",
                {"containers": boxes}, containers={"references": references})  # fmt: skip
    assert held.data == {"containers": [{**box, "events": None} for box in boxes]}
    assert held.dropped == {"WRONG_TYPE": 2}
    held = hold("{ containers { equipmentReference } }", {"containers": boxes},
                containers={"references": ["MSCU1234565"]})  # fmt: skip
    assert (held.data, held.dropped) == ({"containers": []}, {"NOT_ASKED": 2})


def test_the_boxes_of_a_document_are_the_ports_to_name() -> None:
    # Asked by bill of lading or booking, the gateway cannot know which boxes are on it.
    document = "{ containers { equipmentReference } }"
    boxes = [{"equipmentReference": "CSQU3054383"}, {"equipmentReference": "APZU4812090"}]
    for asked in ({"transportDocumentReference": "MAEU123456789"},
                  {"carrierBookingReference": "BKG778899"}):  # fmt: skip
        held = hold(document, {"containers": boxes}, containers={"references": None, **asked})
        assert (held.data, held.dropped) == ({"containers": boxes}, {})


def test_the_vessel_asked_for_is_kept() -> None:
    vessel = {"vesselIMONumber": "9321483", "vesselName": "EVER GIVEN"}
    held = hold("{ vessel { vesselIMONumber vesselName } }", {"vessel": vessel},
                vessel={"imo": "9321483"})  # fmt: skip
    assert (held.data, held.dropped) == ({"vessel": vessel}, {})


def test_a_vessel_other_than_the_one_asked_is_null_under_every_key_it_is_selected() -> None:
    document = "{ vessel { vesselIMONumber imo: vesselIMONumber vesselName } }"
    for imo, other in (("9321483", "9811000"), ("9321483", 9321483), ("9321483", None)):
        vessel = {"vesselIMONumber": "9321483", "imo": other, "vesselName": "EVER GIVEN"}
        held = hold(document, {"vessel": vessel}, vessel={"imo": imo})
        assert held.data == {"vessel": None}, other
    # A row checked whole against every key: the asked one first, then the other.
    vessel = {"vesselIMONumber": "9811000", "imo": "9321483", "vesselName": "EVER ACE"}
    held = hold(document, {"vessel": vessel}, vessel={"imo": "9321483"})
    assert (held.data, held.dropped) == ({"vessel": None}, {"NOT_ASKED": 1})


def test_metrics_are_matched_by_the_names_of_the_enum_values_asked() -> None:
    # The arguments as the planner has them: GraphQL enum values coerced to the schema's own.
    document = "{ portMetrics(metrics: [VESSELS_AT_ANCHOR]) { UNLocationCode metric } }"
    [node] = parse_fields(document)["portMetrics"]
    assert SCHEMA.query_type is not None
    arguments = get_argument_values(SCHEMA.query_type.fields["portMetrics"], node, {})
    rows = [{"UNLocationCode": "USLAX", "metric": "VESSELS_AT_ANCHOR"},
            {"UNLocationCode": "USLAX", "metric": "TEU_LOADED"}]  # fmt: skip
    held = hold(document, {"portMetrics": rows}, portMetrics=arguments)
    assert (held.data, held.dropped) == ({"portMetrics": rows[:1]}, {"NOT_ASKED": 1})


def test_a_page_that_is_not_one_is_null_and_counted() -> None:
    document = "{ vesselCalls { edges { cursor } } }"
    for page_value in ([], {"edges": "none"}, {"edges": None}, {}):
        held = hold(document, {"vesselCalls": page_value}, vesselCalls={"first": 20})
        assert (held.data, held.dropped) == ({"vesselCalls": None}, {"WRONG_TYPE": 1})
    # Counted with what else the answer broke, before the page and after it.
    three = "{ a: ports { UNLocationCode } vesselCalls { edges { cursor } } b: ports { name } }"
    for page_value in ([], {"edges": "none"}):
        held = hold(three, {"a": "all", "vesselCalls": page_value, "b": {"name": "LA"}},
                    vesselCalls={"first": 20})  # fmt: skip
        assert held.data == {"a": None, "vesselCalls": None, "b": None}
        assert held.dropped == {"WRONG_TYPE": 3}


def test_a_page_without_lists_keeps_its_count() -> None:
    held = hold("{ vesselCalls { totalCount } }", {"vesselCalls": {"totalCount": 3}},
                vesselCalls={"first": 1})  # fmt: skip
    assert (held.data, held.dropped) == ({"vesselCalls": {"totalCount": 3}}, {})


def test_a_full_page_drops_nothing_and_calls_past_first_are_counted() -> None:
    answer = page(("USLAX", "A"), ("USLAX", "B"), ("USLAX", "C"))
    held = hold(PAGE, answer, vesselCalls={"first": 3})
    assert (held.data, held.dropped) == (answer, {})
    held = hold(PAGE, answer, vesselCalls={"first": 2})
    assert (held.data, held.dropped) == (page(("USLAX", "A"), ("USLAX", "B")), {"NOT_ASKED": 1})
    held = hold(PAGE, answer, vesselCalls={"first": 1})
    assert (held.data, held.dropped) == (page(("USLAX", "A")), {"NOT_ASKED": 2})
    # Counted with the rows of another field that were not asked.
    other_vessel = {"vessel": {"vesselIMONumber": "9319466"}, **answer}
    held = hold("{ vessel { vesselIMONumber } " + PAGE.removeprefix("{"), other_vessel,
                vessel={"imo": "9321483"}, vesselCalls={"first": 2})  # fmt: skip
    assert held.dropped == {"NOT_ASKED": 2}


def test_each_page_of_an_answer_counts_its_own_mismatch() -> None:
    uneven = page(("USLAX", "A"), ("USLAX", "B"))["vesselCalls"]
    uneven["nodes"].pop()
    lists = "{ edges { cursor node { UNLocationCode } } nodes { transportCallReference } }"
    twice = f"{{ a: vesselCalls {lists} b: vesselCalls {lists} }}"
    held = hold(twice, {"a": uneven, "b": uneven}, a={"first": 20}, b={"first": 20})
    assert held.data == {key: page(("USLAX", "A"))["vesselCalls"] for key in ("a", "b")}
    assert held.dropped == {"MISMATCHED_PAGE": 2}


def test_a_call_dropped_from_a_page_leaves_the_calls_after_it() -> None:
    answer = page(("USLAX", "A"), ("USLAX", "B"), ("USLAX", "C"))
    del answer["vesselCalls"]["edges"][1]["node"]["UNLocationCode"]  # non-null: B is broken
    held = hold(PAGE, answer, vesselCalls={"first": 20})
    assert held.data == page(("USLAX", "A"), ("USLAX", "C"))
    assert held.dropped == {"MISSING_VALUE": 1}


def test_a_cursor_that_is_not_a_vessel_calls_drops_the_call() -> None:
    answer = page(("USLAX", "A"), ("USLAX", "B"))
    answer["vesselCalls"]["edges"][0]["cursor"] = "not-a-cursor"
    held = hold(PAGE, answer, vesselCalls={"first": 20})
    assert (held.data, held.dropped) == (page(("USLAX", "B")), {"WRONG_TYPE": 1})


def test_the_window_asked_starts_at_from_and_ends_before_to() -> None:
    # "Planned arrival at or after" from, "before" to (the schema's words).
    start, end = datetime(2026, 11, 21, 12, tzinfo=UTC), datetime(2026, 11, 21, 18, tzinfo=UTC)
    calls = [("A", start), ("B", datetime(2026, 11, 21, 17, 59, tzinfo=UTC)), ("C", end)]
    answer = {
        "vesselCalls": {
            "edges": [{"cursor": cursor("USLAX", r, at), "node": {"UNLocationCode": "USLAX"}}
                      for r, at in calls],
            "nodes": [{"transportCallReference": r} for r, _ in calls],
        }
    }  # fmt: skip
    window = {"first": 20, "from": start, "to": end}
    held = hold(PAGE, answer, vesselCalls=window)
    assert held.data == {"vesselCalls": {key: items[:2] for key, items in
                                         answer["vesselCalls"].items()}}  # fmt: skip
    assert held.dropped == {"NOT_ASKED": 1}
    later = {"first": 20, "from": datetime(2026, 11, 21, 12, 1, tzinfo=UTC)}
    assert hold(PAGE, answer, vesselCalls=later).dropped == {"NOT_ASKED": 1}  # A, before it
    after = {"first": 20, "after": cursor("USLAX", "A", start)}
    assert hold(PAGE, answer, vesselCalls=after).dropped == {"NOT_ASKED": 1}  # A itself


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ([], None),
        ("containers", None),
        (5, None),
        ({"containers": 0}, None),
        (["containers", 0, "events", 1, "eventID"], ["containers", 0, "events", 1, "eventID"]),
        (["containers", 0, "equipmentReference", "x"], ["containers", 0, "equipmentReference"]),
        (["containers", 0, "events", -1, "eventID"], ["containers", 0, "events"]),
        (["containers", 0, "events", 1.0], ["containers", 0, "events"]),
        # At most MAX_PATH (16) elements: list indexes need no shape, so they show the bound.
        (["containers", *range(20)], ["containers", *range(15)]),
        (["containers", *range(15)], ["containers", *range(15)]),
    ],
)
def test_an_error_path_keeps_only_what_runs_through_the_document(path: Any, kept: Any) -> None:
    document = "{ containers { equipmentReference events { eventID } } }"
    errors = [{"message": "x", "path": path, "extensions": {"code": "SOURCE_UNAVAILABLE"}}]
    held = hold(document, {"containers": None}, errors)
    assert held.errors == [{"code": "SOURCE_UNAVAILABLE", "path": kept}]


def test_a_ports_message_goes_to_the_log_and_its_fetch_span_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    errors = [{"message": "source down since 06:00", "extensions": {"code": "SOURCE_UNAVAILABLE"}},
              {"message": "key pgk_live_0123456789abcdef refused"},
              {"message": "crane driver Jane Roe called in sick"},
              {"message": 42},
              {"message": "berth " + "7" * 400}]  # fmt: skip
    with (
        caplog.at_level(logging.INFO, logger="gateway.ports.boundary"),
        provider.get_tracer("test").start_as_current_span("fetch USLAX"),
    ):
        held = hold("{ ports { UNLocationCode } }", {"ports": []}, errors)
    provider.shutdown()
    assert (
        held.errors
        == [{"code": "SOURCE_UNAVAILABLE", "path": None}] + [{"code": None, "path": None}] * 4
    )
    expected = [
        ("SOURCE_UNAVAILABLE", "source down since 06:00"),
        ("", "key <redacted> refused"),
        ("", "(withheld: the message names labor)"),
        ("", "berth " + "7" * 294),  # at most 300 characters of it
    ]
    assert [r.getMessage() for r in caplog.records] == [
        f"port USLAX reported {code or 'an error'}: {text}" for code, text in expected
    ]
    [span] = exporter.get_finished_spans()
    assert [(e.name, dict(e.attributes or {})) for e in span.events] == [
        ("portgate.port_error", {"portgate.port": "USLAX", "portgate.port_code": code,
                                 "message": text})
        for code, text in expected
    ]  # fmt: skip


def test_a_cursor_at_the_edge_of_the_calendar_drops_its_call_not_the_answer() -> None:
    # 0001-01-01 00:00 at +01:00 is a day before the first one Python can hold in UTC.
    edge = encode_cursor(CallKey("0001-01-01T00:00:00+01:00", "USLAX", "A"))
    answer = page(("USLAX", "A"), ("USLAX", "B"))
    answer["vesselCalls"]["edges"][0]["cursor"] = edge
    held = hold(PAGE, answer, vesselCalls={"first": 20})
    assert (held.data, held.dropped) == (page(("USLAX", "B")), {"WRONG_TYPE": 1})


def test_an_object_that_is_not_one_is_null_and_counted() -> None:
    references = ["CSQU3054383", "APZU4812090"]
    boxes = [{"equipmentReference": r, "location": "Berth 4"} for r in references]
    held = hold("{ containers { equipmentReference location { UNLocationCode } } }",
                {"containers": boxes}, containers={"references": references})  # fmt: skip
    assert held.data == {"containers": [{**box, "location": None} for box in boxes]}
    assert held.dropped == {"WRONG_TYPE": 2}


def test_a_string_may_be_as_long_as_the_contract_allows_and_no_longer() -> None:
    names = ["x" * 2000, "y" * 2001, "z" * 5000]
    rows = [{"UNLocationCode": "USLAX", "name": name} for name in names]
    held = hold("{ ports { UNLocationCode name } }", {"ports": rows})
    assert held.data == {"ports": [rows[0], *({**row, "name": None} for row in rows[1:])]}
    assert held.dropped == {"TOO_LONG": 2}


def test_a_time_within_the_clock_skew_allowed_is_kept_to_the_second() -> None:
    document = "{ containers { equipmentReference lastEventDateTime } }"
    edge, past = "2026-11-21T18:05:00+00:00", "2026-11-21T18:05:01+00:00"  # now + 5 min, + 1 s
    boxes = [{"equipmentReference": "CSQU3054383", "lastEventDateTime": edge},
             {"equipmentReference": "APZU4812090", "lastEventDateTime": past}]  # fmt: skip
    held = hold(document, {"containers": boxes},
                containers={"references": ["CSQU3054383", "APZU4812090"]})  # fmt: skip
    assert held.data == {"containers": [boxes[0], {**boxes[1], "lastEventDateTime": None}]}
    assert held.dropped == {"FUTURE_TIME": 1}


def test_an_answer_without_data_keeps_its_errors_held() -> None:
    extensions = {"code": "SOURCE_UNAVAILABLE", "detail": "host db-7"}
    errors = [{"message": "down", "path": ["ports"], "extensions": extensions}]
    held = hold("{ ports { UNLocationCode } }", None, errors)
    assert (held.data, held.errors, held.dropped) == (
        None, [{"code": "SOURCE_UNAVAILABLE", "path": ["ports"]}], {}
    )  # fmt: skip


def test_what_was_dropped_is_logged_by_port(caplog: pytest.LogCaptureFixture) -> None:
    data = {"ports": [{"UNLocationCode": "USOAK"}, {"UNLocationCode": "USLAX", "name": "x" * 2001}]}
    with caplog.at_level(logging.INFO, logger="gateway.ports.boundary"):
        hold("{ ports { UNLocationCode name } }", data)
        hold("{ ports { UNLocationCode name } }", {"ports": []})  # nothing dropped, nothing said
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            "port USLAX: answer broke the contract; dropped {'OTHER_PORT': 1, 'TOO_LONG': 1}",
        )
    ]


@pytest.mark.parametrize("sent", [19, 20, 21, 45])
def test_at_most_20_errors_of_an_answer_are_kept(
    sent: int, caplog: pytest.LogCaptureFixture
) -> None:
    errors = [{"message": f"e{i}", "path": ["ports"]} for i in range(sent)]
    with caplog.at_level(logging.INFO, logger="gateway.ports.boundary"):
        held = hold("{ ports { UNLocationCode } }", {"ports": []}, errors)
    assert held.errors == [{"code": None, "path": ["ports"]}] * min(sent, 20)
    said = [r.getMessage() for r in caplog.records if "more errors" in r.getMessage()]
    assert said == ([f"port USLAX: {sent - 20} more errors not kept"] if sent > 20 else [])


OTHER = "USOAK"


@pytest.mark.parametrize(
    ("document", "row", "claim"),
    [
        ("{ ports { UNLocationCode } }", {"UNLocationCode": "USLAX"}, ["UNLocationCode"]),
        ("{ ports { UNLocationCode terminals { facilitySMDGCode UNLocationCode } } }",
         {"UNLocationCode": "USLAX",
          "terminals": [{"facilitySMDGCode": "APMT", "UNLocationCode": "USLAX"}]},
         ["terminals", 0, "UNLocationCode"]),
        ("{ containers { equipmentReference sourcePort } }",
         {"equipmentReference": "CSQU3054383", "sourcePort": "USLAX"}, ["sourcePort"]),
        ("{ containers { equipmentReference location { UNLocationCode } } }",
         {"equipmentReference": "CSQU3054383", "location": {"UNLocationCode": "USLAX"}},
         ["location", "UNLocationCode"]),
        ("{ portMetrics { UNLocationCode metric } }",
         {"UNLocationCode": "USLAX", "metric": "TEU_LOADED"}, ["UNLocationCode"]),
    ],
)  # fmt: skip
def test_every_field_naming_the_port_must_name_the_one_that_answers(
    document: str, row: dict[str, Any], claim: list[str | int]
) -> None:
    root = document.split()[1]
    other = copy.deepcopy(row)
    place: Any = other
    for step in claim[:-1]:
        place = place[step]
    place[claim[-1]] = OTHER
    asked = {root: {"references": ["CSQU3054383"]}} if root == "containers" else {}
    held = hold(document, {root: [row, other, row]}, **asked)
    assert (held.data, held.dropped) == ({root: [row, row]}, {"OTHER_PORT": 1})


@pytest.mark.parametrize("field", ["UNLocationCode", "facilitySMDGCode"])
def test_a_vessel_call_of_another_port_or_terminal_is_dropped(field: str) -> None:
    document = "{ vesselCalls { nodes { UNLocationCode facilitySMDGCode } } }"
    call = {"UNLocationCode": "USLAX", "facilitySMDGCode": "TRAP"}
    other = {**call, field: {"UNLocationCode": OTHER, "facilitySMDGCode": "B58"}[field]}
    held = hold(document, {"vesselCalls": {"nodes": [call, other]}}, vesselCalls={"first": 20})
    assert held.data == {"vesselCalls": {"nodes": [call]}}
    assert held.dropped == {"OTHER_PORT" if field == "UNLocationCode" else "UNKNOWN_TERMINAL": 1}


@pytest.mark.parametrize(
    ("document", "row", "terminal"),
    [
        ("{ ports { UNLocationCode terminals { facilitySMDGCode } } }",
         {"UNLocationCode": "USLAX", "terminals": [{"facilitySMDGCode": "APMT"}]},
         ["terminals", 0, "facilitySMDGCode"]),
        ("{ containers { equipmentReference location { UNLocationCode facilitySMDGCode } } }",
         {"equipmentReference": "CSQU3054383",
          "location": {"UNLocationCode": "USLAX", "facilitySMDGCode": "APMT"}},
         ["location", "facilitySMDGCode"]),
        ("{ portMetrics { UNLocationCode facilitySMDGCode metric } }",
         {"UNLocationCode": "USLAX", "facilitySMDGCode": "APMT", "metric": "TEU_LOADED"},
         ["facilitySMDGCode"]),
    ],
)  # fmt: skip
def test_every_field_naming_a_terminal_must_name_one_of_the_ports_own(
    document: str, row: dict[str, Any], terminal: list[str | int]
) -> None:
    root = document.split()[1]
    other = copy.deepcopy(row)
    place: Any = other
    for step in terminal[:-1]:
        place = place[step]
    place[terminal[-1]] = "B58"  # a terminal of Long Beach, not registered for Los Angeles
    asked = {root: {"references": ["CSQU3054383"]}} if root == "containers" else {}
    held = hold(document, {root: [row, other]}, **asked)
    assert (held.data, held.dropped) == ({root: [row]}, {"UNKNOWN_TERMINAL": 1})


@pytest.mark.parametrize(
    "field",
    ["actualArrivalDateTime", "actualDepartureDateTime", "anchorageArrivalDateTime",
     "pilotBoardingDateTime"],
)  # fmt: skip
def test_every_time_of_a_call_that_has_happened_is_not_later_than_now(field: str) -> None:
    document = f"{{ vesselCalls {{ nodes {{ UNLocationCode {field} }} }} }}"
    past, later = "2026-11-21T17:00:00+00:00", "2026-11-21T19:00:00+00:00"
    calls = [{"UNLocationCode": "USLAX", field: past}, {"UNLocationCode": "USLAX", field: later}]
    held = hold(document, {"vesselCalls": {"nodes": calls}}, vesselCalls={"first": 20})
    assert held.data == {"vesselCalls": {"nodes": [calls[0], {**calls[1], field: None}]}}
    assert held.dropped == {"FUTURE_TIME": 1}


def test_an_id_that_names_labor_drops_what_it_identifies() -> None:
    document = "{ container { equipmentReference events { eventID } } }"
    events = [{"eventID": "e1"}, {"eventID": "gang 4 night shift"}]
    box = {"equipmentReference": "CSQU3054383", "events": events}
    held = hold(document, {"container": box}, container={"reference": "CSQU3054383"})
    assert held.data == {"container": {**box, "events": events[:1]}}
    assert held.dropped == {"LABOR_TEXT": 1}


def test_a_ports_own_code_is_not_read_as_text() -> None:
    # CLERK has the form of a UN/LOCODE (CL, Chile); as text it would name a role on the quay.
    clerk = ResolvedPort(id="CLERK", name="Clerk", url="http://clerk/graphql", timeout=2.0,
                         capabilities=frozenset(), terminals=frozenset())  # fmt: skip
    data = {"ports": [{"UNLocationCode": "CLERK", "name": "Puerto Montt"}]}
    held = hold("{ ports { UNLocationCode name } }", data, port=clerk)
    assert (held.data, held.dropped) == (data, {})


def test_a_container_other_than_the_one_asked_is_null() -> None:
    document = '{ container(reference: "CSQU3054383") { equipmentReference sourcePort } }'
    box = {"equipmentReference": "APZU4812090", "sourcePort": "USLAX"}
    held = hold(document, {"container": box}, container={"reference": "CSQU3054383"})
    assert (held.data, held.dropped) == ({"container": None}, {"NOT_ASKED": 1})


def test_a_shape_is_compiled_once_and_the_compiled_checks_are_bounded() -> None:
    boundary = PortBoundary(SCHEMA, clock=lambda: NOW)
    asked = query(
        '{ containers(references: ["CSQU3054383"]) { equipmentReference } }',
        containers={"references": ["CSQU3054383"]},
    )
    row = {"equipmentReference": "CSQU3054383"}
    for _ in range(3):
        answer = boundary.hold(asked, PortAnswer({"containers": [row]}, []))
        assert answer.data == {"containers": [row]}
    checks = boundary.checks
    assert checks.evictions == 0
    assert checks.bytes == 2 * BYTES_PER_CHECK_NODE  # the container and its one field
    small = Checks(size=4, max_nodes=50)
    containers = QUERY_TYPE.fields["containers"].type
    for i in range(20):  # twenty shapes of three fields each, made anew
        fields = f"f{i}: equipmentReference status sourcePort"
        shape = query(f'{{ containers(references: ["X"]) {{ {fields} }} }}').asked[0].shape
        small.get(containers, shape, "Query.containers")
    assert small.evictions == 16  # at most four kept
    assert small.bytes == 4 * 4 * BYTES_PER_CHECK_NODE <= small.max_bytes


def test_a_shape_larger_than_the_bound_is_checked_but_not_kept() -> None:
    checks = Checks(size=4, max_nodes=2)
    asked = query('{ containers(references: ["X"]) { equipmentReference status } }')
    containers = QUERY_TYPE.fields["containers"].type
    check = checks.get(containers, asked.asked[0].shape, "Query.containers")
    assert checks.bytes == 0
    assert callable(check)


def four_field_shape(alias: str) -> Shape:
    """A container shape of three fields under a name of its own: four compiled fields."""
    fields = f"{alias}: equipmentReference status sourcePort"
    document = f'{{ containers(references: ["X"]) {{ {fields} }} }}'
    return query(document).asked[0].shape


def test_a_kept_check_is_reused_and_the_least_recently_used_goes_first() -> None:
    containers = QUERY_TYPE.fields["containers"].type
    item = get_named_type(containers)
    checks = Checks(size=10, max_nodes=8)
    first, second = four_field_shape("a"), four_field_shape("b")
    check = checks.get(containers, first, "Query.containers")
    assert checks.get(containers, first, "Query.containers") is check  # kept, not compiled again
    assert checks.get(item, first, "Query.containers") is not check  # another type: its own
    assert checks.get(containers, first, "Query.containers") is check  # both kept, apart
    checks = Checks(size=10, max_nodes=8)
    kept = checks.get(containers, first, "Query.containers")
    latest = checks.get(containers, second, "Query.containers")
    assert (checks.bytes, checks.evictions) == (8 * BYTES_PER_CHECK_NODE, 0)  # full, none out
    checks.get(containers, four_field_shape("c"), "Query.containers")
    assert checks.evictions == 1
    assert checks.get(containers, second, "Query.containers") is latest  # the newer stays
    assert checks.get(containers, first, "Query.containers") is not kept  # the oldest went
    exactly = Checks(size=4, max_nodes=4)
    exactly.get(containers, first, "Query.containers")
    assert exactly.bytes == 4 * BYTES_PER_CHECK_NODE  # a shape of exactly the bound is kept
