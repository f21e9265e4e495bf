"""A visit to the outlook dashboard, in the machine's headless Chromium, with the demo stack on
loopback: the five simulated ports, their resolvers and the gateway, all at a fixed moment so the
page and the API answer for the same window.

Run as a program (``python -m tests.browser.dashboard_scenario SCREENSHOT DOWN_SCREENSHOT``),
like :mod:`tests.browser.graphiql_scenario`, so that the test can run servers and browser
together in a loopback-only network namespace. Two visits: every port up (with an API key pasted
into the page), then a fresh gateway while USLGB's own system is down. It prints one JSON object
of what it saw, and what the outlook API answered, for the test to judge.
"""

import asyncio
import json
import socket
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page, Request, async_playwright, expect

from gateway.app import create_app
from gateway.cli.keys import issue_demo_keys
from gateway.cli.main import loopback_egress
from gateway.config import load_settings
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import RunningPort, run_simulated_ports
from port_resolvers.sim.data import DEFAULT_SEED
from tests.browser.graphiql_scenario import CHROMIUM, CHROMIUM_FLAGS

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)  # the ports' and the gateway's "now"
WAIT_MS = 15_000  # how long one expectation may wait for the page; a guard, not a pause
ROLE = "port_operator"  # the user whose API key is pasted into the page
BOX = "MSCU9123450"  # in the demo data, always waiting for pick-up at Los Angeles
PORT_IDS = ["USLAX", "USLGB", "USOAK", "USNTD", "USSAN"]
FIELDS = [
    "answered",
    "vesselsAtAnchor",
    "vesselsAtBerth",
    "expectedArrivals",
    "averageDelayHours",
    "containerDwellDays",
    "truckTurnTimeMinutes",
    "status",
]
API_QUERY = """query Api($days: Int!) { outlook(days: $days) {
  ports { UNLocationCode answered status vesselsAtAnchor vesselsAtBerth expectedArrivals
          averageDelayHours containerDwellDays truckTurnTimeMinutes
          lateArrivals { transportCallReference }
          gateClosures { facilitySMDGCode date closureReason }
          emptyReturnRestrictions { facilitySMDGCode date carrierSCACCode ISOEquipmentCode } }
  comparison { mostVesselsAtAnchor mostDelayed missing } } }"""


async def visit(screenshot: Path, down_screenshot: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="portgate-dashboard-") as name:
        files = Path(name)
        keys = files / "keys.sqlite3"
        api_key = dict(issue_demo_keys(keys))[ROLE]
        seen: list[dict[str, Any]] = []

        def record(request: Request) -> None:
            seen.append({"url": request.url, "method": request.method, "headers": request.headers})

        async with (
            run_simulated_ports(seed=DEFAULT_SEED, now=NOW) as ports,
            async_playwright() as pw,
        ):
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            up = await _visit(browser, ports, files / "up-", keys, api_key, screenshot, record)
            next(p for p in ports if p.id == "USLGB").system.knobs.down = True
            down = await _visit(
                browser, ports, files / "down-", keys, None, down_screenshot, record,
                query="?days=5&refresh=60",
            )  # fmt: skip
            await browser.close()
    return {
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "api_key": api_key,
        "up": up,
        "down": down,
        "requests": seen,
    }


async def _visit(
    browser: Browser,
    ports: list[RunningPort],
    prefix: Path,
    keys: Path,
    api_key: str | None,
    screenshot: Path,
    record: Callable[[Request], None],
    query: str = "",
) -> dict[str, Any]:
    """One gateway (fresh, so nothing cached from an earlier visit), one page, one API call;
    with an API key, the trucker's box entered too, and the page seen on a phone."""
    settings = load_settings(
        None,
        ports=[{"id": p.id, "name": p.name, "url": p.resolver_url} for p in ports],
        auth={"api_keys": {"database": keys}},
        audit={"store": f"sqlite:///{prefix}audit.sqlite3"},
        registry={
            "store": f"sqlite:///{prefix}registry.sqlite3",
            "egress": loopback_egress(p.resolver_url for p in ports),
        },
    )
    async with serve_on_loopback(create_app(settings, clock=lambda: NOW)) as url:
        page = await browser.new_page(viewport={"width": 1440, "height": 1400})
        page.on("request", record)
        await page.goto(f"{url}/dashboard{query}")
        await expect(page.locator("body[data-loaded=true]")).to_have_count(1, timeout=WAIT_MS)
        if api_key is not None:  # paste a key, as a user would; the page asks again with it
            await page.get_by_text("Key, window and refresh").click()  # the settings open
            await page.fill("#api-key", api_key)
            await page.click("#key-form button[type=submit]")
            await expect(page.locator("#status")).to_have_text(
                "Live (with your API key)", timeout=WAIT_MS
            )
        await expect(page.locator("#ports tbody tr")).to_have_count(5, timeout=WAIT_MS)
        shown = await _table(page)
        box: dict[str, str] = {}
        if api_key is not None:  # a cargo owner's question: where is my box
            await page.fill("#boxes", f"{BOX.lower()}, {BOX}")
            await page.click("#boxes-form button[type=submit]")
            row = page.locator(f"#containers tbody tr[data-container={BOX}]")
            await expect(row).to_have_count(1, timeout=WAIT_MS)
            cells = await row.locator("td").all_inner_texts()
            box = dict(zip(["box", "port", "status", "first", "lastFree", "holds", "risk"],
                           cells, strict=False))  # fmt: skip
        terminal_notes = [
            {"port": await row.get_attribute("data-port"),
             "cells": [c.strip() for c in await row.locator("td").all_inner_texts()]}
            for row in await page.locator("#terminal-notes tbody tr").all()
        ]  # fmt: skip
        page_text = await page.locator("main").inner_text()
        header_text = await page.locator("header").inner_text()
        banner = await page.locator("#missing-banner").inner_text()
        banner_shown = await page.locator("#missing-banner").is_visible()
        refresh_seconds = await page.locator("#refresh-seconds").text_content()
        window_text = await page.locator("#window").inner_text()
        unlabelled = await page.evaluate(
            "() => [...document.querySelectorAll('input, textarea')]"
            ".filter(e => !e.labels || !e.labels.length).map(e => e.id)"
        )
        await page.set_viewport_size({"width": 390, "height": 844})  # a phone
        phone = await page.evaluate(
            "() => ({overflow: document.documentElement.scrollWidth > window.innerWidth,"
            " cards: getComputedStyle(document.querySelector('#ports tbody tr')).display})"
        )
        await page.screenshot(path=str(screenshot.with_suffix(".phone.png")), full_page=True)
        await page.set_viewport_size({"width": 1440, "height": 1400})
        stored_key = await page.evaluate("() => window.localStorage.getItem('portgate.apiKey')")
        await page.screenshot(path=str(screenshot), full_page=True)
        await page.close()
        headers = {"X-API-Key": api_key} if api_key else {}
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.post(
                "/graphql", json={"query": API_QUERY, "variables": {"days": 3}}, headers=headers
            )
        api = response.json()
    return {
        "table": shown,
        "terminal_notes": terminal_notes,
        "api": api,
        "page_text": page_text,
        "header_text": header_text,
        "stored_key": stored_key,
        "box": box,
        "banner": banner if banner_shown else None,
        "refresh_seconds": refresh_seconds,
        "window": window_text,
        "unlabelled": unlabelled,
        "phone": phone,
    }


async def _table(page: Page) -> dict[str, dict[str, str]]:
    """The ports table as the page shows it: port -> field -> cell text."""
    rows: dict[str, dict[str, str]] = {}
    for row in await page.locator("#ports tbody tr").all():
        port = await row.get_attribute("data-port")
        assert port is not None
        cells = {}
        for cell in await row.locator("td[data-field]").all():
            field = await cell.get_attribute("data-field")
            assert field is not None
            cells[field] = (await cell.inner_text()).strip()
        rows[port] = cells
    return rows


def main() -> None:
    print(json.dumps(asyncio.run(visit(Path(sys.argv[1]), Path(sys.argv[2])))))


if __name__ == "__main__":
    main()
