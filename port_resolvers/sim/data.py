"""Seeded, deterministic data of the five simulated ports.

``generate_port_data(port_id, seed=..., now=...)`` builds everything one port knows: its
terminals, vessel calls from ``now`` - 14 days to ``now`` + 21 days, container histories and
truck visits of the last weeks, aggregates, and its terminals' gate days (today and the next six,
local), truck appointment slots (to the end of tomorrow) and empty-return rules (today and
tomorrow), whether or not its systems publish them (:data:`~port_resolvers.sim.reference.
OFFERS` says which do). The same seed and ``now`` always give identical
data; ``now`` is floored to the minute and every time is relative to it.

The container sample follows the ports' 2024 TEU (LAX 10.0, LGB 9.6, OAK 2.3, Hueneme 0.1, San
Diego 0.1 million): at ``scale=1.0`` Los Angeles holds about 1,000 containers and every port at
least 10, each port with its own trade (:data:`~port_resolvers.sim.reference.TRADES`). The TEU
aggregates are the ports' own full volumes (:mod:`port_resolvers.sim.volumes`), not sums over
the sample; the dwell and truck-turn aggregates are computed over the sample and say so in
their ``sampleSize``. Vessels come from one fleet shared by all ports
(:mod:`port_resolvers.sim.fleet`).

A few boxes have fixed numbers and stories, whatever the seed and ``now``, for the README and
the guides (:data:`SHOWCASE`): one waiting for pick-up at Los Angeles, one inbound to Oakland,
both on one bill of lading (:data:`SHOWCASE_DOCUMENTS`), and a shipper-owned export gated in
there on its own booking (:data:`SHOWCASE_EXPORT_DOCUMENTS`).

Every port knows containers no other port knows. A handful appear at two ports (discharged
and picked up at one, returned empty at the other later), and Oakland knows a few shipper-owned
boxes whose references are not ISO 6346 numbers. :func:`containers_only_at` and
:func:`containers_at_several_ports` pick them out for tests and demos.
"""

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from port_resolvers.sim.calls import generate_vessel_calls
from port_resolvers.sim.containers import ContainerFactory, SharedPickup
from port_resolvers.sim.empties import empty_return_rules
from port_resolvers.sim.gates import appointment_slots, gate_days
from port_resolvers.sim.metrics import compute_metrics
from port_resolvers.sim.model import Container, Port, PortData, VesselCall
from port_resolvers.sim.reference import (
    CONTAINERS_PER_MILLION_TEU,
    MIN_CONTAINERS_PER_PORT,
    OWNER_CODES,
    PORT_IDS,
    PORTS,
)
from portcontract.identifiers import iso6346_check_digit

DEFAULT_SEED = 2024
DEFAULT_SCALE = 1.0
GATE_DAYS = 7  # today and the next six
SOC_BOXES = {"USOAK": 3}  # shipper-owned boxes with non-ISO references, by port
# Boxes with fixed numbers for the README and the guides: (port, story, reference).
WAITING_FOR_PICKUP = ("USLAX", "MSCU9123450")  # discharged, released, available now
INBOUND = ("USOAK", "CMAU9022176")  # on a vessel due at Oakland
SHIPPER_OWNED_EXPORT = ("USOAK", "SOC9048655")  # not an ISO 6346 number: fine for DCSA
# One cargo owner's booking and bill of lading: its boxes are the first two above, one at Los
# Angeles and one due at Oakland (a lookup by document across ports).
SHOWCASE_DOCUMENTS = ("900000001", "MSCU900000001")
# The shipper-owned export's booking and bill of lading: an exporter's "has my box gated in?".
SHOWCASE_EXPORT_DOCUMENTS = ("900000002", "MSCU900000002")
SHOWCASE = (WAITING_FOR_PICKUP, INBOUND, SHIPPER_OWNED_EXPORT)
# (port that discharges and releases the box, port it is returned to empty later)
SHARED_ROUTES = (("USLAX", "USLGB"), ("USLAX", "USLGB"), ("USLGB", "USLAX"), ("USNTD", "USLGB"))
_SHARED_SERIAL_BLOCK = 8


@dataclass(frozen=True, slots=True)
class SharedBox:
    """A box two ports know: discharged from ``call`` and picked up, returned empty elsewhere."""

    pickup: SharedPickup
    import_port: str
    call: VesselCall
    return_port: str
    returned_at: datetime


def _floor_to_minute(now: datetime | None) -> datetime:
    if now is None:
        now = datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC).replace(second=0, microsecond=0)


@lru_cache(maxsize=64)
def _calls(port: Port, seed: int, now: datetime) -> tuple[VesselCall, ...]:
    return generate_vessel_calls(port, seed, now)


def _minutes(rng: random.Random, low_hours: float, high_hours: float) -> timedelta:
    return timedelta(minutes=round(rng.uniform(low_hours, high_hours) * 60))


@lru_cache(maxsize=16)
def shared_boxes(seed: int, now: datetime) -> tuple[SharedBox, ...]:
    """The boxes that two ports know, the same whichever port is generated."""
    rng = random.Random(f"{seed}:shared")
    boxes = []
    for index, (import_port, return_port) in enumerate(SHARED_ROUTES):
        first_ten = (
            f"{rng.choice(OWNER_CODES)}U{_SHARED_SERIAL_BLOCK}{index}{rng.randrange(10_000):04d}"
        )
        reference = first_ten + str(iso6346_check_digit(first_ten))
        iso_code = rng.choice(("45G1", "42G1", "22G1"))
        candidates = [
            c
            for c in _calls(PORTS[import_port], seed, now)
            if c.actual_departure is not None and c.actual_departure <= now - timedelta(days=4)
        ]
        if not candidates:
            continue
        call = rng.choice(candidates)
        assert call.actual_departure is not None
        gate_out = call.actual_departure + _minutes(rng, 24, 72)
        returned_at = min(gate_out + _minutes(rng, 24, 72), now - timedelta(hours=1))
        pickup = SharedPickup(reference, iso_code, gate_out)
        boxes.append(SharedBox(pickup, import_port, call, return_port, returned_at))
    return tuple(boxes)


def container_count(port_id: str, scale: float = DEFAULT_SCALE) -> int:
    """How many containers of its own a port holds at ``scale`` (shared boxes come on top)."""
    share = PORTS[port_id].teu_2024_millions * CONTAINERS_PER_MILLION_TEU * scale
    return max(MIN_CONTAINERS_PER_PORT, round(share))


def _own_containers(
    factory: ContainerFactory, calls: tuple[VesselCall, ...], count: int, now: datetime
) -> list[Container]:
    rng = factory.rng
    usable = [c for c in calls if c.status_code != "OMIT"]
    imports = [c for c in usable if c.planned_arrival <= now + timedelta(days=10)]
    exports = [
        c for c in usable if now - timedelta(days=12) <= c.berth_arrival <= now + timedelta(days=6)
    ]
    trade = factory.port.trade
    flows = rng.choices(
        ("IMPORT", "EXPORT", "EMPTY_RETURN"),
        weights=(trade.import_share, trade.export_share, trade.empty_share),
        k=count,
    )
    soc_left = SOC_BOXES.get(factory.port.port_id, 0)
    boxes: list[Container] = []
    for flow in flows:
        if flow == "IMPORT" and imports:
            box = factory.import_container(rng.choice(imports))
            assert box is not None
        elif flow == "EXPORT" and exports:
            reference = None
            if soc_left:
                reference, soc_left = factory.new_soc_reference(), soc_left - 1
            box = factory.export_container(rng.choice(exports), reference)
        else:
            gate_in = now - _minutes(rng, 0.5, 14 * 24)
            facility_code = rng.choice(factory.port.terminals).facility_code
            later = [
                c
                for c in usable
                if gate_in + timedelta(days=1) <= c.berth_arrival <= now + timedelta(days=5)
                and c.facility_code == facility_code
            ]
            load_on = rng.choice(later) if later and rng.random() < 0.4 else None
            box = factory.empty_return(gate_in, facility_code, load_on)
        boxes.append(box)
    return boxes


def generate_port_data(
    port_id: str,
    *,
    seed: int = DEFAULT_SEED,
    now: datetime | None = None,
    scale: float = DEFAULT_SCALE,
) -> PortData:
    """Everything port ``port_id`` (a UN/LOCODE of :data:`PORT_IDS`) knows, as of ``now``.

    ``now`` defaults to the current time and is floored to the minute; ``scale`` multiplies the
    container volumes (vessel calls follow the liner schedules and do not scale).
    """
    if port_id not in PORTS:
        raise ValueError(f"unknown port {port_id!r}; simulated ports are {', '.join(PORT_IDS)}")
    now = _floor_to_minute(now)
    port = PORTS[port_id]
    calls = _calls(port, seed, now)
    factory = ContainerFactory(
        port,
        random.Random(f"{seed}:{port_id}:containers"),
        now,
        serial_block=PORT_IDS.index(port_id),
    )
    containers = _own_containers(factory, calls, container_count(port_id, scale), now)
    containers += _showcase(factory, calls, now)
    for shared in shared_boxes(seed, now):
        if shared.import_port == port_id:
            box = factory.import_container(shared.call, shared.pickup)
            assert box is not None
            containers.append(box)
        elif shared.return_port == port_id:
            containers.append(factory.returned_shared_empty(shared.pickup, shared.returned_at))
    visits = tuple(sorted(factory.truck_visits, key=lambda v: v.gate_in))
    today = now.astimezone(factory.local).date()
    days = gate_days(port, seed, today - timedelta(days=1), GATE_DAYS + 1)  # and yesterday's
    return PortData(
        port=port,
        seed=seed,
        now=now,
        vessel_calls=calls,
        containers=tuple(containers),
        truck_visits=visits,
        metrics=compute_metrics(port, seed, now, calls, containers, visits),
        gate_days=tuple(d for d in days if d.day >= today),
        appointment_slots=appointment_slots(port, seed, now, days),
        empty_returns=empty_return_rules(port, seed, today, calls),
    )


def _showcase(
    factory: ContainerFactory, calls: tuple[VesselCall, ...], now: datetime
) -> list[Container]:
    """This port's boxes with fixed numbers (see :data:`SHOWCASE`)."""
    port_id = factory.port.port_id
    boxes: list[Container] = []
    usable = [c for c in calls if c.status_code != "OMIT"]
    if WAITING_FOR_PICKUP[0] == port_id:
        berthed = [
            c
            for c in usable
            if c.actual_arrival is not None
            and now - timedelta(days=3) <= c.actual_arrival <= now - timedelta(hours=12)
        ]
        call = max(berthed, key=lambda c: (c.actual_arrival, c.reference))
        boxes.append(factory.waiting_for_pickup(call, WAITING_FOR_PICKUP[1], SHOWCASE_DOCUMENTS))
    if INBOUND[0] == port_id:
        due = [c for c in usable if now + timedelta(days=1) <= c.planned_arrival]
        call = min(due, key=lambda c: (c.planned_arrival, c.reference))
        box = factory.import_container(call, reference=INBOUND[1], documents=SHOWCASE_DOCUMENTS)
        assert box is not None
        boxes.append(box)
    if SHIPPER_OWNED_EXPORT[0] == port_id:
        loading = [c for c in usable if c.actual_arrival is None and c.planned_arrival > now]
        call = min(loading, key=lambda c: (c.planned_arrival, c.reference))
        boxes.append(
            factory.export_container(call, SHIPPER_OWNED_EXPORT[1], SHOWCASE_EXPORT_DOCUMENTS)
        )
    return boxes


def generate_all_ports(
    *, seed: int = DEFAULT_SEED, now: datetime | None = None, scale: float = DEFAULT_SCALE
) -> dict[str, PortData]:
    """The five ports' data for one seed and one ``now``, by UN/LOCODE."""
    now = _floor_to_minute(now)
    return {p: generate_port_data(p, seed=seed, now=now, scale=scale) for p in PORT_IDS}


def containers_only_at(ports: Mapping[str, PortData], port_id: str) -> list[Container]:
    """Containers ``port_id`` knows and no other port in ``ports`` does."""
    elsewhere = {
        c.reference for other, data in ports.items() if other != port_id for c in data.containers
    }
    return [c for c in ports[port_id].containers if c.reference not in elsewhere]


def containers_at_several_ports(ports: Mapping[str, PortData]) -> dict[str, list[str]]:
    """References known at more than one port, with those ports in ``ports`` order."""
    seen: dict[str, list[str]] = {}
    for port_id, data in ports.items():
        for box in data.containers:
            seen.setdefault(box.reference, []).append(port_id)
    return {ref: where for ref, where in seen.items() if len(where) > 1}
