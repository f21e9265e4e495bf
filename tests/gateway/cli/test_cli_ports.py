"""``portgate ports`` against a real gateway on loopback (resolver kits on loopback too)."""

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.access.apikeys import ApiKeyStore
from gateway.app import create_app
from gateway.cli.main import app as cli
from gateway.cli.main import loopback_egress
from gateway.config import load_settings
from port_resolvers.kit import create_resolver_app
from port_resolvers.loopback import serve_on_loopback
from tests.gateway.conftest import EmptyPort

NAMES = {"USLAX": "Port of Los Angeles", "USOAK": "Port of Oakland", "USRCH": "Port of Richmond"}


async def test_ports_commands_over_the_admin_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    async with AsyncExitStack() as exits:
        urls = {
            p: await exits.enter_async_context(
                serve_on_loopback(create_resolver_app(EmptyPort(p), p, gateway_token=f"t-{p}"))
            )
            + "/graphql"
            for p in NAMES
        }
        keys = ApiKeyStore(tmp_path / "keys.sqlite3")
        key, _ = keys.create(client_id="ops", organisation="CPDP", roles=["admin"])
        keys.close()
        settings = load_settings(
            None,
            ports=[
                {"id": p, "name": NAMES[p], "url": urls[p], "credential": f"t-{p}"}
                for p in ("USLAX", "USOAK")
            ],
            auth={"api_keys": {"database": tmp_path / "keys.sqlite3"}},
            registry={"egress": loopback_egress(urls.values())},
        )
        gateway = await exits.enter_async_context(serve_on_loopback(create_app(settings)))
        monkeypatch.setenv("PORTGATE_URL", gateway)
        monkeypatch.setenv("PORTGATE_API_KEY", key)
        monkeypatch.setenv("RICHMOND_TOKEN", "t-USRCH")

        async def portgate(*args: str) -> str:
            result = await asyncio.to_thread(runner.invoke, cli, ["ports", *args])
            assert result.exit_code == 0, result.output
            return result.output

        listed = await portgate("list")
        assert "USLAX" in listed
        assert "USOAK" in listed
        assert "credential set" in listed
        assert "t-USLAX" not in listed
        assert "paused" in await portgate("pause", "USOAK")
        assert "t-USRCH" not in await portgate(
            "add", "USRCH", "--name", NAMES["USRCH"], "--url", urls["USRCH"],
            "--credential-env", "RICHMOND_TOKEN",
        )  # fmt: skip
        checked = await portgate("check", "USRCH")
        assert "checking USRCH's endpoint from the gateway..." in checked  # said first
        assert "up" in checked
        assert "check: passed" in checked
        assert "1.5" in await portgate("update", "USRCH", "--timeout", "1500ms")
        narrowed = await portgate(
            "update", "USRCH", "--capability", "ports", "--capability", "vesselCalls"
        )
        assert "ports,vesselCalls" in narrowed.replace(", ", ","), narrowed
        assert "removed USRCH" in await portgate("remove", "USRCH")

        refused = await asyncio.to_thread(
            runner.invoke, cli, ["ports", "add", "USNTD", "--name", "x", "--url", gateway]
        )
        assert refused.exit_code == 1
        assert "PORT_CHECK_FAILED (EGRESS_REFUSED)" in refused.output  # the gateway itself
