"""``portgate resolver``: ready-made port resolvers, run from the command line.

    portgate resolver dcsa --port-id USXXX --source https://tnt.port.example --host 0.0.0.0 \\
        --port 9000 --gateway-token-env GATEWAY_TOKEN --terminal "APMT=APM Pier 400"

The command lives in ``port_resolvers`` (it needs the resolver kit and the adapters, never the
gateway), so a port can run it without the gateway's code: ``portgate-resolver dcsa ...`` or
``python -m port_resolvers.cli dcsa ...``. The ``portgate`` command mounts the same group as
``portgate resolver``. A bad option is a message naming it and exit code 2; a secret is read
from the environment by name and never printed.
"""

import asyncio
import logging
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from port_resolvers.sources.dcsa_paging import DEFAULT_MAX_PAGES, DEFAULT_PAGE_SIZE

if TYPE_CHECKING:  # the resolver and its HTTP client load when a resolver is run, not before
    from port_resolvers.dcsa_resolver import DcsaResolverSettings, Terminal

resolver_app = typer.Typer(
    help="Ready-made port resolvers: a port whose system speaks a standard joins with no code.",
    no_args_is_help=True,
)

Duration = Annotated[str, typer.Option(help="e.g. 10s, 30m, 12h, 90d.")]


@resolver_app.callback()
def resolvers() -> None:
    """Ready-made port resolvers (one command per kind of source system)."""


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg="red", err=True)
    return typer.Exit(2)


def _terminals(values: list[str]) -> "list[Terminal]":
    terminals = []
    for value in values:
        code, sep, name = value.partition("=")
        if not sep:
            raise _fail(f"--terminal {value!r}: write it as CODE=Name, e.g. APMT=APM Pier 400")
        terminals.append({"code": code.strip(), "name": name.strip()})
    return terminals  # type: ignore[return-value]  # validated by the settings model


OPTION_OF_SETTING = {"terminals": "terminal"}


def _option(setting: object) -> str:
    name = OPTION_OF_SETTING.get(str(setting), str(setting))
    return "--" + name.replace("_", "-")


def _settings(**options: object) -> "DcsaResolverSettings":
    from port_resolvers.dcsa_resolver import DcsaResolverSettings

    try:
        return DcsaResolverSettings.model_validate(options)
    except ValidationError as exc:
        problems = [
            f"  {_option(error['loc'][0])}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        ]
        raise _fail("the resolver cannot start:\n" + "\n".join(problems)) from None


def _durations(**texts: str) -> dict[str, object]:
    from port_resolvers.dcsa_resolver import parse_duration

    parsed: dict[str, object] = {}
    for name, text in texts.items():
        try:
            parsed[name] = parse_duration(text)
        except ValueError as exc:
            raise _fail(f"--{name.replace('_', '-')}: {exc}") from None
    return parsed


@resolver_app.command()
def dcsa(
    port_id: Annotated[str, typer.Option(help="The port's UN/LOCODE, e.g. USRCH.")],
    source: Annotated[
        str, typer.Option(help="Base URL of the port's DCSA T&T 2.2 API (before /v2/events).")
    ],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on (0: any free one).")] = 9000,
    source_credential_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the T&T API's credential."),
    ] = None,
    source_credential_header: Annotated[
        str,
        typer.Option(
            help="Header carrying it; Authorization sends 'Bearer <credential>', others the "
            "credential as it is (e.g. X-API-Key)."
        ),
    ] = "Authorization",
    gateway_token_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the token the gateway presents (its credential "
            "for this port); without it anyone who reaches the resolver is answered."
        ),
    ] = None,
    port_name: Annotated[str | None, typer.Option(help="The port's name.")] = None,
    time_zone: Annotated[
        str | None,
        typer.Option(help="IANA time zone; timestamps without a UTC offset are read in it."),
    ] = None,
    terminal: Annotated[
        list[str] | None,
        typer.Option(help="A terminal as SMDG-CODE=Name (repeatable), e.g. 'APMT=APM Pier 400'."),
    ] = None,
    page_size: Annotated[int, typer.Option(help="Events asked per page.")] = DEFAULT_PAGE_SIZE,
    max_pages: Annotated[
        int, typer.Option(help="Pages read for one question at most; more: a partial answer.")
    ] = DEFAULT_MAX_PAGES,
    max_concurrency: Annotated[int, typer.Option(help="Requests to the API in flight.")] = 8,
    timeout: Duration = "10s",
    container_history: Duration = "90d",
    calls_past: Duration = "30d",
    calls_ahead: Duration = "60d",
    schedule_horizon: Duration = "60d",
    event_time_filter: Annotated[
        bool,
        typer.Option(help="Bound questions by eventDateTime too (DCSA event domain 3)."),
    ] = True,
    no_store: Annotated[bool, typer.Option(help="Forbid caching any answer.")] = False,
    push_callback_url: Annotated[
        str | None,
        typer.Option(
            help="Where the T&T API reaches this resolver's /dcsa/notifications: the resolver "
            "subscribes to its events and tells the gateway what changed instead of being polled."
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the shared schema for a port whose system speaks DCSA Track & Trace 2.2."""
    from port_resolvers.dcsa_resolver import SettingsError, serve_dcsa_resolver

    settings = _settings(
        port_id=port_id,
        source=source,
        host=host,
        port=port,
        source_credential_env=source_credential_env,
        source_credential_header=source_credential_header,
        gateway_token_env=gateway_token_env,
        port_name=port_name,
        time_zone=time_zone,
        terminals=_terminals(terminal or []),
        page_size=page_size,
        max_pages=max_pages,
        max_concurrency=max_concurrency,
        event_time_filter=event_time_filter,
        no_store=no_store,
        push_callback_url=push_callback_url,
        **_durations(
            timeout=timeout,
            container_history=container_history,
            calls_past=calls_past,
            calls_ahead=calls_ahead,
            schedule_horizon=schedule_horizon,
        ),
    )
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")

    # uvicorn stops gracefully on SIGINT / SIGTERM.
    serving = serve_dcsa_resolver(settings, announce=typer.echo, log_level=log_level)
    try:
        asyncio.run(serving)
    except SettingsError as exc:
        raise _fail(str(exc)) from None


def main() -> None:
    """The ``portgate-resolver`` command: this group on its own."""
    resolver_app()


if __name__ == "__main__":
    main()
