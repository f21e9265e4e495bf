"""Rail legs of imports that leave the port by train.

A box at a terminal with on-dock rail is loaded onto the train inside the terminal (its ACT
LOAD, status LOADED_ON_RAIL); elsewhere a truck takes it to a near-dock rail yard (its ACT
GTOT) and the railroad loads it there, out of the terminal's sight. The train runs to an inland
ramp (:data:`~port_resolvers.sim.reference.RAMPS`, Chicago most often) on a railroad that
serves it. Its departure is planned (PLN) until the box is handed to the railroad, estimated
(EST) from then until it leaves, actual (ACT) after.
"""

import random
from datetime import datetime, timedelta

from port_resolvers.sim.model import RailLeg
from port_resolvers.sim.reference import ON_DOCK, RAMPS

# Hours from the box's hand-over to the train's planned departure: a train is built in the
# terminal within a few hours; from a near-dock yard it leaves within a day or so.
HOURS_TO_DEPARTURE = {True: (3, 12), False: (10, 30)}
DEPARTURE_DELAY_MINUTES = (-60, 240)
HANDED_OVER_AFTER_DISCHARGE = timedelta(days=3)  # expected, for a box not discharged yet


def rail_leg(rng: random.Random, access: str, handed_over: datetime, now: datetime) -> RailLeg:
    """The rail leg of a box handed to the railroad at ``handed_over`` (loaded on-dock, or gated
    out to the near-dock yard; later than ``now`` when still to come)."""
    ramp, _, railroads = rng.choices(RAMPS, weights=[weight for _, weight, _ in RAMPS])[0]
    railroad = rng.choice(railroads)
    on_dock = access == ON_DOCK
    low, high = HOURS_TO_DEPARTURE[on_dock]
    next_hour = handed_over.replace(minute=0) + timedelta(hours=1)
    planned = next_hour + timedelta(hours=rng.randint(low, high))
    actual = planned + timedelta(minutes=rng.randint(*DEPARTURE_DELAY_MINUTES))
    handed = handed_over <= now
    if not handed:
        departure, classifier = planned, "PLN"
    else:
        departure, classifier = actual, "ACT" if actual <= now else "EST"
    loaded = handed_over if on_dock and handed else None
    return RailLeg(on_dock, railroad, ramp, loaded, departure, classifier)
