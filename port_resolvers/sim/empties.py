"""Empty containers: which empties each terminal takes, and until when a box may come back.

A terminal publishes, for today and tomorrow, whether it takes each carrier's empties of each
size and type (:data:`~port_resolvers.sim.reference.EMPTY_TYPES`), for the carriers whose ships
call there. Most are taken. Some restrictions stand for weeks (a terminal refuses a carrier's
45-footers, or another's reefers), drawn per terminal; others are a day's, as the yard fills
(one carrier's 20-footers refused), drawn per terminal and date: a day's rules stay the same
as ``now`` moves on.

A full import box picked up by truck must come back empty within its carrier's free days
(:data:`~port_resolvers.sim.reference.EMPTY_FREE_DAYS`), counted from its gate-out day.
"""

import random
from datetime import date, timedelta

from port_resolvers.sim.model import EmptyReturnRule, Port, VesselCall
from port_resolvers.sim.reference import EMPTY_FREE_DAYS, EMPTY_TYPES

REFUSES_45_FOOTERS = 0.4  # chance a terminal does not take one calling carrier's 45' empties
REFUSES_REEFERS = 0.3  # chance a terminal takes no reefer empties of one of its carriers
REFUSES_20_FOOTERS_ON_A_DAY = 0.35  # chance a terminal refuses one carrier's 20' dry that day
DEFAULT_FREE_DAYS = 4


def empty_return_deadline(scac: str, gate_out: date) -> date:
    """The last day to return a box empty that gated out full on local day ``gate_out``."""
    return gate_out + timedelta(days=EMPTY_FREE_DAYS.get(scac, DEFAULT_FREE_DAYS))


def _refused(rng: random.Random, carriers: list[str], chance: float) -> set[str]:
    return {rng.choice(carriers)} if carriers and rng.random() < chance else set()


def empty_return_rules(
    port: Port, seed: int, today: date, calls: tuple[VesselCall, ...]
) -> tuple[EmptyReturnRule, ...]:
    """Each terminal's rules for ``today`` and tomorrow, by terminal, day, carrier and type."""
    rules = []
    for terminal in port.terminals:
        code = terminal.facility_code
        carriers = sorted({c.vessel.scac for c in calls if c.facility_code == code})
        standing = random.Random(f"{seed}:{port.port_id}:{code}:empties")
        no_45 = {scac for scac in carriers if standing.random() < REFUSES_45_FOOTERS}
        no_reefers = _refused(standing, carriers, REFUSES_REEFERS)
        for day in (today, today + timedelta(days=1)):
            daily = random.Random(f"{seed}:{port.port_id}:{code}:{day.isoformat()}:empties")
            no_20 = _refused(daily, carriers, REFUSES_20_FOOTERS_ON_A_DAY)
            for scac in carriers:
                refused = {"L5G1"} if scac in no_45 else set()
                refused |= {"22R1", "45R1"} if scac in no_reefers else set()
                refused |= {"22G1"} if scac in no_20 else set()
                rules += [
                    EmptyReturnRule(code, day, scac, iso_code, iso_code not in refused)
                    for iso_code in EMPTY_TYPES
                ]
    return tuple(rules)
