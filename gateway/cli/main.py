"""The ``portgate`` command.

portgate serve --config portgate.yaml     the gateway, with the ports in the config file
  [--workers N]                           ... in N processes on one socket
portgate demo                             the gateway + five simulated ports, on loopback
portgate schema export | check            write / compare schema.graphql
portgate config check portgate.yaml       validate a config file and explain every error
portgate config reference [FILE]          the config reference, from the settings model
portgate conformance URL --port USXXX     check a port resolver against the contract
portgate resolver dcsa --port-id USXXX ...  a ready-made resolver for a DCSA T&T 2.2 port
portgate sim-ports --base-port 9100       the five simulated ports on fixed ports
portgate keys create | list | revoke      API keys (see gateway/cli/keys.py)
portgate audit verify | search | export | prune ...   the audit trail (see gateway/cli/audit.py)
portgate documents add | list            trusted documents (see gateway/cli/documents.py)
portgate ports list | add | update | pause | resume | check | remove   the registry
"""

import asyncio
import contextlib
import errno
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from gateway.access.documents import ManifestError
from gateway.access.policy_file import PolicyError, PolicyStore
from gateway.app import check_seed_egress, create_app
from gateway.cli import server
from gateway.cli.audit import audit_app
from gateway.cli.common import ConfigOption, load_config
from gateway.cli.documents import documents_app
from gateway.cli.keys import demo_keys, keys_app
from gateway.cli.ports import ports_app
from gateway.cli.workers import check_workers, run_workers
from gateway.config import API_KEY_DATABASE_NAME, ConfigError, load_settings
from gateway.ports.egress import SystemResolver
from gateway.record.tracing import configure_tracing
from gateway.schema import build_schema, export_sdl
from port_resolvers.cli import resolver_app  # what a port runs; it never imports the gateway

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
SCHEMA_FILE = Path("schema.graphql")

app = typer.Typer(help="Federated GraphQL gateway for the California Port Data Partnership.")
schema_app = typer.Typer(help="The shared schema file, schema.graphql.")
config_app = typer.Typer(help="Gateway configuration files.")
app.add_typer(schema_app, name="schema")
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(documents_app, name="documents")
app.add_typer(ports_app, name="ports")
app.add_typer(resolver_app, name="resolver")

HostOption = Annotated[str, typer.Option(help="Interface to listen on.")]
PortOption = Annotated[int, typer.Option(help="TCP port to listen on.")]


@app.command()
def serve(
    config: ConfigOption = None,
    host: HostOption = DEFAULT_HOST,
    port: PortOption = DEFAULT_PORT,
    access_log: Annotated[
        bool,
        typer.Option(help="Log every HTTP request (the audit trail already records each query)."),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Gateway processes on the one socket, one per core (what they share: README "
            "'Limits and production mode').",
        ),
    ] = 1,
) -> None:
    """Serve the gateway for the ports in a config file (and /metrics on `metrics.listen`)."""
    settings = load_config(config)
    try:
        asyncio.run(check_seed_egress(settings, SystemResolver()))
        check_workers(settings, workers)
    except ConfigError as exc:
        typer.secho(f"{config}: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    try:
        gateway = create_app(settings)
    except ConfigError as exc:
        typer.secho(f"{config}: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    except PolicyError as exc:
        typer.secho(f"policy error:\n{exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    except ManifestError as exc:
        typer.secho(f"trusted documents error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    if workers > 1:
        del gateway  # checked here; each worker builds its own
        run_workers(config, settings, host=host, port=port, workers=workers, access_log=access_log)
        return
    configure_tracing()
    server.run(gateway, settings, host=host, port=port, access_log=access_log)


@app.command()
def demo(
    host: HostOption = DEFAULT_HOST,
    port: PortOption = DEFAULT_PORT,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the simulated ports' data (default: the simulator's)."),
    ] = None,
    keys_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the demo keeps its API keys between runs, so a key saved in the "
            "dashboard keeps working (default: $XDG_CACHE_HOME/portgate/demo, or "
            "~/.cache/portgate/demo).",
        ),
    ] = None,
) -> None:
    """Serve the gateway with GraphiQL, in front of five simulated ports on loopback."""
    from port_resolvers.sim.cluster import run_simulated_ports  # the demo alone knows them
    from port_resolvers.sim.data import DEFAULT_SEED

    refusal = _cannot_listen(host, port)
    if refusal is not None:  # before anything starts or prints a URL that will not answer
        typer.secho(f"cannot serve the demo on {host}:{port}: {refusal}", fg="red", err=True)
        typer.secho("Stop what uses it, or pass another --port.", err=True)
        raise typer.Exit(2)
    state = keys_dir or _demo_state_directory()
    keys = demo_keys(state)
    command = portgate_command()

    async def run() -> None:
        async with (
            run_simulated_ports(
                seed=DEFAULT_SEED if seed is None else seed, gateway_tokens=True
            ) as ports,
            _temporary_directory() as run_dir,
        ):
            database = state / API_KEY_DATABASE_NAME
            audit_store = f"sqlite:///{run_dir / 'demo-audit.sqlite3'}"
            settings = load_settings(
                None,
                ports=[
                    {
                        "id": p.id,
                        "name": p.name,
                        "url": p.resolver_url,
                        "credential": p.gateway_token,
                    }
                    for p in ports
                ],
                auth={"api_keys": {"database": database}},
                audit={"store": audit_store},
                registry={
                    "store": f"sqlite:///{run_dir / 'demo-registry.sqlite3'}",
                    "egress": loopback_egress(p.resolver_url for p in ports),
                },
                # The demo reaches nothing beyond this machine: DCSA callbacks on loopback only,
                # and no name is looked up.
                dcsa={
                    "callback_egress": {
                        "schemes": ["http", "https"],
                        "hosts": ["localhost"],
                        "public_addresses": False,
                    }
                },
            )
            for p in ports:
                typer.echo(f"  {p.id}  {p.name:<24} resolver {p.resolver_url}  ({p.kind})")
            typer.echo(
                "Without a key you are `public`. Demo API keys (X-API-Key header; the same "
                "at the next run):"
            )
            for role, key in keys:
                typer.echo(f"  {role:<14} {key}")
            typer.echo(
                f"Audit trail (while the demo runs): {command} audit search --store {audit_store}"
            )
            typer.secho(f"GraphiQL: http://{host}:{port}/graphql", fg="green", bold=True)
            typer.secho(f"Dashboard: http://{host}:{port}/dashboard", fg="green")
            await server.serve(create_app(settings), settings, host=host, port=port)

    configure_tracing()
    asyncio.run(run())


def _demo_state_directory() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "portgate" / "demo"


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on now (in use, not an address here), or None."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"not an address of this machine ({exc.strerror})"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            return "the port is already in use" if exc.errno == errno.EADDRINUSE else str(exc)
    return None


def portgate_command() -> str:
    """How to run this ``portgate`` from here: ``portgate`` when the shell finds this one,
    else its path (``.venv/bin/portgate`` after the README's ``make install``)."""
    executable = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if executable is None or executable.name != "portgate":
        executable = Path(sys.executable).parent / "portgate"
    found = shutil.which("portgate")
    if found is not None and Path(found).resolve() == executable.resolve():
        return "portgate"
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return str(executable)


def loopback_egress(urls: Iterable[str]) -> dict[str, Any]:
    """Egress rules allowing exactly these loopback endpoints (``host:port`` each), over http:
    the simulated ports, and nothing else on this machine."""
    hosts = []
    for url in urls:
        parts = urlsplit(url)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        hosts.append(f"{host}:{parts.port}")
    return {"schemes": ["http"], "hosts": hosts}


@contextlib.asynccontextmanager
async def _temporary_directory() -> AsyncIterator[Path]:
    with tempfile.TemporaryDirectory(prefix="portgate-demo-") as name:
        yield Path(name)


@schema_app.command("export")
def schema_export(
    path: Annotated[Path, typer.Argument(help="Where to write the SDL.")] = SCHEMA_FILE,
) -> None:
    """Write the shared schema, generated from the code, to schema.graphql."""
    path.write_text(export_sdl(), encoding="utf-8")
    typer.echo(f"wrote {path}")


@schema_app.command("check")
def schema_check(
    path: Annotated[Path, typer.Argument(help="The SDL file to compare.")] = SCHEMA_FILE,
) -> None:
    """Fail when schema.graphql differs from the schema the code defines."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current != export_sdl():
        typer.secho(f"{path} is out of date: run `portgate schema export`", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"{path} matches the code")


@config_app.command("check")
def config_check(path: Annotated[Path, typer.Argument(help="The YAML config file.")]) -> None:
    """Validate a config file and the policy file it names (or the shipped default): every
    bad key is named, every policy mistake with its line; no value is echoed."""
    settings = load_config(path)
    try:
        PolicyStore(settings.policy.file, build_schema()._schema, [p.id for p in settings.ports])
    except PolicyError as exc:
        typer.secho(f"policy error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    policy = settings.policy.file or "the shipped default policy"
    typer.echo(
        f"{path}: ok, {len(settings.ports)} port(s), deadline {settings.deadline:g}s; "
        f"policy {policy}: ok"
    )


@config_app.command("reference")
def config_reference(
    path: Annotated[
        Path | None, typer.Argument(help="Where to write it (default: print it).")
    ] = None,
) -> None:
    """The config reference (docs/configuration.md), generated from the settings model."""
    from gateway.cli.config_reference import render_reference

    if path is None:
        typer.echo(render_reference(), nl=False)
        return
    path.write_text(render_reference(), encoding="utf-8")
    typer.echo(f"wrote {path}")


@app.command("sim-ports")
def sim_ports(
    host: HostOption = DEFAULT_HOST,
    base_port: Annotated[
        int, typer.Option(help="The first port's system; its resolver is the next port, etc.")
    ] = 9100,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the simulated ports' data (default: the simulator's)."),
    ] = None,
) -> None:
    """Serve the five simulated ports (system and resolver each) on fixed ports, for compose."""
    import signal

    from port_resolvers.sim.cluster import run_simulated_ports
    from port_resolvers.sim.data import DEFAULT_SEED

    async def run() -> None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        chosen = DEFAULT_SEED if seed is None else seed
        async with run_simulated_ports(seed=chosen, host=host, base_port=base_port) as ports:
            for p in ports:
                typer.echo(f"  {p.id}  {p.name:<24} resolver {p.resolver_url}  ({p.kind})")
            here = [p.resolver_url.replace("//0.0.0.0:", "//127.0.0.1:") for p in ports]
            typer.echo(
                "A gateway on this machine may reach them (and nothing else here) with "
                f"registry.egress: {{schemes: [http], hosts: "
                f"[{', '.join(loopback_egress(here)['hosts'])}]}}"
            )
            await stop.wait()

    asyncio.run(run())


@app.command()
def conformance(
    url: Annotated[str, typer.Argument(help="The resolver's GraphQL endpoint, .../graphql.")],
    port: Annotated[str, typer.Option("--port", help="The UN/LOCODE it answers for.")],
    container: Annotated[
        list[str] | None,
        typer.Option(help="A container number the port knows (repeatable): derived fields."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds one request may take.")] = 10.0,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PORTGATE_PORT_TOKEN",
            show_envvar=True,
            help="The resolver's gateway_token, sent as the gateway sends it (Authorization: "
            "Bearer); then the check also makes sure a request without it is refused. Prefer the "
            "environment variable: a command line is visible to other users of the machine.",
        ),
    ] = None,
    offers: Annotated[
        list[str] | None,
        typer.Option(
            "--offers",
            help="An optional field the port claims to give, e.g. VesselCall.cutOffTimes "
            "(repeatable): the check fails when the resolver says it does not offer it.",
        ),
    ] = None,
) -> None:
    """Check a port resolver against the shared contract; non-zero exit when it fails."""
    from gateway.cli.conformance import (
        CheckResult,
        check_resolver,
        report_line,
        report_title,
        report_verdict,
    )

    typer.echo(report_title(url, port))  # then each check's line as it ends: some take a while

    def show(result: CheckResult) -> None:
        typer.echo(report_line(result))

    results = asyncio.run(
        check_resolver(
            url,
            port,
            containers=container or (),
            timeout=timeout,
            token=token,
            on_result=show,
            offers=offers or (),
        )
    )
    typer.echo(report_verdict(port, results))
    if not all(r.passed for r in results):
        raise typer.Exit(1)


def main() -> None:
    app()
