"""Metric periods: whole local weeks ending at the last Monday 00:00 that has passed. Polled at
any moment of a year, no period ends "now", every answer within a week is the same, and no two
periods ever served differ by less than a whole week."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from portcontract.periods import (
    PERIOD_WEEKS,
    Week,
    closed_weeks,
    is_closed,
    is_whole_week,
    last_closed_boundary,
    week_of,
)

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
PERIODS = ("LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LOS_ANGELES)  # type: ignore[misc]


def test_the_last_week_ends_at_the_last_monday_midnight_in_the_ports_zone() -> None:
    friday = local(2026, 11, 20, 16, 0)
    [week] = closed_weeks("LAST_7_DAYS", friday, LOS_ANGELES)
    assert week == Week(local(2026, 11, 9), local(2026, 11, 16))
    assert week.end.utcoffset() == timedelta(0)  # boundaries come back in UTC
    # Monday 00:00 itself closes the week before; one second earlier it has not closed.
    monday = local(2026, 11, 16)
    assert closed_weeks("LAST_7_DAYS", monday, LOS_ANGELES)[0].end == monday
    before = monday - timedelta(seconds=1)
    assert closed_weeks("LAST_7_DAYS", before, LOS_ANGELES)[0].end == local(2026, 11, 9)


@pytest.mark.parametrize(("period", "days"), [("LAST_7_DAYS", 7), ("LAST_30_DAYS", 28),
                                              ("LAST_90_DAYS", 91)])  # fmt: skip
def test_each_period_is_whole_consecutive_weeks(period: str, days: int) -> None:
    weeks = closed_weeks(period, local(2026, 11, 20, 9, 0), LOS_ANGELES)
    assert len(weeks) == PERIOD_WEEKS[period] == days // 7
    assert [w.start for w in weeks[1:]] == [w.end for w in weeks[:-1]]
    assert (weeks[-1].end.astimezone(LOS_ANGELES).date() - weeks[0].start.date()).days == days


def test_a_week_across_a_daylight_saving_change_is_seven_local_days() -> None:
    spring = Week(local(2026, 3, 2), local(2026, 3, 9))  # clocks go forward on 8 March
    autumn = Week(local(2026, 10, 26), local(2026, 11, 2))  # and back on 1 November
    assert spring.end.astimezone(UTC) - spring.start.astimezone(UTC) == timedelta(hours=167)
    assert autumn.end.astimezone(UTC) - autumn.start.astimezone(UTC) == timedelta(hours=169)
    assert is_whole_week(spring.start, spring.end, LOS_ANGELES)
    assert is_whole_week(autumn.start, autumn.end, LOS_ANGELES)
    seven_times_24_hours = spring.start.astimezone(UTC) + timedelta(days=7)
    assert not is_whole_week(spring.start, seven_times_24_hours, LOS_ANGELES)
    assert week_of(local(2026, 3, 8, 12), LOS_ANGELES) == spring


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (local(2026, 11, 10), local(2026, 11, 17)),  # Tuesday to Tuesday
        (local(2026, 11, 9), local(2026, 11, 15)),  # six days
        (local(2026, 11, 9), local(2026, 11, 23)),  # two weeks
        (local(2026, 11, 9, 1), local(2026, 11, 16, 1)),  # not at midnight
        (datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC)),  # UTC weeks
        (datetime(2026, 11, 9), datetime(2026, 11, 16)),  # no time zone at all
    ],
)
def test_anything_else_is_not_a_whole_week(start: datetime, end: datetime) -> None:
    assert not is_whole_week(start, end, LOS_ANGELES)


def test_a_period_has_ended_only_once_its_end_has_passed() -> None:
    end = local(2026, 11, 16)
    assert is_closed(end, end)
    assert not is_closed(end, end - timedelta(microseconds=1))


def test_polled_all_year_round_nothing_finer_than_a_week_can_be_subtracted() -> None:
    """Every period ever served, whichever the period, starts and ends on the same grid of
    Monday midnights, and never ends after the moment it is asked: so no answer is a sliding
    window, the answers within a week are all the same, and the difference of any two is a
    union of whole weeks. (A period ending now would fail the first check on the first poll;
    30 days ending at a Monday would fail the grid check.)"""
    start = local(2026, 1, 1)
    grid = {local(2025, 9, 1) + timedelta(days=7 * n) for n in range(80)}  # Mondays, 00:00
    served: dict[datetime, set[tuple[datetime, datetime]]] = {}
    for hour in range(0, 366 * 24, 5):  # 5 h steps fall on every hour of the week in turn
        now = start + timedelta(hours=hour)
        boundary = last_closed_boundary(now, LOS_ANGELES)
        answers = {(p, w[0].start, w[-1].end) for p in PERIODS
                   for w in [closed_weeks(p, now, LOS_ANGELES)]}  # fmt: skip
        for _, first, last in answers:
            assert first in grid
            assert last in grid
            assert last == boundary <= now
        served.setdefault(boundary, set()).update((f, last) for _, f, last in answers)
        assert len(served[boundary]) == 3  # the same three periods all week long
    assert len(served) == 53
