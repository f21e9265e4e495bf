from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.config import load_settings
from gateway.schema import export_sdl

runner = CliRunner()


def test_help_on_every_command() -> None:
    commands = [[], ["serve"], ["demo"], ["schema", "export"], ["schema", "check"],
                ["config", "check"]]  # fmt: skip
    for command in commands:
        args = [*command, "--help"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_schema_export_then_check(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    assert runner.invoke(app, ["schema", "export", str(target)]).exit_code == 0
    assert target.read_text() == export_sdl()
    assert runner.invoke(app, ["schema", "check", str(target)]).exit_code == 0
    target.write_text("type Query { stale: Int }\n")
    result = runner.invoke(app, ["schema", "check", str(target)])
    assert result.exit_code == 1
    assert "out of date" in result.output


def test_config_check_accepts_a_good_file(tmp_path: Path) -> None:
    config = tmp_path / "portgate.yaml"
    config.write_text(
        "deadline: 3s\nports:\n  - id: USLAX\n    name: Port of Los Angeles\n"
        "    url: http://127.0.0.1:9101/graphql\n    timeout: 250ms\n"
        "registry:\n  egress: {schemes: [http], hosts: ['127.0.0.1:9101']}\n"
    )
    result = runner.invoke(app, ["config", "check", str(config)])
    assert result.exit_code == 0, result.output
    assert "1 port(s), deadline 3s" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("deadlin: 3s\n", "deadlin: unknown key (did you mean deadline?)"),
        ("cache: {enabeld: true}\n", "cache.enabeld: unknown key (did you mean enabled?)"),
        (
            "ports:\n  - {id: USLAX, name: X, url: 'https://h/g', timout: 2s}\n",
            "ports.0.timout: unknown key (did you mean timeout?)",
        ),
        ("registry: {egress: {hots: [a]}}\n", "registry.egress.hots: unknown key (did you mean"),
        ("zzzzzz: 1\n", "zzzzzz: unknown key\n"),  # nothing near: no guess
        ("deadline: soon\n", "not a duration"),
        ("ports:\n  - {id: usla, name: X, url: http://h/graphql}\n", "ports.0.id"),
        ("ports:\n  - {id: USLAX, name: X, url: ftp://h/graphql}\n", "ports.0.url"),
        ("ports: [1\n", "not valid YAML"),
        ("ports:\n  - {id: USLAX, name: X, url: 'http://127.0.0.1:9/g'}\n", "ports.0.url [USLAX]"),
        (
            "ports:\n  - {id: USLAX, name: X, url: 'https://h/g', timeout: 1h}\n",
            "over the deadline",
        ),
        ("- a list\n", "must be a mapping"),
    ],
)
def test_config_check_points_at_the_bad_key(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "portgate.yaml"
    config.write_text(text)
    result = runner.invoke(app, ["config", "check", str(config)])
    assert result.exit_code == 2
    assert expected in result.output


def test_config_errors_never_echo_values(tmp_path: Path) -> None:
    config = tmp_path / "portgate.yaml"
    config.write_text(
        "ports:\n  - {id: USLAX, name: X, url: 'http://user:s3cr3t-token@h/graphql',\n"
        "     bogus: s3cr3t-token}\n"
    )
    result = runner.invoke(app, ["config", "check", str(config)])
    assert result.exit_code == 2
    assert "ports.0.bogus: unknown key" in result.output
    assert "s3cr3t" not in result.output


def test_missing_config_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "check", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_config_check_validates_the_policy_file_too(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("roles:\n  public:\n    allow: [Query.ports, Port.nmae]\n")
    config = tmp_path / "portgate.yaml"
    config.write_text(f"policy:\n  file: {policy}\n")
    result = runner.invoke(app, ["config", "check", str(config)])
    assert result.exit_code == 2
    assert "policy error" in result.output
    assert "policy.yaml:3: unknown field Port.nmae; did you mean name?" in result.output
    assert "Port.nmae" in result.output
    policy.write_text("roles:\n  public:\n    allow: [Query.ports, Port.name]\n")
    result = runner.invoke(app, ["config", "check", str(config)])
    assert result.exit_code == 0, result.output
    assert "policy.yaml: ok" in result.output


def test_a_port_credential_in_the_config_file_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "portgate.yaml"
    port = "{id: USLAX, name: X, url: 'https://h/g', credential_env: LAX_TOKEN}"
    config.write_text(f"ports:\n  - {port}\n")
    monkeypatch.delenv("LAX_TOKEN", raising=False)
    unset = runner.invoke(app, ["config", "check", str(config)])
    assert unset.exit_code == 2
    assert "ports.0.credential_env: the environment variable 'LAX_TOKEN' is not set" in (
        unset.output
    )
    monkeypatch.setenv("LAX_TOKEN", "t0k3n-from-env")
    settings = load_settings(config)
    [lax] = settings.ports
    assert lax.credential is not None
    assert lax.credential.get_secret_value() == "t0k3n-from-env"
    both = port.replace("credential_env", "credential: x, credential_env")
    config.write_text(f"ports:\n  - {both}\n")
    twice = runner.invoke(app, ["config", "check", str(config)])
    assert twice.exit_code == 2
    assert "keep one of them" in twice.output
    assert "t0k3n" not in unset.output + twice.output
