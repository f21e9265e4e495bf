"""The fleet and the liner services shared by all five simulated ports.

Both depend on the seed only, never on the port, so the same vessel (same IMO number, name and
voyage) calls at every port of its service's rotation: a Los Angeles call and the Oakland call
three days later are one ship. Schedules are anchored to calendar weeks, not to ``now``.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from port_resolvers.sim.model import Vessel
from port_resolvers.sim.reference import FLAGS, LINERS, NAME_WORDS, PORTS, SCACS
from portcontract.identifiers import imo_check_digit

# Monday 2024-01-01 00:00 UTC: week numbers and weekly departures count from here.
SCHEDULE_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
WEEK = timedelta(days=7)
VESSELS_PER_SERVICE = 6  # a weekly service with a six-week round trip

# Port rotations of the weekly services, how many services sail each one, and who sails them
# (None: the transpacific carriers in turn).
ROTATIONS: tuple[tuple[tuple[str, ...], int, str | None], ...] = (
    (("USLAX",), 8, None),
    (("USLGB",), 8, None),
    (("USLAX", "USOAK"), 6, None),
    (("USLGB", "USOAK"), 5, None),
    (("USLAX", "USLGB"), 3, None),
    (("USLGB", "USLAX", "USOAK"), 2, None),
    (("USLGB", "USOAK"), 1, "MAT"),  # Matson's China express: its own terminal at Long Beach
    (("USNTD",), 2, "GWF"),  # Chiquita's Great White Fleet: bananas to Hueneme
    (("USSAN",), 1, "DOL"),  # Dole's reefer ships to San Diego
)
TRANSPACIFIC = ("MSC", "MSK", "CMA", "EMC", "HLC", "ONE", "YML", "ZIM", "COS", "OOL", "HMM")
# Terminals only their own carrier uses.
DEDICATED_TERMINALS = {("USLGB", "MAT"): "MATU"}
_SERVICE_PREFIX = {
    "MSC": "MX",
    "MSK": "TP",
    "CMA": "PR",
    "EMC": "PS",
    "HLC": "PN",
    "ONE": "PC",
    "YML": "PA",
    "ZIM": "ZP",
    "COS": "AA",
    "OOL": "PV",
    "HMM": "PH",
    "MAT": "CL",
    "GWF": "GW",
    "DOL": "DL",
}
_PLANNED_STAY_HOURS = {"USLAX": (48, 96), "USLGB": (48, 96), "USOAK": (24, 48)}
_SMALL_PORT_STAY_HOURS = (12, 30)
_SAILING_HOURS = {frozenset({"USLAX", "USLGB"}): 10, frozenset({"USNTD", "USSAN"}): 20}
_COASTAL_SAILING_HOURS = 40


@dataclass(frozen=True, slots=True)
class PortStop:
    """One port of a rotation: its terminal, and planned berth times from the weekly start."""

    port_id: str
    facility_code: str
    arrival_offset: timedelta
    planned_stay: timedelta


@dataclass(frozen=True, slots=True)
class Service:
    """A weekly liner service: week ``n`` is sailed by ``vessels[n % len(vessels)]``."""

    code: str
    liner_code: str
    weekly_offset: timedelta  # first berth arrival after the start of each week
    stops: tuple[PortStop, ...]
    vessels: tuple[Vessel, ...]
    voyage_base: int

    def stop_at(self, port_id: str) -> PortStop | None:
        return next((s for s in self.stops if s.port_id == port_id), None)

    def vessel_in_week(self, week: int) -> Vessel:
        return self.vessels[week % len(self.vessels)]

    def voyage_in_week(self, week: int) -> int:
        return self.voyage_base + week % 500


def _imo_number(rng: random.Random, taken: set[str]) -> str:
    while True:
        first_six = f"9{rng.randrange(100_000):05d}"
        number = first_six + str(imo_check_digit(first_six))
        if number not in taken:
            taken.add(number)
            return number


def _vessel_name(liner: str, word: str) -> str:
    return f"{word} EXPRESS" if liner == "HLC" else f"{LINERS[liner]} {word}"


def _vessels(
    rng: random.Random, liner: str, count: int, taken: set[str], names: dict[str, list[str]]
) -> list[Vessel]:
    unused = names.setdefault(liner, rng.sample(NAME_WORDS, len(NAME_WORDS)))
    if len(unused) < count:  # a liner with more ships than words: a second series of names
        unused.extend(f"{w} II" for w in rng.sample(NAME_WORDS, len(NAME_WORDS)))
    vessels = []
    for word in (unused.pop() for _ in range(count)):
        flag = rng.choice(sorted(FLAGS))
        mids, call_prefix = FLAGS[flag]
        vessels.append(
            Vessel(
                imo=_imo_number(rng, taken),
                mmsi=rng.choice(mids) + f"{rng.randrange(1_000_000):06d}",
                name=_vessel_name(liner, word),
                flag=flag,
                call_sign=call_prefix + "".join(rng.choices("ABCDEFGHJKLMNPRSTUVWXYZ2345", k=3)),
                liner_code=liner,
                scac=SCACS[liner],
            )
        )
    return vessels


def _terminal(rng: random.Random, port_id: str, liner: str) -> str:
    dedicated = DEDICATED_TERMINALS.get((port_id, liner))
    if dedicated is not None:
        return dedicated
    reserved = {code for (port, _), code in DEDICATED_TERMINALS.items() if port == port_id}
    open_to_all = [t for t in PORTS[port_id].terminals if t.facility_code not in reserved]
    return rng.choice(open_to_all).facility_code


def _stops(rng: random.Random, rotation: tuple[str, ...], liner: str) -> tuple[PortStop, ...]:
    stops: list[PortStop] = []
    offset = timedelta()
    previous: str | None = None
    for port_id in rotation:
        if previous is not None:
            sailing = _SAILING_HOURS.get(frozenset({previous, port_id}), _COASTAL_SAILING_HOURS)
            offset += stops[-1].planned_stay + timedelta(hours=sailing)
        low, high = _PLANNED_STAY_HOURS.get(port_id, _SMALL_PORT_STAY_HOURS)
        terminal = _terminal(rng, port_id, liner)
        stay = timedelta(hours=rng.randint(low, high))
        stops.append(PortStop(port_id, terminal, offset, stay))
        previous = port_id
    return tuple(stops)


@lru_cache(maxsize=8)
def liner_services(seed: int) -> tuple[Service, ...]:
    """Every weekly service calling at the five ports, with its vessels, for ``seed``."""
    rng = random.Random(f"{seed}:fleet")
    taken: set[str] = set()
    names: dict[str, list[str]] = {}
    services: list[Service] = []
    turn = 0
    for rotation, count, sailed_by in ROTATIONS:
        for _ in range(count):
            liner = sailed_by or TRANSPACIFIC[turn % len(TRANSPACIFIC)]
            turn += sailed_by is None
            number = len([s for s in services if s.liner_code == liner]) + 1
            services.append(
                Service(
                    code=f"{_SERVICE_PREFIX[liner]}{number}",
                    liner_code=liner,
                    weekly_offset=timedelta(minutes=30 * rng.randrange(7 * 48)),
                    stops=_stops(rng, rotation, liner),
                    vessels=tuple(_vessels(rng, liner, VESSELS_PER_SERVICE, taken, names)),
                    voyage_base=rng.randrange(100, 400),
                )
            )
    return tuple(services)


def fleet(seed: int) -> tuple[Vessel, ...]:
    """All vessels of all services for ``seed``."""
    return tuple(v for s in liner_services(seed) for v in s.vessels)
