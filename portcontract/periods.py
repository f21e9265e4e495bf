"""The periods aggregates cover: whole weeks in the port's time zone that have ended.

Every aggregate over containers, trucks or moves covers whole local weeks, each from Monday
00:00 to the next Monday 00:00 in the port's time zone (seven calendar days, so 167 or 169
hours across a daylight-saving change), and ends at a week boundary that has passed. A
``MetricPeriod`` names how many weeks, ending at the last closed boundary:

============  =====  ===========
period        weeks  days
============  =====  ===========
LAST_7_DAYS   1      7
LAST_30_DAYS  4      28
LAST_90_DAYS  13     91
============  =====  ===========

Why weeks, and why not 30 days: figures over periods that end "now" change with every poll,
and the difference of two polls is the work done between them. Figures over whole weeks that
have ended are the same all week long, and change once, by whole weeks. Every period being made
of whole weeks, no two of them differ by less than a week: a 30-day period would differ from the
four weeks inside it by two days. The names keep their historical spelling; ``periodStart`` and
``periodEnd`` say exactly what is covered.

Times here are timezone-aware; boundaries are returned in UTC.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

PERIOD_WEEKS: Final[Mapping[str, int]] = MappingProxyType(
    {"LAST_7_DAYS": 1, "LAST_30_DAYS": 4, "LAST_90_DAYS": 13}
)
"""How many whole weeks each ``MetricPeriod`` covers."""

_WEEK_DAYS: Final = 7


@dataclass(frozen=True, slots=True, order=True)
class Week:
    """One whole local week: ``start`` and ``end`` are Monday 00:00 in the port's time zone."""

    start: datetime
    end: datetime


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """00:00 of a local calendar day, as a UTC instant."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _monday(at: datetime, zone: ZoneInfo) -> date:
    """The local date of the Monday that starts the week ``at`` falls in."""
    if at.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    local = at.astimezone(zone)
    return local.date() - timedelta(days=local.weekday())


def week_of(at: datetime, zone: ZoneInfo) -> Week:
    """The local week ``at`` falls in (it has not ended unless ``at`` is past its end)."""
    monday = _monday(at, zone)
    return Week(_midnight(monday, zone), _midnight(monday + timedelta(days=_WEEK_DAYS), zone))


def last_closed_boundary(now: datetime, zone: ZoneInfo) -> datetime:
    """The latest Monday 00:00 (local) at or before ``now``: where periods end."""
    return _midnight(_monday(now, zone), zone)


def closed_weeks(period: str, now: datetime, zone: ZoneInfo) -> tuple[Week, ...]:
    """The whole weeks ``period`` covers as of ``now``, oldest first, ending at the last
    closed boundary. Raises ``KeyError`` for a period name that is not a ``MetricPeriod``."""
    count = PERIOD_WEEKS[period]
    last_monday = _monday(now, zone)
    mondays = [last_monday - timedelta(days=_WEEK_DAYS * n) for n in range(count, -1, -1)]
    return tuple(Week(_midnight(a, zone), _midnight(b, zone)) for a, b in pairwise(mondays))


@lru_cache(maxsize=4096)  # the same few weeks are checked in every metrics answer
def is_whole_week(start: datetime, end: datetime, zone: ZoneInfo) -> bool:
    """Whether ``[start, end)`` is exactly one local week, Monday 00:00 to Monday 00:00."""
    if start.tzinfo is None or end.tzinfo is None:
        return False
    return week_of(start, zone) == Week(start, end)


def is_closed(end: datetime, now: datetime) -> bool:
    """Whether a period ending at ``end`` has ended by ``now`` (no period ends in the future)."""
    return end <= now
