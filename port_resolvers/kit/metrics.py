"""What a port's ``portMetrics`` answer may disclose, decided by the kit whatever the source says.

For every aggregate over containers, trucks or moves (:data:`~portcontract.aggregates.
SAMPLED_METRICS`) the kit

- checks the period: the record's ``weeks`` must be the whole local weeks the asked
  ``MetricPeriod`` covers (:mod:`portcontract.periods`), consecutive and ended by now, and the
  same weeks for every terminal;
- computes ``value``, ``sampleSize``, ``periodStart`` and ``periodEnd`` from those weekly
  figures (a source's own are not used), and the port's figure from its terminals' when the
  source gives both;
- applies the disclosure rules (:mod:`portcontract.aggregates`): a figure is shared only when
  every week of it passes them, so no port resolver built on the kit answers below the sample
  floor or isolates a vessel call, whatever the gateway's policy says;
- withholds the rest: ``value`` null, ``sampleSize`` 0 (a sample size can itself be a move
  count), and a :class:`WithheldMetric` saying why, which the answer reports.

Counts of vessels are passed on as given. Every unit is the contract's
(:data:`~portcontract.aggregates.METRIC_UNITS`), so no source can call a figure "moves/hr".
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any, Final
from zoneinfo import ZoneInfo

from port_resolvers.kit.derive import Record
from portcontract.aggregates import (
    METRIC_UNITS,
    SAMPLED_METRICS,
    THROUGHPUT_METRICS,
    Reason,
    Verdict,
    WeekTally,
    judge_period,
    metric_value,
)
from portcontract.periods import PERIOD_WEEKS, Week, is_closed, is_whole_week

# Why the kit could not even judge a figure: stable codes beside portcontract.aggregates'.
NO_WEEKLY_FIGURES: Final = "NO_WEEKLY_FIGURES"
PERIOD_NOT_CLOSED: Final = "PERIOD_NOT_CLOSED"


@dataclass(frozen=True, slots=True)
class WithheldMetric:
    """One figure the kit withheld, and why."""

    metric: str
    facility_code: str | None
    reason: Reason


class _Unusable(Exception):
    def __init__(self, reason: Reason) -> None:
        self.reason = reason


def _weeks(record: Record, metric: str, period: str, now: datetime, zone: ZoneInfo) -> list[Any]:
    """The record's weekly figures, checked against the period; raises _Unusable."""
    weeks = record.get("weeks")
    if not isinstance(weeks, list) or not weeks:
        raise _Unusable(Reason(NO_WEEKLY_FIGURES, "the port gave no weekly figures"))
    wanted = PERIOD_WEEKS[period]
    try:
        spans = [Week(w["periodStart"], w["periodEnd"]) for w in weeks]
        whole = all(is_whole_week(s.start, s.end, zone) for s in spans)
        consecutive = all(a.end == b.start for a, b in pairwise(spans))
        closed = is_closed(spans[-1].end, now)
    except (KeyError, TypeError, AttributeError):
        whole = consecutive = closed = False
    if len(weeks) != wanted or not (whole and consecutive and closed):
        raise _Unusable(
            Reason(
                PERIOD_NOT_CLOSED,
                f"the port's figures do not cover {wanted} whole local week(s) that have ended",
            )
        )
    counted = all("calls" in w and "largestCallTEU" in w for w in weeks)
    if metric in THROUGHPUT_METRICS and not counted:
        raise _Unusable(
            Reason(NO_WEEKLY_FIGURES, "the port gave no vessel-call counts for its TEU")
        )
    return weeks


def _tally(week: Any) -> WeekTally:
    try:
        return WeekTally(
            total=float(week["total"]),
            samples=int(week["sampleSize"]),
            calls=int(week.get("calls", 0)),
            largest_call=float(week.get("largestCallTEU", 0.0)),
        )
    except (KeyError, TypeError, ValueError):
        raise _Unusable(
            Reason(NO_WEEKLY_FIGURES, "the port's weekly figures are malformed")
        ) from None


def _figure(metric: str, port_id: str, facility: str | None, start: Any, end: Any) -> Record:
    return {
        "UNLocationCode": port_id,
        "facilitySMDGCode": facility,
        "metric": metric,
        "unit": METRIC_UNITS[metric],
        "periodStart": start,
        "periodEnd": end,
    }


def _one_metric(
    metric: str,
    records: list[Record],
    *,
    port_id: str,
    period: str,
    now: datetime,
    zone: ZoneInfo,
) -> tuple[dict[int, Record], list[WithheldMetric]]:
    """The figures of one sampled metric, by the ``id`` of the source record each replaces:
    the port's (the first port-level record; its figure is its terminals' summed when there
    are any) and its terminals'."""
    terminals = [r for r in records if r.get("facilitySMDGCode") is not None]
    port_rows = [r for r in records if r.get("facilitySMDGCode") is None][:1]
    try:
        checked = [(r, _weeks(r, metric, period, now, zone)) for r in terminals or port_rows]
        spans = [Week(w["periodStart"], w["periodEnd"]) for w in checked[0][1]]
        if any([Week(w["periodStart"], w["periodEnd"]) for w in ws] != spans for _, ws in checked):
            raise _Unusable(Reason(PERIOD_NOT_CLOSED, "the port's terminals cover different weeks"))
        tallies = [(r, [_tally(w) for w in ws]) for r, ws in checked]
    except _Unusable as unusable:
        rows = port_rows + terminals
        unjudged = {
            id(r): _figure(
                metric, port_id, r.get("facilitySMDGCode"), r["periodStart"], r["periodEnd"]
            )
            | {"value": None, "sampleSize": 0}
            for r in rows
        }
        return unjudged, [
            WithheldMetric(metric, r.get("facilitySMDGCode"), unusable.reason) for r in rows
        ]
    if terminals:
        verdicts = judge_period(metric, {str(r["facilitySMDGCode"]): t for r, t in tallies})
    else:
        verdicts = judge_period(metric, {}, tallies[0][1])
    scoped: list[tuple[Record, Verdict | None]] = [(r, verdicts.port) for r in port_rows]
    scoped += [(r, verdicts.terminals[str(r["facilitySMDGCode"])]) for r, _ in tallies if terminals]
    figures: dict[int, Record] = {}
    withheld: list[WithheldMetric] = []
    for record, verdict in scoped:
        assert verdict is not None
        facility = record.get("facilitySMDGCode")
        figure = _figure(metric, port_id, facility, spans[0].start, spans[-1].end)
        if verdict.reason is None:
            figure |= {
                "value": metric_value(metric, verdict.tally),
                "sampleSize": verdict.tally.samples,
            }
        else:
            figure |= {"value": None, "sampleSize": 0}
            withheld.append(WithheldMetric(metric, facility, verdict.reason))
        figures[id(record)] = figure
    return figures, withheld


def disclosed_metrics(
    records: Sequence[Record], *, port_id: str, period: str, now: datetime, zone: ZoneInfo
) -> tuple[list[Record], list[WithheldMetric]]:
    """The figures a port may serve for ``period``, in the source's order, and those withheld
    (see the module)."""
    figures: dict[int, Record] = {}
    withheld: list[WithheldMetric] = []
    by_metric: dict[str, list[Record]] = {}
    for record in records:
        metric = record.get("metric")
        if isinstance(metric, str) and metric in SAMPLED_METRICS:
            by_metric.setdefault(metric, []).append(record)
        else:
            unit = METRIC_UNITS.get(metric) if isinstance(metric, str) else None
            figures[id(record)] = {**record, "unit": unit or record.get("unit")}
    for metric, group in by_metric.items():
        judged, not_shared = _one_metric(
            metric, group, port_id=port_id, period=period, now=now, zone=zone
        )
        figures |= judged
        withheld += not_shared
    return [figures[id(r)] for r in records if id(r) in figures], withheld
