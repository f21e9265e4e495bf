"""``portgate audit``: verify, search, export and prune the audit trail.

portgate audit verify                                  walk the chain, name the first bad record
portgate audit verify --archive a1.jsonl --archive a2.jsonl    archives and trail, end to end
portgate audit verify-archive a1.jsonl a2.jsonl        archives on their own, without the store
portgate audit search --client acme-trucking --since 2026-11-02 --until 2026-11-03
portgate audit search --denied Container.availability --jsonl
portgate audit document 3f9a...                        a document records name by its hash
portgate audit export --out audit.jsonl                every record (and its document), a line each
portgate audit prune --before 400d --archive audit-2025.jsonl   archive, prune, leave a checkpoint

The store is ``--store URL`` or the config's ``audit.store``. Times are ISO 8601 dates or
datetimes (UTC unless they name a zone), or a duration back from now (``90m``, ``24h``, ``400d``).
"""

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from gateway.cli.common import ConfigOption, fail
from gateway.config import AuditSettings, ConfigError, load_settings
from gateway.record.audit import (
    AuditFilter,
    AuditStore,
    ChainLink,
    Outcome,
    Progress,
    PruneConflict,
    StoredRecord,
    describe_url,
    is_sha256,
    open_audit_store,
    parse_time,
)
from gateway.record.audit_archive import prune_trail, verify_archives
from gateway.record.audit_chain import check_head, export_jsonl

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
DocumentOption = Annotated[
    str | None,
    typer.Option("--document", help="Only records naming this document (its SHA-256)."),
]


def _settings(config: Path | None) -> AuditSettings:
    try:
        return load_settings(config).audit
    except ConfigError as exc:
        raise fail(f"config error: {exc}") from None


def _store_url(store: str | None, config: Path | None) -> str:
    return store if store is not None else _settings(config).store


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
    document: str | None = None,
) -> AuditFilter:
    if document is not None and not is_sha256(document):
        raise typer.BadParameter("a SHA-256 (64 hex digits)", param_hint="--document")
    return AuditFilter(
        client_id=client, organisation=org, since=_time(since), until=_time(until),
        port=port, operation_name=operation, denied=denied, outcome=outcome, trace_id=trace,
        document=document.lower() if document else None,
    )  # fmt: skip


ArchiveOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--archive",
        help="An archive of pruned records, oldest first (repeat): verify them and the trail "
        "as one chain, and each file against its checkpoint.",
    ),
]


@audit_app.command("verify")
def verify(
    head: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH of a head printed by an earlier verify: fail if it is gone."),
    ] = None,
    archive: ArchiveOption = None,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Walk the hash chain; name the first edited, deleted or reordered record."""
    try:
        noted = None if head is None else ChainLink.parse(head)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--head") from None
    archives = _existing(archive or [])

    async def work(audit: AuditStore) -> tuple[str, bool]:
        last = await audit.head()
        with _progress(last.seq if last else 0, "verifying") as advance:
            if archives:
                report = await verify_archives(archives, audit, advance)
            else:
                report = await audit.verify(advance)
        if report.ok and noted is not None and (problem := await check_head(audit, noted, report)):
            return f"head {noted.seq}: {problem}", False
        return str(report), report.ok

    message, ok = _with_store(_store_url(store, config), work)
    _report(message, ok)


@audit_app.command("verify-archive")
def verify_archive(
    archives: Annotated[list[Path], typer.Argument(help="Archive files, oldest first.")],
) -> None:
    """Verify archives on their own (no store needed): each record chained to the one before
    from the first archive's header on, each document against its hash, each header's count."""
    report = asyncio.run(verify_archives(_existing(archives)))
    _report(str(report), report.ok)


def _existing(paths: list[Path]) -> list[Path]:
    for path in paths:
        if not path.is_file():
            raise typer.BadParameter(f"{path} is not a file", param_hint="--archive")
    return paths


def _report(message: str, ok: bool) -> None:
    if not ok:
        typer.secho(message, fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(message)


@audit_app.command("prune")
def prune(
    before: Annotated[
        str | None,
        typer.Option(
            help="Prune the records older than this (a time, or 400d back from now); by "
            "default the config's audit.retention back from now."
        ),
    ] = None,
    archive: Annotated[
        Path | None,
        typer.Option(help="The new JSON Lines file the pruned records go to (never overwritten)."),
    ] = None,
    no_archive: Annotated[
        bool, typer.Option("--no-archive", help="Prune without keeping the records anywhere.")
    ] = False,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Archive and delete the oldest records; a checkpoint record keeps the chain verifiable."""
    if (archive is None) == (not no_archive):
        raise typer.BadParameter("give --archive FILE, or --no-archive", param_hint="--archive")
    if before is None:
        retention = _settings(config).retention
        if retention is None:
            raise typer.BadParameter("give --before, or set audit.retention", param_hint="--before")
        moment = datetime.now(UTC) - timedelta(seconds=retention)
    else:
        moment = _time(before) or datetime.now(UTC)

    async def work(audit: AuditStore) -> str:
        try:
            result = await prune_trail(audit, moment, archive=archive)
        except (PruneConflict, FileExistsError) as exc:
            raise fail(f"nothing pruned: {exc}") from None
        if result is None:
            return f"nothing to prune: no record before {moment:%Y-%m-%d %H:%M:%S} UTC"
        c = result.checkpoint
        where = f"archived to {archive} (sha256 {c.archive_sha256})" if archive else "not archived"
        return (
            f"pruned {c.count} record(s), seq {c.first_seq}-{c.through_seq} "
            f"({c.first_time:%Y-%m-%d %H:%M:%S} to {c.last_time:%Y-%m-%d %H:%M:%S} UTC), {where}; "
            f"checkpoint at seq {result.stored.seq}"
        )

    typer.echo(_with_store(_store_url(store, config), work))


@audit_app.command("document")
def document(
    digest: Annotated[str, typer.Argument(metavar="HASH", help="A record's document_hash.")],
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Print a document records name by its hash (document_hash, or document_kept_hash)."""
    if not is_sha256(digest):
        raise typer.BadParameter("a SHA-256 (64 hex digits)", param_hint="HASH")
    url = _store_url(store, config)
    found = _with_store(url, lambda audit: audit.documents([digest.lower()]))
    if not found:
        raise fail(f"no document {digest} in the trail")
    typer.echo(found[digest.lower()])


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
    document: DocumentOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    after: Annotated[int, typer.Option(help="Only records after this seq (to page on).")] = 0,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="JSON Lines, not a table.")] = False,
    store: StoreOption = None,
    config: ConfigOption = None,
) -> None:
    """Find records (oldest first); every filter given must hold."""
    criteria = _filter(client, org, since, until, port, operation, denied, outcome, trace, document)
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
    """Write records as JSON Lines: seq, prev_hash, hash and the hashed record, one a line, each
    preceded by its document's line the first time it is named."""
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
