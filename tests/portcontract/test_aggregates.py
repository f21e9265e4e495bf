"""What an aggregate may disclose: the weekly sample floor, the vessel-call rule, the port's
remainder; and, as the oracle, an attacker who records every figure a port serves week after
week for every period and scope, and solves for whatever can be isolated."""

import random
from collections.abc import Callable, Sequence
from fractions import Fraction
from itertools import combinations

import pytest

from portcontract.aggregates import (
    DOMINANT_CALL,
    FEW_CALLS,
    PORT_REMAINDER,
    SMALL_SAMPLE,
    WeekTally,
    judge_period,
    metric_value,
    week_reason,
)

TEU, DWELL = "TEU_DISCHARGED", "CONTAINER_DWELL_DAYS"


# -- the rules, one at a time -----------------------------------------------------------------


def test_a_week_needs_ten_samples() -> None:
    assert week_reason(DWELL, WeekTally(total=30.0, samples=9)).code == SMALL_SAMPLE  # type: ignore[union-attr]
    assert week_reason(DWELL, WeekTally(total=30.0, samples=10)) is None
    assert week_reason("TRUCK_TURN_TIME_MINUTES", WeekTally(600.0, 2)).code == SMALL_SAMPLE  # type: ignore[union-attr]


def test_a_week_of_teu_needs_three_calls_none_over_half() -> None:
    assert week_reason(TEU, WeekTally(90.0, 60, calls=2, largest_call=45.0)).code == FEW_CALLS  # type: ignore[union-attr]
    assert week_reason(TEU, WeekTally(90.0, 60, calls=3, largest_call=46.0)).code == DOMINANT_CALL  # type: ignore[union-attr]
    assert week_reason(TEU, WeekTally(90.0, 60, calls=3, largest_call=45.0)) is None
    assert week_reason(TEU, WeekTally(90.0, 9, calls=5, largest_call=20.0)).code == SMALL_SAMPLE  # type: ignore[union-attr]


def test_an_empty_week_and_vessel_counts_pass() -> None:
    assert week_reason(TEU, WeekTally()) is None
    assert week_reason("VESSELS_AT_ANCHOR", WeekTally(2.0, 2)) is None


def test_values_are_sums_of_teu_and_means_of_the_rest() -> None:
    assert metric_value(TEU, WeekTally(1234.4, 800)) == 1234.0
    assert metric_value(DWELL, WeekTally(100.0, 30)) == 3.33
    assert metric_value("TRUCK_TURN_TIME_MINUTES", WeekTally(1000.0, 15)) == 66.7
    assert metric_value(DWELL, WeekTally()) is None


def test_the_port_is_withheld_when_it_would_give_away_a_terminal() -> None:
    big = [WeekTally(900.0, 600, calls=6, largest_call=200.0)]
    small = [WeekTally(300.0, 200, calls=1, largest_call=300.0)]
    verdicts = judge_period(TEU, {"A": big, "B": big, "C": small})
    assert verdicts.terminals["A"].reason is None
    assert verdicts.terminals["C"].reason.code == FEW_CALLS  # type: ignore[union-attr]
    assert verdicts.port is not None
    assert verdicts.port.reason.code == PORT_REMAINDER  # type: ignore[union-attr]
    two_small = judge_period(TEU, {"A": big, "C": small, "D": small * 1})
    assert two_small.port.reason.code == PORT_REMAINDER  # type: ignore[union-attr]
    three_small = judge_period(TEU, {"A": big, "C": small, "D": small, "E": small})
    assert three_small.port.reason is None  # C, D and E together: 3 calls, none over half
    assert three_small.port.tally.total == 1800.0


# -- the attacker -----------------------------------------------------------------------------

TERMINALS = ("A", "B", "C")
WEEKS = 22
PERIOD_LENGTHS = (1, 4, 13)  # LAST_7_DAYS, LAST_30_DAYS, LAST_90_DAYS, in weeks


def shareable(metric: str, total: float, samples: int, calls: int, largest: float) -> bool:
    """The rule, written here again: at least 10 samples, and for TEU at least 3 calls with
    none over half of the TEU; or nothing at all."""
    if samples == 0 and calls == 0 and total == 0:
        return True
    if samples < 10:
        return False
    return metric != TEU or (calls >= 3 and largest <= total / 2)


def random_weeks(rng: random.Random, metric: str) -> dict[str, list[WeekTally]]:
    weeks: dict[str, list[WeekTally]] = {}
    for terminal in TERMINALS:
        weeks[terminal] = []
        for _ in range(WEEKS):
            if metric == TEU:
                moved = [rng.randint(5, 120) for _ in range(rng.choice([0, 1, 2, 3, 4, 5, 6]))]
                weeks[terminal].append(
                    WeekTally(float(sum(moved)), sum(moved) * 2 // 3, len(moved),
                              float(max(moved, default=0)))
                )  # fmt: skip
            else:
                samples = rng.choice([0, 3, 8, 12, 20, 40])
                weeks[terminal].append(WeekTally(samples * rng.uniform(1, 6), samples))
    return weeks


Judge = Callable[[str, dict[str, list[WeekTally]]], tuple[dict[str, bool], bool]]


def kit_judge(metric: str, weeks: dict[str, list[WeekTally]]) -> tuple[dict[str, bool], bool]:
    verdicts = judge_period(metric, weeks)
    assert verdicts.port is not None
    shown = {t: v.reason is None for t, v in verdicts.terminals.items()}
    return shown, verdicts.port.reason is None


def period_totals_judge(
    metric: str, weeks: dict[str, list[WeekTally]]
) -> tuple[dict[str, bool], bool]:
    """The rule applied to each period's totals only: what a naive port would do."""

    def ok(tallies: Sequence[WeekTally]) -> bool:
        return shareable(
            metric,
            sum(t.total for t in tallies),
            sum(t.samples for t in tallies),
            sum(t.calls for t in tallies),
            max((t.largest_call for t in tallies), default=0.0),
        )

    return {t: ok(w) for t, w in weeks.items()}, ok([t for w in weeks.values() for t in w])


def served_equations(
    metric: str, cells: dict[str, list[WeekTally]], judge: Judge
) -> list[set[tuple[str, int]]]:
    """Every figure served, as the set of (terminal, week) cells it sums, polled at each week
    boundary for each period and scope."""
    served = []
    for end in range(max(PERIOD_LENGTHS), WEEKS + 1):
        for length in PERIOD_LENGTHS:
            span = range(end - length, end)
            shown, port_shown = judge(metric, {t: [cells[t][w] for w in span] for t in TERMINALS})
            served += [{(t, w) for w in span} for t in TERMINALS if shown[t]]
            if port_shown:
                served.append({(t, w) for t in TERMINALS for w in span})
    return served


class RowSpace:
    """What linear combinations of the served figures can give (exact arithmetic)."""

    def __init__(self, columns: list[tuple[str, int]], rows: list[set[tuple[str, int]]]):
        self.index = {c: i for i, c in enumerate(columns)}
        self.pivots: list[tuple[int, list[Fraction]]] = []
        for row in {frozenset(r) for r in rows}:  # the same figure served again adds nothing
            self._add([Fraction(int(c in row)) for c in columns])

    def _reduce(self, vector: list[Fraction]) -> list[Fraction]:
        vector = list(vector)
        for column, pivot in self.pivots:
            if vector[column]:
                factor = vector[column]
                vector = [a - factor * b for a, b in zip(vector, pivot, strict=True)]
        return vector

    def _add(self, vector: list[Fraction]) -> None:
        vector = self._reduce(vector)
        column = next((i for i, a in enumerate(vector) if a), None)
        if column is not None:
            pivot = [a / vector[column] for a in vector]
            self.pivots = [
                (c, [a - p[column] * b for a, b in zip(p, pivot, strict=True)])
                for c, p in self.pivots
            ]
            self.pivots.append((column, pivot))

    def isolates(self, cells: set[tuple[str, int]]) -> bool:
        vector = [Fraction(int(c in cells)) for c in self.index]
        return not any(self._reduce(vector))


def leaks(
    metric: str, cells: dict[str, list[WeekTally]], judge: Judge, *, first_only: bool = False
) -> list[str]:
    """Sets of cells the attacker can isolate whose figures may not be shared: within one
    week any set of terminals, and for one terminal or the port any run of weeks."""
    columns = [(t, w) for t in TERMINALS for w in range(WEEKS)]
    space = RowSpace(columns, served_equations(metric, cells, judge))
    candidates: list[set[tuple[str, int]]] = []
    for week in range(WEEKS):
        for size in range(1, len(TERMINALS) + 1):
            candidates += [{(t, week) for t in group} for group in combinations(TERMINALS, size)]
    for first in range(WEEKS):
        for last in range(first + 2, min(first + 14, WEEKS) + 1):
            for scope in [(t,) for t in TERMINALS] + [TERMINALS]:
                candidates.append({(t, w) for t in scope for w in range(first, last)})
    found = []
    for candidate in candidates:
        tallies = [cells[t][w] for t, w in candidate]
        allowed = shareable(
            metric,
            sum(t.total for t in tallies),
            sum(t.samples for t in tallies),
            sum(t.calls for t in tallies),
            max((t.largest_call for t in tallies), default=0.0),
        )
        if not allowed and space.isolates(candidate):
            found.append(str(sorted(candidate)))
            if first_only:
                break
    return found


@pytest.mark.parametrize("metric", [TEU, DWELL])
@pytest.mark.parametrize("seed", range(4))
def test_an_attacker_polling_every_week_isolates_nothing_that_may_not_be_shared(
    metric: str, seed: int
) -> None:
    cells = random_weeks(random.Random(f"{metric}:{seed}"), metric)
    served = served_equations(metric, cells, kit_judge)
    assert served, "some figures are served: the check is not vacuous"
    assert leaks(metric, cells, kit_judge) == []


@pytest.mark.parametrize("metric", [TEU, DWELL])
def test_the_attacker_does_find_what_period_totals_alone_would_give_away(metric: str) -> None:
    """The oracle has teeth: judging only each period's totals, as ports did, leaks."""
    cells = random_weeks(random.Random(f"{metric}:0"), metric)
    assert leaks(metric, cells, period_totals_judge, first_only=True)
