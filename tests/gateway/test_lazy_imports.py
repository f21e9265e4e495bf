"""A gateway loads the libraries its configuration needs, no more: PostgreSQL drivers, the JWT
library and httpx (OIDC's keys), the Redis client and aiocache, the OpenTelemetry SDK and the
OTLP exporter are imported only when a setting asks for them, and aiohttp never (the gateway
reaches ports on its own connections): each costs the process megabytes of memory it never uses
otherwise. Checked in a fresh interpreter, with everything ``portgate serve`` imports."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gateway.conftest import with_test_egress

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import gateway.cli.main
from gateway.app import create_app
from gateway.config import load_settings
settings = load_settings(None, **json.loads(sys.argv[1]))
create_app(settings)
optional = {"psycopg", "psycopg_pool", "jwt", "redis", "aiocache", "httpx", "aiohttp"}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in optional
                        or m.startswith(("opentelemetry.exporter", "opentelemetry.sdk")))))
"""


def loaded(settings: dict[str, object]) -> set[str]:
    """The optional modules a fresh process has imported after building the app."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(with_test_egress(settings))],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return {name.split(".")[0] for name in json.loads(done.stdout.splitlines()[-1])}


PORTS = {"ports": [{"id": "USLAX", "name": "LA", "url": "http://127.0.0.1:9/graphql"}]}


def test_the_default_configuration_loads_no_optional_driver() -> None:
    assert loaded(PORTS) == set()


@pytest.mark.parametrize(
    ("settings", "needs"),
    [
        ({"auth": {"oidc": {"issuer": "https://127.0.0.1:9", "audience": "portgate",
                            "jwks_url": "https://127.0.0.1:9/jwks"}}}, {"jwt", "httpx"}),
        ({"cache": {"redis_url": "redis://127.0.0.1:6379/0"}}, {"redis", "aiocache"}),
        ({"rate_limit": {"redis_url": "redis://127.0.0.1:6379/0"}}, {"redis"}),
    ],
)  # fmt: skip
def test_a_setting_loads_what_it_needs(settings: dict[str, object], needs: set[str]) -> None:
    # The Redis client itself imports OpenTelemetry's SDK (for its own metrics).
    assert loaded({**PORTS, **settings}) - {"opentelemetry"} == needs
