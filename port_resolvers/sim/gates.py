"""Truck gates of a port's terminals: gate days with their holidays and closures, and the
appointment slots inside the open hours.

A terminal's gate day follows its plan (:data:`~port_resolvers.sim.reference.GATE_PLANS`): peak
day gate, off-peak night gate (closing the next morning; it belongs to the day it opens) and
Saturday gate. It is closed on the longshore holidays (:data:`~port_resolvers.sim.reference.
HOLIDAYS`) that fall on a gate day, and now and then at one terminal of the port for weather or
maintenance, drawn per port and local date: a day's closure stays the same as ``now`` moves on.

Appointment slots cut the open hours into hours, one slot per transaction, from the hour under
way to the end of tomorrow. How full a slot is comes from a draw per terminal, day and hour (the
same whatever ``now``), peak day gates being in more demand than off-peak hours, and from how
soon it comes: the next hours are the most booked.
"""

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

from port_resolvers.sim.model import AppointmentSlot, GateDay, GatePeriod, GatePlan, Port
from port_resolvers.sim.reference import (
    APPOINTMENTS_PER_HOUR,
    CLOSURE_CHANCE_PER_DAY,
    GATE_PLANS,
    HOLIDAYS,
    LIMITED_BELOW,
    NIGHT_APPOINTMENTS,
    TRANSACTIONS,
    USES_APPOINTMENTS,
)

HOUR = timedelta(hours=1)
CLOSURE_REASONS = ("WEATHER", "MAINTENANCE")
PEAK_DEMAND = 0.8  # the share of a slot's appointments booked, on average, at peak hours
OFF_PEAK_DEMAND = 0.5
DEMAND_SPREAD = 0.6  # one slot's share lies within this much around the average
SOON = timedelta(hours=24)  # slots within this are booked more the sooner they come
SOON_DEMAND = 0.25


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The ``nth`` ``weekday`` (Monday 0) of a month; ``nth`` -1 is the last."""
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


@lru_cache(maxsize=16)
def holidays(year: int) -> Mapping[date, str]:
    """The gate-closing holidays of ``year``, by date."""
    found: dict[date, str] = {}
    for name, rule in HOLIDAYS:
        if len(rule) == 2:
            found[date(year, rule[0], rule[1])] = name
        else:
            found[_nth_weekday(year, *rule)] = name
    return MappingProxyType(found)


def _at(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """``hour`` o'clock local on ``day`` (24 and more: the next day's), in UTC."""
    local = datetime.combine(day + timedelta(days=hour // 24), time(hour % 24), tzinfo=zone)
    return local.astimezone(UTC)


def planned_periods(plan: GatePlan, day: date, zone: ZoneInfo) -> tuple[GatePeriod, ...]:
    """The gate hours a terminal's plan gives ``day``, holidays and closures aside."""
    hours: list[tuple[tuple[int, int], bool]] = []
    weekday = day.weekday()
    if weekday < 5:
        hours.append((plan.day, False))
    elif weekday == 5 and plan.saturday is not None:
        hours.append((plan.saturday, True))
    if weekday in plan.nights:
        hours.append((plan.night, True))
    return tuple(
        GatePeriod(_at(day, opens, zone), _at(day, closes, zone), off_peak)
        for (opens, closes), off_peak in hours
    )


def _closure(port: Port, seed: int, day: date, gate_days: list[str]) -> dict[str, str]:
    """The terminal (of those with a gate day) that closes on ``day`` for weather or
    maintenance, if one does, with the reason."""
    rng = random.Random(f"{seed}:{port.port_id}:{day.isoformat()}:gates")
    if not gate_days or rng.random() >= CLOSURE_CHANCE_PER_DAY:
        return {}
    return {rng.choice(gate_days): rng.choice(CLOSURE_REASONS)}


def gate_days(port: Port, seed: int, first: date, count: int) -> tuple[GateDay, ...]:
    """Each terminal's gate on ``count`` local days from ``first``, by terminal then day."""
    zone = ZoneInfo(port.time_zone)
    plans = GATE_PLANS[port.port_id]
    by_day: dict[date, dict[str, GateDay]] = {}
    for day in (first + timedelta(days=i) for i in range(count)):
        planned = {code: planned_periods(plan, day, zone) for code, plan in plans.items()}
        closed = _closure(port, seed, day, [code for code, p in planned.items() if p])
        if day in holidays(day.year):
            closed = dict.fromkeys(planned, "HOLIDAY")
        by_day[day] = {
            code: GateDay(code, day, (), closed[code])
            if periods and code in closed
            else GateDay(code, day, periods)
            for code, periods in planned.items()
        }
    return tuple(by_day[day][t.facility_code] for t in port.terminals for day in by_day)


def _availability(capacity: int, booked_share: float) -> tuple[str, int]:
    """A slot's availability and appointments left when ``booked_share`` of it is taken."""
    left = capacity - min(capacity, max(0, round(booked_share * capacity)))
    if left == 0:
        return "FULL", 0
    return ("LIMITED" if left < LIMITED_BELOW * capacity else "OPEN"), left


def appointment_slots(
    port: Port, seed: int, now: datetime, days: Sequence[GateDay]
) -> tuple[AppointmentSlot, ...]:
    """The slots of ``days`` (which must hold yesterday's: its night gate runs past midnight)
    from the hour under way at ``now`` to the end of tomorrow, local; none at a port whose
    terminals take trucks without appointments."""
    if not USES_APPOINTMENTS[port.port_id]:
        return ()
    zone = ZoneInfo(port.time_zone)
    end = _at(now.astimezone(zone).date() + timedelta(days=2), 0, zone)
    capacities = APPOINTMENTS_PER_HOUR[port.port_id]
    slots = []
    for gate_day in days:
        code = gate_day.facility_code
        rng = random.Random(f"{seed}:{port.port_id}:{code}:{gate_day.day.isoformat()}:slots")
        for period in gate_day.periods:
            share = NIGHT_APPOINTMENTS if period.off_peak else 1.0
            demand = OFF_PEAK_DEMAND if period.off_peak else PEAK_DEMAND
            start = period.opens
            while start + HOUR <= period.closes:
                draws = [rng.random() for _ in TRANSACTIONS]  # the same whatever now
                if now < start + HOUR and start < end:
                    soon = SOON_DEMAND * max(0.0, 1 - (start - now) / SOON)
                    for transaction, capacity, draw in zip(
                        TRANSACTIONS, capacities, draws, strict=True
                    ):
                        size = round(capacity * share)
                        booked = demand + DEMAND_SPREAD * (draw - 0.5) + soon
                        availability, left = _availability(size, booked)
                        slots.append(
                            AppointmentSlot(code, start, start + HOUR, transaction,
                                            availability, left)
                        )  # fmt: skip
                start += HOUR
    return tuple(slots)  # by terminal, then time (the days come so)
