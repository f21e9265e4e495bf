"""The audit writer's CPU per record, one transaction per record vs group commit.

    .venv/bin/python -m bench.audit_writer

Records arrive about 1,000 a second (as under load) at a best-effort SQLite trail; the two
batch windows alternate over rounds in one run. Results go to bench/results/audit_writer.md.
"""

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from gateway.record.audit import AuditRecord, PortUse
from gateway.record.audit_trail import AuditTrail

RESULTS = Path(__file__).parent / "results" / "audit_writer.md"
RECORDS = 600
GAP_SECONDS = 0.001
ROUNDS = 5


def record(i: int) -> AuditRecord:
    return AuditRecord(
        client_id="acme-trucking", roles=("trucker",), operation_name="Boxes",
        operation_type="query", document="query Boxes($r: String!) { container(reference: $r) "
        "{ status } }", variables={"r": f"CSQU{i:07d}"}, requested=("Query.container",),
        ports=(PortUse(port="USLAX", status="ok", latency_ms=1.0, cache="fresh"),),
        duration_ms=1.0, outcome="ok",
    )  # fmt: skip


async def cpu_per_record(window: float) -> float:
    directory = Path(tempfile.mkdtemp())
    trail = await AuditTrail.open(f"sqlite:///{directory}/audit.sqlite3", batch_window=window)
    records = [record(i) for i in range(RECORDS)]
    started = time.process_time()
    for item in records:
        await trail.record(item)
        await asyncio.sleep(GAP_SECONDS)
    await trail.close()
    return (time.process_time() - started) / RECORDS * 1000


async def main() -> None:
    windows = {"one transaction per record (window 0)": 0.0, "group commit (window 50 ms)": 0.05}
    samples: dict[str, list[float]] = {name: [] for name in windows}
    for _ in range(ROUNDS):
        for name, window in windows.items():
            samples[name].append(await cpu_per_record(window))
    lines = [
        "# Audit writer: CPU per record",
        "",
        f"`python -m bench.audit_writer`: {RECORDS} records arriving about every "
        f"{GAP_SECONDS * 1000:g} ms at a best-effort SQLite trail; medians of {ROUNDS} rounds, "
        "the two sides alternating. The CPU includes the producer's own loop.",
        "",
        "| writer | CPU ms per record |",
        "|---|---|",
        *(f"| {name} | {statistics.median(xs):.3f} |" for name, xs in samples.items()),
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
