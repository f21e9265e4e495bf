"""The simulated data as the resolver kit's records, and a source that serves them directly.

This is what an adapter reading a simulated port system should produce, everything the port
knows (each wire format carries part of it: T&T has no MMSI and no call status, the terminal
API no event creation times for a call's timestamps): the tests compare adapters against it,
and :class:`InMemoryPortSource` serves a port with no HTTP in between (for kit and gateway
tests that do not care about the wire).

A call's ``timestamps`` are the latest berth arrivals and departures as the DCSA feed publishes
them (:mod:`port_resolvers.sim.dcsa_api`: the plan three weeks ahead, the last ETA revision, the
actual times a little after).

The optional capabilities (gate hours, appointments, empty returns, cut-offs, rail legs, empty
return deadlines) are in a record only when the port's systems publish them
(:data:`~port_resolvers.sim.reference.OFFERS`, passed as ``offers``); ``InMemoryPortSource``
offers what its port's systems do.
"""

from collections.abc import Sequence
from datetime import datetime

from port_resolvers.kit.source import (
    AppointmentSlotRecord,
    CallTimestampRecord,
    ContainerLocationRecord,
    ContainerRecord,
    CutOffTimeRecord,
    EmptyReturnRuleRecord,
    EquipmentEventRecord,
    GateDayRecord,
    HoldRecord,
    ImportAvailabilityRecord,
    LocationRecord,
    PortMetricRecord,
    PortRecord,
    RailLegRecord,
    TerminalRecord,
    TransportCallRecord,
    VesselCallFilter,
    VesselCallRecord,
    VesselRecord,
    WeekFigureRecord,
)
from port_resolvers.sim.dcsa_api import DAY, RECORDED_AFTER, SCHEDULE_LEAD
from port_resolvers.sim.model import (
    AppointmentSlot,
    Availability,
    Container,
    CutOff,
    EmptyReturnRule,
    EquipmentEvent,
    GateDay,
    Port,
    PortData,
    PortMetric,
    RailLeg,
    Terminal,
    Vessel,
    VesselCall,
    WeekFigure,
)
from port_resolvers.sim.reference import (
    OFFERS,
    USES_APPOINTMENTS,
)
from portcontract.capabilities import (
    APPOINTMENT_SLOTS,
    CUT_OFF_TIMES,
    EMPTY_RETURN_DEADLINE,
    EMPTY_RETURNS,
    GATE_HOURS,
    RAIL_LEG,
)
from portcontract.capabilities import (
    USES_APPOINTMENTS as USES_APPOINTMENTS_FIELD,
)

NOTHING: frozenset[str] = frozenset()


def gate_day_record(day: GateDay) -> GateDayRecord:
    return {
        "date": day.day,
        "open": day.open,
        "periods": [
            {"opensDateTime": p.opens, "closesDateTime": p.closes, "offPeak": p.off_peak}
            for p in day.periods
        ],
        "closureReason": day.closure,
    }


def appointment_slot_record(slot: AppointmentSlot) -> AppointmentSlotRecord:
    return {
        "startDateTime": slot.start,
        "endDateTime": slot.end,
        "transaction": slot.transaction,
        "availability": slot.availability,
        "appointmentsLeft": slot.left,
    }


def empty_return_rule_record(rule: EmptyReturnRule) -> EmptyReturnRuleRecord:
    return {
        "date": rule.day,
        "carrierSCACCode": rule.scac,
        "ISOEquipmentCode": rule.iso_code,
        "accepted": rule.accepted,
    }


def terminal_record(
    data: PortData, terminal: Terminal, offers: frozenset[str] = NOTHING
) -> TerminalRecord:
    """A terminal, with what the port's systems publish of its gate and its empties."""
    code = terminal.facility_code
    record: TerminalRecord = {
        "facilitySMDGCode": code,
        "name": terminal.name,
        "UNLocationCode": data.port_id,
    }
    if GATE_HOURS in offers:
        days = (d for d in data.gate_days if d.facility_code == code)
        record["gateHours"] = [gate_day_record(d) for d in days]
    if USES_APPOINTMENTS_FIELD in offers:
        record["usesAppointments"] = USES_APPOINTMENTS[data.port_id]
    if APPOINTMENT_SLOTS in offers:
        record["appointmentSlots"] = [
            appointment_slot_record(s) for s in data.appointment_slots if s.facility_code == code
        ]
    if EMPTY_RETURNS in offers:
        record["emptyReturns"] = [
            empty_return_rule_record(r) for r in data.empty_returns if r.facility_code == code
        ]
    return record


def port_record(data: PortData, offers: frozenset[str] = NOTHING) -> PortRecord:
    port = data.port
    return {
        "UNLocationCode": port.port_id,
        "name": port.name,
        "timeZone": port.time_zone,
        "terminals": [terminal_record(data, t, offers) for t in port.terminals],
    }


def vessel_record(vessel: Vessel) -> VesselRecord:
    return {
        "vesselIMONumber": vessel.imo,
        "MMSINumber": vessel.mmsi,
        "vesselName": vessel.name,
        "vesselFlag": vessel.flag,
        "vesselCallSign": vessel.call_sign,
        "vesselOperatorSMDGLinerCode": vessel.liner_code,
        "vesselOperatorSCACCode": vessel.scac,
    }


def transport_call_record(call: VesselCall) -> TransportCallRecord:
    return {
        "transportCallReference": call.reference,
        "portVisitReference": call.port_visit_reference,
        "transportCallSequenceNumber": call.sequence_number,
        "carrierImportVoyageNumber": call.import_voyage,
        "carrierExportVoyageNumber": call.export_voyage,
        "UNLocationCode": call.port_id,
        "facilityCode": call.facility_code,
        "facilityCodeListProvider": "SMDG",
        "facilityTypeCode": "POTE",
        "modeOfTransport": "VESSEL",
        "vessel": vessel_record(call.vessel),
    }


def train_call_record(train: str, port: Port, facility_code: str) -> TransportCallRecord:
    """A train's call at a terminal's on-dock rail yard."""
    return {
        "transportCallReference": train,
        "UNLocationCode": port.port_id,
        "facilityCode": facility_code,
        "facilityCodeListProvider": "SMDG",
        "facilityTypeCode": "POTE",
        "modeOfTransport": "RAIL",
    }


def location_record(port: Port, facility_code: str) -> LocationRecord:
    terminal = port.terminal(facility_code)
    return {
        "locationName": terminal.name,
        "UNLocationCode": port.port_id,
        "facilityCode": facility_code,
        "facilityCodeListProvider": "SMDG",
        "latitude": terminal.latitude,
        "longitude": terminal.longitude,
    }


def equipment_event_record(
    box: Container, event: EquipmentEvent, port: Port
) -> EquipmentEventRecord:
    record: EquipmentEventRecord = {
        "eventID": event.event_id,
        "eventCreatedDateTime": event.created,
        "eventDateTime": event.event_datetime,
        "eventClassifierCode": event.classifier,
        "equipmentEventTypeCode": event.type_code,
        "ISOEquipmentCode": box.iso_code,
        "emptyIndicatorCode": event.empty_indicator,
        "eventLocation": location_record(port, event.facility_code),
    }
    if event.call is not None:
        record["transportCall"] = transport_call_record(event.call)
    elif event.train is not None:
        record["transportCall"] = train_call_record(event.train, port, event.facility_code)
    if event.seals:
        record["seals"] = [
            {"sealNumber": s.number, "sealSource": s.source, "sealType": s.type}
            for s in event.seals
        ]
    if event.documents:
        record["documentReferences"] = [
            {"documentReferenceType": kind, "documentReferenceValue": value}
            for kind, value in event.documents
        ]
    return record


def availability_record(
    availability: Availability, offers: frozenset[str] = NOTHING
) -> ImportAvailabilityRecord:
    holds: list[HoldRecord] = [
        {
            "type": h.type,
            "status": h.status,
            "description": h.description,
            "updatedDateTime": h.updated,
        }
        for h in availability.holds
    ]
    record: ImportAvailabilityRecord = {
        "availableForPickup": availability.available_for_pickup,
        "holds": holds,
        "firstAvailableDate": availability.first_available_date,
        "lastFreeDay": availability.last_free_day,
        "outstandingFeesUSD": availability.outstanding_fees_usd,
    }
    if EMPTY_RETURN_DEADLINE in offers:
        record["emptyReturnDeadline"] = availability.empty_return_deadline
    return record


def rail_leg_record(rail: RailLeg) -> RailLegRecord:
    return {
        "onDock": rail.on_dock,
        "railCarrierSCACCode": rail.railroad,
        "destinationRamp": {
            "locationName": rail.ramp.name,
            "UNLocationCode": rail.ramp.un_location_code,
        },
        "loadedOnRailDateTime": rail.loaded,
        "departureDateTime": rail.departure,
        "departureClassifierCode": rail.departure_classifier,
    }


def container_location_record(box: Container, port: Port) -> ContainerLocationRecord | None:
    """Where the latest actual event left the box: terminal, and yard block while it is there."""
    actual = box.actual_events
    if not actual:
        return None
    facility_code = actual[-1].facility_code
    return {
        "UNLocationCode": port.port_id,
        "facilitySMDGCode": facility_code,
        "terminalName": port.terminal(facility_code).name,
        "yardBlock": box.yard.block if box.yard else None,
    }


def container_record(
    box: Container, port: Port, offers: frozenset[str] = NOTHING
) -> ContainerRecord:
    availability = box.availability
    record: ContainerRecord = {
        "equipmentReference": box.reference,
        "ISOEquipmentCode": box.iso_code,
        "emptyIndicatorCode": box.empty_indicator,
        "location": container_location_record(box, port),
        "availability": availability_record(availability, offers) if availability else None,
        "events": [equipment_event_record(box, e, port) for e in box.events],
    }
    if RAIL_LEG in offers:
        record["railLeg"] = rail_leg_record(box.rail) if box.rail else None
    return record


def _timestamp(
    type_code: str, classifier: str, at: datetime, created: datetime, call: VesselCall
) -> CallTimestampRecord:
    remarked = type_code == "ARRI" and classifier in ("EST", "ACT")
    return {
        "place": "BERTH",
        "eventTypeCode": type_code,
        "eventClassifierCode": classifier,
        "eventDateTime": at,
        "eventCreatedDateTime": created,
        "delayReasonCode": call.delay_reason if remarked else None,
        "changeRemark": call.change_remark if remarked else None,
    }


def call_timestamps(call: VesselCall, now: datetime) -> list[CallTimestampRecord]:
    """The call's latest berth timestamps, as its DCSA feed publishes them."""
    stamps = []
    for type_code, planned, actual in (
        ("ARRI", call.planned_arrival, call.actual_arrival),
        ("DEPA", call.planned_departure, call.actual_departure),
    ):
        stamps.append(
            _timestamp(type_code, "PLN", planned, min(now, planned - SCHEDULE_LEAD), call)
        )
        if type_code == "ARRI" and call.eta_revisions:
            created, eta = call.eta_revisions[-1]
            stamps.append(_timestamp(type_code, "EST", eta, min(now, created), call))
        if type_code == "DEPA" and call.estimated_departure is not None:
            etd = call.estimated_departure
            stamps.append(_timestamp(type_code, "EST", etd, min(now, etd - DAY), call))
        if actual is not None:
            stamps.append(
                _timestamp(type_code, "ACT", actual, min(now, actual + RECORDED_AFTER), call)
            )
    return stamps


def cut_off_record(cut_off: CutOff) -> CutOffTimeRecord:
    return {
        "cutOffDateTimeCode": cut_off.code,
        "cutOffDateTime": cut_off.at,
        "reefer": cut_off.reefer,
    }


def vessel_call_record(
    call: VesselCall, now: datetime, offers: frozenset[str] = NOTHING
) -> VesselCallRecord:
    record: VesselCallRecord = {
        "transportCallReference": call.reference,
        "UNLocationCode": call.port_id,
        "portVisitReference": call.port_visit_reference,
        "transportCallSequenceNumber": call.sequence_number,
        "facilitySMDGCode": call.facility_code,
        "vessel": vessel_record(call.vessel),
        "carrierServiceCode": call.service_code,
        "carrierImportVoyageNumber": call.import_voyage,
        "carrierExportVoyageNumber": call.export_voyage,
        "statusCode": call.status_code,
        "phase": call.phase,
        "plannedArrivalDateTime": call.planned_arrival,
        "estimatedArrivalDateTime": call.estimated_arrival,
        "actualArrivalDateTime": call.actual_arrival,
        "plannedDepartureDateTime": call.planned_departure,
        "estimatedDepartureDateTime": call.estimated_departure,
        "actualDepartureDateTime": call.actual_departure,
        "anchorageArrivalDateTime": call.anchorage_arrival,
        "pilotBoardingDateTime": call.pilot_boarding
        if call.pilot_boarding is not None and call.pilot_boarding <= now
        else None,
        "delayReasonCode": call.delay_reason,
        "changeRemark": call.change_remark,
        "timestamps": call_timestamps(call, now),
    }
    if CUT_OFF_TIMES in offers:
        record["cutOffTimes"] = [cut_off_record(c) for c in call.cut_offs]
    return record


def week_figure_record(week: WeekFigure) -> WeekFigureRecord:
    record: WeekFigureRecord = {
        "periodStart": week.start,
        "periodEnd": week.end,
        "total": week.total,
        "sampleSize": week.sample_size,
    }
    if week.calls is not None:
        record["calls"] = week.calls
    if week.largest_call_teu is not None:
        record["largestCallTEU"] = week.largest_call_teu
    return record


def metric_record(metric: PortMetric, port_id: str) -> PortMetricRecord:
    record: PortMetricRecord = {
        "UNLocationCode": port_id,
        "facilitySMDGCode": metric.facility_code,
        "metric": metric.metric,
        "value": metric.value,
        "unit": metric.unit,
        "periodStart": metric.period_start,
        "periodEnd": metric.period_end,
        "sampleSize": metric.sample_size,
    }
    if metric.weeks:
        record["weeks"] = [week_figure_record(w) for w in metric.weeks]
    return record


def call_matches(call: VesselCall, filter: VesselCallFilter) -> bool:
    """Whether a call passes a :class:`VesselCallFilter` (planned arrival in [from, to))."""
    if filter.planned_from is not None and call.planned_arrival < filter.planned_from:
        return False
    if filter.planned_to is not None and call.planned_arrival >= filter.planned_to:
        return False
    if filter.status_codes is not None and call.status_code not in filter.status_codes:
        return False
    return filter.vessel_imo_number is None or call.vessel.imo == filter.vessel_imo_number


class InMemoryPortSource:
    """A :class:`~port_resolvers.kit.source.PortDataSource` reading :class:`PortData` directly;
    it ``offers`` what the port's systems publish."""

    def __init__(self, data: PortData) -> None:
        self.data = data
        self.offers = OFFERS[data.port_id]

    async def port(self) -> PortRecord:
        return port_record(self.data, self.offers)

    async def containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        boxes = (self.data.container(r) for r in references)
        return [container_record(b, self.data.port, self.offers) for b in boxes if b is not None]

    async def vessel_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        return [
            vessel_call_record(c, self.data.now, self.offers)
            for c in self.data.vessel_calls
            if call_matches(c, filter)
        ]

    async def containers_by_document(
        self, *, transport_document: str | None = None, booking: str | None = None
    ) -> list[ContainerRecord]:
        kind, reference = ("TRD", transport_document) if transport_document else ("BKG", booking)
        boxes = self.data.containers_of_document(kind, reference or "")
        return [container_record(b, self.data.port, self.offers) for b in boxes]

    async def vessel(self, imo: str) -> VesselRecord | None:
        found = next((v for v in self.data.vessels if v.imo == imo), None)
        return vessel_record(found) if found else None

    async def metrics(self, period: str, metrics: Sequence[str] | None) -> list[PortMetricRecord]:
        return [
            metric_record(m, self.data.port_id)
            for m in self.data.metrics
            if m.period == period and (metrics is None or m.metric in metrics)
        ]
