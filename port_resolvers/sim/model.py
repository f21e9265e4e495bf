"""What the simulated ports know, as plain frozen objects.

The generator (:mod:`port_resolvers.sim.data`) builds these; the simulated source systems render
them in their own wire formats, and tests pick facts from them. Times are timezone-aware UTC on
whole minutes; days are local (America/Los_Angeles) calendar dates. The one change a port's data
takes is :meth:`PortData.record` (a box changed), which the systems serving it can listen to
(:meth:`PortData.listen`).
"""

import weakref
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final, Protocol

_MOVES: Final = frozenset({"DISC", "LOAD", "GTIN", "GTOT", "AVPU"})


@dataclass(frozen=True, slots=True)
class Terminal:
    """A container terminal, by SMDG code, with the point events there are reported at."""

    facility_code: str
    name: str
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Trade:
    """What a port's boxes are: the mix of flows and how many are reefers."""

    import_share: float
    export_share: float
    empty_share: float
    reefer_share: float  # of laden boxes
    rail_share: float  # of imports that leave by rail (on-dock or near-dock, by terminal)


@dataclass(frozen=True, slots=True)
class Volumes:
    """A port's 2024 volumes, in TEU a week, as its statistics report them."""

    discharged_teu_per_week: float
    loaded_teu_per_week: float


@dataclass(frozen=True, slots=True)
class Port:
    port_id: str  # UN/LOCODE
    name: str
    time_zone: str
    teu_2024_millions: float
    terminals: tuple[Terminal, ...]
    trade: Trade
    volumes: Volumes

    def terminal(self, facility_code: str) -> Terminal:
        return next(t for t in self.terminals if t.facility_code == facility_code)


@dataclass(frozen=True, slots=True)
class Vessel:
    imo: str
    mmsi: str
    name: str
    flag: str  # ISO 3166 alpha-2
    call_sign: str
    liner_code: str  # SMDG liner code of the operator
    scac: str  # the operator's SCAC (NMFTA)


@dataclass(frozen=True, slots=True)
class CutOff:
    """A deadline or opening of a vessel call for exporters (a DCSA cutOffDateTimeCode)."""

    code: str  # EFC | DCO | VCO | FCO
    at: datetime
    reefer: bool


@dataclass(frozen=True, slots=True)
class VesselCall:
    """One vessel's call at one terminal; ``phase`` is as of the data's ``now``."""

    reference: str
    port_id: str
    facility_code: str
    vessel: Vessel
    service_code: str
    import_voyage: str
    export_voyage: str
    status_code: str | None  # OMIT, or None when the call is as scheduled
    phase: str  # SCHEDULED | AT_ANCHOR | AT_BERTH | DEPARTED | OMITTED
    planned_arrival: datetime
    planned_departure: datetime
    estimated_arrival: datetime | None
    estimated_departure: datetime | None
    actual_arrival: datetime | None
    actual_departure: datetime | None
    anchorage_arrival: datetime | None
    port_visit_reference: str = ""  # the port's own number of the visit (DCSA OVS 3)
    sequence_number: int = 1  # the port's place in the service's rotation
    pilot_boarding: datetime | None = None  # reached the pilot boarding place, to berth
    # (created, estimated berth arrival) of every ETA the carrier published, oldest first
    eta_revisions: tuple[tuple[datetime, datetime], ...] = ()
    delay_reason: str | None = None  # SMDG delay reason code of the latest estimate
    change_remark: str | None = None
    cut_offs: tuple[CutOff, ...] = ()  # in time order; none for an omitted call

    @property
    def berth_arrival(self) -> datetime:
        """The best known berth arrival: actual, else estimated, else planned."""
        return self.actual_arrival or self.estimated_arrival or self.planned_arrival

    @property
    def berth_departure(self) -> datetime:
        return self.actual_departure or self.estimated_departure or self.planned_departure


@dataclass(frozen=True, slots=True)
class Seal:
    number: str
    source: str  # DCSA sealSource: CAR | SHI | CUS ...
    type: str  # DCSA sealType: BLT | WIR | KLP


@dataclass(frozen=True, slots=True)
class EquipmentEvent:
    """A DCSA equipment event at one of the port's terminals."""

    event_id: str
    created: datetime
    event_datetime: datetime
    classifier: str  # PLN | EST | ACT
    type_code: str  # DISC | LOAD | GTIN | GTOT | AVPU | CUSS | CUSI | CUSR | RMVD | RSEA
    empty_indicator: str  # EMPTY | LADEN
    facility_code: str
    call: VesselCall | None  # set for vessel moves (DISC, LOAD onto a vessel)
    train: str | None = None  # the train's reference, for a LOAD onto on-dock rail
    seals: tuple[Seal, ...] = ()
    documents: tuple[tuple[str, str], ...] = ()  # (BKG | TRD, reference)

    @property
    def mode(self) -> str | None:
        """What the box is loaded onto or discharged from: VESSEL, RAIL, or None."""
        if self.call is not None:
            return "VESSEL"
        return "RAIL" if self.train is not None else None


@dataclass(frozen=True, slots=True)
class Hold:
    type: str  # CUSTOMS | FREIGHT | LINE | USDA | TMF
    status: str  # HOLD | RELEASED, as of the data's ``now``
    description: str
    updated: datetime


@dataclass(frozen=True, slots=True)
class Availability:
    """Import availability of a container, as of the data's ``now``."""

    available_for_pickup: bool
    holds: tuple[Hold, ...]
    first_available_date: date | None
    last_free_day: date | None
    outstanding_fees_usd: float
    empty_return_deadline: date | None = None  # once gated out: the carrier's free days


@dataclass(frozen=True, slots=True)
class YardPosition:
    """Where a box sits. Only ``block`` is ever shared; row and tier stay in the port's system."""

    block: str
    row: str
    tier: int


@dataclass(frozen=True, slots=True)
class RailRamp:
    """An inland rail ramp boxes travel to by train."""

    name: str
    un_location_code: str


@dataclass(frozen=True, slots=True)
class RailLeg:
    """An import's train out of the port: loaded inside the terminal (on-dock) or trucked to
    a near-dock rail yard first; the departure planned, then estimated once the box is handed
    to the railroad, then actual."""

    on_dock: bool
    railroad: str  # SCAC: UPRR | BNSF
    ramp: RailRamp
    loaded: datetime | None  # on-dock only: the ACT LOAD onto the train
    departure: datetime
    departure_classifier: str  # PLN | EST | ACT


@dataclass(frozen=True, slots=True)
class Container:
    """A container as one port knows it; ``flow`` says which story its events tell."""

    reference: str
    iso_code: str
    flow: str  # IMPORT | EXPORT | EMPTY_RETURN
    port_id: str
    facility_code: str
    empty_indicator: str
    events: tuple[EquipmentEvent, ...]  # oldest first by event time
    yard: YardPosition | None  # set while the box is in the terminal
    availability: Availability | None  # imports only
    booking: str | None = None  # carrierBookingReference (laden boxes)
    bill_of_lading: str | None = None  # transportDocumentReference (laden boxes)
    rail: RailLeg | None = None  # imports that leave by rail

    @property
    def teu(self) -> int:
        return 1 if self.iso_code.startswith("2") else 2

    @property
    def actual_events(self) -> tuple[EquipmentEvent, ...]:
        return tuple(e for e in self.events if e.classifier == "ACT")

    @property
    def moves(self) -> tuple[EquipmentEvent, ...]:
        """Actual events that move the box (customs, seal and availability events do not)."""
        return tuple(e for e in self.actual_events if e.type_code in _MOVES)

    @property
    def status(self) -> str:
        """INBOUND | IN_TERMINAL | GATED_OUT | LOADED | LOADED_ON_RAIL, from the latest
        actual event that moves the box."""
        moves = self.moves
        if not moves:
            return "INBOUND"
        last = moves[-1]
        if last.type_code == "LOAD":
            return "LOADED_ON_RAIL" if last.mode == "RAIL" else "LOADED"
        return "GATED_OUT" if last.type_code == "GTOT" else "IN_TERMINAL"


@dataclass(frozen=True, slots=True)
class TruckVisit:
    """A truck's pass through a terminal gate; only ever shared as a terminal-level mean."""

    facility_code: str
    gate_in: datetime
    gate_out: datetime


@dataclass(frozen=True, slots=True)
class GatePlan:
    """A terminal's regular truck gate week, in local hours; an hour past 24 is the next
    morning's (a night gate 18-27 closes at 03:00)."""

    day: tuple[int, int]  # Monday to Friday, peak hours
    nights: frozenset[int] = frozenset()  # weekdays (Monday 0) followed by a night gate
    night: tuple[int, int] = (18, 27)
    saturday: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class GatePeriod:
    opens: datetime
    closes: datetime
    off_peak: bool


@dataclass(frozen=True, slots=True)
class GateDay:
    """A terminal's truck gate on one local day; ``closure`` says why a normal gate day is
    closed (a GateClosureReason name), None on open days and days it never opens."""

    facility_code: str
    day: date
    periods: tuple[GatePeriod, ...]
    closure: str | None = None

    @property
    def open(self) -> bool:
        return bool(self.periods)


@dataclass(frozen=True, slots=True)
class AppointmentSlot:
    """One hour of a terminal's truck appointments for one transaction: how many are left."""

    facility_code: str
    start: datetime
    end: datetime
    transaction: str  # IMPORT_PICKUP | EXPORT_DROPOFF | EMPTY_RETURN | EMPTY_PICKUP
    availability: str  # OPEN | LIMITED | FULL
    left: int


@dataclass(frozen=True, slots=True)
class EmptyReturnRule:
    """Whether a terminal takes one carrier's empties of one size and type on one day."""

    facility_code: str
    day: date
    scac: str
    iso_code: str
    accepted: bool


@dataclass(frozen=True, slots=True)
class WeekFigure:
    """One whole local week of an aggregate, for a terminal or the port (see sim.metrics)."""

    start: datetime
    end: datetime
    total: float  # TEU, days of dwell or minutes of truck turn time, summed
    sample_size: int  # containers moved or gated out, truck visits
    calls: int | None = None  # throughput: vessel calls whose moves are counted
    largest_call_teu: float | None = None  # throughput: TEU of the call that counted most


@dataclass(frozen=True, slots=True)
class PortMetric:
    metric: str  # a PortMetricType name
    period: str  # a MetricPeriod name
    facility_code: str | None  # None for the whole port
    value: float | None
    unit: str
    period_start: datetime
    period_end: datetime
    sample_size: int
    weeks: tuple[WeekFigure, ...] = ()  # the period's weeks, oldest first (not vessel counts)


class RecordListener(Protocol):
    """What a port's system does when a box is recorded (see :meth:`PortData.listen`)."""

    def recorded(self, container: Container) -> None: ...

    # A system that also serves vessel calls as they are recorded has
    # ``recorded_call(self, call: VesselCall) -> None`` too (:meth:`PortData.record_call`).


@dataclass(frozen=True, slots=True)
class PortData:
    """Everything one simulated port knows, generated for one ``seed`` and ``now``."""

    port: Port
    seed: int
    now: datetime
    vessel_calls: tuple[VesselCall, ...]
    containers: tuple[Container, ...]
    truck_visits: tuple[TruckVisit, ...]
    metrics: tuple[PortMetric, ...]
    gate_days: tuple[GateDay, ...]  # today and the next six local days, by terminal
    appointment_slots: tuple[AppointmentSlot, ...]  # now to the end of tomorrow
    empty_returns: tuple[EmptyReturnRule, ...]  # today and tomorrow
    _by_reference: dict[str, Container] = field(init=False, repr=False, compare=False)
    _listeners: list[weakref.ref[RecordListener]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_reference", {c.reference: c for c in self.containers})
        object.__setattr__(self, "_listeners", [])

    @property
    def port_id(self) -> str:
        return self.port.port_id

    @property
    def vessels(self) -> tuple[Vessel, ...]:
        """Vessels that called or will call here, each once, in order of first call."""
        return tuple({c.vessel.imo: c.vessel for c in self.vessel_calls}.values())

    def container(self, reference: str) -> Container | None:
        return self._by_reference.get(reference)

    def record(self, container: Container) -> None:
        """The port's system records a change to one of its boxes (a hold released, a move):
        what its APIs answer from then on. Generated data never changes by itself; this is how
        a test or a demo plays the terminal."""
        if container.reference not in self._by_reference:
            raise KeyError(f"{container.reference} is not a box of {self.port_id}")
        boxes = tuple(container if c.reference == container.reference else c
                      for c in self.containers)  # fmt: skip
        object.__setattr__(self, "containers", boxes)
        self._by_reference[container.reference] = container
        for ref in list(self._listeners):
            listener = ref()
            if listener is None:
                self._listeners.remove(ref)
            else:
                listener.recorded(container)

    def record_call(self, call: VesselCall) -> None:
        """The port's system records a change to one of its vessel calls (a new ETA, an actual
        arrival): what its APIs answer from then on, as :meth:`record` does for a box. Boxes
        whose events name the call keep the call as it was when they moved."""
        if all(c.reference != call.reference for c in self.vessel_calls):
            raise KeyError(f"{call.reference} is not a vessel call of {self.port_id}")
        calls = tuple(call if c.reference == call.reference else c for c in self.vessel_calls)
        object.__setattr__(self, "vessel_calls", calls)
        for ref in list(self._listeners):
            listener = ref()
            if listener is None:
                self._listeners.remove(ref)
            elif (recorded_call := getattr(listener, "recorded_call", None)) is not None:
                recorded_call(call)

    def listen(self, listener: RecordListener) -> None:
        """Call ``listener.recorded(box)`` with every box recorded from now on, in ``record``
        itself (synchronously, once the change is stored). Held weakly: a system nobody keeps
        stops listening, so many systems over one port's data do not pile up."""
        if all(ref() is not listener for ref in self._listeners):
            self._listeners.append(weakref.ref(listener))

    def unlisten(self, listener: RecordListener) -> None:
        self._listeners[:] = [ref for ref in self._listeners if ref() not in (None, listener)]

    def containers_of_document(self, kind: str, reference: str) -> list[Container]:
        """Boxes of a bill of lading (TRD) or a booking (BKG)."""
        key = "bill_of_lading" if kind == "TRD" else "booking"
        return [box for box in self.containers if getattr(box, key) == reference]
