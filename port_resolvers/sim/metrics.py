"""Port- and terminal-level aggregates of a simulated port, as its statistics store keeps them.

Figures are kept per terminal and per whole local week (Monday 00:00 to Monday 00:00 in the
port's time zone: :mod:`portcontract.periods`) and served for the weeks a ``MetricPeriod``
covers as of some moment: the last closed ones, never a period that ends "now". Each weekly
TEU figure carries its vessel calls (how many, and the TEU of the largest), which the resolver
kit needs to apply the vessel-call rule. A port's figure is its terminals' summed.

Weeks that began within the last :data:`LIVE_HISTORY` (14 days) are computed from the
generated boxes and truck visits; older weeks come from a seeded archive per terminal and week,
drawn around the last closed week's figures with vessel calls of their own, the way a port's
statistics store keeps history beyond what its operational systems still show. TEU, in every
week, are the port's own volumes (:mod:`port_resolvers.sim.volumes`), spread over the vessel
calls each terminal worked. Snapshot metrics (vessels at anchor or at berth) count the vessel
calls as of ``now``: their period is that instant.

The figures are what the port knows; what may be disclosed is the kit's to decide.
"""

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from port_resolvers.sim.model import (
    Container,
    Port,
    PortMetric,
    TruckVisit,
    VesselCall,
    WeekFigure,
)
from port_resolvers.sim.volumes import weekly_volumes
from portcontract.aggregates import METRIC_UNITS, THROUGHPUT_METRICS, WeekTally, metric_value
from portcontract.periods import PERIOD_WEEKS, Week, closed_weeks

LIVE_HISTORY = timedelta(days=14)
METRIC_PERIODS = tuple(PERIOD_WEEKS)
WEEKLY_METRICS = ("CONTAINER_DWELL_DAYS", "TRUCK_TURN_TIME_MINUTES", "TEU_DISCHARGED", "TEU_LOADED")
_MOVES = {"DISC": "TEU_DISCHARGED", "LOAD": "TEU_LOADED"}
_DAY = timedelta(days=1)
_UNKNOWN_CALL = "?"


@dataclass(slots=True)
class _Week:
    """A terminal's running sums for one metric and week."""

    total: float = 0.0
    samples: int = 0
    by_call: dict[str, float] = field(default_factory=dict)

    def figure(self, week: Week, metric: str) -> WeekFigure:
        if metric not in THROUGHPUT_METRICS:
            return WeekFigure(week.start, week.end, self.total, self.samples)
        largest = max(self.by_call.values(), default=0.0)
        calls = len(self.by_call)
        return WeekFigure(week.start, week.end, self.total, self.samples, calls, largest)


Figures = dict[tuple[str, str], WeekFigure]  # (metric, facility code) -> one week's figure


def _live_week(
    containers: Iterable[Container], visits: Iterable[TruckVisit], week: Week, codes: Sequence[str]
) -> Figures:
    sums: dict[tuple[str, str], _Week] = defaultdict(_Week)
    for box in containers:
        discharged = None
        for event in box.actual_events:
            in_week = week.start <= event.event_datetime < week.end
            if event.type_code == "DISC":
                discharged = event.event_datetime
            if event.type_code in _MOVES and in_week:
                tally = sums[_MOVES[event.type_code], event.facility_code]
                tally.total += box.teu
                tally.samples += 1
                call = event.call.reference if event.call is not None else _UNKNOWN_CALL
                tally.by_call[call] = tally.by_call.get(call, 0.0) + box.teu
            elif event.type_code == "GTOT" and in_week and discharged is not None:
                tally = sums["CONTAINER_DWELL_DAYS", event.facility_code]
                tally.total += (event.event_datetime - discharged) / _DAY
                tally.samples += 1
    for visit in visits:
        if week.start <= visit.gate_out < week.end:
            tally = sums["TRUCK_TURN_TIME_MINUTES", visit.facility_code]
            tally.total += (visit.gate_out - visit.gate_in) / timedelta(minutes=1)
            tally.samples += 1
    return {
        (metric, code): sums[metric, code].figure(week, metric)
        for metric in WEEKLY_METRICS
        for code in codes
    }


def _archive_week(
    port: Port, seed: int, week: Week, reference: Figures, calls_per_week: Mapping[str, int]
) -> Figures:
    """One archived week of every terminal, drawn around the reference (live) week."""
    figures: Figures = {}
    for terminal in port.terminals:
        code = terminal.facility_code
        rng = random.Random(f"{seed}:{port.port_id}:{code}:{week.start.date()}:archive")
        for metric in WEEKLY_METRICS:
            live = reference[metric, code]
            if metric in THROUGHPUT_METRICS:
                calls = live.calls or calls_per_week.get(code, 0)
                per_call = live.total / live.calls if live.calls else 0.0
                per_box = live.total / live.sample_size if live.sample_size else 1.5
                moved = [round(per_call * rng.uniform(0.6, 1.4)) for _ in range(calls)]
                total = float(sum(moved))
                boxes = round(total / per_box)
                figures[metric, code] = WeekFigure(
                    week.start, week.end, total, boxes, calls, float(max(moved, default=0))
                )
            else:
                mean = live.total / live.sample_size if live.sample_size else 0.0
                samples = round(live.sample_size * rng.uniform(0.7, 1.3))
                total = samples * mean * rng.uniform(0.85, 1.15)
                figures[metric, code] = WeekFigure(week.start, week.end, total, samples)
    return figures


def _port_week(figures: Iterable[WeekFigure], week: Week, metric: str) -> WeekFigure:
    """The port's week: its terminals' summed (a vessel call is at one terminal only)."""
    parts = list(figures)
    total = sum(f.total for f in parts)
    samples = sum(f.sample_size for f in parts)
    if metric not in THROUGHPUT_METRICS:
        return WeekFigure(week.start, week.end, total, samples)
    calls = sum(f.calls or 0 for f in parts)
    largest = max((f.largest_call_teu or 0.0 for f in parts), default=0.0)
    return WeekFigure(week.start, week.end, total, samples, calls, largest)


def _value(metric: str, weeks: Sequence[WeekFigure]) -> tuple[float | None, int]:
    tally = WeekTally(sum(w.total for w in weeks), sum(w.sample_size for w in weeks))
    return metric_value(metric, tally), tally.samples


def compute_metrics(
    port: Port,
    seed: int,
    now: datetime,
    calls: Iterable[VesselCall],
    containers: Iterable[Container],
    visits: Iterable[TruckVisit],
    *,
    as_of: datetime | None = None,
) -> tuple[PortMetric, ...]:
    """Every metric for every period, for the port (facility None) and each terminal, over the
    weeks each period covers as of ``as_of`` (by default ``now``, the data's own moment)."""
    containers, visits, calls = tuple(containers), tuple(visits), tuple(calls)
    zone = ZoneInfo(port.time_zone)
    codes = [t.facility_code for t in port.terminals]
    reference_week = closed_weeks("LAST_7_DAYS", now, zone)[0]
    reference = _live_week(containers, visits, reference_week, codes)
    recent = [c for c in calls if now - LIVE_HISTORY <= c.berth_arrival < now]
    calls_per_week = {
        code: round(sum(1 for c in recent if c.facility_code == code) * 7 / LIVE_HISTORY.days)
        for code in codes
    }
    cache: dict[Week, Figures] = {}

    def figures_of(week: Week) -> Figures:
        if week not in cache:
            if week.start >= now - LIVE_HISTORY:
                figures = _live_week(containers, visits, week, codes)
                worked = {
                    code: sum(
                        1
                        for c in calls
                        if c.facility_code == code and week.start <= c.berth_arrival < week.end
                    )
                    for code in codes
                }
            else:
                figures = _archive_week(port, seed, week, reference, calls_per_week)
                worked = calls_per_week
            # TEU are the port's own volumes, spread over the calls worked (sim.volumes).
            cache[week] = figures | weekly_volumes(port, seed, week, worked)
        return cache[week]

    at = as_of or now
    metrics: list[PortMetric] = []
    for period in METRIC_PERIODS:
        weeks = closed_weeks(period, at, zone)
        start, end = weeks[0].start, weeks[-1].end
        for metric in WEEKLY_METRICS:
            per_terminal = {c: tuple(figures_of(w)[metric, c] for w in weeks) for c in codes}
            port_weeks = tuple(
                _port_week((per_terminal[code][i] for code in codes), week, metric)
                for i, week in enumerate(weeks)
            )
            scopes: list[tuple[str | None, tuple[WeekFigure, ...]]] = [(None, port_weeks)]
            scopes += list(per_terminal.items())
            for facility_code, figures in scopes:
                value, sample = _value(metric, figures)
                metrics.append(
                    PortMetric(
                        metric, period, facility_code, value, METRIC_UNITS[metric],
                        start, end, sample, figures,
                    )
                )  # fmt: skip
        for metric, phase in (("VESSELS_AT_ANCHOR", "AT_ANCHOR"), ("VESSELS_AT_BERTH", "AT_BERTH")):
            for facility_code in (None, *codes):
                count = sum(
                    c.phase == phase and facility_code in (None, c.facility_code) for c in calls
                )
                metrics.append(
                    PortMetric(
                        metric, period, facility_code, float(count), METRIC_UNITS[metric],
                        now, now, count,
                    )
                )  # fmt: skip
    return tuple(metrics)
