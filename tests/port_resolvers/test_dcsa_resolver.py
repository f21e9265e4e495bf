"""``portgate resolver dcsa``: the ready-made resolver, as a port runs it.

The command itself (a real process on 127.0.0.1) in front of the simulated DCSA ports passes
``portgate conformance``; bad options are a clear message and exit code 2, secrets never
echoed; the gateway token and the source's credential go where they should.
"""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from gateway.cli.conformance import check_resolver, format_report
from port_resolvers.cli import resolver_app
from port_resolvers.dcsa_resolver import DcsaResolverSettings, dcsa_resolver_app
from port_resolvers.kit.changes import ChangeNotices
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.data import DEFAULT_SEED, generate_port_data
from port_resolvers.sim.systems import create_port_system
from port_resolvers.sources.dcsa_push import NOTIFICATIONS_PATH, DcsaEventPush
from portcontract.changes import ChangeNotice

BIN = Path(sys.executable).parent
GUARD_SECONDS = 60  # far past a normal run: reaching it means a hang
SECRET = "s3cret-token-value"


PORTGATE_RESOLVER = (str(BIN / "portgate"), "resolver")  # the gateway's command mounts it
STANDALONE = (str(BIN / "portgate-resolver"),)  # what a port installs without the gateway


@asynccontextmanager
async def running_resolver(
    *options: str, env: dict[str, str] | None = None, command: tuple[str, ...] = PORTGATE_RESOLVER
) -> AsyncIterator[str]:
    """``portgate resolver dcsa`` as a process; yields its GraphQL URL once it listens."""
    process = await asyncio.create_subprocess_exec(
        *command, "dcsa", "--host", "127.0.0.1", "--port", "0",
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert process.stdout is not None
    try:
        async with asyncio.timeout(GUARD_SECONDS):
            line = (await process.stdout.readline()).decode()
        assert " resolver on http://127.0.0.1:" in line, line
        yield line.split(" resolver on ")[1].split(",")[0]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(GUARD_SECONDS):
                await process.wait()


async def conformance(url: str, port: str, *containers: str) -> tuple[int, str]:
    args = [arg for reference in containers for arg in ("--container", reference)]
    process = await asyncio.create_subprocess_exec(
        str(BIN / "portgate"), "conformance", url, "--port", port, *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(GUARD_SECONDS):
        output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode()


async def conformance_in_process(url: str, port: str, *containers: str) -> tuple[int, str]:
    """What ``portgate conformance`` runs, without starting another process."""
    results = await check_resolver(url, port, containers=containers)
    return int(not all(r.passed for r in results)), format_report(url, port, results)


@pytest.mark.parametrize(
    ("port_id", "command", "check"),
    [
        ("USLAX", PORTGATE_RESOLVER, conformance_in_process),
        ("USOAK", STANDALONE, conformance),  # the portgate conformance command itself
    ],
)
async def test_the_ready_made_resolver_in_front_of_a_simulated_dcsa_port_conforms(
    port_id: str,
    command: tuple[str, ...],
    check: Callable[..., Awaitable[tuple[int, str]]],
):
    data = generate_port_data(port_id, seed=DEFAULT_SEED)
    system = create_port_system(port_id, data=data, seed=DEFAULT_SEED)
    terminals = [f"--terminal={t.facility_code}={t.name}" for t in data.port.terminals]
    async with (
        serve_on_loopback(system.app) as source,
        running_resolver(
            "--port-id", port_id, "--source", source, "--time-zone", "America/Los_Angeles",
            "--port-name", data.port.name, *terminals, command=command,
        ) as url,
    ):  # fmt: skip
        code, report = await check(url, port_id, *(b.reference for b in data.containers[:3]))
    assert code == 0, report
    assert f"{port_id} conforms (of 10 checks)" in report
    assert "3 of 3 container(s)" in report
    assert system.stats.requests["GET /v2/events"] > 0


async def test_the_gateway_token_is_required_and_the_port_answers_from_its_settings():
    data = generate_port_data("USOAK", seed=DEFAULT_SEED)
    system = create_port_system("USOAK", data=data, seed=DEFAULT_SEED)
    query = {
        "query": "{ ports { UNLocationCode name timeZone terminals { facilitySMDGCode name } } }"
    }
    async with (
        serve_on_loopback(system.app) as source,
        running_resolver(
            "--port-id", "USOAK", "--source", source, "--gateway-token-env", "GATEWAY_TOKEN",
            "--port-name", "Port of Oakland", "--time-zone", "America/Los_Angeles",
            "--terminal", "B58=OICT", env={"GATEWAY_TOKEN": SECRET},
        ) as url,
        httpx.AsyncClient() as client,
    ):  # fmt: skip
        refused = await client.post(url, json=query)
        answered = await client.post(url, json=query, headers={"Authorization": f"Bearer {SECRET}"})
    assert refused.status_code == 401
    assert SECRET not in refused.text
    assert answered.json() == {
        "data": {
            "ports": [
                {
                    "UNLocationCode": "USOAK",
                    "name": "Port of Oakland",
                    "timeZone": "America/Los_Angeles",
                    "terminals": [{"facilitySMDGCode": "B58", "name": "OICT"}],
                }
            ]
        }
    }


@pytest.mark.parametrize(
    ("header", "sent"),
    [("Authorization", f"Bearer {SECRET}"), ("X-API-Key", SECRET)],
)
async def test_the_sources_credential_comes_from_the_environment(header: str, sent: str):
    seen: list[httpx.Headers] = []

    def source(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json=[])

    settings = DcsaResolverSettings(
        port_id="USRCH",
        source="https://tnt.richmond.example",
        source_credential_env="TNT_TOKEN",
        source_credential_header=header,
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(source)) as to_source:
        app = dcsa_resolver_app(settings, to_source, environment={"TNT_TOKEN": SECRET})
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://resolver.test"
        ) as client:
            response = await client.post(
                "/graphql", json={"query": "{ vesselCalls { totalCount } }"}
            )
    assert response.json() == {"data": {"vesselCalls": {"totalCount": 0}}}
    assert seen
    assert all(headers[header] == sent for headers in seen)
    assert all(headers["API-Version"] == "2" for headers in seen)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--port-id", "US", "--source", "https://t.example"], "--port-id: UN/LOCODE 'US'"),
        (["--port-id", "USRCH", "--source", "ftp://t.example"], "--source: must be an http"),
        (["--port-id", "USRCH", "--source", "https://t.example?x=1"], "without a query"),
        (["--port-id", "USRCH", "--source", "https://t.example", "--terminal", "APMT"],
         "--terminal 'APMT': write it as CODE=Name"),
        (["--port-id", "USRCH", "--source", "https://t.example", "--terminal", "apm t=X"],
         "--terminal: must be an SMDG terminal code"),
        (["--port-id", "USRCH", "--source", "https://t.example", "--time-zone", "Mars/Base"],
         "--time-zone: is not an IANA time zone"),
        (["--port-id", "USRCH", "--source", "https://t.example", "--timeout", "soon"],
         "--timeout: 'soon' is not a duration"),
        (["--port-id", "USRCH", "--source", "https://t.example", "--page-size", "0"],
         "--page-size: Input should be greater than or equal to 1"),
        (["--port-id", "USRCH", "--source", "https://t.example", "--gateway-token-env", "NO_SUCH"],
         "gateway_token_env: the environment variable NO_SUCH is not set"),
        (["--port-id", "USRCH", "--source", "https://t.example",
          "--push-callback-url", "https://r.example/hook"],
         "--push-callback-url: must end with /dcsa/notifications"),
    ],
)  # fmt: skip
def test_a_bad_option_is_a_message_and_exit_code_2(options: list[str], says: str):
    result = CliRunner().invoke(
        resolver_app, ["dcsa", "--port", "0", *options], env={"TNT_TOKEN": SECRET}
    )
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    assert SECRET not in result.output


def test_a_secret_is_never_echoed_even_when_the_source_is_refused(tmp_path: Any):
    result = CliRunner().invoke(
        resolver_app,
        ["dcsa", "--port-id", "USRCH", "--source", "gopher://x", "--port", "0",
         "--source-credential-env", "TNT_TOKEN"],
        env={"TNT_TOKEN": SECRET},
    )  # fmt: skip
    assert result.exit_code == 2
    assert SECRET not in result.output


async def test_with_a_callback_the_resolver_is_told_by_its_source_and_tells_the_gateway():
    data = generate_port_data("USLAX", seed=DEFAULT_SEED)
    system = create_port_system("USLAX", data=data, seed=DEFAULT_SEED)
    subscribed = asyncio.Event()

    async def kept(_: float) -> None:  # the push's wait between looks: it holds a subscription
        subscribed.set()
        await asyncio.Event().wait()

    async with serve_on_loopback(system.app) as source, httpx.AsyncClient() as client:
        settings = DcsaResolverSettings(port_id="USLAX", source=source)
        push = DcsaEventPush(client, source, ChangeNotices(heartbeat=3600), sleep=kept)
        async with (
            serve_on_loopback(dcsa_resolver_app(settings, client, push=push)) as url,
        ):
            assert (await client.get(url + "/changes")).status_code == 503  # not yet subscribed
            push.start(url + NOTIFICATIONS_PATH)
            await asyncio.wait_for(subscribed.wait(), GUARD_SECONDS)
            async with client.stream("GET", url + "/changes") as changes:
                chunks = changes.aiter_raw()
                await anext(chunks)  # listening
                box = next(c for c in data.containers if c.events)
                moved = replace(box.events[-1], event_id="5e1f0b8e-0000-4000-8000-00000000beef")
                data.record(replace(box, events=(*box.events, moved)))
                notice = await asyncio.wait_for(anext(chunks), GUARD_SECONDS)
            assert notice == ChangeNotice(frozenset({box.reference})).to_event()
            await push.stop()
        assert system.track_and_trace is not None
        assert system.track_and_trace.subscriptions.all() == []  # deleted when it stopped
