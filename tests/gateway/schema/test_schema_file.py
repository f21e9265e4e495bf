"""schema.graphql is the contract: it must be exactly what the code defines."""

from pathlib import Path

from graphql import GraphQLNonNull, build_schema

from gateway.schema import export_sdl
from portcontract import schema_sdl

ROOT = Path(__file__).resolve().parents[3]

# Identifying keys and structure that no policy denies; every other field must be nullable.
NON_NULL_ALLOWED = {
    "Terminal.facilitySMDGCode", "Terminal.UNLocationCode", "Port.UNLocationCode",
    "Vessel.vesselIMONumber", "EquipmentEvent.eventID", "EquipmentEvent.eventDateTime",
    "EquipmentEvent.eventClassifierCode", "EquipmentEvent.equipmentEventTypeCode",
    "ContainerLocation.UNLocationCode", "Hold.type", "Hold.status",
    "Container.equipmentReference", "Container.isISO6346Valid", "Container.sourcePort",
    "VesselCall.transportCallReference", "VesselCall.UNLocationCode",
    "VesselCall.plannedArrivalDateTime", "VesselCallEdge.cursor", "VesselCallEdge.node",
    "PageInfo.hasNextPage", "VesselCallConnection.edges", "VesselCallConnection.nodes",
    "VesselCallConnection.pageInfo", "PortMetric.UNLocationCode", "PortMetric.metric",
    "PortMetric.unit", "PortMetric.periodStart", "PortMetric.periodEnd", "PortMetric.sampleSize",
    # The outlook's window, keys and structure (its figures are nullable: missing, not zero).
    "Outlook.generatedAt", "Outlook.windowStart", "Outlook.windowEnd", "Outlook.ports",
    "Outlook.comparison", "PortOutlook.UNLocationCode", "PortOutlook.answered",
    "LateArrival.transportCallReference", "LateArrival.UNLocationCode",
    "LateArrival.plannedArrivalDateTime", "LateArrival.estimatedArrivalDateTime",
    "LateArrival.delayHours", "OutlookComparison.missing", "ContainerOutlook.equipmentReference",
    "ContainerOutlook.found", "ContainerOutlook.reasons",
    # DCSA structure inside objects a policy may already deny as a whole.
    "EquipmentEvent.sourceEquipmentEventTypeCode", "Seal.sealNumber",
    "DocumentReference.documentReferenceType", "DocumentReference.documentReferenceValue",
    "CallTimestamp.place", "CallTimestamp.eventTypeCode", "CallTimestamp.eventClassifierCode",
    "CallTimestamp.eventDateTime",
    # What makes a gate day, a slot, an empty-return rule, a cut-off or a rail leg what it is,
    # inside objects a policy grants or denies as a whole (Terminal.gateHours, ...).
    "GateDay.date", "GateDay.open", "GateDay.periods", "GatePeriod.opensDateTime",
    "GatePeriod.closesDateTime", "GatePeriod.offPeak", "AppointmentSlot.startDateTime",
    "AppointmentSlot.endDateTime", "AppointmentSlot.transaction", "AppointmentSlot.availability",
    "EmptyReturnRule.date", "EmptyReturnRule.carrierSCACCode", "EmptyReturnRule.ISOEquipmentCode",
    "EmptyReturnRule.accepted", "CutOffTime.cutOffDateTimeCode", "CutOffTime.cutOffDateTime",
    "CutOffTime.reefer", "RailLeg.onDock",
    # The outlook's terminal notes: keys of what it computed from the fields above.
    "GateClosure.facilitySMDGCode", "GateClosure.date", "GateClosure.closureReason",
    "EmptyReturnRestriction.facilitySMDGCode", "EmptyReturnRestriction.date",
    "EmptyReturnRestriction.carrierSCACCode", "EmptyReturnRestriction.ISOEquipmentCode",
}  # fmt: skip


def test_checked_in_schema_matches_the_code() -> None:
    assert (ROOT / "schema.graphql").read_text(encoding="utf-8") == export_sdl(), (
        "schema.graphql is out of date: run `portgate schema export`"
    )


def test_the_contract_package_ships_the_same_schema() -> None:
    assert schema_sdl() == export_sdl()


def test_fields_a_policy_may_deny_are_nullable() -> None:
    schema = build_schema(export_sdl())
    non_null = {
        f"{name}.{field_name}"
        for name, type_ in schema.type_map.items()
        if not name.startswith("__") and hasattr(type_, "fields") and name != "Query"
        for field_name, field in type_.fields.items()
        if isinstance(field.type, GraphQLNonNull)
    }
    assert non_null - NON_NULL_ALLOWED == set()


def test_root_fields_are_nullable_so_one_failure_does_not_null_the_others() -> None:
    query = build_schema(export_sdl()).query_type
    assert query is not None
    assert [n for n, f in query.fields.items() if isinstance(f.type, GraphQLNonNull)] == []
