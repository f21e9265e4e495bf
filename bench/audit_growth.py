"""How much the audit trail grows when clients send large documents, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.audit_growth --json /tmp/growth.json     # this checkout
    .venv/bin/python -m bench.audit_growth --before /tmp/before.json   # with a run of another
                                                                        # checkout beside it

A gateway on loopback (rate limit off; its one port is a closed loopback port, so every request
fails fast and is still audited) receives 200 requests of about 250 KB over HTTP: 180 carry the
same valid document (a query and a 250 KB comment of random letters, so PostgreSQL's compression
cannot hide its size), 20 each carry a different document that does not parse. The growth is
the trail's size after the gateway stopped (its queue written) minus its size after a gateway
that served nothing: the SQLite file with its WAL checkpointed, and PostgreSQL's
``pg_total_relation_size`` of the trail's tables in a schema of their own. Results go to
bench/results/audit_growth.md; ``--json`` also writes the figures, which a later run can show
beside its own with ``--before`` (e.g. a run of the previous commit's checkout).
"""

import argparse
import asyncio
import contextlib
import json
import logging
import random
import socket
import sqlite3
import string
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg

from gateway.app import create_app
from gateway.config import load_settings
from port_resolvers.loopback import serve_on_loopback

RESULTS = Path(__file__).parent / "results" / "audit_growth.md"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REQUESTS, UNPARSEABLE, DOCUMENT_BYTES = 200, 20, 250_000
TABLES = ("audit_records", "audit_documents")


def documents() -> list[str]:
    rng = random.Random(2026)

    def letters(n: int) -> str:
        return "".join(rng.choices(string.ascii_letters, k=n))

    same = "query Big { ports { name } }\n# " + letters(DOCUMENT_BYTES)
    broken = ["query Broken { ports { " + letters(DOCUMENT_BYTES) for _ in range(UNPARSEABLE)]
    sent = [same] * (REQUESTS - UNPARSEABLE) + broken
    rng.shuffle(sent)
    return sent


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve(store: str, sent: list[str]) -> int:
    """Start a gateway on ``store``, send ``sent``, stop it; the number of answers below 500."""
    config = load_settings(
        None,
        ports=[{"id": "USLAX", "name": "Port of Los Angeles",
                "url": f"http://127.0.0.1:{closed_port()}/graphql"}],
        audit={"store": store},
        registry={"store": f"sqlite:///{tempfile.mkdtemp()}/registry.sqlite3"},
        rate_limit={"enabled": False},
    )  # fmt: skip
    answered = 0
    async with (
        serve_on_loopback(create_app(config)) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        for document in sent:
            response = await client.post("/graphql", json={"query": document})
            answered += response.status_code < 500
    return answered


def sqlite_size(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    schema = f"audit_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


def postgres_size(schema: str) -> int:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as db:
        total = 0
        for table in TABLES:
            row = db.execute("SELECT to_regclass(%s)", (f"{schema}.{table}",)).fetchone()
            if row is not None and row[0] is not None:
                size = db.execute("SELECT pg_total_relation_size(%s)", (f"{schema}.{table}",))
                total += int((size.fetchone() or (0,))[0])
        return total


async def measure() -> dict[str, Any]:
    sent = documents()
    figures: dict[str, Any] = {"requests": len(sent), "request_bytes": sum(map(len, sent))}
    sizes = {}
    for label, work in (("empty", []), ("loaded", sent)):
        directory = Path(tempfile.mkdtemp())
        answered = await serve(f"sqlite:///{directory}/audit.sqlite3", work)
        sizes[f"sqlite_{label}"] = sqlite_size(directory / "audit.sqlite3")
        with postgres_schema() as schema:
            await serve(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}", work)
            sizes[f"postgresql_{label}"] = postgres_size(schema)
        if work:
            figures["answered_below_500"] = answered
    figures["sqlite_growth"] = sizes["sqlite_loaded"] - sizes["sqlite_empty"]
    figures["postgresql_growth"] = sizes["postgresql_loaded"] - sizes["postgresql_empty"]
    return figures


def megabytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def report(after: dict[str, Any], before: dict[str, Any] | None, label: str) -> str:
    rows = [("SQLite file", "sqlite_growth"), ("PostgreSQL tables", "postgresql_growth")]
    head = "| trail growth | " + (f"{label} | " if before else "") + "this checkout |"
    lines = [
        "# Audit trail growth under large documents",
        "",
        f"`python -m bench.audit_growth`: {after['requests']} requests over loopback HTTP, "
        f"{megabytes(after['request_bytes'])} in all: {REQUESTS - UNPARSEABLE} with the same "
        f"valid {DOCUMENT_BYTES // 1000} KB document, {UNPARSEABLE} with different documents "
        "that do not parse. Growth of the trail (after the gateway stopped) over an empty one.",
        "",
        head,
        "|---|" + ("---|" if before else "") + "---|",
    ]
    for name, key in rows:
        cells = ([megabytes(before[key])] if before else []) + [megabytes(after[key])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    per = after["sqlite_growth"] / after["requests"]
    lines += [
        "",
        f"This checkout: {per / 1000:.1f} KB per request on SQLite, the audit caps at their "
        "defaults (`audit.max_document_bytes` 16 KiB, `audit.max_variables_bytes` 8 KiB): the "
        "repeated document is stored once, each unparseable one as its first 16 KiB.",
    ]
    if before:
        lines += [
            "",
            f"{label}: the same script run in that checkout (`git archive` of the commit, "
            "`python -m bench.audit_growth --json before.json` there), shown here with "
            f'`python -m bench.audit_growth --before before.json --before-label "{label}"`.',
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--before", type=Path, help="figures of another run, shown beside")
    parser.add_argument("--before-label", default="before", help="what that run was")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("strawberry.execution", "gateway"):  # each refused document, logged whole
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    figures = asyncio.run(measure())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    before = json.loads(args.before.read_text()) if args.before else None
    text = report(figures, before, args.before_label)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
