"""Every command of ``portgate`` explains itself: each option and argument has help, and the
help reads as written (no text lost to the terminal's markup)."""

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from gateway.cli.main import app


def commands() -> list[tuple[str, ...]]:
    """Every command's path below ``portgate`` (``("ports", "update")``)."""
    root = typer.main.get_command(app)
    found: list[tuple[str, ...]] = []

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):  # a group (typer's own click)
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
        else:
            found.append(path)

    walk(root, ())
    return found


def command_at(path: tuple[str, ...]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_every_option_has_help_and_the_help_reads_as_written(path: tuple[str, ...]) -> None:
    command = command_at(path)
    assert command.help, f"portgate {' '.join(path)} has no description"
    for param in command.params:
        if param.param_type_name == "option" and param.name != "help":
            assert param.help, f"portgate {' '.join(path)} {param.opts[0]} has no help"
            assert "[" not in param.help, f"{param.opts[0]}: brackets are eaten as markup"
    shown = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    for line in shown.output.splitlines():
        assert " . " not in line, line
        assert not line.rstrip(" │").endswith(" ."), line


def test_the_commands_are_found() -> None:
    assert {("serve",), ("ports", "update"), ("conformance",), ("documents", "add")} <= set(
        commands()
    )
