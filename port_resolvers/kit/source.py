"""The data-source contract a port implements for the resolver kit.

A port answers the shared schema from its own systems by implementing :class:`PortDataSource`.
Methods return *records*: plain dicts shaped like the schema's types (camelCase keys as in
``schema.graphql``, enum values as their names, times as timezone-aware ``datetime``, days as
``date``). The kit does the rest: it validates arguments, fills the derived fields
(``isISO6346Valid``, ``status``, ``lastEventDateTime``, ``sourcePort``), filters, orders and pages
vessel calls with the shared keyset cursor, drops any key that names labor data and any
free-text value that names people, quay roles, shifts or rates, applies the disclosure rules
to aggregates (:class:`PortMetricRecord`), and serves only the fields the schema has.

A source may raise :class:`SourceUnavailable` when the port's own system does not answer; the
kit turns it into a GraphQL error with code ``SOURCE_UNAVAILABLE``.

**Optional capabilities.** Some fields are ones a port's systems may not have at all
(:data:`portcontract.capabilities.OPTIONAL_FIELDS`: cut-offs, gate hours, truck appointments,
empty-return rules and deadlines, rail legs). A source that gives one names its schema
coordinate in its ``offers`` attribute (:func:`offered_fields`) and fills the record key; for
every other optional field the kit answers null and tells the gateway so, with a
``NOT_OFFERED`` notice naming the coordinate, whenever a query selects it. A port that lacks a
capability says so; it never answers zeros or empty lists in its place.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NotRequired, Protocol, TypedDict, runtime_checkable

from portcontract.capabilities import OPTIONAL_FIELDS


class SourceUnavailable(Exception):
    """The port's own system did not answer, or answered with something unusable."""


class GatePeriodRecord(TypedDict):
    opensDateTime: datetime
    closesDateTime: datetime
    offPeak: bool


class GateDayRecord(TypedDict):
    """The truck gate on one local day: open or not, when, and why closed (a
    ``GateClosureReason`` name) on a day it would normally open."""

    date: date
    open: bool
    periods: list[GatePeriodRecord]
    closureReason: NotRequired[str | None]  # HOLIDAY | WEATHER | MAINTENANCE | SECURITY | OTHER


class AppointmentSlotRecord(TypedDict):
    startDateTime: datetime
    endDateTime: datetime
    transaction: str  # IMPORT_PICKUP | EXPORT_DROPOFF | EMPTY_RETURN | EMPTY_PICKUP
    availability: str  # OPEN | LIMITED | FULL
    appointmentsLeft: NotRequired[int | None]  # slots left in total: never who booked them


class EmptyReturnRuleRecord(TypedDict):
    date: date
    carrierSCACCode: str
    ISOEquipmentCode: str  # ISO 6346 size and type: 22G1, 42G1, 45G1, L5G1, 22R1, 45R1
    accepted: bool


class TerminalRecord(TypedDict):
    """A terminal; the optional keys are served when the source ``offers`` them."""

    facilitySMDGCode: str
    name: str | None
    UNLocationCode: str
    gateHours: NotRequired[list[GateDayRecord] | None]  # today and the next six local days
    usesAppointments: NotRequired[bool | None]
    appointmentSlots: NotRequired[list[AppointmentSlotRecord] | None]  # now to end of tomorrow
    emptyReturns: NotRequired[list[EmptyReturnRuleRecord] | None]  # today and tomorrow


class PortRecord(TypedDict):
    UNLocationCode: str
    name: str | None
    timeZone: NotRequired[str | None]
    terminals: list[TerminalRecord]


class VesselRecord(TypedDict):
    vesselIMONumber: str
    MMSINumber: NotRequired[str | None]
    vesselName: NotRequired[str | None]
    vesselFlag: NotRequired[str | None]
    vesselCallSign: NotRequired[str | None]
    vesselOperatorSMDGLinerCode: NotRequired[str | None]
    vesselOperatorSCACCode: NotRequired[str | None]


class LocationRecord(TypedDict, total=False):
    locationName: str | None
    UNLocationCode: str | None
    facilityCode: str | None
    facilityCodeListProvider: str | None  # SMDG | BIC
    latitude: float | None
    longitude: float | None


class TransportCallRecord(TypedDict, total=False):
    transportCallReference: str | None
    portVisitReference: str | None
    transportCallSequenceNumber: int | None
    carrierImportVoyageNumber: str | None
    carrierExportVoyageNumber: str | None
    UNLocationCode: str | None
    facilityCode: str | None
    facilityCodeListProvider: str | None  # SMDG | BIC
    facilityTypeCode: str | None  # POTE | RAMP | ... (DCSA facilityTypeCodeTRN)
    modeOfTransport: str | None  # VESSEL | RAIL | TRUCK | BARGE
    vessel: VesselRecord | None


class SealRecord(TypedDict):
    sealNumber: str
    sealSource: NotRequired[str | None]  # CAR | SHI | PHY | VET | CUS
    sealType: NotRequired[str | None]  # KLP | BLT | WIR


class DocumentReferenceRecord(TypedDict):
    documentReferenceType: str  # BKG | TRD
    documentReferenceValue: str


class EquipmentEventRecord(TypedDict):
    """An equipment event; a code newer than the schema is served as OTHER, the code as sent
    in ``sourceEquipmentEventTypeCode`` (the kit fills it when a source leaves it out)."""

    eventID: str
    eventCreatedDateTime: NotRequired[datetime | None]
    eventDateTime: datetime
    eventClassifierCode: str  # PLN | EST | ACT | REQ
    equipmentEventTypeCode: str  # LOAD | DISC | GTIN | GTOT | AVPU | CUSS | ... (DCSA)
    sourceEquipmentEventTypeCode: NotRequired[str | None]
    ISOEquipmentCode: NotRequired[str | None]
    emptyIndicatorCode: NotRequired[str | None]  # EMPTY | LADEN
    eventLocation: NotRequired[LocationRecord | None]
    transportCall: NotRequired[TransportCallRecord | None]
    seals: NotRequired[list[SealRecord] | None]
    documentReferences: NotRequired[list[DocumentReferenceRecord] | None]


class ContainerLocationRecord(TypedDict):
    UNLocationCode: str
    facilitySMDGCode: NotRequired[str | None]
    terminalName: NotRequired[str | None]
    yardBlock: NotRequired[str | None]  # block only, never row / tier / slot


class HoldRecord(TypedDict):
    type: str  # CUSTOMS | FREIGHT | LINE | USDA | TMF | OTHER
    status: str  # HOLD | RELEASED
    description: NotRequired[str | None]
    updatedDateTime: NotRequired[datetime | None]


class ImportAvailabilityRecord(TypedDict, total=False):
    availableForPickup: bool | None
    holds: list[HoldRecord] | None
    firstAvailableDate: date | None
    lastFreeDay: date | None
    outstandingFeesUSD: float | None
    emptyReturnDeadline: date | None  # when offered: the carrier's last free day for the empty


class RailLegRecord(TypedDict):
    onDock: bool
    railCarrierSCACCode: NotRequired[str | None]
    destinationRamp: NotRequired[LocationRecord | None]
    loadedOnRailDateTime: NotRequired[datetime | None]
    departureDateTime: NotRequired[datetime | None]
    departureClassifierCode: NotRequired[str | None]  # PLN | EST | ACT


class ContainerRecord(TypedDict):
    """A container as the port knows it. Derived fields may be left out; the kit fills them."""

    equipmentReference: str
    ISOEquipmentCode: NotRequired[str | None]
    emptyIndicatorCode: NotRequired[str | None]
    location: NotRequired[ContainerLocationRecord | None]
    availability: NotRequired[ImportAvailabilityRecord | None]
    events: list[EquipmentEventRecord]  # any order; the kit sorts oldest first
    railLeg: NotRequired[RailLegRecord | None]  # when offered, for a box leaving by rail


class CallTimestampRecord(TypedDict):
    place: str  # BERTH | ANCHORAGE | PILOT_BOARDING_PLACE
    eventTypeCode: str  # ARRI | DEPA
    eventClassifierCode: str  # PLN | EST | ACT | REQ
    eventDateTime: datetime
    eventCreatedDateTime: NotRequired[datetime | None]
    delayReasonCode: NotRequired[str | None]
    changeRemark: NotRequired[str | None]


class CutOffTimeRecord(TypedDict):
    cutOffDateTimeCode: str  # DCO | VCO | FCO | LCO | EFC | ECP (DCSA)
    cutOffDateTime: datetime
    reefer: bool


class VesselCallRecord(TypedDict):
    transportCallReference: str
    UNLocationCode: str
    portVisitReference: NotRequired[str | None]
    transportCallSequenceNumber: NotRequired[int | None]
    facilitySMDGCode: NotRequired[str | None]
    vessel: NotRequired[VesselRecord | None]
    carrierServiceCode: NotRequired[str | None]
    carrierImportVoyageNumber: NotRequired[str | None]
    carrierExportVoyageNumber: NotRequired[str | None]
    statusCode: NotRequired[str | None]  # OMIT | BLNK | ADHO | PHOT | PHIN | ROTC | SLID | CUTR
    phase: NotRequired[str | None]  # SCHEDULED | AT_ANCHOR | AT_BERTH | DEPARTED | OMITTED
    plannedArrivalDateTime: datetime
    estimatedArrivalDateTime: NotRequired[datetime | None]
    actualArrivalDateTime: NotRequired[datetime | None]
    plannedDepartureDateTime: NotRequired[datetime | None]
    estimatedDepartureDateTime: NotRequired[datetime | None]
    actualDepartureDateTime: NotRequired[datetime | None]
    anchorageArrivalDateTime: NotRequired[datetime | None]
    requestedArrivalDateTime: NotRequired[datetime | None]
    pilotBoardingDateTime: NotRequired[datetime | None]
    delayReasonCode: NotRequired[str | None]
    changeRemark: NotRequired[str | None]
    timestamps: NotRequired[list[CallTimestampRecord] | None]
    cutOffTimes: NotRequired[list[CutOffTimeRecord] | None]  # when offered; any order


class WeekFigureRecord(TypedDict):
    """One whole local week of an aggregate over containers, trucks or moves, for one scope.

    ``periodStart`` and ``periodEnd`` are Monday 00:00 in the port's time zone (one week
    apart); ``total`` is what the metric adds up (TEU, days of dwell, minutes of truck turn
    time) and ``sampleSize`` what it counts (containers moved or gated out, truck visits). For
    throughput (TEU) figures, ``calls`` is the number of vessel calls whose moves are counted
    in the week and ``largestCallTEU`` the TEU of the call that counted most: the kit needs
    them to apply the vessel-call rule, and withholds a TEU figure without them. They stay in
    the resolver: no answer carries them.
    """

    periodStart: datetime
    periodEnd: datetime
    total: float
    sampleSize: int
    calls: NotRequired[int]
    largestCallTEU: NotRequired[float]


class PortMetricRecord(TypedDict):
    """An aggregate for the port (``facilitySMDGCode`` None) or one of its terminals.

    Counts of vessels (``VESSELS_AT_ANCHOR``, ``VESSELS_AT_BERTH``) are served as given. Every
    other metric is an aggregate over containers, trucks or moves, and needs ``weeks``: the
    whole local weeks the asked period covers, oldest first, ended by now
    (:mod:`portcontract.periods`). From them the kit computes ``value``, ``sampleSize``,
    ``periodStart`` and ``periodEnd`` and applies the disclosure rules
    (:mod:`portcontract.aggregates`); a port-level record's figure is its terminals' summed
    when the source gives terminal records too (their weeks are then the ones checked). Without
    valid ``weeks`` the value is withheld.
    """

    UNLocationCode: str
    facilitySMDGCode: NotRequired[str | None]
    metric: str  # a PortMetricType name
    value: float | None
    unit: str
    periodStart: datetime
    periodEnd: datetime
    sampleSize: int
    weeks: NotRequired[list[WeekFigureRecord]]


@dataclass(frozen=True, slots=True)
class VesselCallFilter:
    """Filters of ``vesselCalls``; a source may apply them or return more (the kit re-applies)."""

    planned_from: datetime | None = None
    planned_to: datetime | None = None
    status_codes: frozenset[str] | None = None
    vessel_imo_number: str | None = None


@runtime_checkable
class DocumentLookup(Protocol):
    """A source that can also find containers by their documents (optional for a source: the
    kit answers ``containers(transportDocumentReference:)`` and ``(carrierBookingReference:)``
    with an empty list for a source without it)."""

    async def containers_by_document(
        self, *, transport_document: str | None = None, booking: str | None = None
    ) -> list[ContainerRecord]:
        """The containers at the port on this transport document (bill of lading or sea
        waybill) or this booking; exactly one of the two is given."""


class PortDataSource(Protocol):
    """A port's systems as the resolver kit sees them. All methods are read-only."""

    async def port(self) -> PortRecord:
        """The port itself and its terminals."""

    async def containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        """The containers among ``references`` (already normalised) that the port knows."""

    async def vessel_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        """Vessel calls at this port matching ``filter``, in any order."""

    async def vessel(self, imo: str) -> VesselRecord | None:
        """A vessel that has called or will call at this port, by IMO number."""

    async def metrics(self, period: str, metrics: Sequence[str] | None) -> list[PortMetricRecord]:
        """Aggregates for a ``MetricPeriod`` name (its whole weeks ending at the last closed
        boundary: :mod:`portcontract.periods`), all metrics when ``metrics`` is None."""


JSON = dict[str, Any]


def offered_fields(source: object) -> frozenset[str]:
    """The optional fields ``source`` gives: the coordinates of
    :data:`~portcontract.capabilities.OPTIONAL_FIELDS` named in its ``offers`` attribute (a source
    without one offers none)."""
    offers = getattr(source, "offers", None)
    if not isinstance(offers, frozenset | set | tuple | list):
        return frozenset()
    return frozenset(c for c in offers if isinstance(c, str)) & OPTIONAL_FIELDS
