"""Port- and terminal-level TEU volumes at the ports' 2024 magnitudes.

The simulated containers are a small sample of each port's boxes (about 1,000 at Los Angeles,
where about 14,000 TEU are discharged a day); counted, they would make Los Angeles a port of a
few hundred TEU a week. A port's volumes come from its statistics, not from the boxes one
resolver can show, so TEU discharged and loaded are drawn here from the port's 2024 weekly
volumes (:data:`~port_resolvers.sim.reference.VOLUMES`): each day varies around a seventh of
the week (weekends are quieter), and each terminal takes a share of the port's volume, the
same for every period. ``sampleSize`` counts the containers the TEU stand for (at about 1.8 TEU
a container), so a reader can tell a port-level figure from one computed over the sample.
"""

import random
from datetime import datetime, timedelta
from typing import Final

from port_resolvers.sim.model import Port, PortMetric

TEU_PER_CONTAINER: Final = 1.8  # about 80 % of boxes are 40 ft
WEEKDAY_WEIGHTS: Final = (1.08, 1.10, 1.10, 1.08, 1.05, 0.85, 0.74)  # Monday first
PERIODS: Final = {"LAST_7_DAYS": 7, "LAST_30_DAYS": 30, "LAST_90_DAYS": 90}
VOLUME_METRICS: Final = ("TEU_DISCHARGED", "TEU_LOADED")


def _terminal_shares(port: Port, rng: random.Random) -> dict[str, float]:
    weights = {t.facility_code: rng.uniform(0.6, 1.4) for t in port.terminals}
    total = sum(weights.values())
    return {code: weight / total for code, weight in weights.items()}


def _daily(rng: random.Random, per_week: float, day: datetime) -> float:
    return per_week / 7 * WEEKDAY_WEIGHTS[day.weekday()] * rng.uniform(0.85, 1.15)


def volume_metrics(port: Port, seed: int, now: datetime) -> tuple[PortMetric, ...]:
    """TEU discharged and loaded for each period, for the port and each terminal."""
    rng = random.Random(f"{seed}:{port.port_id}:volumes")
    shares = _terminal_shares(port, rng)
    days = max(PERIODS.values())
    # Days counted back from now; day 0 is the last 24 hours.
    history = [
        (
            _daily(rng, port.volumes.discharged_teu_per_week, now - timedelta(days=d + 1)),
            _daily(rng, port.volumes.loaded_teu_per_week, now - timedelta(days=d + 1)),
        )
        for d in range(days)
    ]
    metrics: list[PortMetric] = []
    for period, length in PERIODS.items():
        start = now - timedelta(days=length)
        totals = {
            "TEU_DISCHARGED": sum(day[0] for day in history[:length]),
            "TEU_LOADED": sum(day[1] for day in history[:length]),
        }
        scopes: list[tuple[str | None, float]] = [(None, 1.0), *shares.items()]
        for facility_code, share in scopes:
            for metric in VOLUME_METRICS:
                teu = round(totals[metric] * share)
                metrics.append(
                    PortMetric(
                        metric,
                        period,
                        facility_code,
                        float(teu),
                        "TEU",
                        start,
                        now,
                        round(teu / TEU_PER_CONTAINER),
                    )
                )
    return tuple(metrics)
