"""The cross-port outlook: figures computed live from every port's answers, never stored.

Everything here is derived by the gateway at query time (:mod:`gateway.query.outlook`) from the
ports' vessel calls, aggregates and containers, asked with the caller's own rights. A port that did
not answer shows ``answered: false`` and null figures, never zeros. No figure is a per-hour rate.
"""

from datetime import date, datetime

import strawberry

from gateway.schema.enums import ContainerStatus, GateClosureReason, HoldType, PortStatus


@strawberry.type(description="A vessel expected later than planned (estimated vs planned berth).")
class LateArrival:
    transport_call_reference: str = strawberry.field(name="transportCallReference")
    un_location_code: str = strawberry.field(name="UNLocationCode")
    facility_smdg_code: str | None = strawberry.field(name="facilitySMDGCode")
    vessel_name: str | None = strawberry.field(name="vesselName")
    vessel_imo_number: str | None = strawberry.field(name="vesselIMONumber")
    planned_arrival_date_time: datetime = strawberry.field(name="plannedArrivalDateTime")
    estimated_arrival_date_time: datetime = strawberry.field(name="estimatedArrivalDateTime")
    delay_hours: float = strawberry.field(name="delayHours")


@strawberry.type(
    description="A day a terminal's truck gate is closed though it would normally open."
)
class GateClosure:
    facility_smdg_code: str = strawberry.field(name="facilitySMDGCode")
    terminal_name: str | None = strawberry.field(name="terminalName")
    day: date = strawberry.field(name="date", description="The terminal's local day")
    closure_reason: GateClosureReason = strawberry.field(name="closureReason")


@strawberry.type(
    description="Empties a terminal does not take on a day: one carrier, one size and type."
)
class EmptyReturnRestriction:
    facility_smdg_code: str = strawberry.field(name="facilitySMDGCode")
    terminal_name: str | None = strawberry.field(name="terminalName")
    day: date = strawberry.field(name="date", description="The terminal's local day")
    carrier_scac_code: str = strawberry.field(name="carrierSCACCode")
    iso_equipment_code: str = strawberry.field(name="ISOEquipmentCode")


@strawberry.type(description="One port in the outlook.")
class PortOutlook:
    un_location_code: str = strawberry.field(name="UNLocationCode")
    name: str | None
    answered: bool = strawberry.field(
        description="False when the port did not answer: its figures are then null, not zero"
    )
    status: PortStatus | None
    vessels_at_anchor: int | None = strawberry.field(name="vesselsAtAnchor")
    vessels_at_berth: int | None = strawberry.field(name="vesselsAtBerth")
    expected_arrivals: int | None = strawberry.field(
        name="expectedArrivals",
        description="Calls not yet arrived whose estimated (else planned) berth arrival falls "
        "in the window",
    )
    late_arrivals: list[LateArrival] | None = strawberry.field(
        name="lateArrivals",
        description="Expected calls estimated late by the gateway's lateness threshold or more "
        "(outlook.late_after; by default a day, as schedule-reliability measures count)",
    )
    average_delay_hours: float | None = strawberry.field(
        name="averageDelayHours", description="Mean estimated delay of the expected calls"
    )
    container_dwell_days: float | None = strawberry.field(
        name="containerDwellDays", description="Port-level mean import dwell, last 7 days"
    )
    truck_turn_time_minutes: float | None = strawberry.field(
        name="truckTurnTimeMinutes", description="Port-level mean truck turn time, last 7 days"
    )
    gate_closures: list[GateClosure] | None = strawberry.field(
        name="gateClosures",
        description="Its terminals' gate closures on the local days the window touches; null "
        "when the port did not answer or does not offer gate hours (see notOffered)",
    )
    empty_return_restrictions: list[EmptyReturnRestriction] | None = strawberry.field(
        name="emptyReturnRestrictions",
        description="The empties its terminals refuse today and tomorrow, by carrier and size "
        "and type; null when the port did not answer or does not offer empty-return rules",
    )
    not_offered: list[str] | None = strawberry.field(
        name="notOffered",
        description="The optional fields its systems do not offer (schema coordinates, e.g. "
        "Terminal.gateHours); null when it did not answer",
    )


@strawberry.type(description="Which port stands out, among the ports that answered.")
class OutlookComparison:
    most_vessels_at_anchor: str | None = strawberry.field(name="mostVesselsAtAnchor")
    most_delayed: str | None = strawberry.field(
        name="mostDelayed", description="Highest average delay of expected calls"
    )
    longest_dwell: str | None = strawberry.field(name="longestDwell")
    longest_truck_turn: str | None = strawberry.field(name="longestTruckTurn")
    missing: list[str] = strawberry.field(description="Ports that did not answer")


@strawberry.type(description="One of the caller's containers, and whether it is at risk.")
class ContainerOutlook:
    equipment_reference: str = strawberry.field(name="equipmentReference")
    found: bool = strawberry.field(description="Whether a port that answered knows it")
    source_port: str | None = strawberry.field(name="sourcePort")
    status: ContainerStatus | None
    first_available_date: date | None = strawberry.field(name="firstAvailableDate")
    last_free_day: date | None = strawberry.field(name="lastFreeDay")
    holds_pending: list[HoldType] | None = strawberry.field(name="holdsPending")
    at_risk: bool | None = strawberry.field(
        name="atRisk", description="Null when the caller may not see what decides it"
    )
    reasons: list[str] = strawberry.field(description="Why it is at risk, in words")


@strawberry.type(description="A cross-port outlook for a time window, computed live.")
class Outlook:
    generated_at: datetime = strawberry.field(
        name="generatedAt", description="When it was computed"
    )
    window_start: datetime = strawberry.field(
        name="windowStart",
        description="Now, floored to the gateway's window alignment (a whole minute by "
        "default): outlooks asked within it share the ports' answers",
    )
    window_end: datetime = strawberry.field(
        name="windowEnd", description="windowStart plus the days asked"
    )
    ports: list[PortOutlook]
    comparison: OutlookComparison
    containers: list[ContainerOutlook] | None = strawberry.field(
        description="The containers asked for, in the order asked"
    )
