"""Container histories at one port: imports, exports and returned empties.

Each story follows the port's vessel calls and ``now``:

- import: PLN / EST DISC -> ACT DISC -> maybe a customs exam -> ACT AVPU once every hold is
  released -> ACT GTOT (a truck picks it up), or ACT LOAD onto on-dock rail; holds are all
  released before the box leaves, the last free day is a few days after discharge and
  demurrage is due once it has passed; once picked up, the box is due back empty within its
  carrier's free days (:mod:`port_resolvers.sim.empties`);
- export: ACT GTIN (laden) -> PLN / EST / ACT LOAD;
- empty return: ACT GTIN (empty), sometimes loaded back onto a vessel.

Customs exams follow CBP practice: about 4 % of import boxes are selected for a scan (non-
intrusive inspection: ``CUSS``, released with ``CUSR`` one to three days later) and about 1 %
for an intensive exam (``CUSI``; the seal is removed at the exam station and a customs seal put
on, ``RMVD`` / ``RSEA``; released five to ten days later). Laden boxes carry their carrier seal
and their booking and bill of lading on every event; several boxes often share one bill of
lading. Rail takes a share of the imports of Los Angeles, Long Beach and Oakland: straight from
the terminal where it has on-dock rail, else by truck to a near-dock rail yard (the box's rail
leg: :mod:`port_resolvers.sim.rail`).

A :class:`ContainerFactory` builds them with one seeded generator, so the same seed, port and
``now`` always give the same boxes.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from port_resolvers.sim.empties import empty_return_deadline
from port_resolvers.sim.model import (
    Availability,
    Container,
    EquipmentEvent,
    Hold,
    Port,
    Seal,
    TruckVisit,
    VesselCall,
    YardPosition,
)
from port_resolvers.sim.rail import HANDED_OVER_AFTER_DISCHARGE, rail_leg
from port_resolvers.sim.reference import (
    DEMURRAGE_USD_PER_DAY,
    FREE_DAYS,
    FRUIT_OWNER_CODES,
    ON_DOCK,
    OWNER_CODES,
    RAIL_ACCESS,
    TMF_PORTS,
)
from portcontract.identifiers import iso6346_check_digit

_HOLD_CHANCES = (
    ("CUSTOMS", 0.5, "CBP entry not yet released"),
    ("FREIGHT", 0.3, "Freight charges unpaid"),
    ("LINE", 0.15, "Carrier release pending"),
    ("USDA", 0.05, "USDA inspection required"),
)
_TMF = ("TMF", 0.6, "Traffic Mitigation Fee due")
_FRUIT_PORTS = frozenset({"USNTD", "USSAN"})
# CBP exams of import boxes: (share selected, event, description, days until release)
CUSTOMS_SCAN = (0.04, "CUSS", "CBP exam: scan (non-intrusive inspection)", (1.0, 3.0))
CUSTOMS_INTENSIVE = (0.01, "CUSI", "CBP exam: intensive inspection", (5.0, 10.0))
SHARED_BILL_OF_LADING = 0.4  # a box shares its bill of lading with the previous one


def _minutes(rng: random.Random, low_hours: float, high_hours: float) -> timedelta:
    return timedelta(minutes=round(rng.uniform(low_hours, high_hours) * 60))


class _Exam(NamedTuple):
    code: str  # CUSS | CUSI
    description: str
    selected: datetime
    released: datetime


class _Documents(NamedTuple):
    booking: str
    bill_of_lading: str
    seal: Seal

    @property
    def references(self) -> tuple[tuple[str, str], ...]:
        return (("BKG", self.booking), ("TRD", self.bill_of_lading))


class _HoldPlan(NamedTuple):
    type: str
    description: str
    placed: datetime
    released: datetime


@dataclass(frozen=True, slots=True)
class SharedPickup:
    """A box another port will see later: picked up here at ``gate_out``, laden."""

    reference: str
    iso_code: str
    gate_out: datetime


class ContainerFactory:
    """Builds one port's containers; ``serial_block`` keeps its numbers apart from other ports'."""

    def __init__(self, port: Port, rng: random.Random, now: datetime, serial_block: int) -> None:
        self.port = port
        self.rng = rng
        self.now = now
        self.serial_block = serial_block
        self.local = ZoneInfo(port.time_zone)
        self.truck_visits: list[TruckVisit] = []
        self._references: set[str] = set()
        self._turn_minutes = {t.facility_code: rng.uniform(45, 95) for t in port.terminals}
        self._last_documents: dict[str, _Documents] = {}

    # identifiers -------------------------------------------------------------------------

    def new_reference(self, reefer: bool = False) -> str:
        fruit = reefer and self.port.port_id in _FRUIT_PORTS
        owners = FRUIT_OWNER_CODES if fruit else OWNER_CODES
        while True:
            serial = f"{self.serial_block}{self.rng.randrange(100_000):05d}"
            first_ten = f"{self.rng.choice(owners)}U{serial}"
            reference = first_ten + str(iso6346_check_digit(first_ten))
            if reference not in self._references:
                self._references.add(reference)
                return reference

    def new_soc_reference(self) -> str:
        """A shipper-owned box's reference: fine for DCSA (<= 15), not an ISO 6346 number."""
        reference = f"SOC{self.rng.randrange(10_000_000):07d}"
        self._references.add(reference)
        return reference

    def iso_code(self, laden: bool = True) -> str:
        """About 80 % of boxes are 40 ft; a share of laden ones, by the port's trade, reefers."""
        if laden and self.rng.random() < self.port.trade.reefer_share:
            return self.rng.choices(("45R1", "22R1"), weights=(85, 15))[0]
        return self.rng.choices(("45G1", "42G1", "22G1"), weights=(50, 30, 20))[0]

    def _documents(
        self, call: VesselCall | None, flow: str, fixed: tuple[str, str] | None = None
    ) -> _Documents:
        """Booking, bill of lading and carrier seal of a laden box (``fixed``: the booking and
        bill of lading it must have); boxes of one call often share a bill of lading."""
        scac = call.vessel.scac if call is not None else "MSCU"
        if fixed is not None:
            seal = Seal(f"{scac[:2]}{self.rng.randrange(10_000_000):07d}", "CAR", "BLT")
            return _Documents(fixed[0], fixed[1], seal)
        key = f"{call.reference if call else ''}:{flow}"
        previous = self._last_documents.get(key)
        seal = Seal(f"{scac[:2]}{self.rng.randrange(10_000_000):07d}", "CAR", "BLT")
        if previous is not None and self.rng.random() < SHARED_BILL_OF_LADING:
            documents = previous._replace(seal=seal)
        else:
            documents = _Documents(
                f"{self.rng.randrange(10**9):09d}", f"{scac}{self.rng.randrange(10**9):09d}", seal
            )
        self._last_documents[key] = documents
        return documents

    # building blocks ---------------------------------------------------------------------

    def _event(
        self,
        classifier: str,
        type_code: str,
        at: datetime,
        facility_code: str,
        empty: str = "LADEN",
        call: VesselCall | None = None,
        papers: _Documents | None = None,
        train: str | None = None,
        seals: tuple[Seal, ...] | None = None,
    ) -> EquipmentEvent:
        if classifier == "ACT":
            created = min(self.now, at + _minutes(self.rng, 0.02, 0.3))
        elif classifier == "PLN":
            created = min(self.now, at - timedelta(days=10))
        else:
            created = min(self.now, at - timedelta(days=1))
        return EquipmentEvent(
            event_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            created=created,
            event_datetime=at,
            classifier=classifier,
            type_code=type_code,
            empty_indicator=empty,
            facility_code=facility_code,
            call=call,
            train=train,
            seals=seals if seals is not None else ((papers.seal,) if papers else ()),
            documents=papers.references if papers else (),
        )

    def _vessel_move(
        self,
        type_code: str,
        call: VesselCall,
        offset: timedelta,
        empty: str,
        papers: _Documents | None = None,
    ) -> list[EquipmentEvent]:
        """PLN, EST and (once it happened) ACT events of a discharge or load at ``call``."""
        code = call.facility_code
        events = [
            self._event("PLN", type_code, call.planned_arrival + offset, code, empty, call, papers)
        ]
        if call.estimated_arrival is not None:
            at = call.estimated_arrival + offset
            events.append(self._event("EST", type_code, at, code, empty, call, papers))
        if call.actual_arrival is not None and call.actual_arrival + offset <= self.now:
            at = call.actual_arrival + offset
            events.append(self._event("ACT", type_code, at, code, empty, call, papers))
        return events

    def _yard(self) -> YardPosition:
        block = f"{self.rng.choice('ABCDEFGH')}{self.rng.randint(1, 40)}"
        return YardPosition(block, f"{self.rng.randint(1, 30):02d}", self.rng.randint(1, 5))

    def _truck_turn(self, facility_code: str) -> timedelta:
        mean = self._turn_minutes[facility_code]
        return timedelta(minutes=round(max(15.0, self.rng.gauss(mean, 20))))

    def _truck_visit(self, facility_code: str, gate_in: datetime, gate_out: datetime) -> None:
        if gate_out <= self.now:
            self.truck_visits.append(TruckVisit(facility_code, gate_in, gate_out))

    def _exam(self, discharge: datetime) -> _Exam | None:
        """Whether CBP selects the box for a scan or an intensive exam, and when it releases it."""
        draw = self.rng.random()
        for share, code, description, (low_days, high_days) in (
            CUSTOMS_INTENSIVE,
            CUSTOMS_SCAN,
        ):
            if draw < share:
                selected = discharge + _minutes(self.rng, 0.5, 8)
                released = selected + _minutes(self.rng, 24 * low_days, 24 * high_days)
                return _Exam(code, description, selected, released)
            draw -= share
        return None

    def _holds(
        self, discharge: datetime, exam: _Exam | None, latest_release: datetime | None
    ) -> list[_HoldPlan]:
        """When each hold on an import is placed and released.

        A box picked for a customs exam keeps its customs hold until customs releases it;
        ``latest_release`` (a fixed pickup time) bounds every release.
        """
        chances = list(_HOLD_CHANCES)
        if self.port.port_id in TMF_PORTS:
            chances.append(_TMF)
        holds: list[_HoldPlan] = []
        for hold_type, chance, description in chances:
            examined = exam is not None and hold_type == "CUSTOMS"
            if not (examined or self.rng.random() < chance):
                continue
            placed = discharge - _minutes(self.rng, 24, 96)
            released = discharge + _minutes(self.rng, -48, 96)
            if exam is not None and examined:
                description, released = exam.description, exam.released
            if latest_release is not None:
                released = min(released, latest_release - _minutes(self.rng, 1, 24))
            released = max(released, placed + timedelta(hours=1))
            holds.append(_HoldPlan(hold_type, description, placed, released))
        return holds

    # stories -----------------------------------------------------------------------------

    def import_container(
        self,
        call: VesselCall,
        shared: SharedPickup | None = None,
        reference: str | None = None,
        documents: tuple[str, str] | None = None,
    ) -> Container | None:
        """A laden box discharged from ``call``; ``shared`` fixes its number and pickup time,
        ``reference`` its number, ``documents`` its (booking, bill of lading)."""
        stay = call.planned_departure - call.planned_arrival
        offset = _minutes(self.rng, 2, 0.7 * stay.total_seconds() / 3600)
        iso_code = shared.iso_code if shared else self.iso_code()
        if shared is not None:
            reference = shared.reference
        reference = reference or self.new_reference("R" in iso_code)
        papers = self._documents(call, "IMPORT", documents)
        events = self._vessel_move("DISC", call, offset, "LADEN", papers)
        discharge = events[-1].event_datetime
        discharged = events[-1].classifier == "ACT"
        if shared and (not discharged or discharge >= shared.gate_out - timedelta(hours=12)):
            return None
        exam = None if shared else self._exam(discharge)
        holds = self._holds(discharge, exam, shared.gate_out if shared else None)
        code = call.facility_code
        by_rail = shared is None and self.rng.random() < self.port.trade.rail_share
        rails = RAIL_ACCESS.get(self.port.port_id)
        rail_access = rails.get(code) if by_rail and rails is not None else None
        on_dock = rail_access == ON_DOCK
        gate_out = None
        left = None
        leaves = None
        if discharged:
            if exam is not None:
                events += self._exam_events(exam, code, papers)
            last_release = max((h.released for h in holds), default=discharge)
            available = max(discharge + _minutes(self.rng, 1, 3), last_release)
            leaves = max(
                discharge + _minutes(self.rng, 12, 168), last_release + _minutes(self.rng, 1, 12)
            )
            if shared is not None:
                leaves = shared.gate_out
            if not on_dock and available <= min(self.now, leaves):
                events.append(self._event("ACT", "AVPU", available, code, papers=papers))
            if leaves <= self.now:
                left = leaves
                if on_dock:
                    train = f"{self.port.port_id}-{code}-RAIL-{leaves:%y%m%d}"
                    events.append(self._event("ACT", "LOAD", leaves, code, papers=papers,
                                              train=train))  # fmt: skip
                else:
                    gate_out = leaves
                    events.append(self._event("ACT", "GTOT", leaves, code, papers=papers))
                    turn = self._truck_turn(code)
                    self._truck_visit(code, leaves - turn, leaves)
        rail = None
        if rail_access is not None:
            handed_over = leaves or discharge + HANDED_OVER_AFTER_DISCHARGE
            rail = rail_leg(self.rng, rail_access, handed_over, self.now)
        scac = call.vessel.scac
        return Container(
            reference=reference,
            iso_code=iso_code,
            flow="IMPORT",
            port_id=self.port.port_id,
            facility_code=code,
            empty_indicator="LADEN",
            events=tuple(sorted(events, key=lambda e: e.event_datetime)),
            yard=self._yard() if discharged and left is None else None,
            availability=None  # the railroad's box: no truck picks it up
            if on_dock
            else self._availability(discharge, discharged, gate_out, holds, scac),
            booking=papers.booking,
            bill_of_lading=papers.bill_of_lading,
            rail=rail,
        )

    def waiting_for_pickup(
        self, call: VesselCall, reference: str, documents: tuple[str, str]
    ) -> Container:
        """A box discharged from ``call`` whose holds are all released and that is available
        for pick-up now, its last free day still ahead (the demo's trucker example)."""
        assert call.actual_arrival is not None
        code = call.facility_code
        papers = self._documents(call, "IMPORT", documents)
        discharge = call.actual_arrival + timedelta(hours=3)
        available = discharge + timedelta(hours=5)
        events = list(self._vessel_move("DISC", call, timedelta(hours=3), "LADEN", papers))
        events.append(self._event("ACT", "AVPU", available, code, papers=papers))
        customs = _HoldPlan(
            "CUSTOMS", "CBP entry released", discharge - timedelta(days=2), available
        )
        return Container(
            reference=reference,
            iso_code="45G1",
            flow="IMPORT",
            port_id=self.port.port_id,
            facility_code=code,
            empty_indicator="LADEN",
            events=tuple(sorted(events, key=lambda e: e.event_datetime)),
            yard=YardPosition("C14", "07", 2),
            availability=self._availability(discharge, True, None, [customs], call.vessel.scac),
            booking=papers.booking,
            bill_of_lading=papers.bill_of_lading,
        )

    def _exam_events(self, exam: _Exam, code: str, papers: _Documents) -> list[EquipmentEvent]:
        """Selection, (for an intensive exam) seal removed and customs seal put on, release:
        those that happened by now."""
        events: list[tuple[str, datetime, tuple[Seal, ...] | None]] = [
            (exam.code, exam.selected, None)
        ]
        if exam.code == "CUSI":
            opened = exam.selected + _minutes(self.rng, 48, 120)
            customs_seal = Seal(f"CBP{self.rng.randrange(10_000_000):07d}", "CUS", "BLT")
            events += [("RMVD", opened, ()), ("RSEA", opened + _minutes(self.rng, 1, 3),
                                               (customs_seal,))]  # fmt: skip
        events.append(("CUSR", exam.released, None))
        return [
            self._event("ACT", kind, at, code, papers=papers, seals=seals)
            for kind, at, seals in events
            if at <= self.now
        ]

    def _availability(
        self,
        discharge: datetime,
        discharged: bool,
        gate_out: datetime | None,
        holds: list[_HoldPlan],
        scac: str,
    ) -> Availability:
        """Holds as known by now, free days and fees; the empty's return deadline (by the
        carrier ``scac``) once the box gated out."""
        hold_records = tuple(
            Hold(h.type, "RELEASED", h.description, h.released)
            if h.released <= self.now
            else Hold(h.type, "HOLD", h.description, h.placed)
            for h in holds
            if h.placed <= self.now  # holds not placed yet are not known yet
        )
        first_available = discharge.astimezone(self.local).date()
        last_free = first_available + timedelta(days=FREE_DAYS[self.port.port_id])
        fees = 0.0
        in_terminal = discharged and gate_out is None
        if in_terminal:
            days_over = (self.now.astimezone(self.local).date() - last_free).days
            fees = max(0, days_over) * DEMURRAGE_USD_PER_DAY[self.port.port_id]
        return Availability(
            available_for_pickup=in_terminal and all(h.status == "RELEASED" for h in hold_records),
            holds=hold_records,
            first_available_date=first_available,
            last_free_day=last_free if discharged else None,
            outstanding_fees_usd=fees,
            empty_return_deadline=None
            if gate_out is None
            else empty_return_deadline(scac, gate_out.astimezone(self.local).date()),
        )

    def export_container(
        self,
        call: VesselCall,
        reference: str | None = None,
        documents: tuple[str, str] | None = None,
    ) -> Container:
        """A laden box gated in for ``call`` and loaded once the vessel works (``documents``:
        the booking and bill of lading it must have)."""
        iso_code = self.iso_code()
        reference = reference or self.new_reference("R" in iso_code)
        gate_in = call.berth_arrival - _minutes(self.rng, 12, 120)
        if gate_in > self.now:
            gate_in = self.now - _minutes(self.rng, 0.2, 12)
        return self._gated_in(
            reference,
            iso_code,
            "EXPORT",
            "LADEN",
            gate_in,
            call.facility_code,
            call,
            self._documents(call, "EXPORT", documents),
        )

    def empty_return(
        self, gate_in: datetime, facility_code: str, load_on: VesselCall | None
    ) -> Container:
        """An empty returned at ``gate_in``; loaded back onto ``load_on`` when given."""
        return self._gated_in(
            self.new_reference(),
            self.iso_code(laden=False),
            "EMPTY_RETURN",
            "EMPTY",
            gate_in,
            facility_code,
            load_on,
        )

    def returned_shared_empty(self, shared: SharedPickup, gate_in: datetime) -> Container:
        """A box another port discharged, returned empty here."""
        facility_code = self.rng.choice(self.port.terminals).facility_code
        return self._gated_in(
            shared.reference, shared.iso_code, "EMPTY_RETURN", "EMPTY", gate_in, facility_code, None
        )

    def _gated_in(
        self,
        reference: str,
        iso_code: str,
        flow: str,
        empty: str,
        gate_in: datetime,
        facility_code: str,
        load_on: VesselCall | None,
        papers: _Documents | None = None,
    ) -> Container:
        events = [self._event("ACT", "GTIN", gate_in, facility_code, empty, papers=papers)]
        self._truck_visit(facility_code, gate_in, gate_in + self._truck_turn(facility_code))
        if load_on is not None:
            stay = load_on.planned_departure - load_on.planned_arrival
            offset = _minutes(
                self.rng, 0.3 * stay.total_seconds() / 3600, 0.8 * stay.total_seconds() / 3600
            )
            events += self._vessel_move("LOAD", load_on, offset, empty, papers)
        loaded = any(e.type_code == "LOAD" and e.classifier == "ACT" for e in events)
        return Container(
            reference=reference,
            iso_code=iso_code,
            flow=flow,
            port_id=self.port.port_id,
            facility_code=load_on.facility_code if load_on else facility_code,
            empty_indicator=empty,
            events=tuple(sorted(events, key=lambda e: e.event_datetime)),
            yard=None if loaded else self._yard(),
            availability=None,
            booking=papers.booking if papers else None,
            bill_of_lading=papers.bill_of_lading if papers else None,
        )
