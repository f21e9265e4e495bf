"""Object types of the shared cargo schema.

Names follow DCSA Track & Trace 2.2 and Operational Vessel Schedules 3.0 where DCSA has a name.
Every field a policy may deny is nullable; identifying keys are not. No type or field tracks or
monitors labor (Cal. Gov. Code 12100.131(b)(3); docs/privacy.md): there is no person, crew,
shift or crane, no per-hour rate, and no per-call move count that could be turned into one.
"""

from datetime import date, datetime

import strawberry

from gateway.schema.enums import (
    CallPlace,
    ContainerStatus,
    CutOffDateTimeCode,
    DocumentReferenceType,
    EmptyIndicatorCode,
    EquipmentEventTypeCode,
    EventClassifierCode,
    FacilityCodeListProvider,
    GateClosureReason,
    HoldStatus,
    HoldType,
    ModeOfTransport,
    PortMetricType,
    PortStatus,
    SealSource,
    SealType,
    SlotAvailability,
    TransportCallStatusCode,
    TransportEventTypeCode,
    TruckTransaction,
    VesselCallPhase,
)


@strawberry.type(description="One stretch of time a terminal's truck gate is open.")
class GatePeriod:
    opens_date_time: datetime = strawberry.field(name="opensDateTime")
    closes_date_time: datetime = strawberry.field(name="closesDateTime")
    off_peak: bool = strawberry.field(
        name="offPeak",
        description="True for off-peak hours (nights and weekends at Los Angeles and Long "
        "Beach, where the Traffic Mitigation Fee is not charged), false for peak hours",
    )


@strawberry.type(description="A terminal's truck gate on one local day.")
class GateDay:
    day: date = strawberry.field(name="date", description="The local day")
    open: bool = strawberry.field(description="Whether the gate opens at all that day")
    periods: list[GatePeriod] = strawberry.field(
        description="When it is open, in time order; empty on a closed day"
    )
    closure_reason: GateClosureReason | None = strawberry.field(
        name="closureReason",
        description="Why the gate is closed on a day it would normally open; null on open days "
        "and on days it never opens (e.g. a Sunday)",
    )


@strawberry.type(description="One time slot of a terminal's truck appointment system.")
class AppointmentSlot:
    start_date_time: datetime = strawberry.field(name="startDateTime")
    end_date_time: datetime = strawberry.field(name="endDateTime")
    transaction: TruckTransaction
    availability: SlotAvailability
    appointments_left: int | None = strawberry.field(
        name="appointmentsLeft",
        description="Appointments still free in the slot, when the terminal publishes the number",
    )


@strawberry.type(
    description="Whether a terminal takes one carrier's empties of one size and type on one day "
    "(the terminals' published empty-return rules)."
)
class EmptyReturnRule:
    day: date = strawberry.field(name="date", description="The local day the rule is for")
    carrier_scac_code: str = strawberry.field(
        name="carrierSCACCode", description="SCAC of the carrier owning the empties, e.g. MAEU"
    )
    iso_equipment_code: str = strawberry.field(
        name="ISOEquipmentCode",
        description="ISO 6346 size and type the rule is for, e.g. 22G1 (20' dry), 45G1 (40' "
        "high cube), 45R1 (40' reefer), L5G1 (45')",
    )
    accepted: bool = strawberry.field(description="Whether the terminal takes these empties")


@strawberry.type(description="A container terminal, identified by its SMDG code within a port.")
class Terminal:
    facility_smdg_code: str = strawberry.field(
        name="facilitySMDGCode",
        description="SMDG terminal code (DCSA OVS 3 facilitySMDGCode), e.g. APMT; meaningful "
        "only with the port's UN/LOCODE",
    )
    name: str | None
    un_location_code: str = strawberry.field(
        name="UNLocationCode", description="UN/LOCODE of the port the terminal is in"
    )
    gate_hours: list[GateDay] | None = strawberry.field(
        name="gateHours",
        description="The truck gate today and on the next six days, local days in order, "
        "closures included. Null when the port's systems do not offer gate hours: its "
        "extensions.sources entry lists Terminal.gateHours under notOffered",
    )
    uses_appointments: bool | None = strawberry.field(
        name="usesAppointments",
        description="Whether trucks need an appointment at this terminal; null when the port "
        "does not offer appointments (see appointmentSlots)",
    )
    appointment_slots: list[AppointmentSlot] | None = strawberry.field(
        name="appointmentSlots",
        description="Truck appointment slots from now until the end of tomorrow, by time and "
        "transaction; empty for a terminal that does not use appointments. Null when the port "
        "does not offer them (notOffered: Terminal.appointmentSlots)",
    )
    empty_returns: list[EmptyReturnRule] | None = strawberry.field(
        name="emptyReturns",
        description="Today's and tomorrow's empty-return rules: which carriers' empties of "
        "which size and type the terminal takes. Null when the port does not offer them "
        "(notOffered: Terminal.emptyReturns)",
    )


@strawberry.type(description="A port of the partnership, identified by its UN/LOCODE.")
class Port:
    un_location_code: str = strawberry.field(name="UNLocationCode", description="e.g. USLAX")
    name: str | None
    time_zone: str | None = strawberry.field(description="IANA time zone, e.g. America/Los_Angeles")
    terminals: list[Terminal] | None
    status: PortStatus | None = strawberry.field(
        description="The gateway's view of the port, not the port's own: resolvers leave it "
        "null and the gateway fills it in. A port that does not answer is still listed, DOWN."
    )


@strawberry.type(description="DCSA location: a place an event happened.")
class Location:
    location_name: str | None = strawberry.field(name="locationName")
    un_location_code: str | None = strawberry.field(name="UNLocationCode")
    facility_code: str | None = strawberry.field(
        name="facilityCode",
        description="Facility code, from the list facilityCodeListProvider names",
    )
    facility_code_list_provider: FacilityCodeListProvider | None = strawberry.field(
        name="facilityCodeListProvider", description="SMDG (terminals) or BIC"
    )
    latitude: float | None
    longitude: float | None


@strawberry.type(description="A ship identified by its IMO number (DCSA OVS Vessel).")
class Vessel:
    vessel_imo_number: str = strawberry.field(
        name="vesselIMONumber", description="7 digits, last one a check digit"
    )
    mmsi_number: str | None = strawberry.field(name="MMSINumber", description="9 digits")
    vessel_name: str | None = strawberry.field(name="vesselName")
    vessel_flag: str | None = strawberry.field(
        name="vesselFlag", description="ISO 3166 alpha-2 flag state"
    )
    vessel_call_sign: str | None = strawberry.field(name="vesselCallSign")
    vessel_operator_smdg_liner_code: str | None = strawberry.field(
        name="vesselOperatorSMDGLinerCode", description="SMDG liner code of the operator, e.g. MSC"
    )
    vessel_operator_scac_code: str | None = strawberry.field(
        name="vesselOperatorSCACCode",
        description="SCAC (NMFTA) code of the carrier operating the vessel, e.g. MSCU",
    )


@strawberry.type(description="DCSA transportCall an equipment event refers to.")
class TransportCall:
    transport_call_reference: str | None = strawberry.field(name="transportCallReference")
    port_visit_reference: str | None = strawberry.field(
        name="portVisitReference", description="The port's own reference of the vessel's visit"
    )
    transport_call_sequence_number: int | None = strawberry.field(
        name="transportCallSequenceNumber",
        description="Tells two calls at the same place within one voyage apart",
    )
    carrier_import_voyage_number: str | None = strawberry.field(name="carrierImportVoyageNumber")
    carrier_export_voyage_number: str | None = strawberry.field(name="carrierExportVoyageNumber")
    un_location_code: str | None = strawberry.field(name="UNLocationCode")
    facility_code: str | None = strawberry.field(
        name="facilityCode",
        description="Facility code, from the list facilityCodeListProvider names",
    )
    facility_code_list_provider: FacilityCodeListProvider | None = strawberry.field(
        name="facilityCodeListProvider"
    )
    facility_type_code: str | None = strawberry.field(
        name="facilityTypeCode",
        description="DCSA facilityTypeCode of the call's place, e.g. POTE (port terminal) or "
        "RAMP (rail ramp)",
    )
    mode_of_transport: ModeOfTransport | None = strawberry.field(name="modeOfTransport")
    vessel: Vessel | None


@strawberry.type(description="DCSA seal on a container.")
class Seal:
    seal_number: str = strawberry.field(name="sealNumber")
    seal_source: SealSource | None = strawberry.field(name="sealSource")
    seal_type: SealType | None = strawberry.field(name="sealType")


@strawberry.type(
    description="DCSA documentReference: a booking or transport document an event is about."
)
class DocumentReference:
    document_reference_type: DocumentReferenceType = strawberry.field(name="documentReferenceType")
    document_reference_value: str = strawberry.field(name="documentReferenceValue")


@strawberry.type(description="DCSA Track & Trace 2.2 equipment event.")
class EquipmentEvent:
    event_id: strawberry.ID = strawberry.field(name="eventID")
    event_created_date_time: datetime | None = strawberry.field(name="eventCreatedDateTime")
    event_date_time: datetime = strawberry.field(name="eventDateTime")
    event_classifier_code: EventClassifierCode = strawberry.field(name="eventClassifierCode")
    equipment_event_type_code: EquipmentEventTypeCode = strawberry.field(
        name="equipmentEventTypeCode"
    )
    source_equipment_event_type_code: str = strawberry.field(
        name="sourceEquipmentEventTypeCode",
        description="The code exactly as the port's system sent it; differs from "
        "equipmentEventTypeCode only when that is OTHER",
    )
    iso_equipment_code: str | None = strawberry.field(
        name="ISOEquipmentCode", description="ISO 6346 size and type code, e.g. 45G1"
    )
    empty_indicator_code: EmptyIndicatorCode | None = strawberry.field(name="emptyIndicatorCode")
    event_location: Location | None = strawberry.field(name="eventLocation")
    transport_call: TransportCall | None = strawberry.field(name="transportCall")
    seals: list[Seal] | None
    document_references: list[DocumentReference] | None = strawberry.field(
        name="documentReferences", description="Bookings and transport documents of the event"
    )


@strawberry.type(description="A container's on-dock or near-dock rail leg out of the port.")
class RailLeg:
    on_dock: bool = strawberry.field(
        name="onDock",
        description="True when the box is loaded onto the train inside the terminal (on-dock "
        "rail); false when it is trucked to a near-dock rail yard first",
    )
    rail_carrier_scac_code: str | None = strawberry.field(
        name="railCarrierSCACCode", description="SCAC of the railroad, e.g. UPRR or BNSF"
    )
    destination_ramp: Location | None = strawberry.field(
        name="destinationRamp", description="The inland rail ramp the box travels to"
    )
    loaded_on_rail_date_time: datetime | None = strawberry.field(
        name="loadedOnRailDateTime",
        description="When the box was loaded onto the train; null until it is",
    )
    departure_date_time: datetime | None = strawberry.field(
        name="departureDateTime", description="When the train leaves (or left) the port"
    )
    departure_classifier_code: EventClassifierCode | None = strawberry.field(
        name="departureClassifierCode",
        description="Whether departureDateTime is planned (PLN), estimated (EST) or actual (ACT)",
    )


@strawberry.type(description="Where a container is: port, terminal and yard block, no finer.")
class ContainerLocation:
    un_location_code: str = strawberry.field(name="UNLocationCode")
    facility_smdg_code: str | None = strawberry.field(
        name="facilitySMDGCode", description="SMDG terminal code"
    )
    terminal_name: str | None = strawberry.field(name="terminalName")
    yard_block: str | None = strawberry.field(
        name="yardBlock", description="Yard block only; never row, tier or slot"
    )


@strawberry.type(description="A hold that stops an import container from being picked up.")
class Hold:
    type: HoldType
    status: HoldStatus
    description: str | None
    updated_date_time: datetime | None = strawberry.field(name="updatedDateTime")


@strawberry.type(description="Whether an import container can be picked up, and until when free.")
class ImportAvailability:
    available_for_pickup: bool | None = strawberry.field(name="availableForPickup")
    holds: list[Hold] | None
    first_available_date: date | None = strawberry.field(name="firstAvailableDate")
    last_free_day: date | None = strawberry.field(
        name="lastFreeDay", description="Last day without storage charges"
    )
    outstanding_fees_usd: float | None = strawberry.field(
        name="outstandingFeesUSD", description="Demurrage and other fees due, in US dollars"
    )
    empty_return_deadline: date | None = strawberry.field(
        name="emptyReturnDeadline",
        description="The last day to return the box empty before the carrier charges for it "
        "(the end of its free time for the empty). Null when the port does not offer it "
        "(notOffered: ImportAvailability.emptyReturnDeadline) or does not know it yet",
    )


@strawberry.type(description="A container as one port's systems know it.")
class Container:
    equipment_reference: str = strawberry.field(
        name="equipmentReference",
        description="DCSA equipmentReference: an ISO 6346 number, or a carrier reference of at "
        "most 15 characters",
    )
    iso_equipment_code: str | None = strawberry.field(
        name="ISOEquipmentCode", description="ISO 6346 size and type code, e.g. 45G1"
    )
    is_iso6346_valid: bool = strawberry.field(
        name="isISO6346Valid",
        description="Whether equipmentReference is a well-formed ISO 6346 number with a correct "
        "check digit",
    )
    empty_indicator_code: EmptyIndicatorCode | None = strawberry.field(name="emptyIndicatorCode")
    status: ContainerStatus | None
    location: ContainerLocation | None
    availability: ImportAvailability | None
    last_event_date_time: datetime | None = strawberry.field(
        name="lastEventDateTime", description="Time of the latest actual event"
    )
    events: list[EquipmentEvent] | None = strawberry.field(
        description="Equipment events, oldest first"
    )
    rail_leg: RailLeg | None = strawberry.field(
        name="railLeg",
        description="The box's rail leg out of the port, when it leaves by rail (status "
        "LOADED_ON_RAIL once loaded); null when it does not, or when the port does not offer "
        "rail legs (notOffered: Container.railLeg)",
    )
    source_port: str = strawberry.field(
        name="sourcePort", description="UN/LOCODE of the port that answered"
    )


@strawberry.type(
    description="One timestamp of a vessel call: the latest one the port knows for its place, "
    "type and classifier (JIT-style: ETA, RTA, PTA and ATA at berth, anchorage, pilot boarding)."
)
class CallTimestamp:
    place: CallPlace
    event_type_code: TransportEventTypeCode = strawberry.field(name="eventTypeCode")
    event_classifier_code: EventClassifierCode = strawberry.field(name="eventClassifierCode")
    event_date_time: datetime = strawberry.field(name="eventDateTime")
    event_created_date_time: datetime | None = strawberry.field(
        name="eventCreatedDateTime", description="When the port's system recorded it"
    )
    delay_reason_code: str | None = strawberry.field(
        name="delayReasonCode", description="SMDG delay reason code, e.g. WEA (weather)"
    )
    change_remark: str | None = strawberry.field(name="changeRemark")


@strawberry.type(
    description="One deadline or opening of a vessel call for exporters (DCSA cut-off time)."
)
class CutOffTime:
    cut_off_date_time_code: CutOffDateTimeCode = strawberry.field(name="cutOffDateTimeCode")
    cut_off_date_time: datetime = strawberry.field(name="cutOffDateTime")
    reefer: bool = strawberry.field(
        description="True: it applies to reefer (refrigerated) containers, whose receiving "
        "opens and closes at other times than dry boxes' (they need a plug in the yard); "
        "false: to the others"
    )


@strawberry.type(description="A vessel's call at a port terminal (DCSA transport call).")
class VesselCall:
    transport_call_reference: str = strawberry.field(
        name="transportCallReference", description="Unique within the port"
    )
    port_visit_reference: str | None = strawberry.field(
        name="portVisitReference",
        description="The port's own reference of the visit (DCSA OVS 3); when present it "
        "identifies the call across carriers",
    )
    transport_call_sequence_number: int | None = strawberry.field(
        name="transportCallSequenceNumber",
        description="Tells two calls at the same port within one voyage apart",
    )
    un_location_code: str = strawberry.field(name="UNLocationCode", description="The port")
    facility_smdg_code: str | None = strawberry.field(
        name="facilitySMDGCode", description="SMDG terminal code"
    )
    vessel: Vessel | None
    carrier_service_code: str | None = strawberry.field(name="carrierServiceCode")
    carrier_import_voyage_number: str | None = strawberry.field(name="carrierImportVoyageNumber")
    carrier_export_voyage_number: str | None = strawberry.field(name="carrierExportVoyageNumber")
    status_code: TransportCallStatusCode | None = strawberry.field(name="statusCode")
    phase: VesselCallPhase | None
    planned_arrival_date_time: datetime = strawberry.field(
        name="plannedArrivalDateTime", description="Planned berth arrival (PTA); orders the list"
    )
    estimated_arrival_date_time: datetime | None = strawberry.field(
        name="estimatedArrivalDateTime", description="Estimated berth arrival (ETA)"
    )
    actual_arrival_date_time: datetime | None = strawberry.field(
        name="actualArrivalDateTime", description="Actual berth arrival (ATA)"
    )
    planned_departure_date_time: datetime | None = strawberry.field(name="plannedDepartureDateTime")
    estimated_departure_date_time: datetime | None = strawberry.field(
        name="estimatedDepartureDateTime"
    )
    actual_departure_date_time: datetime | None = strawberry.field(name="actualDepartureDateTime")
    anchorage_arrival_date_time: datetime | None = strawberry.field(
        name="anchorageArrivalDateTime", description="When the vessel anchored to wait for a berth"
    )
    requested_arrival_date_time: datetime | None = strawberry.field(
        name="requestedArrivalDateTime",
        description="Berth arrival requested by the terminal (JIT RTA-Berth)",
    )
    pilot_boarding_date_time: datetime | None = strawberry.field(
        name="pilotBoardingDateTime",
        description="When the vessel reached the pilot boarding place on arrival",
    )
    delay_reason_code: str | None = strawberry.field(
        name="delayReasonCode",
        description="SMDG delay reason code of the latest estimate or actual, e.g. WEA",
    )
    change_remark: str | None = strawberry.field(
        name="changeRemark", description="The vessel operator's remark on the latest change"
    )
    timestamps: list[CallTimestamp] | None = strawberry.field(
        description="The latest timestamp per place, type and classifier"
    )
    cut_off_times: list[CutOffTime] | None = strawberry.field(
        name="cutOffTimes",
        description="When exporters may bring boxes for this call and until when (receiving, "
        "dry and reefer delivery, VGM and documentation cut-offs), in time order. Null when "
        "the port's systems do not offer cut-offs: its extensions.sources entry lists "
        "VesselCall.cutOffTimes under notOffered",
    )


@strawberry.type(description="One vessel call in a page, with its cursor.")
class VesselCallEdge:
    cursor: str
    node: VesselCall


@strawberry.type(description="Relay-style page information.")
class PageInfo:
    has_next_page: bool = strawberry.field(name="hasNextPage")
    end_cursor: str | None = strawberry.field(name="endCursor")


@strawberry.type(
    description="One page of vessel calls from every port asked, in one order: planned berth "
    "arrival, then port, then port visit reference (else transport call reference)."
)
class VesselCallConnection:
    edges: list[VesselCallEdge]
    nodes: list[VesselCall]
    page_info: PageInfo = strawberry.field(name="pageInfo")
    total_count: int | None = strawberry.field(
        name="totalCount", description="Calls matching the filters at the ports that answered"
    )


@strawberry.type(
    description="A port- or terminal-level aggregate with its period and sample size. Never "
    "about a person, a truck or a crane. Aggregates over containers, trucks or moves cover "
    "whole weeks that have ended (Monday 00:00 to Monday 00:00 in the port's time zone), so "
    "they are the same all week; counts of vessels are as of the moment they were counted."
)
class PortMetric:
    un_location_code: str = strawberry.field(name="UNLocationCode")
    facility_smdg_code: str | None = strawberry.field(
        name="facilitySMDGCode", description="SMDG terminal code; null for the whole port"
    )
    metric: PortMetricType
    value: float | None = strawberry.field(
        description="Null when it may not be shared (labor privacy): fewer than 10 samples in "
        "some week of the period (or more than your role's minimum sample size), for TEU fewer "
        "than 3 vessel calls in a week or one call making more than half of a week's TEU, or a "
        "port's figure that would give away a terminal withheld; an error says why"
    )
    unit: str = strawberry.field(description="days, minutes, vessels or TEU")
    period_start: datetime = strawberry.field(
        name="periodStart",
        description="Start of the period covered: a Monday 00:00 in the port's time zone (for "
        "counts of vessels, the moment they were counted)",
    )
    period_end: datetime = strawberry.field(
        name="periodEnd",
        description="End of the period covered, excluded: the Monday 00:00 (port time) that "
        "closed its last week, never now (for counts of vessels, the moment they were counted)",
    )
    sample_size: int = strawberry.field(
        name="sampleSize",
        description="Containers moved or gated out, truck visits, or vessels the value is based "
        "on; 0 when the port withheld the value",
    )
