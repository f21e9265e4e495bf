"""Gate days and truck appointment slots: the terminals' gate weeks, holidays and closures,
slots inside the open hours from now to the end of tomorrow."""

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from port_resolvers.sim.data import generate_port_data
from port_resolvers.sim.gates import appointment_slots, gate_days, holidays
from port_resolvers.sim.model import AppointmentSlot, GateDay, PortData
from port_resolvers.sim.reference import (
    APPOINTMENTS_PER_HOUR,
    LIMITED_BELOW,
    NIGHT_APPOINTMENTS,
    PORT_IDS,
    PORTS,
    TRANSACTIONS,
)

PACIFIC = ZoneInfo("America/Los_Angeles")
HOUR = timedelta(hours=1)
SAN_PEDRO_BAY = ("USLAX", "USLGB")


def _local(at: datetime) -> datetime:
    return at.astimezone(PACIFIC)


def _hours(day: GateDay) -> list[tuple[str, str, bool]]:
    """A day's periods as local (weekday hour, weekday hour, off-peak)."""
    return [
        (_local(p.opens).strftime("%a %H"), _local(p.closes).strftime("%a %H"), p.off_peak)
        for p in day.periods
    ]


def _week(data: PortData, facility_code: str) -> dict[str, GateDay]:
    return {d.day.strftime("%a"): d for d in data.gate_days if d.facility_code == facility_code}


@pytest.mark.parametrize("port_id", PORT_IDS)
def test_every_terminal_has_today_and_the_next_six_days_in_order(
    all_ports: dict[str, PortData], now: datetime, port_id: str
):
    data = all_ports[port_id]
    today = _local(now).date()
    for terminal in data.port.terminals:
        days = [d.day for d in data.gate_days if d.facility_code == terminal.facility_code]
        assert days == [today + timedelta(days=i) for i in range(7)]


def test_gate_periods_are_whole_local_hours_in_order_and_closed_days_have_none(
    all_ports: dict[str, PortData],
):
    for data in all_ports.values():
        for day in data.gate_days:
            assert day.open == bool(day.periods)
            if day.open:
                assert day.closure is None
            ends = [p.opens for p in day.periods] + [p.closes for p in day.periods]
            assert all(at.tzinfo is not None and at.minute == 0 for at in ends)
            for period, after in pairwise(day.periods):
                assert period.closes <= after.opens
            for period in day.periods:
                assert _local(period.opens).date() == day.day  # a night belongs to its evening
                assert period.opens < period.closes
                assert period.closes - period.opens <= timedelta(hours=10)


@pytest.mark.parametrize("port_id", SAN_PEDRO_BAY)
def test_san_pedro_bay_runs_peak_days_offpeak_nights_and_some_saturdays(
    all_ports: dict[str, PortData], port_id: str
):
    """The week of Monday 2026-03-02: no holiday, no closure at these ports."""
    data = all_ports[port_id]
    saturdays = 0
    for terminal in data.port.terminals:
        week = _week(data, terminal.facility_code)
        for weekday in ("Mon", "Tue", "Wed", "Thu"):
            day_gate, night_gate = _hours(week[weekday])
            assert day_gate[0] in {f"{weekday} 07", f"{weekday} 08"}
            assert day_gate[1:] == (f"{weekday} 17", False)
            assert night_gate[0] == f"{weekday} 18"
            assert night_gate[2] is True
        assert _hours(week["Tue"])[1][1] == "Wed 03"
        assert [p[1:] for p in _hours(week["Fri"])] == [("Fri 17", False)]  # no Friday night
        assert week["Sun"].periods == ()
        assert week["Sun"].closure is None  # not a gate day: nothing to explain
        if week["Sat"].open:
            saturdays += 1
            assert _hours(week["Sat"]) == [("Sat 08", "Sat 17", True)]
    assert 0 < saturdays < len(data.port.terminals)


def test_oakland_opens_weekdays_and_oict_also_nights_and_saturdays(
    all_ports: dict[str, PortData],
):
    data = all_ports["USOAK"]
    oict = _week(data, "B58")
    assert _hours(oict["Mon"]) == [("Mon 07", "Mon 17", False), ("Mon 18", "Tue 02", True)]
    assert _hours(oict["Sat"]) == [("Sat 08", "Sat 16", True)]
    for code in ("TPOAK", "BENT"):
        week = _week(data, code)
        assert _hours(week["Wed"]) == [("Wed 07", "Wed 17", False)]
        assert not week["Sat"].open
        assert not week["Sun"].open


@pytest.mark.parametrize("port_id", ["USNTD", "USSAN"])
def test_hueneme_and_san_diego_open_weekdays_seven_to_four(
    all_ports: dict[str, PortData], port_id: str
):
    (terminal,) = all_ports[port_id].port.terminals
    week = _week(all_ports[port_id], terminal.facility_code)
    assert _hours(week["Thu"]) == [("Thu 07", "Thu 16", False)]
    assert not week["Sat"].open
    assert not week["Sun"].open


def test_the_holidays_are_the_years_own_dates():
    assert sorted(holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 5, 25),  # the last Monday of May
        date(2026, 7, 4),
        date(2026, 9, 7),  # the first Monday of September
        date(2026, 11, 26),  # the fourth Thursday of November
        date(2026, 12, 25),
    ]
    assert date(2027, 5, 31) in holidays(2027)
    assert date(2027, 11, 25) in holidays(2027)


def test_holidays_close_the_gate_days_they_fall_on():
    for port_id in PORT_IDS:
        port = PORTS[port_id]
        thanksgiving = gate_days(port, 7, date(2026, 11, 26), 1)
        assert {(d.open, d.closure) for d in thanksgiving} == {(False, "HOLIDAY")}
    # Independence Day 2026 is a Saturday: a holiday only where the gate opens on Saturdays.
    los_angeles = gate_days(PORTS["USLAX"], 7, date(2026, 7, 4), 1)
    reasons = {d.facility_code: d.closure for d in los_angeles}
    assert reasons == {"APMT": "HOLIDAY", "ETS": None, "EAGLE": "HOLIDAY", "TRAP": "HOLIDAY",
                       "WBCT": None, "YUSEN": "HOLIDAY"}  # fmt: skip
    assert not any(d.open for d in los_angeles)
    # The days around a holiday are gate days as usual.
    around = gate_days(PORTS["USOAK"], 7, date(2026, 12, 24), 3)
    assert [(d.day.day, d.open) for d in around if d.facility_code == "B58"] == [
        (24, True), (25, False), (26, True)
    ]  # fmt: skip


def test_weather_and_maintenance_close_one_terminal_now_and_then_whatever_the_window():
    port = PORTS["USLGB"]
    year = gate_days(port, 2024, date(2026, 1, 1), 365)
    closed = [d for d in year if d.closure in {"WEATHER", "MAINTENANCE"}]
    assert {d.closure for d in closed} == {"WEATHER", "MAINTENANCE"}
    per_day = Counter(d.day for d in closed)
    assert set(per_day.values()) == {1}  # one terminal of the port at a time
    assert 0.02 <= len(per_day) / 365 <= 0.12  # occasional
    assert all(not d.periods for d in closed)
    # A day's closure does not depend on which days are asked with it (or on now).
    for day in closed[:5]:
        alone = gate_days(port, 2024, day.day, 1)
        assert day in alone
    assert gate_days(port, 2025, date(2026, 1, 1), 365) != year  # seeded


def test_gate_days_follow_the_clock(now: datetime):
    later = generate_port_data("USNTD", now=now + timedelta(days=1))
    assert later.gate_days[0].day == _local(now).date() + timedelta(days=1)


# -- appointment slots ------------------------------------------------------------------------


def _open_periods(data: PortData) -> dict[str, list[tuple[datetime, datetime, bool]]]:
    """Each terminal's open periods from yesterday (its night gate runs past midnight) on."""
    today = _local(data.now).date()
    days = gate_days(data.port, data.seed, today - timedelta(days=1), 3)
    found: dict[str, list[tuple[datetime, datetime, bool]]] = {}
    for day in days:
        found.setdefault(day.facility_code, []).extend(
            (p.opens, p.closes, p.off_peak) for p in day.periods
        )
    return found


@pytest.mark.parametrize("port_id", ["USLAX", "USLGB", "USOAK"])
def test_slots_are_hours_inside_the_open_gate_from_now_to_the_end_of_tomorrow(
    all_ports: dict[str, PortData], port_id: str
):
    data = all_ports[port_id]
    periods = _open_periods(data)
    end = datetime.combine(
        _local(data.now).date() + timedelta(days=2), time(0), tzinfo=PACIFIC
    ).astimezone(UTC)
    assert data.appointment_slots
    for slot in data.appointment_slots:
        assert slot.end - slot.start == HOUR
        assert slot.end > data.now
        assert slot.end <= end
        assert any(o <= slot.start and slot.end <= c for o, c, _ in periods[slot.facility_code])
    hours = Counter((s.facility_code, s.start) for s in data.appointment_slots)
    assert set(hours.values()) == {len(TRANSACTIONS)}  # every transaction, every hour
    # Every open hour of every terminal in the window has its slots.
    for code, stretches in periods.items():
        for opens, closes, _ in stretches:
            start = opens
            while start < closes:
                if data.now < start + HOUR and start < end:
                    assert hours[code, start] == len(TRANSACTIONS)
                start += HOUR


@pytest.mark.parametrize("port_id", ["USLAX", "USLGB", "USOAK"])
def test_appointments_left_say_the_slots_availability(all_ports: dict[str, PortData], port_id: str):
    data = all_ports[port_id]
    off_peak = {
        (code, opens + k * HOUR): flag
        for code, stretches in _open_periods(data).items()
        for opens, closes, flag in stretches
        for k in range(int((closes - opens) / HOUR))
    }
    capacity = dict(zip(TRANSACTIONS, APPOINTMENTS_PER_HOUR[port_id], strict=True))
    seen = Counter(s.availability for s in data.appointment_slots)
    assert set(seen) == {"OPEN", "LIMITED", "FULL"}
    for slot in data.appointment_slots:
        size = capacity[slot.transaction]
        if off_peak[slot.facility_code, slot.start]:
            size = round(size * NIGHT_APPOINTMENTS)
        if slot.availability == "FULL":
            assert slot.left == 0
        elif slot.availability == "LIMITED":
            assert 0 < slot.left < LIMITED_BELOW * size
        else:
            assert LIMITED_BELOW * size <= slot.left <= size


def test_the_next_hours_are_booked_more_than_tomorrows(all_ports: dict[str, PortData]):
    slots = all_ports["USLAX"].appointment_slots
    now = all_ports["USLAX"].now
    soon = [s for s in slots if s.start < now + timedelta(hours=6)]
    later = [s for s in slots if s.start >= now + timedelta(hours=24)]

    def full_share(chosen: list[AppointmentSlot]) -> float:
        return sum(s.availability == "FULL" for s in chosen) / len(chosen)

    assert full_share(soon) > full_share(later)


@pytest.mark.parametrize("port_id", ["USNTD", "USSAN"])
def test_terminals_without_appointments_have_no_slots(all_ports: dict[str, PortData], port_id: str):
    assert all_ports[port_id].appointment_slots == ()


def test_slots_are_seeded(all_ports: dict[str, PortData], now: datetime):
    data = all_ports["USLGB"]
    days = gate_days(data.port, data.seed, _local(now).date() - timedelta(days=1), 3)
    assert appointment_slots(data.port, data.seed, now, days) == data.appointment_slots
    other = appointment_slots(data.port, data.seed + 1, now, days)
    assert [s.left for s in other] != [s.left for s in data.appointment_slots]
