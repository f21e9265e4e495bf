"""A person's visit to GraphiQL, in the machine's headless Chromium, with the demo stack on
loopback: the five simulated ports, their resolvers and the gateway.

Run as a program (``python -m tests.browser.graphiql_scenario SCREENSHOT``) so that the browser
test can run it, servers and browser together, inside a network namespace that has only a
loopback interface. It prints one JSON object of what it saw; the test judges it.
"""

import asyncio
import json
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.async_api import Request, async_playwright, expect

from gateway.app import create_app
from gateway.cli.keys import issue_demo_keys
from gateway.cli.main import loopback_egress
from gateway.config import load_settings
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import run_simulated_ports
from port_resolvers.sim.data import DEFAULT_SEED

CHROMIUM = "/usr/bin/chromium"
# --host-resolver-rules stops Chromium's own look-ups of outside hosts; the rest stop its
# background traffic (updates, sync, QUIC probes).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
WAIT_MS = 15_000  # how long one expectation may wait for the page; a guard, not a pause
ROLE = "trucker"  # the user whose API key is typed into the page


async def visit(screenshot: Path) -> dict[str, Any]:
    """Everything the visit saw: interfaces, tab titles, the response text, each request."""
    with tempfile.TemporaryDirectory(prefix="portgate-browser-") as name:
        files = Path(name)
        keys = files / "keys.sqlite3"
        api_key = dict(issue_demo_keys(keys))[ROLE]
        return await _visit_gateway(files, keys, api_key, screenshot)


async def _visit_gateway(files: Path, keys: Path, api_key: str, screenshot: Path) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def record(request: Request) -> None:
        seen.append({"url": request.url, "method": request.method, "headers": request.headers})

    async with run_simulated_ports(seed=DEFAULT_SEED) as ports:
        settings = load_settings(
            None,
            ports=[{"id": p.id, "name": p.name, "url": p.resolver_url} for p in ports],
            auth={"api_keys": {"database": keys}},
            audit={"store": f"sqlite:///{files / 'audit.sqlite3'}"},
            registry={
                "store": f"sqlite:///{files / 'registry.sqlite3'}",
                "egress": loopback_egress(p.resolver_url for p in ports),
            },
        )
        async with serve_on_loopback(create_app(settings)) as url, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("request", record)
            await page.goto(f"{url}/graphql")

            tabs = page.locator(".graphiql-tab")
            await expect(tabs).to_have_count(8, timeout=WAIT_MS)
            tab_titles = [t.strip() for t in await tabs.all_inner_texts()]

            # The key typed once, above GraphiQL, as the README says.
            await page.locator("#portgate-key-input").fill(api_key)
            await page.get_by_role("button", name="Use key").click()
            await expect(page.locator("#portgate-key-status")).to_contain_text(
                api_key[-4:], timeout=WAIT_MS
            )

            await page.locator(".graphiql-execute-button").click()
            response = page.locator(".graphiql-response")
            await expect(response).to_contain_text("availableForPickup", timeout=WAIT_MS)
            response_text = (await response.inner_text()).replace("\xa0", " ")
            await page.screenshot(path=str(screenshot))
            first_posts = len([r for r in seen if r["method"] == "POST"])

            # Another tab, another user's question: the same key goes with it.
            await tabs.nth(1).click()
            await expect(page.locator(".graphiql-query-editor")).to_contain_text(
                "query CargoOwnerBoxes", timeout=WAIT_MS
            )
            await page.locator(".graphiql-execute-button").click()
            await expect(response).to_contain_text('"containers"', timeout=WAIT_MS)
            second_text = (await response.inner_text()).replace("\xa0", " ")
            second_posts = [r for r in seen if r["method"] == "POST"][first_posts:]

            # A subscription: GraphiQL shows its first message as it arrives, then stops it.
            await tabs.nth(6).click()
            await expect(page.locator(".graphiql-query-editor")).to_contain_text(
                "subscription TruckerBoxUpdates", timeout=WAIT_MS
            )
            await page.locator(".graphiql-execute-button").click()
            await expect(response).to_contain_text('"containerUpdates"', timeout=WAIT_MS)
            live_text = (await response.inner_text()).replace("\xa0", " ")
            live_requests = [r for r in seen if r["headers"].get("accept") == "text/event-stream"]
            await page.locator(".graphiql-execute-button").click()  # stop
            await browser.close()
    return {
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "api_key": api_key,
        "tab_titles": tab_titles,
        "response": response_text,
        "second_response": second_text,
        "second_requests": second_posts,
        "live_response": live_text,
        "live_requests": live_requests,
        "requests": seen,
    }


def main() -> None:
    screenshot = Path(sys.argv[1])
    print(json.dumps(asyncio.run(visit(screenshot))))


if __name__ == "__main__":
    main()
