"""Property-based: schemathesis makes requests from the official DCSA Track & Trace 2.2 spec
(tests/gateway/edge/dcsa_spec.py) and sends them to the facade in front of the five simulated
ports on loopback; every answer must be no server error and conform to the spec (status code,
content type, headers, body). Deterministic (derandomized) and bounded.

Callback URLs are whatever the spec allows: ``dcsa.callback_egress`` admits one host that does
not exist, and the gateway's resolver refuses every name, so no callback is ever sent."""

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.config import load_settings
from port_resolvers.loopback import serve_on_loopback
from port_resolvers.sim.cluster import run_simulated_ports
from tests.gateway.conftest import OPEN_POLICY, with_test_egress
from tests.gateway.edge.dcsa_spec import patched_document
from tests.gateway.fake_dns import ScriptedResolver

NOW = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
SEED = 2026
EXAMPLES = 30
STARTUP_GUARD_SECONDS = 30
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Served:
    url: str
    key: str


@contextlib.contextmanager
def gateway_in_a_thread(tmp_path: Path) -> Iterator[Served]:
    """The gateway in front of the five simulated ports, served on loopback from an event loop
    of its own thread (schemathesis's calls block), with an API key of a role that sees every
    event; stopped when the block ends."""
    store = ApiKeyStore(tmp_path / "keys.sqlite3")
    key, _ = store.create(client_id="dcsa-client", organisation="DCSA", roles=["public"])
    store.close()
    resolver = ScriptedResolver({})  # no name resolves
    ready = threading.Event()
    url: list[str] = []
    failed: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with run_simulated_ports(seed=SEED, now=NOW) as ports:
            config = load_settings(
                None,
                ports=[{"id": p.id, "name": p.name, "url": p.resolver_url, "timeout": "5s"}
                       for p in ports],
                policy={"file": OPEN_POLICY},
                auth={"api_keys": {"database": tmp_path / "keys.sqlite3"},
                      "allow_anonymous": False},
                dcsa={"callback_egress": {"schemes": ["https"], "hosts": ["callbacks.invalid"]}},
                **with_test_egress({}),
            )  # fmt: skip
            app = create_app(config, clock=lambda: NOW, resolver=resolver)
            async with serve_on_loopback(app) as served:
                url.append(served)
                ready.set()
                await stop.wait()

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # reported by the test, not lost in the thread
            failed.append(exc)
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=run, name="gateway")
    thread.start()
    try:
        assert ready.wait(STARTUP_GUARD_SECONDS), "the gateway did not start"
        assert not failed, failed
        yield Served(url[0], key)
    finally:
        if not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(STARTUP_GUARD_SECONDS)
        assert not failed, failed


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with gateway_in_a_thread(tmp_path_factory.mktemp("dcsa")) as running:
        yield running


OPERATIONS: list[Any] = [
    ("/v2/events", "GET"),
    ("/v2/events/{eventID}", "GET"),
    ("/v2/event-subscriptions", "GET"),
    ("/v2/event-subscriptions", "POST"),
    ("/v2/event-subscriptions/{subscriptionID}", "GET"),
    ("/v2/event-subscriptions/{subscriptionID}", "PUT"),
    ("/v2/event-subscriptions/{subscriptionID}", "DELETE"),
    ("/v2/event-subscriptions/{subscriptionID}/secret", "PUT"),
]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_the_facade_meets_the_official_spec(served: Served, path: str, method: str) -> None:
    schema = schemathesis.openapi.from_dict(patched_document(served.url + "/dcsa/tnt"))
    operation = schema[path][method]
    headers = {"x-api-key": served.key}
    base_url = served.url + "/dcsa/tnt"

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def conforms(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=20)

    conforms()


def test_a_callback_anywhere_else_is_refused(served: Served) -> None:
    """The egress rule the property test relies on: nothing but the one host that does not
    exist is admitted, so no generated callback URL is ever called."""
    body = {"callbackUrl": "https://192.0.2.1/hook", "secret": "c2VjcmV0IG9mIDE2IGJ5dGVzIQ=="}
    response = httpx.post(
        served.url + "/dcsa/tnt/v2/event-subscriptions",
        json=body,
        headers={"x-api-key": served.key},
        timeout=20,
    )
    assert response.status_code == 400, response.text
