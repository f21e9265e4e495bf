"""`portgate keys`: create prints a key once, list never shows a secret, revoke, checks."""

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.access.apikeys import ApiKeyStore
from gateway.cli.main import app

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "portgate.yaml"
    path.write_text(
        "ports:\n  - {id: USLAX, name: Port of Los Angeles, url: 'https://lax.example/graphql'}\n"
    )
    return path


def test_help_on_every_keys_command() -> None:
    for command in (["keys"], ["keys", "create"], ["keys", "list"], ["keys", "revoke"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage" in result.output


def test_create_list_revoke(config: Path) -> None:
    created = runner.invoke(
        app,
        ["keys", "create", "--config", str(config), "--client-id", "acme",
         "--organisation", "ACME Trucking", "--role", "trucker", "--port", "USLAX"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    [key] = re.findall(r"pgk_[0-9a-f]{12}_\S+", created.output)
    key_id = key.split("_")[1]
    database = config.parent / "portgate-keys.sqlite3"  # next to the config file
    principal = ApiKeyStore(database).verify(key)
    assert (principal.client_id, principal.roles, principal.ports) == (
        "acme", {"trucker"}, {"USLAX"},
    )  # fmt: skip

    listed = runner.invoke(app, ["keys", "list", "--config", str(config)])
    assert listed.exit_code == 0
    assert key_id in listed.output
    assert "active" in listed.output
    assert key.split("_", 2)[2] not in listed.output

    revoked = runner.invoke(app, ["keys", "revoke", key_id, "--config", str(config)])
    assert revoked.exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list", "--config", str(config)]).output
    again = runner.invoke(app, ["keys", "revoke", key_id, "--config", str(config)])
    assert again.exit_code == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--role", "truckr"], "unknown role(s) ['truckr']"),
        (["--role", "trucker", "--port", "USOAK"], "'USOAK' is not one of the configured ports"),
        (["--role", "port_admin"], "['port_admin'] act for their own port(s) only"),
    ],
)
def test_create_refuses_unknown_roles_and_ports(
    config: Path, extra: list[str], message: str
) -> None:
    result = runner.invoke(
        app,
        ["keys", "create", "--config", str(config), "--client-id", "a", "--organisation", "A",
         *extra],
    )  # fmt: skip
    assert result.exit_code == 2
    assert message in result.output
    assert not (config.parent / "portgate-keys.sqlite3").exists()
