"""What a port runs stands without the gateway: importing the resolver kit, the adapters, the
ready-made DCSA resolver and its command loads no gateway module and none of the gateway's own
dependencies (a port needs no Redis, PostgreSQL or OpenTelemetry exporter)."""

import json
import subprocess
import sys

PORT_SIDE = (
    "portcontract",
    "port_resolvers.kit",
    "port_resolvers.sources.dcsa",
    "port_resolvers.sources.native_json",
    "port_resolvers.dcsa_resolver",
    "port_resolvers.cli",
)
GATEWAY_ONLY = ("gateway", "redis", "psycopg", "psycopg_pool", "aiohttp", "aiocache", "jwt",
                "prometheus_client", "opentelemetry.exporter", "opentelemetry.sdk")  # fmt: skip


def test_importing_what_a_port_runs_loads_nothing_of_the_gateway() -> None:
    script = (
        "import importlib, json, sys\n"
        f"for name in {PORT_SIDE!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert set(PORT_SIDE) <= set(loaded)
    gateway = [m for m in loaded if any(m == g or m.startswith(f"{g}.") for g in GATEWAY_ONLY)]
    assert gateway == []
