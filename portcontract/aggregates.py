"""The shared aggregates and what each may disclose: the sample floor and the vessel-call rule.

California Government Code 12100.131(b)(3) forbids the Partnership's system to track or
monitor labor, productivity metrics included. A figure over a handful of trucks, boxes or
vessel calls is such a metric in disguise: a mean over two truck visits is two drivers' turn
times, and a terminal's TEU over a week with one vessel call is that call's moves, which with
its public berth times gives moves per berth-hour. So every aggregate over containers, trucks
or moves (:data:`SAMPLED_METRICS`) follows these rules, which the resolver kit applies to every
answer and the gateway's policy can only make stricter:

1. **Weeks.** It is computed from weekly figures, whole local weeks that have ended
   (:mod:`portcontract.periods`), and every week of its period must pass the rules below on
   its own. Periods change by whole weeks, so whatever two answers differ by is whole weeks
   that each passed.
2. **Sample floor.** Each week counts at least :data:`HARD_MIN_SAMPLE_SIZE` samples
   (containers moved or gated out, truck visits). No configuration can lower it; a role's
   ``min_sample_size`` may only raise it.
3. **Vessel calls.** Throughput (:data:`THROUGHPUT_METRICS`) needs, in each week, at least
   :data:`MIN_CALLS` vessel calls whose moves are counted, and no call may account for more
   than :data:`MAX_CALL_SHARE` of the week's TEU: no single call can be isolated, however its
   berth times are known.
4. **The whole port.** A port's figure is its terminals' figures summed. In each week, the
   terminals withheld that week, taken together, must pass the rules too (or have done
   nothing): otherwise the port's figure minus the terminals shown would give them away.

An empty week (nothing counted) passes: zero reveals no rate. Counts of vessels at anchor or at
berth (:data:`PUBLIC_COUNT_METRICS`) are public facts, anyone sees the ships, and have no floor.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

HARD_MIN_SAMPLE_SIZE: Final = 10
"""The least number of samples in any week of an aggregate over containers, trucks or moves."""

MIN_CALLS: Final = 3
"""The least number of vessel calls in any week of a throughput figure."""

MAX_CALL_SHARE: Final = 0.5
"""The largest share of a week's TEU one vessel call may account for."""

SAMPLED_METRICS: Final = frozenset(
    {"CONTAINER_DWELL_DAYS", "TRUCK_TURN_TIME_MINUTES", "TEU_DISCHARGED", "TEU_LOADED"}
)
"""Aggregates over containers, trucks or moves: the rules of this module apply to them."""

THROUGHPUT_METRICS: Final = frozenset({"TEU_DISCHARGED", "TEU_LOADED"})
"""Sums of TEU moved across the quay: the vessel-call rule applies to them too."""

PUBLIC_COUNT_METRICS: Final = frozenset({"VESSELS_AT_ANCHOR", "VESSELS_AT_BERTH"})
"""Counts of vessels, public facts: no floor."""

METRIC_UNITS: Final[Mapping[str, str]] = MappingProxyType({
    "CONTAINER_DWELL_DAYS": "days",
    "TRUCK_TURN_TIME_MINUTES": "minutes",
    "VESSELS_AT_ANCHOR": "vessels",
    "VESSELS_AT_BERTH": "vessels",
    "TEU_DISCHARGED": "TEU",
    "TEU_LOADED": "TEU",
})  # fmt: skip
"""The unit of each metric: the kit serves these, whatever a source says."""

_DECIMALS: Final[Mapping[str, int]] = MappingProxyType(
    {"CONTAINER_DWELL_DAYS": 2, "TRUCK_TURN_TIME_MINUTES": 1}
)
_SAMPLES: Final[Mapping[str, str]] = MappingProxyType({
    "CONTAINER_DWELL_DAYS": "containers gated out",
    "TRUCK_TURN_TIME_MINUTES": "truck visits",
    "TEU_DISCHARGED": "containers discharged",
    "TEU_LOADED": "containers loaded",
})  # fmt: skip

# Why a figure is withheld: stable codes.
SMALL_SAMPLE: Final = "SMALL_SAMPLE"
FEW_CALLS: Final = "FEW_CALLS"
DOMINANT_CALL: Final = "DOMINANT_CALL"
PORT_REMAINDER: Final = "PORT_REMAINDER"


def hard_floor(metric: str) -> int:
    """The least sample size any role may see ``metric`` with (0: no floor)."""
    return HARD_MIN_SAMPLE_SIZE if metric in SAMPLED_METRICS else 0


@dataclass(frozen=True, slots=True)
class WeekTally:
    """One scope's (a terminal's, or the port's) figures for one metric over one week."""

    total: float = 0.0  # what the metric adds up: TEU, days of dwell, minutes of turn time
    samples: int = 0  # containers moved or gated out, truck visits
    calls: int = 0  # throughput: vessel calls whose moves are counted
    largest_call: float = 0.0  # throughput: TEU of the call that counted most

    def __add__(self, other: "WeekTally") -> "WeekTally":
        """Two disjoint scopes together (a vessel call is at one terminal only)."""
        return WeekTally(
            self.total + other.total,
            self.samples + other.samples,
            self.calls + other.calls,
            max(self.largest_call, other.largest_call),
        )

    @property
    def empty(self) -> bool:
        return self.samples == 0 and self.calls == 0 and self.total == 0


def total_of(tallies: Iterable[WeekTally]) -> WeekTally:
    """Several weeks or scopes summed (``largest_call`` of a sum over weeks is not used)."""
    parts = list(tallies)
    return WeekTally(
        sum(t.total for t in parts),
        sum(t.samples for t in parts),
        sum(t.calls for t in parts),
        max((t.largest_call for t in parts), default=0.0),
    )


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a figure is withheld: a stable ``code`` and a sentence for people."""

    code: str
    message: str


def week_reason(metric: str, week: WeekTally) -> Reason | None:
    """Why one week of ``metric`` cannot be shared on its own, or None when it can."""
    if metric not in SAMPLED_METRICS or week.empty:
        return None
    if week.samples < HARD_MIN_SAMPLE_SIZE:
        return Reason(
            SMALL_SAMPLE,
            f"fewer than {HARD_MIN_SAMPLE_SIZE} {_SAMPLES[metric]} in a week",
        )
    if metric in THROUGHPUT_METRICS:
        if week.calls < MIN_CALLS:
            return Reason(FEW_CALLS, f"fewer than {MIN_CALLS} vessel calls in a week")
        if week.largest_call > MAX_CALL_SHARE * week.total:
            return Reason(
                DOMINANT_CALL,
                f"one vessel call made more than {MAX_CALL_SHARE:.0%} of a week's TEU",
            )
    return None


def metric_value(metric: str, tally: WeekTally) -> float | None:
    """The figure a tally gives: a sum of TEU, or a mean (None over no samples)."""
    if metric in _DECIMALS:
        return round(tally.total / tally.samples, _DECIMALS[metric]) if tally.samples else None
    return float(round(tally.total))


@dataclass(frozen=True, slots=True)
class Verdict:
    """A scope's figure over a whole period, and why it is withheld (None: it may be shared)."""

    tally: WeekTally
    reason: Reason | None = None


@dataclass(frozen=True, slots=True)
class PeriodVerdicts:
    """:func:`judge_period`'s answer: per terminal, and for the port as a whole."""

    terminals: dict[str, Verdict] = field(default_factory=dict)
    port: Verdict | None = None


def judge_period(
    metric: str,
    terminals: Mapping[str, Sequence[WeekTally]],
    port: Sequence[WeekTally] | None = None,
) -> PeriodVerdicts:
    """Apply the rules to one metric over one period, given each scope's weekly tallies (the
    same weeks, in the same order, for every scope).

    ``port`` is used only when no terminal is given; otherwise the port's weeks are the
    terminals' weeks summed, and each week's withheld terminals must pass together.
    """
    verdicts: dict[str, Verdict] = {}
    withheld_by_week: list[WeekTally] = []
    for facility, weeks in terminals.items():
        first_reason = None
        for index, week in enumerate(weeks):
            reason = week_reason(metric, week)
            while len(withheld_by_week) <= index:
                withheld_by_week.append(WeekTally())
            if reason is not None:
                withheld_by_week[index] = withheld_by_week[index] + week
                first_reason = first_reason or reason
        verdicts[facility] = Verdict(total_of(weeks), first_reason)
    if terminals:
        columns = zip(*terminals.values(), strict=True)
        port_weeks: Sequence[WeekTally] = [total_of(column) for column in columns]
    elif port is not None:
        port_weeks = port
    else:
        return PeriodVerdicts(verdicts, None)
    port_reason = None
    for index, week in enumerate(port_weeks):
        port_reason = week_reason(metric, week)
        if port_reason is None and index < len(withheld_by_week):
            remainder = week_reason(metric, withheld_by_week[index])
            if remainder is not None:
                port_reason = Reason(
                    PORT_REMAINDER,
                    "the port's figure minus the terminals shown would give away the others "
                    f"({remainder.message})",
                )
        if port_reason is not None:
            break
    return PeriodVerdicts(verdicts, Verdict(total_of(port_weeks), port_reason))
