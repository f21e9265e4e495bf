"""``portgate ports``: the port registry, through a running gateway's admin API.

    portgate ports list
    portgate ports add USRCH --name "Port of Richmond" --url https://resolver.example/graphql \\
        --credential-env RICHMOND_TOKEN
    portgate ports update USRCH --timeout 1500ms
    portgate ports pause USRCH | resume USRCH | check USRCH | remove USRCH

The gateway is ``--gateway`` (default http://127.0.0.1:8000, or $PORTGATE_URL); the caller's API
key is ``--api-key`` or $PORTGATE_API_KEY (role admin, or port_admin for its own port). A port's
credential is read from an environment variable, never from the command line, where it would sit
in shell histories and process lists. A refused change prints its code and reason code
(``PORT_CHECK_FAILED``, ``EGRESS_REFUSED``, ...; see gateway/ports/endpoint_check.py) and exits 1.
"""

import os
from typing import Annotated, Any

import typer

from gateway.config import ROOT_FIELDS

ports_app = typer.Typer(help="The port registry: list, add, update, pause, resume, check, remove.")

GatewayOption = Annotated[
    str, typer.Option("--gateway", envvar="PORTGATE_URL", help="The gateway's base URL.")
]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="PORTGATE_API_KEY", help="An admin or port_admin key."),
]
PortArgument = Annotated[str, typer.Argument(help="The port's UN/LOCODE.")]
DEFAULT_GATEWAY = "http://127.0.0.1:8000"


def _call(
    gateway: str, api_key: str | None, method: str, path: str, body: dict[str, Any] | None = None
) -> Any:
    import httpx  # only for these commands: `portgate serve` never loads it

    headers = {"x-api-key": api_key} if api_key else {}
    try:
        response = httpx.request(
            method, f"{gateway.rstrip('/')}{path}", json=body, headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        typer.secho(f"cannot reach the gateway at {gateway}: {type(exc).__name__}", fg="red",
                    err=True)  # fmt: skip
        raise typer.Exit(2) from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code >= 400:
        errors = (payload or {}).get("errors") or [{"message": response.text[:200]}]
        for error in errors:
            extensions = error.get("extensions") or {}
            code = extensions.get("code", response.status_code)
            reason = f" ({extensions['reason']})" if extensions.get("reason") else ""
            typer.secho(f"{code}{reason}: {error.get('message')}", fg="red", err=True)
        raise typer.Exit(1)
    return payload


def _show(port: dict[str, Any]) -> str:
    health = port.get("health") or {}
    state = "paused" if port["paused"] else health.get("status", "not probed yet")
    latency = f" {health['latencyMs']} ms" if health.get("latencyMs") is not None else ""
    line = (
        f"{port['id']:<6} {port['name']:<28} {state:<14}{latency:<10} {port['url']}  "
        f"(timeout {port['timeout'] or 'default'}, source {port['source']}, "
        f"credential {port['credential'] or 'none'}, "
        f"{'checked' if port.get('checked') else 'not checked'})"
    )
    capabilities = port.get("capabilities") or []
    if set(capabilities) != set(ROOT_FIELDS):  # narrower than every root field: say which
        line += f"\n       answers: {', '.join(capabilities)}"
    if health.get("reason"):
        line += f"\n       down: {health['reason']}: {health['message']}"
    check = port.get("check")
    if check is not None:
        line += "\n       check: " + (
            "passed" if check["passed"] else f"{check['reason']}: {check['message']}"
        )
    return line


def _checking(port: str) -> None:
    """Said before a call in which the gateway checks the port's endpoint (a few seconds)."""
    typer.echo(f"checking {port}'s endpoint from the gateway...", err=True)


def _credential(env: str | None) -> str | None:
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        typer.secho(f"${env} is not set", fg="red", err=True)
        raise typer.Exit(2)
    return value


@ports_app.command("list")
def list_ports(gateway: GatewayOption = DEFAULT_GATEWAY, api_key: KeyOption = None) -> None:
    """Every registered port, with its health."""
    for port in _call(gateway, api_key, "GET", "/admin/ports")["ports"]:
        typer.echo(_show(port))


@ports_app.command("add")
def add(
    port: PortArgument,
    name: Annotated[str, typer.Option(help="The port's name as clients see it.")],
    url: Annotated[str, typer.Option(help="The resolver's GraphQL endpoint.")],
    credential_env: Annotated[
        str | None, typer.Option(help="Environment variable holding the port's credential.")
    ] = None,
    timeout: Annotated[str | None, typer.Option(help="e.g. 2s")] = None,
    capability: Annotated[
        list[str] | None, typer.Option(help="A root field it answers (repeat); default all.")
    ] = None,
    gateway: GatewayOption = DEFAULT_GATEWAY,
    api_key: KeyOption = None,
) -> None:
    """Register a port: its endpoint must answer the shared schema first."""
    body: dict[str, Any] = {"id": port, "name": name, "url": url}
    if (secret := _credential(credential_env)) is not None:
        body["credential"] = secret
    if timeout is not None:
        body["timeout"] = timeout
    if capability:
        body["capabilities"] = capability
    _checking(port)
    typer.echo(_show(_call(gateway, api_key, "POST", "/admin/ports", body)))


@ports_app.command("update")
def update(
    port: PortArgument,
    name: Annotated[str | None, typer.Option(help="A new name, as clients see it.")] = None,
    url: Annotated[
        str | None, typer.Option(help="A new GraphQL endpoint (checked before it is used).")
    ] = None,
    credential_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding a new credential (checked first)."),
    ] = None,
    timeout: Annotated[str | None, typer.Option(help="A new timeout, e.g. 2s.")] = None,
    capability: Annotated[
        list[str] | None,
        typer.Option(help="The root fields it answers (repeat; replaces the list; checked first)."),
    ] = None,
    gateway: GatewayOption = DEFAULT_GATEWAY,
    api_key: KeyOption = None,
) -> None:
    """Change some of a port's settings (a new endpoint, credential or capabilities is checked
    first)."""
    body: dict[str, Any] = {
        k: v for k, v in {"name": name, "url": url, "timeout": timeout}.items() if v
    }
    if (secret := _credential(credential_env)) is not None:
        body["credential"] = secret
    if capability:
        body["capabilities"] = capability
    if not body:
        typer.secho("nothing to change", fg="red", err=True)
        raise typer.Exit(2)
    if {"url", "credential", "capabilities"} & set(body):
        _checking(port)
    typer.echo(_show(_call(gateway, api_key, "PATCH", f"/admin/ports/{port}", body)))


def _action(action: str, help_text: str) -> None:
    def command(
        port: PortArgument, gateway: GatewayOption = DEFAULT_GATEWAY, api_key: KeyOption = None
    ) -> None:
        if action in ("check", "resume"):  # the gateway asks the port first: say so
            _checking(port)
        typer.echo(_show(_call(gateway, api_key, "POST", f"/admin/ports/{port}/{action}")))

    command.__doc__ = help_text
    ports_app.command(action)(command)


_action("pause", "Stop asking a port (it stays registered).")
_action("resume", "Ask a paused port again (checked first).")
_action("check", "Check a port now (this port only, bounded) and show the result.")


@ports_app.command("remove")
def remove(
    port: PortArgument, gateway: GatewayOption = DEFAULT_GATEWAY, api_key: KeyOption = None
) -> None:
    """Remove a port from the registry."""
    _call(gateway, api_key, "DELETE", f"/admin/ports/{port}")
    typer.echo(f"removed {port}")
