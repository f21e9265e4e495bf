"""The outlook dashboard in a real browser: the page loads from the gateway alone, shows the
five ports with the figures the outlook API gives for the same moment, sends the pasted API key
and the CSRF header, and shows a port whose system is down as missing, never as zero.

The scenario (``dashboard_scenario.py``) runs as a subprocess, in a loopback-only network
namespace where this process may create one, exactly as the GraphiQL browser test does.
Screenshots: ``tests/artifacts/dashboard.png`` and ``tests/artifacts/dashboard-uslgb-down.png``.
"""

from typing import Any
from urllib.parse import urlsplit

import pytest

from port_resolvers.sim.data import DEFAULT_SEED, generate_all_ports
from tests.browser.dashboard_scenario import FIELDS, NOW, PORT_IDS
from tests.browser.harness import ARTIFACTS, run_scenario

pytestmark = pytest.mark.browser

SCREENSHOT = ARTIFACTS / "dashboard.png"
DOWN_SCREENSHOT = ARTIFACTS / "dashboard-uslgb-down.png"
FIGURES = [f for f in FIELDS if f not in ("answered", "status")]


@pytest.fixture(scope="module")
def visit() -> dict[str, Any]:
    result = run_scenario("tests.browser.dashboard_scenario", str(SCREENSHOT), str(DOWN_SCREENSHOT))
    print(f"screenshots: {SCREENSHOT}, {DOWN_SCREENSHOT}")
    return result


WHOLE = {"vesselsAtAnchor", "vesselsAtBerth", "expectedArrivals"}


def shown(value: object, field: str) -> str:
    """A figure as the page prints it: counts whole, every other figure to one decimal in
    every row (never "4" beside "4.1"), null as —."""
    if value is None:
        return "—"
    assert isinstance(value, int | float)
    return f"{value:.0f}" if field in WHOLE else f"{value:.1f}"


def api_rows(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["UNLocationCode"]: p for p in answer["data"]["outlook"]["ports"]}


def test_the_table_shows_the_five_ports_with_the_apis_figures(visit: dict[str, Any]) -> None:
    table, api = visit["up"]["table"], api_rows(visit["up"]["api"])
    assert list(table) == PORT_IDS
    for port in PORT_IDS:
        row, want = table[port], api[port]
        assert want["answered"] is True, port
        assert row["answered"] == "yes", port
        assert row["status"] == want["status"], port
        for field in FIGURES:
            assert row[field] == shown(want[field], field), (port, field)
    assert table["USLAX"]["vesselsAtAnchor"].isdigit()  # real figures, not placeholders
    assert sum(int(r["expectedArrivals"]) for r in table.values()) > 0
    assert SCREENSHOT.stat().st_size > 10_000


def test_vessels_at_anchor_and_at_berth_are_the_ports_own_counts(visit: dict[str, Any]) -> None:
    """Counted here from the simulated ports' own vessel calls at the same moment, not from
    anything the gateway computed."""
    data = generate_all_ports(seed=DEFAULT_SEED, now=NOW)
    table = visit["up"]["table"]
    for port in PORT_IDS:
        phases = [call.phase for call in data[port].vessel_calls]
        assert table[port]["vesselsAtAnchor"] == str(phases.count("AT_ANCHOR")), port
        assert table[port]["vesselsAtBerth"] == str(phases.count("AT_BERTH")), port
    assert sum(int(table[p]["vesselsAtAnchor"]) for p in PORT_IDS) > 0


def test_the_page_shows_comparison_late_arrivals_sources_and_refresh(
    visit: dict[str, Any],
) -> None:
    up = visit["up"]
    outlook = up["api"]["data"]["outlook"]
    text, header = up["page_text"], up["header_text"]
    assert f"Most at anchor: {outlook['comparison']['mostVesselsAtAnchor']}" in text
    assert f"most delayed: {outlook['comparison']['mostDelayed']}" in text
    assert "missing: none" in text
    late = [c["transportCallReference"] for p in outlook["ports"] for c in p["lateArrivals"]]
    assert late
    assert all(reference in text for reference in late)
    assert "Sources" in text
    assert up["refresh_seconds"] == "30"
    assert "last updated 2026-11-21 18:00 UTC" in header
    assert "Live (with your API key)" in header
    assert up["window"].startswith("Next 3 day(s)")
    assert up["banner"] is None  # every port answered: no banner


def test_the_pasted_key_and_the_csrf_header_are_sent(visit: dict[str, Any]) -> None:
    assert visit["up"]["stored_key"] == visit["api_key"]
    posts = [r for r in visit["requests"] if r["method"] == "POST"]
    assert posts
    assert all(r["headers"].get("x-portgate-csrf") == "1" for r in posts)
    assert any(r["headers"].get("x-api-key") == visit["api_key"] for r in posts)
    assert visit["down"]["stored_key"] is None  # a new gateway's page: another origin


def test_a_port_whose_system_is_down_is_missing_not_zero(visit: dict[str, Any]) -> None:
    table, api = visit["down"]["table"], api_rows(visit["down"]["api"])
    assert api["USLGB"]["answered"] is False
    assert table["USLGB"]["answered"] == "MISSING"
    assert {table["USLGB"][f] for f in FIGURES} == {"missing"}
    assert "missing: USLGB" in visit["down"]["page_text"]
    # Impossible to miss: a banner at the top names it.
    assert visit["down"]["banner"] == (
        "Not answering: USLGB. Their figures are missing below, not zero."
    )
    for port in ("USLAX", "USOAK", "USNTD", "USSAN"):
        assert table[port]["answered"] == "yes"
        assert table[port]["vesselsAtAnchor"] == shown(
            api[port]["vesselsAtAnchor"], "vesselsAtAnchor"
        )
    assert DOWN_SCREENSHOT.stat().st_size > 10_000


def test_every_request_stayed_on_loopback(visit: dict[str, Any]) -> None:
    hosts = {urlsplit(r["url"]).hostname for r in visit["requests"]}
    assert hosts == {"127.0.0.1"}
    paths = {urlsplit(r["url"]).path for r in visit["requests"]}
    assert {"/dashboard", "/dashboard/static/dashboard.js", "/graphql"} <= paths
    if visit["namespaced"]:
        assert visit["interfaces"] == ["lo"]


def test_the_window_and_refresh_come_from_the_pages_link(visit: dict[str, Any]) -> None:
    down = visit["down"]  # opened at /dashboard?days=5&refresh=60, as a wall screen would be
    assert down["refresh_seconds"] == "60"
    assert down["window"].startswith("Next 5 day(s)")


def test_a_cargo_owners_box_is_shown_with_its_outlook(visit: dict[str, Any]) -> None:
    box = visit["up"]["box"]  # entered twice, once in lower case: one row
    assert box["box"] == "MSCU9123450"
    assert box["port"] == "USLAX"
    assert box["status"] not in ("", "—")  # where it stands, as the outlook says


def test_on_a_phone_the_page_fits_and_the_ports_are_cards(visit: dict[str, Any]) -> None:
    for seen in (visit["up"], visit["down"]):
        assert seen["phone"] == {"overflow": False, "cards": "block"}


def test_every_field_of_the_page_has_a_label(visit: dict[str, Any]) -> None:
    assert visit["up"]["unlabelled"] == []


def test_gate_closures_and_refused_empties_are_the_apis_and_a_port_lacking_them_says_so(
    visit: dict[str, Any],
) -> None:
    notes, api = visit["up"]["terminal_notes"], api_rows(visit["up"]["api"])
    shown_rows = {(n["port"], n["cells"][2], n["cells"][3]) for n in notes}
    wanted = {
        (port, c["date"], f"gate closed ({c['closureReason'].lower()})")
        for port, row in api.items()
        for c in row["gateClosures"] or []
    } | {
        (port, r["date"], f"empties refused: {r['carrierSCACCode']} {r['ISOEquipmentCode']}")
        for port, row in api.items()
        for r in row["emptyReturnRestrictions"] or []
    }
    assert wanted  # the simulated terminals refuse some empties every day
    lacking = ("USSAN", "—", "not published by this port: gate hours, empty-return rules")
    assert shown_rows == wanted | {lacking}
    assert api["USSAN"]["gateClosures"] is None  # null in the API: not published, not "none"
    down = {(n["port"], n["cells"][3]) for n in visit["down"]["terminal_notes"]}
    assert ("USLGB", "missing: the port did not answer") in down


def test_the_page_is_updated_by_subscription_not_by_asking_again(visit: dict[str, Any]) -> None:
    posts = [r for r in visit["requests"] if r["method"] == "POST"]
    streams = [r for r in posts if r["headers"].get("accept") == "text/event-stream"]
    assert streams  # the outlook came over GraphQL over SSE
    assert all(r["headers"].get("x-portgate-csrf") == "1" for r in streams)
    # Every other POST is a change of the page's settings re-subscribing, or the one query a
    # page makes when its stream cannot be had: never one every refresh interval.
    assert len(posts) - len(streams) <= 1
