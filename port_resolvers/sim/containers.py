"""Container histories at one port: imports, exports and returned empties.

Each story follows the port's vessel calls and ``now``:

- import: PLN / EST DISC -> ACT DISC -> maybe ACT INSP -> ACT GTOT, with holds that are all
  released before the gate-out, a last free day a few days after discharge and demurrage due
  once it has passed;
- export: ACT GTIN (laden) -> PLN / EST / ACT LOAD;
- empty return: ACT GTIN (empty), sometimes loaded back onto a vessel.

A :class:`ContainerFactory` builds them with one seeded generator, so the same seed, port and
``now`` always give the same boxes.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from port_resolvers.sim.model import (
    Availability,
    Container,
    EquipmentEvent,
    Hold,
    Port,
    TruckVisit,
    VesselCall,
    YardPosition,
)
from port_resolvers.sim.reference import (
    DEMURRAGE_USD_PER_DAY,
    FREE_DAYS,
    OWNER_CODES,
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
_REEFER_PORTS = frozenset({"USNTD", "USSAN"})


def _minutes(rng: random.Random, low_hours: float, high_hours: float) -> timedelta:
    return timedelta(minutes=round(rng.uniform(low_hours, high_hours) * 60))


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

    # identifiers -------------------------------------------------------------------------

    def new_reference(self) -> str:
        while True:
            serial = f"{self.serial_block}{self.rng.randrange(100_000):05d}"
            first_ten = f"{self.rng.choice(OWNER_CODES)}U{serial}"
            reference = first_ten + str(iso6346_check_digit(first_ten))
            if reference not in self._references:
                self._references.add(reference)
                return reference

    def new_soc_reference(self) -> str:
        """A shipper-owned box's reference: fine for DCSA (<= 15), not an ISO 6346 number."""
        reference = f"SOC{self.rng.randrange(10_000_000):07d}"
        self._references.add(reference)
        return reference

    def iso_code(self) -> str:
        if self.port.port_id in _REEFER_PORTS and self.rng.random() < 0.5:
            return "45R1"
        return self.rng.choices(("45G1", "42G1", "22G1"), weights=(50, 30, 20))[0]

    # building blocks ---------------------------------------------------------------------

    def _event(
        self,
        classifier: str,
        type_code: str,
        at: datetime,
        facility_code: str,
        empty: str = "LADEN",
        call: VesselCall | None = None,
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
        )

    def _vessel_move(
        self, type_code: str, call: VesselCall, offset: timedelta, empty: str
    ) -> list[EquipmentEvent]:
        """PLN, EST and (once it happened) ACT events of a discharge or load at ``call``."""
        events = [
            self._event(
                "PLN", type_code, call.planned_arrival + offset, call.facility_code, empty, call
            )
        ]
        if call.estimated_arrival is not None:
            at = call.estimated_arrival + offset
            events.append(self._event("EST", type_code, at, call.facility_code, empty, call))
        if call.actual_arrival is not None and call.actual_arrival + offset <= self.now:
            at = call.actual_arrival + offset
            events.append(self._event("ACT", type_code, at, call.facility_code, empty, call))
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

    def _holds(
        self, discharge: datetime, inspected: datetime | None, latest_release: datetime | None
    ) -> list[_HoldPlan]:
        """When each hold on an import is placed and released.

        A box picked for a customs exam keeps its customs hold until a while after the exam;
        ``latest_release`` (a fixed pickup time) bounds every release.
        """
        chances = list(_HOLD_CHANCES)
        if self.port.port_id in TMF_PORTS:
            chances.append(_TMF)
        holds: list[_HoldPlan] = []
        for hold_type, chance, description in chances:
            exam = inspected is not None and hold_type == "CUSTOMS"
            if not (exam or self.rng.random() < chance):
                continue
            placed = discharge - _minutes(self.rng, 24, 96)
            released = discharge + _minutes(self.rng, -48, 96)
            if inspected is not None and exam:
                description, released = "CBP exam", inspected + _minutes(self.rng, 2, 24)
            if latest_release is not None:
                released = min(released, latest_release - _minutes(self.rng, 1, 24))
            released = max(released, placed + timedelta(hours=1))
            holds.append(_HoldPlan(hold_type, description, placed, released))
        return holds

    # stories -----------------------------------------------------------------------------

    def import_container(
        self, call: VesselCall, shared: SharedPickup | None = None
    ) -> Container | None:
        """A laden box discharged from ``call``; ``shared`` fixes its number and pickup time."""
        stay = call.planned_departure - call.planned_arrival
        offset = _minutes(self.rng, 2, 0.7 * stay.total_seconds() / 3600)
        reference = shared.reference if shared else self.new_reference()
        iso_code = shared.iso_code if shared else self.iso_code()
        events = self._vessel_move("DISC", call, offset, "LADEN")
        discharge = events[-1].event_datetime
        discharged = events[-1].classifier == "ACT"
        if shared and (not discharged or discharge >= shared.gate_out - timedelta(hours=12)):
            return None
        inspected = None
        if shared is None and self.rng.random() < 0.12:
            inspected = discharge + _minutes(self.rng, 20, 60)
        holds = self._holds(discharge, inspected, shared.gate_out if shared else None)
        gate_out = None
        if discharged:
            if inspected is not None and inspected <= self.now:
                events.append(self._event("ACT", "INSP", inspected, call.facility_code))
            last_release = max((h.released for h in holds), default=discharge)
            pickup = max(
                discharge + _minutes(self.rng, 12, 168), last_release + _minutes(self.rng, 1, 12)
            )
            if shared is not None:
                pickup = shared.gate_out
            if pickup <= self.now:
                gate_out = pickup
                events.append(self._event("ACT", "GTOT", pickup, call.facility_code))
                turn = self._truck_turn(call.facility_code)
                self._truck_visit(call.facility_code, pickup - turn, pickup)
        return Container(
            reference=reference,
            iso_code=iso_code,
            flow="IMPORT",
            port_id=self.port.port_id,
            facility_code=call.facility_code,
            empty_indicator="LADEN",
            events=tuple(sorted(events, key=lambda e: e.event_datetime)),
            yard=self._yard() if discharged and gate_out is None else None,
            availability=self._availability(discharge, discharged, gate_out, holds),
        )

    def _availability(
        self,
        discharge: datetime,
        discharged: bool,
        gate_out: datetime | None,
        holds: list[_HoldPlan],
    ) -> Availability:
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
        )

    def export_container(self, call: VesselCall, reference: str | None = None) -> Container:
        """A laden box gated in for ``call`` and loaded once the vessel works."""
        reference = reference or self.new_reference()
        gate_in = call.berth_arrival - _minutes(self.rng, 12, 120)
        if gate_in > self.now:
            gate_in = self.now - _minutes(self.rng, 0.2, 12)
        return self._gated_in(
            reference, self.iso_code(), "EXPORT", "LADEN", gate_in, call.facility_code, call
        )

    def empty_return(
        self, gate_in: datetime, facility_code: str, load_on: VesselCall | None
    ) -> Container:
        """An empty returned at ``gate_in``; loaded back onto ``load_on`` when given."""
        return self._gated_in(
            self.new_reference(),
            self.iso_code(),
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
    ) -> Container:
        events = [self._event("ACT", "GTIN", gate_in, facility_code, empty)]
        self._truck_visit(facility_code, gate_in, gate_in + self._truck_turn(facility_code))
        if load_on is not None:
            stay = load_on.planned_departure - load_on.planned_arrival
            offset = _minutes(
                self.rng, 0.3 * stay.total_seconds() / 3600, 0.8 * stay.total_seconds() / 3600
            )
            events += self._vessel_move("LOAD", load_on, offset, empty)
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
        )
