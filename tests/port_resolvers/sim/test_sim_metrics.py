"""The simulated ports' statistics: whole Los Angeles weeks that have ended, never "now", with
the vessel calls behind each weekly TEU figure; checked against the generated data itself."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from port_resolvers.sim.metrics import compute_metrics
from port_resolvers.sim.model import PortData
from port_resolvers.sim.systems import SimulatedPortSystem, create_port_system

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
WEEKS = {"LAST_7_DAYS": 1, "LAST_30_DAYS": 4, "LAST_90_DAYS": 13}


def monday_midnight_before(at: datetime) -> datetime:
    """Written out here, independently of portcontract.periods."""
    local = at.astimezone(LOS_ANGELES)
    day = local.date() - timedelta(days=local.weekday())
    return datetime(day.year, day.month, day.day, tzinfo=LOS_ANGELES).astimezone(UTC)


def test_every_period_is_whole_weeks_ending_at_the_last_monday(all_ports: dict[str, PortData]):
    for data in all_ports.values():
        end = monday_midnight_before(data.now)
        for m in data.metrics:
            if m.metric.startswith("VESSELS_"):
                assert m.period_start == m.period_end == data.now  # counted at that moment
                continue
            assert m.period_end == end < data.now
            local_start = m.period_start.astimezone(LOS_ANGELES)
            assert (local_start.weekday(), local_start.hour, local_start.minute) == (0, 0, 0)
            assert (end.astimezone(LOS_ANGELES).date() - local_start.date()).days == (
                7 * WEEKS[m.period]
            )
            assert [w.start for w in m.weeks][1:] == [w.end for w in m.weeks][:-1]
            assert (m.weeks[0].start, m.weeks[-1].end) == (m.period_start, m.period_end)


def test_the_last_weeks_teu_are_the_ports_volume_spread_over_the_calls_worked(
    all_ports: dict[str, PortData],
):
    """TEU are the port's 2024 weekly volume (not the container sample's), shared among its
    terminals and spread over the vessel calls each terminal worked that week."""
    data = all_ports["USLAX"]
    end = monday_midnight_before(data.now)
    start = end - timedelta(days=7)
    worked = {
        t.facility_code: sum(
            1
            for c in data.vessel_calls
            if c.facility_code == t.facility_code and start <= c.berth_arrival < end
        )
        for t in data.port.terminals
    }
    assert all(worked.values()), "every Los Angeles terminal works calls every week"
    weekly = {(m.facility_code, m.metric): m for m in data.metrics if m.period == "LAST_7_DAYS"}
    for code, calls in worked.items():
        [week] = weekly[code, "TEU_DISCHARGED"].weeks
        assert (week.start, week.end, week.calls) == (start, end, calls)
        assert week.largest_call_teu is not None
        assert week.total / calls <= week.largest_call_teu <= week.total  # the largest share
        assert week.sample_size == round(week.total / 1.8)  # containers at 1.8 TEU each
    [port_week] = weekly[None, "TEU_DISCHARGED"].weeks
    terminal_weeks = [weekly[code, "TEU_DISCHARGED"].weeks[0] for code in worked]
    assert port_week.total == sum(w.total for w in terminal_weeks)
    assert port_week.calls == sum(worked.values())
    assert 0.9 * 99_000 <= port_week.total <= 1.1 * 99_000  # Los Angeles discharges a week


def test_longer_periods_sum_their_weeks_and_the_port_sums_its_terminals(
    all_ports: dict[str, PortData],
):
    data = all_ports["USLGB"]
    metrics = {(m.metric, m.period, m.facility_code): m for m in data.metrics}
    for metric in ("TEU_DISCHARGED", "TEU_LOADED"):
        week, month, quarter = (metrics[metric, p, None] for p in WEEKS)
        assert month.weeks[-1] == week.weeks[0]
        assert quarter.weeks[-4:] == month.weeks
        assert 0 < (week.value or 0) < (month.value or 0) < (quarter.value or 0)
        assert quarter.value == sum(w.total for w in quarter.weeks)
        by_terminal = sum(
            metrics[metric, "LAST_90_DAYS", t.facility_code].value or 0 for t in data.port.terminals
        )
        assert by_terminal == quarter.value
    dwell = metrics["CONTAINER_DWELL_DAYS", "LAST_30_DAYS", None]
    assert dwell.value == round(sum(w.total for w in dwell.weeks) / dwell.sample_size, 2)
    assert 0.5 < (dwell.value or 0) < 10
    turn = metrics["TRUCK_TURN_TIME_MINUTES", "LAST_7_DAYS", None]
    assert 30 < (turn.value or 0) < 120


def test_a_later_moment_in_the_same_week_gives_the_same_figures(all_ports: dict[str, PortData]):
    data = all_ports["USOAK"]

    def at(moment: datetime) -> list[tuple[object, ...]]:
        computed = compute_metrics(
            data.port, data.seed, data.now, data.vessel_calls, data.containers,
            data.truck_visits, as_of=moment,
        )  # fmt: skip
        return [(m.metric, m.period, m.facility_code, m.value, m.period_end) for m in computed]

    boundary = monday_midnight_before(data.now)
    assert at(data.now) == at(data.now + timedelta(hours=30)) == at(boundary)
    next_monday = monday_midnight_before(boundary + timedelta(days=7, hours=1))  # 167 h: DST
    ends = {end for *_, end in at(next_monday)}
    assert next_monday in ends
    assert boundary not in ends


async def test_the_stats_api_serves_the_weeks_closed_by_its_clock(
    all_ports: dict[str, PortData], client_for: Callable[..., httpx.AsyncClient]
):
    data = all_ports["USNTD"]
    moments = [data.now]
    system: SimulatedPortSystem = create_port_system("USNTD", data=data, clock=lambda: moments[-1])
    client = client_for(system)
    first = (await client.get("/api/v1/stats", params={"window": "30d"})).json()
    moments.append(data.now + timedelta(days=2, hours=5))  # Wednesday: same week
    second = (await client.get("/api/v1/stats", params={"window": "30d"})).json()
    assert first == second
    boundary = monday_midnight_before(data.now)
    assert first["window"]["to"] == int(boundary.timestamp())
    assert first["window"]["from"] == int((boundary - timedelta(days=28)).timestamp())
    teu = next(f for f in first["figures"] if f["figure"] == "teu_in" and f["terminal_id"])
    assert [set(w) for w in teu["weeks"]] == [
        {"from", "to", "total", "n", "calls", "largest_call_teu"}
    ] * 4
    moments.append(boundary + timedelta(days=7, hours=1))  # the next Monday has begun
    third = (await client.get("/api/v1/stats", params={"window": "30d"})).json()
    # One local week later: 167 hours, as daylight saving time begins on 8 March 2026.
    assert third["window"]["to"] - first["window"]["to"] == 167 * 3600
