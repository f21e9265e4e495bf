"""``portgate keys``: create, list and revoke API keys.

portgate keys create --client-id acme-trucking --organisation "ACME Trucking" --role trucker
portgate keys list
portgate keys revoke 3f9a0c12d4e5

The key file is the config's ``auth.api_keys.database`` (by default next to the config file), or
``--database``. A new key is printed once and stored only as a hash. Roles are checked against
the policy in force (the config's ``policy.file``, or the shipped default), ports against the
config's ports.
"""

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from gateway.access.apikeys import ApiKeyStore
from gateway.access.auth import PORT_BOUND_ROLES
from gateway.access.policy_file import PolicyError, PolicyStore
from gateway.cli.common import ConfigOption, fail, load_config
from gateway.config import API_KEY_DATABASE_NAME, GatewaySettings
from gateway.errors import Unauthenticated
from gateway.schema import build_schema
from portcontract.identifiers import UNLOCODE_PATTERN

keys_app = typer.Typer(help="API keys: create, list, revoke (stored as hashes in SQLite).")

DatabaseOption = Annotated[
    Path | None,
    typer.Option(help="The key file (default: the config's auth.api_keys.database)."),
]


def _store(settings: GatewaySettings, database: Path | None) -> ApiKeyStore:
    return ApiKeyStore(database or settings.auth.api_keys.database or Path(API_KEY_DATABASE_NAME))


@keys_app.command("create")
def create(
    client_id: Annotated[str, typer.Option(help="Who the key is for, e.g. acme-trucking.")],
    organisation: Annotated[str, typer.Option(help="The client's organisation.")],
    role: Annotated[list[str], typer.Option(help="A role from the policy; repeat for more.")],
    port: Annotated[
        list[str] | None,
        typer.Option(help="Bind the key to this port (UN/LOCODE); repeat for more."),
    ] = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Create a key and print it once: it is stored only as a hash."""
    settings = load_config(config)
    port_ids = [p.id for p in settings.ports]
    try:
        policy = PolicyStore(settings.policy.file, build_schema()._schema, port_ids).current
    except PolicyError as exc:
        raise fail(f"policy error:\n{exc}") from None
    unknown = sorted(set(role) - set(policy.roles))
    if unknown:
        raise fail(f"unknown role(s) {unknown}; the policy defines {sorted(policy.roles)}")
    for code in port or ():
        if not UNLOCODE_PATTERN.match(code) or (port_ids and code not in port_ids):
            raise fail(f"{code!r} is not one of the configured ports {port_ids}")
    bound = sorted(set(role) & PORT_BOUND_ROLES)
    if bound and not port:
        raise fail(f"{bound} act for their own port(s) only: name them with --port")
    store = _store(settings, database)
    key, record = store.create(
        client_id=client_id, organisation=organisation, roles=role, ports=port or None
    )
    typer.echo(
        f"key id {record.key_id} for {client_id} ({organisation}), roles {list(record.roles)}"
    )
    typer.secho(key, bold=True)
    typer.echo(f"Shown once, stored only as a hash in {store.path}. Send it as")
    typer.echo("'Authorization: Bearer <key>' or 'X-API-Key: <key>'.")


@keys_app.command("list")
def list_keys(config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """List keys (never their secrets)."""
    for r in _store(load_config(config), database).list():
        ports = ",".join(r.ports) if r.ports else "all ports"
        state = f"revoked {r.revoked_at}" if r.revoked_at else "active"
        typer.echo(
            f"{r.key_id}  {r.client_id}  {r.organisation}  {','.join(r.roles)}  {ports}  "
            f"created {r.created_at}  {state}"
        )


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id shown by `keys list`.")],
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Revoke a key: the running gateway refuses it from the next request on."""
    if not _store(load_config(config), database).revoke(key_id):
        raise fail(f"no active key {key_id}")
    typer.echo(f"revoked {key_id}")


DEMO_ROLES = ("trucker", "cargo_owner", "port_operator", "state_analyst", "auditor", "admin")


def issue_demo_keys(database: Path) -> list[tuple[str, str]]:
    """One key per role of the default policy, for the demo: (role, key)."""
    store = ApiKeyStore(database)
    try:
        return [
            (role, store.create(client_id=f"demo-{role}", organisation="Demo", roles=[role])[0])
            for role in DEMO_ROLES
        ]
    finally:
        store.close()


DEMO_KEYS_FILE = "demo-keys.json"  # the demo's keys as issued (plain: the demo's alone)


def demo_keys(directory: Path) -> list[tuple[str, str]]:
    """The demo's keys, one per role: those of an earlier demo run in ``directory`` when each
    still opens its role there (a key saved in the dashboard or GraphiQL keeps working after a
    restart), else new ones. The key database and ``demo-keys.json`` (readable by the owner
    only) live in ``directory``; nothing but the demo reads them."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    database, saved = directory / API_KEY_DATABASE_NAME, directory / DEMO_KEYS_FILE
    try:
        known = json.loads(saved.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = None
    if isinstance(known, dict) and set(known) == set(DEMO_ROLES) and database.exists():
        store = ApiKeyStore(database)
        try:
            if all(role in store.verify(known[role]).roles for role in DEMO_ROLES):
                return [(role, known[role]) for role in DEMO_ROLES]
        except Unauthenticated:
            pass
        finally:
            store.close()
    keys = issue_demo_keys(database)  # beside any others: a demo running now keeps its own
    written = directory / f".{DEMO_KEYS_FILE}.{os.getpid()}"
    written.touch(mode=0o600)
    written.write_text(json.dumps(dict(keys), indent=2), encoding="utf-8")
    written.replace(saved)  # whole or not at all, for a demo starting at the same time
    return keys
