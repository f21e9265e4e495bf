"""The simulated data as the resolver kit's records, and a source that serves them directly.

This is what an adapter reading a simulated port system should produce: the tests compare
adapters against it, and :class:`InMemoryPortSource` serves a port with no HTTP in between
(for kit and gateway tests that do not care about the wire).
"""

from collections.abc import Sequence

from port_resolvers.kit.source import (
    ContainerLocationRecord,
    ContainerRecord,
    EquipmentEventRecord,
    HoldRecord,
    ImportAvailabilityRecord,
    LocationRecord,
    PortMetricRecord,
    PortRecord,
    TransportCallRecord,
    VesselCallFilter,
    VesselCallRecord,
    VesselRecord,
    WeekFigureRecord,
)
from port_resolvers.sim.model import (
    Availability,
    Container,
    EquipmentEvent,
    Port,
    PortData,
    PortMetric,
    Vessel,
    VesselCall,
    WeekFigure,
)


def port_record(port: Port) -> PortRecord:
    return {
        "UNLocationCode": port.port_id,
        "name": port.name,
        "timeZone": port.time_zone,
        "terminals": [
            {"facilityCode": t.facility_code, "name": t.name, "UNLocationCode": port.port_id}
            for t in port.terminals
        ],
    }


def vessel_record(vessel: Vessel) -> VesselRecord:
    return {
        "vesselIMONumber": vessel.imo,
        "MMSINumber": vessel.mmsi,
        "vesselName": vessel.name,
        "vesselFlag": vessel.flag,
        "vesselCallSign": vessel.call_sign,
        "vesselOperatorSMDGLinerCode": vessel.liner_code,
    }


def transport_call_record(call: VesselCall) -> TransportCallRecord:
    return {
        "transportCallReference": call.reference,
        "carrierImportVoyageNumber": call.import_voyage,
        "carrierExportVoyageNumber": call.export_voyage,
        "UNLocationCode": call.port_id,
        "facilityCode": call.facility_code,
        "modeOfTransport": "VESSEL",
        "vessel": vessel_record(call.vessel),
    }


def location_record(port: Port, facility_code: str) -> LocationRecord:
    terminal = port.terminal(facility_code)
    return {
        "locationName": terminal.name,
        "UNLocationCode": port.port_id,
        "facilityCode": facility_code,
        "latitude": terminal.latitude,
        "longitude": terminal.longitude,
    }


def equipment_event_record(event: EquipmentEvent, port: Port) -> EquipmentEventRecord:
    record: EquipmentEventRecord = {
        "eventID": event.event_id,
        "eventCreatedDateTime": event.created,
        "eventDateTime": event.event_datetime,
        "eventClassifierCode": event.classifier,
        "equipmentEventTypeCode": event.type_code,
        "emptyIndicatorCode": event.empty_indicator,
        "eventLocation": location_record(port, event.facility_code),
    }
    if event.call is not None:
        record["transportCall"] = transport_call_record(event.call)
    return record


def availability_record(availability: Availability) -> ImportAvailabilityRecord:
    holds: list[HoldRecord] = [
        {
            "type": h.type,
            "status": h.status,
            "description": h.description,
            "updatedDateTime": h.updated,
        }
        for h in availability.holds
    ]
    return {
        "availableForPickup": availability.available_for_pickup,
        "holds": holds,
        "firstAvailableDate": availability.first_available_date,
        "lastFreeDay": availability.last_free_day,
        "outstandingFeesUSD": availability.outstanding_fees_usd,
    }


def container_location_record(box: Container, port: Port) -> ContainerLocationRecord | None:
    """Where the latest actual event left the box: terminal, and yard block while it is there."""
    actual = box.actual_events
    if not actual:
        return None
    facility_code = actual[-1].facility_code
    return {
        "UNLocationCode": port.port_id,
        "facilityCode": facility_code,
        "terminalName": port.terminal(facility_code).name,
        "yardBlock": box.yard.block if box.yard else None,
    }


def container_record(box: Container, port: Port) -> ContainerRecord:
    return {
        "equipmentReference": box.reference,
        "isoEquipmentCode": box.iso_code,
        "emptyIndicatorCode": box.empty_indicator,
        "location": container_location_record(box, port),
        "availability": availability_record(box.availability) if box.availability else None,
        "events": [equipment_event_record(e, port) for e in box.events],
    }


def vessel_call_record(call: VesselCall) -> VesselCallRecord:
    return {
        "transportCallReference": call.reference,
        "UNLocationCode": call.port_id,
        "facilityCode": call.facility_code,
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
    }


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
        "facilityCode": metric.facility_code,
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
    """A :class:`~port_resolvers.kit.source.PortDataSource` reading :class:`PortData` directly."""

    def __init__(self, data: PortData) -> None:
        self.data = data

    async def port(self) -> PortRecord:
        return port_record(self.data.port)

    async def containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        boxes = (self.data.container(r) for r in references)
        return [container_record(b, self.data.port) for b in boxes if b is not None]

    async def vessel_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        return [vessel_call_record(c) for c in self.data.vessel_calls if call_matches(c, filter)]

    async def vessel(self, imo: str) -> VesselRecord | None:
        found = next((v for v in self.data.vessels if v.imo == imo), None)
        return vessel_record(found) if found else None

    async def metrics(self, period: str, metrics: Sequence[str] | None) -> list[PortMetricRecord]:
        return [
            metric_record(m, self.data.port_id)
            for m in self.data.metrics
            if m.period == period and (metrics is None or m.metric in metrics)
        ]
