"""What every ``portgate`` sub-command shares: the --config option, and failing with a message."""

from pathlib import Path
from typing import Annotated

import typer

from gateway.config import ConfigError, GatewaySettings, load_settings

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file (see README).")
]


def fail(message: str) -> typer.Exit:
    """Print ``message`` in red on stderr; the exit (code 2) to raise."""
    typer.secho(message, fg="red", err=True)
    return typer.Exit(2)


def load_config(config: Path | None) -> GatewaySettings:
    """The settings, or exit 2 naming every bad key (never a value)."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(f"config error: {exc}") from None
