"""The kit's own disclosure rules for ``portMetrics``: whatever the source sends and whatever the
gateway's policy says, a port resolver built on the kit serves aggregates over containers,
trucks or moves only over whole local weeks that have ended, only when every week passes the
sample floor and the vessel-call rule, and never a port figure that gives a terminal away; it
says why in ``extensions.withheld``."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from port_resolvers.kit import create_resolver_app
from tests.port_resolvers.kit.conftest import PORT, FakeSource

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # a Friday
MONDAY = datetime(2026, 11, 16, tzinfo=LOS_ANGELES)  # the last boundary before NOW
QUERY = "query($p: MetricPeriod!) { portMetrics(period: $p) { facilitySMDGCode metric value unit " \
    "sampleSize periodStart periodEnd } }"  # fmt: skip


def week(n: int, total: float, samples: int, **calls: Any) -> dict[str, Any]:
    """The n-th whole week before MONDAY (1: the last one)."""
    start = (MONDAY - timedelta(days=7 * n)).astimezone(UTC)
    end = (MONDAY - timedelta(days=7 * (n - 1))).astimezone(UTC)
    return {"periodStart": start, "periodEnd": end, "total": total, "sampleSize": samples,
            **calls}  # fmt: skip


def figure(metric: str, facility: str | None, weeks: list[dict[str, Any]], **extra: Any) -> Any:
    return {
        "UNLocationCode": PORT,
        "facilitySMDGCode": facility,
        "metric": metric,
        "value": 999.0,  # a source's own value is never used for these
        "unit": "TEU",
        "periodStart": weeks[0]["periodStart"] if weeks else NOW - timedelta(days=7),
        "periodEnd": weeks[-1]["periodEnd"] if weeks else NOW,
        "sampleSize": 999,
        "weeks": weeks,
        **extra,
    }


async def ask(source: FakeSource, period: str = "LAST_7_DAYS", now: datetime = NOW) -> Any:
    app = create_resolver_app(source, PORT, clock=lambda: now)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://uslax.test"
    ) as client:
        response = await client.post("/graphql", json={"query": QUERY, "variables": {"p": period}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]  # withholding is no error
    return body


def rows(body: Any) -> dict[tuple[str | None, str], Any]:
    return {(m["facilitySMDGCode"], m["metric"]): m for m in body["data"]["portMetrics"]}


def withheld(body: Any) -> dict[tuple[str | None, str], str]:
    return {
        (w["facilitySMDGCode"], w["metric"]): w["code"]
        for w in body.get("extensions", {}).get("withheld", [])
    }


GOOD_TEU = {"calls": 4, "largestCallTEU": 300.0}


@pytest.fixture
def source() -> FakeSource:
    """A port with two terminals and a port-level row, one good week of each metric."""
    fake = FakeSource()
    fake.metric_records = [
        figure("TEU_DISCHARGED", None, [week(1, 0.0, 0)]),
        figure("TEU_DISCHARGED", "APMT", [week(1, 1000.0, 600, **GOOD_TEU)]),
        figure("TEU_DISCHARGED", "TRAP", [week(1, 800.0, 500, **GOOD_TEU)]),
        figure("CONTAINER_DWELL_DAYS", "APMT", [week(1, 60.0, 20)]),
    ]
    return fake


async def test_values_are_computed_from_the_weeks_and_the_port_from_its_terminals(source):
    body = await ask(source)
    got = rows(body)
    assert got[None, "TEU_DISCHARGED"] == {
        "facilitySMDGCode": None, "metric": "TEU_DISCHARGED", "value": 1800.0, "unit": "TEU",
        "sampleSize": 1100, "periodStart": "2026-11-09T08:00:00+00:00",
        "periodEnd": "2026-11-16T08:00:00+00:00",
    }  # fmt: skip
    assert got["APMT", "CONTAINER_DWELL_DAYS"]["value"] == 3.0
    assert got["APMT", "CONTAINER_DWELL_DAYS"]["unit"] == "days"  # not the source's "TEU"
    assert withheld(body) == {}


@pytest.mark.parametrize(
    ("weeks", "code"),
    [
        ([week(1, 1000.0, 600, calls=2, largestCallTEU=500.0)], "FEW_CALLS"),
        ([week(1, 1000.0, 600, calls=5, largestCallTEU=501.0)], "DOMINANT_CALL"),
        ([week(1, 90.0, 9, calls=5, largestCallTEU=20.0)], "SMALL_SAMPLE"),
        ([week(1, 1000.0, 600)], "NO_WEEKLY_FIGURES"),  # TEU without its vessel calls
        ([], "NO_WEEKLY_FIGURES"),
    ],
)
async def test_a_terminal_week_that_would_single_out_calls_or_boxes_is_withheld(
    source, weeks, code
):
    source.metric_records[2] = figure("TEU_DISCHARGED", "TRAP", weeks)
    body = await ask(source)
    got = rows(body)
    assert (got["TRAP", "TEU_DISCHARGED"]["value"], got["TRAP", "TEU_DISCHARGED"]["sampleSize"]) \
        == (None, 0)  # fmt: skip
    expected = {("TRAP", "TEU_DISCHARGED"): code}
    if code in ("FEW_CALLS", "DOMINANT_CALL", "SMALL_SAMPLE"):
        assert got["APMT", "TEU_DISCHARGED"]["value"] == 1000.0
        # The port minus APMT would be TRAP: the port is withheld too.
        expected[None, "TEU_DISCHARGED"] = "PORT_REMAINDER"
    else:  # nothing to judge the port by: withheld with every row of that metric
        expected |= {(None, "TEU_DISCHARGED"): code, ("APMT", "TEU_DISCHARGED"): code}
        assert got["APMT", "TEU_DISCHARGED"]["value"] is None
    assert withheld(body) == expected


async def test_no_gateway_policy_can_get_a_small_sample_out_of_the_kit(source):
    """The resolver is asked directly, as a gateway with no floor at all would ask it."""
    source.metric_records[3] = figure("CONTAINER_DWELL_DAYS", "APMT", [week(1, 4.0, 2)])
    body = await ask(source)
    assert rows(body)["APMT", "CONTAINER_DWELL_DAYS"]["value"] is None
    [notice] = [w for w in body["extensions"]["withheld"] if w["metric"] == "CONTAINER_DWELL_DAYS"]
    assert notice == {
        "path": ["portMetrics"], "metric": "CONTAINER_DWELL_DAYS", "facilitySMDGCode": "APMT",
        "code": "SMALL_SAMPLE", "reason": "fewer than 10 containers gated out in a week",
    }  # fmt: skip


async def test_every_week_of_a_longer_period_must_pass_on_its_own(source):
    """Four weeks of 40 boxes would pass as a whole; one of them counts 4, and the week after
    the next poll would subtract it out. So the four weeks are withheld."""
    weeks = [week(n, 120.0, 40) for n in (4, 3, 2)] + [week(1, 12.0, 4)]
    source.metrics_by_period["LAST_30_DAYS"] = [figure("CONTAINER_DWELL_DAYS", "APMT", weeks)]
    body = await ask(source, "LAST_30_DAYS")
    assert rows(body)["APMT", "CONTAINER_DWELL_DAYS"]["value"] is None
    assert withheld(body) == {("APMT", "CONTAINER_DWELL_DAYS"): "SMALL_SAMPLE"}
    weeks[-1] = week(1, 36.0, 12)
    body = await ask(source, "LAST_30_DAYS")
    assert rows(body)["APMT", "CONTAINER_DWELL_DAYS"]["value"] == round(396.0 / 132, 2)


@pytest.mark.parametrize(
    "weeks",
    [
        # A period that ends now: the sliding window of issue 15.
        [{**week(1, 120.0, 40), "periodStart": NOW - timedelta(days=7), "periodEnd": NOW}],
        # Whole weeks in UTC, not in the port's zone.
        [{**week(1, 120.0, 40), "periodStart": datetime(2026, 11, 9, tzinfo=UTC),
          "periodEnd": datetime(2026, 11, 16, tzinfo=UTC)}],
        # The week that has not ended yet.
        [week(0, 120.0, 40)],
        # Two weeks for LAST_7_DAYS.
        [week(2, 120.0, 40), week(1, 120.0, 40)],
    ],
)  # fmt: skip
async def test_only_whole_local_weeks_that_have_ended_are_served(source, weeks):
    source.metric_records[3] = figure("CONTAINER_DWELL_DAYS", "APMT", weeks)
    body = await ask(source)
    assert rows(body)["APMT", "CONTAINER_DWELL_DAYS"]["value"] is None
    assert withheld(body) == {("APMT", "CONTAINER_DWELL_DAYS"): "PERIOD_NOT_CLOSED"}


async def test_weeks_of_a_source_that_lags_are_served_as_what_they_are(source):
    """A statistics store a week behind gives an older closed week: served, and its period
    says which (periods end at the last closed boundary when the port's store is current)."""
    source.metrics_by_period["LAST_30_DAYS"] = [
        figure("CONTAINER_DWELL_DAYS", "APMT", [week(n, 120.0, 40) for n in (5, 4, 3, 2)])
    ]
    body = await ask(source, "LAST_30_DAYS")
    [dwell] = body["data"]["portMetrics"]
    assert (dwell["value"], dwell["periodEnd"]) == (3.0, "2026-11-09T08:00:00+00:00")


async def test_the_same_answer_all_week_long_and_a_new_one_once_it_ends(source):
    """The kit judges by its clock: before the week's end the figures are not served."""
    thursday = await ask(source, now=NOW - timedelta(days=1))
    sunday = await ask(source, now=MONDAY.astimezone(UTC) + timedelta(days=6, hours=23))
    assert thursday == sunday
    just_before = await ask(source, now=MONDAY.astimezone(UTC) - timedelta(seconds=1))
    assert rows(just_before)["APMT", "CONTAINER_DWELL_DAYS"]["value"] is None
    assert withheld(just_before)["APMT", "CONTAINER_DWELL_DAYS"] == "PERIOD_NOT_CLOSED"


async def test_vessel_counts_are_public_and_served_as_counted():
    fake = FakeSource()
    [vessels] = [m for m in fake.metric_records if m["metric"] == "VESSELS_AT_ANCHOR"]
    vessels["value"], vessels["sampleSize"] = 1.0, 1
    body = await ask(fake)
    assert [m for m in body["data"]["portMetrics"] if m["metric"] == "VESSELS_AT_ANCHOR"] == [
        {"facilitySMDGCode": None, "metric": "VESSELS_AT_ANCHOR", "value": 1.0, "unit": "vessels",
         "sampleSize": 1, "periodStart": "2026-11-21T00:00:00+00:00",
         "periodEnd": "2026-11-21T00:00:00+00:00"},
    ]  # fmt: skip


async def test_a_unit_that_names_a_rate_never_comes_out(source):
    source.metric_records[3]["unit"] = "moves/hr"
    source.metric_records.append(
        {**figure("VESSELS_AT_BERTH", None, []), "unit": "gang hours", "value": 2.0}
    )
    body = await ask(source)
    assert {m["unit"] for m in body["data"]["portMetrics"]} == {"TEU", "days", "vessels"}
