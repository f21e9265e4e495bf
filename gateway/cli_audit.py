"""``portgate audit``: verify, search and export the audit trail.

portgate audit verify                                  walk the chain, name the first bad record
portgate audit search --client acme-trucking --since 2026-11-02 --until 2026-11-03
portgate audit search --denied Container.availability --jsonl
portgate audit export --out audit.jsonl                every record, one JSON object a line

The store is ``--store URL`` or the config's ``audit.store``. Times are ISO 8601 dates or
datetimes (UTC unless they name a zone), or a duration back from now (``90m``, ``24h``).
"""

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from gateway.audit import (
    AuditFilter,
    AuditStore,
    ChainLink,
    Outcome,
    Progress,
    StoredRecord,
    check_head,
    describe_url,
    export_jsonl,
    open_audit_store,
    parse_time,
)
from gateway.cli_common import ConfigOption, fail
from gateway.config import ConfigError, load_settings

audit_app = typer.Typer(help="The audit trail: verify its hash chain, search it, export it.")

T = TypeVar("T")

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", help="sqlite:///file or postgresql://... (default: the config's audit.store)."
    ),
]
ClientOption = Annotated[str | None, typer.Option("--client", help="Only this client id.")]
OrgOption = Annotated[str | None, typer.Option("--org", help="Only this organisation.")]
SinceOption = Annotated[
    str | None, typer.Option(help="From this time on: 2026-11-02, 2026-11-02T08:00, or 24h.")
]
UntilOption = Annotated[str | None, typer.Option(help="Before this time (same forms).")]
PortOption = Annotated[str | None, typer.Option("--port", help="Only operations that asked it.")]
OperationOption = Annotated[str | None, typer.Option(help="Only this operation name.")]
DeniedOption = Annotated[
    str | None, typer.Option(help="Only operations denied this coordinate (Type.field).")
]
OutcomeOption = Annotated[Outcome | None, typer.Option(help="ok, partial, error or rejected.")]
TraceOption = Annotated[str | None, typer.Option("--trace", help="Only this trace id.")]


def _store_url(store: str | None, config: Path | None) -> str:
    if store is not None:
        return store
    try:
        return load_settings(config).audit.store
    except ConfigError as exc:
        raise fail(f"config error: {exc}") from None


def _with_store(url: str, work: Callable[[AuditStore], Awaitable[T]]) -> T:
    async def run() -> T:
        try:
            store = await open_audit_store(url)
        except Exception as exc:
            raise fail(f"cannot open the audit store {describe_url(url)}: {exc}") from None
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


@contextlib.contextmanager
def _progress(length: int, label: str) -> Iterator[Progress]:
    """A progress bar on a terminal's stderr, fed with the count done so far; else nothing."""
    if not sys.stderr.isatty():
        yield lambda done: None
        return
    with typer.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield lambda done: bar.update(done - bar.pos)


def _time(text: str | None) -> datetime | None:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _filter(
    client: str | None = None,
    org: str | None = None,
    since: str | None = None,
    until: str | None = None,
    port: str | None = None,
    operation: str | None = None,
    denied: str | None = None,
    outcome: Outcome | None = None,
    trace: str | None = None,
) -> AuditFilter:
    return AuditFilter(
        client_id=client, organisation=org, since=_time(since), until=_time(until),
        port=port, operation_name=operation, denied=denied, outcome=outcome, trace_id=trace,
    )  # fmt: skip


@audit_app.command("verify")
def verify(
    head: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH of a head printed by an earlier verify: fail if it is gone."),
    ] = None,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Walk the hash chain; name the first edited, deleted or reordered record."""
    try:
        noted = None if head is None else ChainLink.parse(head)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--head") from None

    async def work(audit: AuditStore) -> tuple[str, bool]:
        last = await audit.head()
        with _progress(last.seq if last else 0, "verifying") as advance:
            report = await audit.verify(advance)
        if report.ok and noted is not None and (problem := await check_head(audit, noted)):
            return f"head {noted.seq}: {problem}", False
        return str(report), report.ok

    message, ok = _with_store(_store_url(store, config), work)
    if not ok:
        typer.secho(message, fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(message)


@audit_app.command("search")
def search(
    client: ClientOption = None,
    org: OrgOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    port: PortOption = None,
    operation: OperationOption = None,
    denied: DeniedOption = None,
    outcome: OutcomeOption = None,
    trace: TraceOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    after: Annotated[int, typer.Option(help="Only records after this seq (to page on).")] = 0,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="JSON Lines, not a table.")] = False,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Find records (oldest first); every filter given must hold."""
    criteria = _filter(client, org, since, until, port, operation, denied, outcome, trace)
    url = _store_url(store, config)
    found = _with_store(url, lambda audit: audit.search(criteria, limit=limit, after_seq=after))
    if jsonl:
        for stored in found:
            typer.echo(stored.to_jsonl())
        return
    typer.echo(format_table(found))
    if len(found) == limit:
        typer.echo(f"(first {limit}: --after {found[-1].seq} for more)", err=True)


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="The JSON Lines file to write.")],
    client: ClientOption = None,
    org: OrgOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    port: PortOption = None,
    operation: OperationOption = None,
    denied: DeniedOption = None,
    outcome: OutcomeOption = None,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Write records as JSON Lines: seq, prev_hash, hash and the hashed record, one a line."""
    criteria = _filter(client, org, since, until, port, operation, denied, outcome)

    async def work(audit: AuditStore) -> int:
        last = await audit.head()
        with (
            out.open("w", encoding="utf-8") as file,
            _progress(last.seq if last else 0, "exporting") as advance,
        ):
            return await export_jsonl(audit, file.write, criteria, progress=advance)

    count = _with_store(_store_url(store, config), work)
    typer.echo(f"wrote {count} record(s) to {out}")


TABLE_COLUMNS = ("seq", "time (UTC)", "client", "organisation", "operation", "outcome",
                 "ms", "ports", "denied", "trace id")  # fmt: skip


def format_table(found: list[StoredRecord]) -> str:
    """Records as an aligned text table, one line each."""
    if not found:
        return "no matching records"
    rows = [TABLE_COLUMNS]
    for stored in found:
        record = stored.record
        rows.append((
            str(stored.seq),
            record.time.strftime("%Y-%m-%d %H:%M:%S"),
            record.client_id,
            record.organisation,
            record.operation_name or f"({record.operation_type or '-'})",
            record.outcome,
            f"{record.duration_ms:.0f}",
            " ".join(f"{use.port}:{use.status}" for use in record.ports) or "-",
            " ".join(record.denied) or "-",
            record.trace_id or "-",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
