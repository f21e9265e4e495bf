"""GraphiQL in a real browser: the page loads from the gateway alone, shows a tab per kind of
user, sends the header typed into its headers editor, and shows a query's result.

The scenario (``graphiql_scenario.py``) runs as a subprocess with the demo stack and Chromium
together. Where this process may create a network namespace (root, as in CI), it runs inside
``unshare -n`` with only ``lo`` up: nothing off this machine is reachable, so a page that needed
a CDN could not render. In every case each request the page made must go to 127.0.0.1, and
Chromium's own look-ups are mapped away by ``--host-resolver-rules``.
"""

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.harness import ARTIFACTS, run_scenario

pytestmark = pytest.mark.browser

SCREENSHOT = ARTIFACTS / "graphiql.png"


@pytest.fixture(scope="module")
def visit() -> dict[str, Any]:
    result = run_scenario("tests.browser.graphiql_scenario", str(SCREENSHOT))
    print(f"screenshot: {SCREENSHOT}")
    return result


def test_the_page_shows_the_result_of_a_query(visit: dict[str, Any]) -> None:
    response = visit["response"]
    assert '"equipmentReference": "MSCU9123450"' in response
    assert '"availableForPickup":' in response
    assert '"sources":' in response
    assert SCREENSHOT.stat().st_size > 10_000


def test_every_request_stayed_on_loopback(visit: dict[str, Any]) -> None:
    hosts = {urlsplit(r["url"]).hostname for r in visit["requests"]}
    assert hosts == {"127.0.0.1"}
    paths = {urlsplit(r["url"]).path for r in visit["requests"]}
    assert "/graphiql/static/graphiql.min.js" in paths
    if visit["namespaced"]:
        assert visit["interfaces"] == ["lo"]


def test_a_tab_for_each_kind_of_user(visit: dict[str, Any]) -> None:
    assert visit["tab_titles"] == [
        "TruckerPickup",
        "CargoOwnerBoxes",
        "PortOperatorCalls",
        "StateAnalystMetrics",
        "TruckerGatesAndEmpties",
        "ExporterCutOffs",
        "TruckerBoxUpdates",
        "OperationsRoom",
    ]


def test_the_key_typed_once_is_sent_from_every_tab_and_the_hint_is_not(
    visit: dict[str, Any],
) -> None:
    posts = [r for r in visit["requests"] if r["method"] == "POST"]
    assert posts
    query = posts[-1]  # the query the user ran last; earlier ones fetched the schema
    assert query["headers"]["x-api-key"] == visit["api_key"]
    assert not any(name.startswith("_") for r in posts for name in r["headers"])
    # The cargo owner's tab, never given a header of its own, runs with the same key: as the
    # trucker, it sees the boxes' availability, which the public may not (then the answer
    # would name Container.availability as withheld).
    assert visit["second_requests"]
    assert all(r["headers"].get("x-api-key") == visit["api_key"] for r in visit["second_requests"])
    assert '"availability"' in visit["second_response"]
    assert "Container.availability" not in visit["second_response"]


def test_a_subscription_shows_its_first_message_as_it_arrives(visit: dict[str, Any]) -> None:
    assert '"containerUpdates"' in visit["live_response"]
    assert '"equipmentReference": "MSCU9123450"' in visit["live_response"]
    [request] = visit["live_requests"]  # one stream, over SSE, with the key typed once
    assert request["method"] == "POST"
    assert request["headers"]["x-api-key"] == visit["api_key"]
