"""Terminals' weekly TEU at the ports' 2024 magnitudes.

The simulated containers are a small sample of each port's boxes (about 1,000 at Los Angeles,
where about 14,000 TEU are discharged a day); counted, they would make Los Angeles a port of a
few hundred TEU a week. A port's volumes come from its statistics, not from the boxes one
resolver can show, so each terminal's weekly TEU discharged and loaded are drawn here from the
port's 2024 weekly volumes (:data:`~port_resolvers.sim.reference.VOLUMES`): each terminal takes
a share of the port's volume (the same every week), each week varies around it, and the week's
TEU are spread over the vessel calls the terminal worked that week, so the figure carries its
calls and the TEU of the largest, as the disclosure rules need (:mod:`portcontract.aggregates`).
``sample_size`` counts the containers the TEU stand for (at about 1.8 TEU a container).
"""

import random
from collections.abc import Mapping
from typing import Final

from port_resolvers.sim.model import Port, WeekFigure
from portcontract.periods import Week

TEU_PER_CONTAINER: Final = 1.8  # about 80 % of boxes are 40 ft
WEEKLY_SPREAD: Final = (0.9, 1.1)  # one week against the port's average week
VOLUME_METRICS: Final = ("TEU_DISCHARGED", "TEU_LOADED")


def terminal_shares(port: Port, seed: int) -> dict[str, float]:
    """Each terminal's share of its port's volume (they sum to 1)."""
    rng = random.Random(f"{seed}:{port.port_id}:volumes")
    weights = {t.facility_code: rng.uniform(0.6, 1.4) for t in port.terminals}
    total = sum(weights.values())
    return {code: weight / total for code, weight in weights.items()}


def weekly_volumes(
    port: Port, seed: int, week: Week, calls: Mapping[str, int]
) -> dict[tuple[str, str], WeekFigure]:
    """TEU discharged and loaded at each terminal in ``week``, spread over the ``calls`` (vessel
    calls worked there that week, by terminal code); a terminal without calls moved nothing."""
    shares = terminal_shares(port, seed)
    per_week = {
        "TEU_DISCHARGED": port.volumes.discharged_teu_per_week,
        "TEU_LOADED": port.volumes.loaded_teu_per_week,
    }
    figures: dict[tuple[str, str], WeekFigure] = {}
    for code, share in shares.items():
        rng = random.Random(f"{seed}:{port.port_id}:{code}:{week.start.date()}:volumes")
        worked = calls.get(code, 0)
        for metric in VOLUME_METRICS:
            if worked == 0:
                figures[metric, code] = WeekFigure(week.start, week.end, 0.0, 0, 0, 0.0)
                continue
            teu = round(per_week[metric] * share * rng.uniform(*WEEKLY_SPREAD))
            weights = [rng.uniform(0.6, 1.4) for _ in range(worked)]
            largest = round(teu * max(weights) / sum(weights))
            figures[metric, code] = WeekFigure(
                week.start, week.end, float(teu), round(teu / TEU_PER_CONTAINER), worked,
                float(largest),
            )  # fmt: skip
    return figures
