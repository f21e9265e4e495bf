"""Port- and terminal-level aggregates, computed from the generated data.

The generated boxes and truck visits cover the last :data:`LIVE_HISTORY` (14 days) in full;
that part of every period is computed from them. Older days come from a seeded daily archive
per terminal, drawn around the live daily rates, the way a port's statistics store keeps
history beyond what its operational systems still show. Snapshot metrics (vessels at anchor or
at berth) count the vessel calls as of ``now``: their period is the instant ``now``.
"""

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from port_resolvers.sim.model import Container, Port, PortMetric, TruckVisit, VesselCall

LIVE_HISTORY = timedelta(days=14)
METRIC_PERIODS = {"LAST_7_DAYS": 7, "LAST_30_DAYS": 30, "LAST_90_DAYS": 90}
METRIC_UNITS = {
    "CONTAINER_DWELL_DAYS": "days",
    "TRUCK_TURN_TIME_MINUTES": "minutes",
    "VESSELS_AT_ANCHOR": "vessels",
    "VESSELS_AT_BERTH": "vessels",
    "TEU_DISCHARGED": "TEU",
    "TEU_LOADED": "TEU",
}
_DAY = timedelta(days=1)


@dataclass(slots=True)
class _Tally:
    """Sums of one terminal over some span: TEU moved, dwell days and truck turn minutes."""

    teu_discharged: int = 0
    teu_loaded: int = 0
    discharges: int = 0
    loads: int = 0
    dwell_days: float = 0.0
    dwell_count: int = 0
    turn_minutes: float = 0.0
    turn_count: int = 0

    def add(self, other: "_Tally") -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _live_tally(
    containers: Iterable[Container], visits: Iterable[TruckVisit], start: datetime, end: datetime
) -> dict[str, _Tally]:
    tallies: dict[str, _Tally] = {}
    for box in containers:
        discharged = None
        for event in box.actual_events:
            tally = tallies.setdefault(event.facility_code, _Tally())
            in_span = start <= event.event_datetime < end
            if event.type_code == "DISC":
                discharged = event.event_datetime
                if in_span:
                    tally.teu_discharged += box.teu
                    tally.discharges += 1
            elif event.type_code == "LOAD" and in_span:
                tally.teu_loaded += box.teu
                tally.loads += 1
            elif event.type_code == "GTOT" and in_span and discharged is not None:
                tally.dwell_days += (event.event_datetime - discharged) / _DAY
                tally.dwell_count += 1
    for visit in visits:
        if start <= visit.gate_out < end:
            tally = tallies.setdefault(visit.facility_code, _Tally())
            tally.turn_minutes += (visit.gate_out - visit.gate_in) / timedelta(minutes=1)
            tally.turn_count += 1
    return tallies


def _archive_day(rng: random.Random, live: _Tally, live_days: float) -> _Tally:
    """One archived day of a terminal, drawn around its live daily rates."""

    def around(total: float) -> int:
        return round(total / live_days * rng.uniform(0.7, 1.3))

    dwell_mean = live.dwell_days / live.dwell_count if live.dwell_count else 0.0
    turn_mean = live.turn_minutes / live.turn_count if live.turn_count else 0.0
    day = _Tally(discharges=around(live.discharges), loads=around(live.loads))
    day.teu_discharged = round(day.discharges * live.teu_discharged / max(live.discharges, 1))
    day.teu_loaded = round(day.loads * live.teu_loaded / max(live.loads, 1))
    day.dwell_count = around(live.dwell_count)
    day.dwell_days = day.dwell_count * dwell_mean * rng.uniform(0.85, 1.15)
    day.turn_count = around(live.turn_count)
    day.turn_minutes = day.turn_count * turn_mean * rng.uniform(0.85, 1.15)
    return day


def _values(tally: _Tally) -> dict[str, tuple[float | None, int]]:
    dwell = round(tally.dwell_days / tally.dwell_count, 2) if tally.dwell_count else None
    turn = round(tally.turn_minutes / tally.turn_count, 1) if tally.turn_count else None
    return {
        "CONTAINER_DWELL_DAYS": (dwell, tally.dwell_count),
        "TRUCK_TURN_TIME_MINUTES": (turn, tally.turn_count),
        "TEU_DISCHARGED": (float(tally.teu_discharged), tally.discharges),
        "TEU_LOADED": (float(tally.teu_loaded), tally.loads),
    }


def compute_metrics(
    port: Port,
    seed: int,
    now: datetime,
    calls: Iterable[VesselCall],
    containers: Iterable[Container],
    visits: Iterable[TruckVisit],
) -> tuple[PortMetric, ...]:
    """Every metric for every period, for the port (facility None) and each terminal."""
    containers, visits, calls = tuple(containers), tuple(visits), tuple(calls)
    cut = now - LIVE_HISTORY
    live = _live_tally(containers, visits, cut, now)
    rng = random.Random(f"{seed}:{port.port_id}:archive")
    archive_days = max(METRIC_PERIODS.values()) - LIVE_HISTORY.days
    codes = [t.facility_code for t in port.terminals]
    archive = [
        {code: _archive_day(rng, live.get(code, _Tally()), LIVE_HISTORY.days) for code in codes}
        for _ in range(archive_days)
    ]
    metrics: list[PortMetric] = []
    for period, days in METRIC_PERIODS.items():
        start = now - timedelta(days=days)
        if start >= cut:
            per_terminal = _live_tally(containers, visits, start, now)
        else:
            per_terminal = {code: _Tally() for code in codes}
            for code in codes:
                per_terminal[code].add(live.get(code, _Tally()))
                for day in archive[: (cut - start).days]:
                    per_terminal[code].add(day[code])
        whole_port = _Tally()
        for code in codes:
            whole_port.add(per_terminal.get(code, _Tally()))
        scopes: list[tuple[str | None, _Tally]] = [(None, whole_port)]
        scopes += [(code, per_terminal.get(code, _Tally())) for code in codes]
        for facility_code, tally in scopes:
            for metric, (value, sample) in _values(tally).items():
                metrics.append(
                    PortMetric(
                        metric,
                        period,
                        facility_code,
                        value,
                        METRIC_UNITS[metric],
                        start,
                        now,
                        sample,
                    )
                )
            for metric, phase in (
                ("VESSELS_AT_ANCHOR", "AT_ANCHOR"),
                ("VESSELS_AT_BERTH", "AT_BERTH"),
            ):
                count = sum(
                    1
                    for c in calls
                    if c.phase == phase and facility_code in (None, c.facility_code)
                )
                metrics.append(
                    PortMetric(
                        metric,
                        period,
                        facility_code,
                        float(count),
                        METRIC_UNITS[metric],
                        now,
                        now,
                        count,
                    )
                )
    return tuple(metrics)
