"""Soak: the demo under steady well-behaved load, then the same load beside hostile clients, with
the gateway process's memory and file descriptors watched.

    make bench-soak                                    # .venv/bin/python -m bench.soak
    .venv/bin/python -m bench.soak --duration 60 --warmup 10

``portgate demo`` (the gateway and the five simulated ports, one process on 127.0.0.1) runs as a
child process, so its ``/proc/<pid>`` can be read. The phases:

1. warm-up (``--warmup``): the well-behaved clients only, not measured;
2. baseline (half of ``--duration``): the well-behaved clients only;
3. hostile (the other half): the same well-behaved clients, beside hostile clients that run in a
   process of their own (so building their large bodies does not delay the measured clients);
4. settle (``--settle``): nobody sends; then the last sample.

Well-behaved clients: a trucker (``container``), a cargo owner (``containers`` with events), a
port operator (``vesselCalls``), a state analyst (``portMetrics``) and an outlook reader, each
with its own API key, each sending one request every ``1 / --rate`` seconds; their latencies are
measured as the client sees them.

Hostile clients (:data:`HOSTILE`), each with a key of its own (so each meets the rate limit on
its own) and each bounded in count (``--hostile-max``) and in time (the hostile phase): see
:data:`HOSTILE` for what each sends and which feature it aims at. Every answer's status and
GraphQL error codes are counted per client.

Every ``--sample-every`` seconds the demo's VmRSS (``/proc/<pid>/status``) and open file
descriptors (``/proc/<pid>/fd``) are read. The verdict (PASS or FAIL each):

- RSS: the largest sample after warm-up stays within ``--rss-bound-mb`` MiB of the first,
  besides what the bounded stores took on meanwhile (``portgate_store_bytes`` in /metrics:
  answer cache, APQ, parsed documents, rate counters, each held to its own configured bound);
- FDs: the largest sample within ``--fd-bound-load`` of the first while the hostile clients hold
  connections open, and the fewest while settling within ``--fd-bound-end`` of those at rest
  before any load;
- no 5xx: no answer 500 or above, except 503 ``OVERLOADED`` with ``Retry-After`` (load
  shedding, counted apart); a well-behaved request without any answer fails too;
- latency: the well-behaved clients' p99 in the hostile phase within ``--p99-ratio-bound``
  times the baseline's.

The audit trail's SQLite file (the demo's) is measured after warm-up and at the end, and
``/metrics`` is read at both times. Results: bench/results/soak.{md,json}.
"""

import argparse
import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench.audit_growth import TABLES, sqlite_size
from bench.cache_bench import free_port, run_facts, write_results
from bench.run import ROOT, iso_reference, machine, python_env
from gateway.access.apikeys import ApiKeyStore
from gateway.access.settings import API_KEY_DATABASE_NAME
from port_resolvers.sim.data import DEFAULT_SEED, generate_all_ports

MIB = 2**20
OVERLOADED = "OVERLOADED"

# -- the demo ---------------------------------------------------------------------------------


@dataclass
class Demo:
    """A running ``portgate demo``: its URL, process id, the keys it printed (by role), its audit
    trail's SQLite file, and the file its log goes to."""

    url: str
    pid: int
    keys: dict[str, str]
    audit_file: Path
    log: Path
    keys_dir: Path  # where the demo keeps its keys (--keys-dir): this run's own

    @property
    def key_database(self) -> Path:
        return self.keys_dir / API_KEY_DATABASE_NAME

    def add_key(self, name: str, role: str) -> str:
        """A key of its own for one soak client, in the demo's key file: the running gateway
        reads a key's row on every request, so it is good at once."""
        key, _ = ApiKeyStore(self.key_database).create(
            client_id=f"soak-{name}", organisation="Soak", roles=[role]
        )
        return key


_KEY_LINE = re.compile(r"^\s+([a-z_]+)\s+(pgk_\S+)$")
_STORE_LINE = re.compile(r"--store sqlite:///(\S+)")


def start_demo(port: int, log: Path, keys_dir: Path) -> "subprocess.Popen[bytes]":
    """``portgate demo`` on ``port``, importing this tree, its keys in ``keys_dir`` (never the
    user's own demo keys); its log goes to ``log``."""
    command = [str(Path(sys.executable).parent / "portgate"), "demo", "--port", str(port),
               "--keys-dir", str(keys_dir)]  # fmt: skip
    env = {**python_env(), "PYTHONUNBUFFERED": "1"}  # the keys are read from its stdout
    with open(log, "ab") as err:
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=err, env=env, cwd=log.parent
        )


def read_banner(
    process: "subprocess.Popen[bytes]",
) -> tuple[dict[str, str], Path, threading.Thread]:
    """The keys (by role) and the audit trail's file the demo prints when it starts; then its
    stdout is read on, in the thread returned, so it never blocks on a full pipe."""
    assert process.stdout is not None
    stdout = process.stdout
    keys: dict[str, str] = {}
    audit_file = None
    for raw in stdout:
        line = raw.decode().rstrip("\n")
        if found := _KEY_LINE.match(line):
            keys[found[1]] = found[2]
        elif found := _STORE_LINE.search(line):
            audit_file = Path(found[1])
        elif line.startswith("GraphiQL:"):
            break
    if audit_file is None or not keys:
        raise RuntimeError("portgate demo did not start (see its log)")
    draining = threading.Thread(target=stdout.read, daemon=True)
    draining.start()
    return keys, audit_file, draining


@contextlib.asynccontextmanager
async def demo_process(log_dir: Path) -> AsyncIterator[Demo]:
    """``portgate demo`` on a free loopback port, in its own process; stopped on exit."""
    port = free_port()
    log = log_dir / "demo.log"
    keys_dir = log_dir / "demo-keys"
    process = start_demo(port, log, keys_dir)
    draining = None
    try:
        keys, audit_file, draining = await asyncio.to_thread(read_banner, process)
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            for _ in range(1200):
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the demo did not answer /healthz")
        yield Demo(url, process.pid, keys, audit_file, log, keys_dir)
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        if draining is not None:
            await asyncio.to_thread(draining.join)  # the pipe is at its end
        if process.stdout is not None:
            process.stdout.close()


# -- what the gateway process holds ---------------------------------------------------------


@dataclass
class Sample:
    seconds: float  # since the warm-up started
    phase: str
    rss_bytes: int
    fds: int
    loop_lag_ms: float | None = None  # the gateway's last event-loop lag (/metrics)


def read_process(pid: int) -> tuple[int, int]:
    """VmRSS in bytes and the number of open file descriptors of ``pid``."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024  # kB
            break
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


class Sampler:
    """Samples the process every ``every`` seconds (with the event-loop lag ``lag`` reads), and
    whenever :meth:`sample` is called."""

    def __init__(
        self, pid: int, phase: "Phase", every: float, lag: Callable[[], Awaitable[float | None]]
    ) -> None:
        self.pid = pid
        self.phase = phase
        self.every = every
        self.lag = lag
        self.samples: list[Sample] = []
        self.started = time.monotonic()

    def sample(self, lag: float | None = None) -> Sample:
        rss, fds = read_process(self.pid)
        seconds = round(time.monotonic() - self.started, 1)
        taken = Sample(seconds, self.phase.name, rss, fds, lag)
        self.samples.append(taken)
        return taken

    async def run(self) -> None:
        while True:
            self.sample(await self.lag())
            await asyncio.sleep(self.every)


_LAG = re.compile(rb"^portgate_event_loop_lag_seconds ([0-9.eE+-]+)$", re.MULTILINE)


async def event_loop_lag(client: httpx.AsyncClient, demo: Demo) -> float | None:
    """The gateway's last measured event-loop lag in ms (its ``/metrics`` gauge)."""
    try:
        response = await client.get(
            f"{demo.url}/metrics", headers={"X-API-Key": demo.keys["admin"]}
        )
    except httpx.HTTPError:
        return None
    found = _LAG.search(response.content)
    return None if found is None else round(float(found[1]) * 1000, 1)


def audit_size(path: Path) -> dict[str, int]:
    """The audit trail's SQLite file with its WAL (checkpointed first, as
    bench/audit_growth.py measures it), and its rows."""
    size = sqlite_size(path)
    rows = {}
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
        for table in TABLES:
            exists = db.execute(  # not yet, when the store is still being opened
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            rows[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if exists else 0
    return {"bytes": size, "records": rows["audit_records"], "documents": rows["audit_documents"]}


WATCHED_METRICS = (
    "portgate_requests_refused_total",
    "portgate_client_disconnects_total",
    "portgate_audit_records_total",
    "portgate_store_evictions_total",
)


async def scrape(client: httpx.AsyncClient, demo: Demo) -> dict[str, Any]:
    """The counters of :data:`WATCHED_METRICS` (by their labels), and how many operation labels
    ``portgate_requests_total`` has."""
    response = await client.get(f"{demo.url}/metrics", headers={"X-API-Key": demo.keys["admin"]})
    counters: dict[str, float] = {}
    operations: set[str] = set()
    stores: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            if sample.name == "portgate_store_bytes":
                stores[sample.labels.get("store", "")] = sample.value
            if sample.name == "portgate_requests_total":
                operations.add(sample.labels.get("operation", ""))
            if sample.name in WATCHED_METRICS:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                counters[f"{sample.name}{{{labels}}}"] = sample.value
    return {"counters": counters, "operation_labels": len(operations), "store_bytes": stores}


# -- counting answers ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What one client sent and what came back."""

    sent: int = 0
    status: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    shed_with_retry_after: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)  # 5xx (not shed): examples
    longest_open: dict[str, float] = field(default_factory=dict)  # raw sockets: outcome -> s

    def held(self, outcome: str, seconds: float) -> None:
        """A raw connection ended with ``outcome`` after ``seconds``."""
        self.status[outcome] += 1
        self.longest_open[outcome] = max(self.longest_open.get(outcome, 0.0), round(seconds, 1))

    def count(self, request: str, response: httpx.Response) -> None:
        self.status[str(response.status_code)] += 1
        codes = error_codes(response.content)
        self.codes.update(codes)
        if response.status_code == 503 and OVERLOADED in codes:
            if response.headers.get("retry-after"):
                self.shed_with_retry_after += 1
        elif response.status_code >= 500 and len(self.failures) < 5:
            self.failures.append(
                {"request": request, "status": response.status_code,
                 "body": response.text[:1000]}
            )  # fmt: skip

    def count_error(self, request: str, exc: Exception) -> None:
        self.status[f"no answer: {type(exc).__name__}"] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "status": dict(sorted(self.status.items())),
            "codes": dict(sorted(self.codes.items())),
            "shed_with_retry_after": self.shed_with_retry_after,
            "failures": self.failures,
            "longest_open_seconds": self.longest_open,
        }


def error_codes(body: bytes) -> list[str]:
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(answer, dict):
        return []
    codes = []
    for error in answer.get("errors") or ():
        if isinstance(error, dict):
            codes.append(str((error.get("extensions") or {}).get("code", "(none)")))
    return codes


async def send(tally: Tally, request: str, call: Awaitable[httpx.Response]) -> int | None:
    """Await ``call`` and count its answer in ``tally``: its status, or None without one."""
    tally.sent += 1
    try:
        response = await call
    except httpx.HTTPError as exc:
        tally.count_error(request, exc)
        return None
    tally.count(request, response)
    return response.status_code


# -- well-behaved clients -------------------------------------------------------------------------


class Phase:
    """The phase the run is in; a request counts in the phase it started in."""

    def __init__(self) -> None:
        self.name = "warmup"


CONTAINER = """query Box($ref: String!) {
  container(reference: $ref) {
    equipmentReference status sourcePort
    location { facilitySMDGCode terminalName yardBlock }
    availability { availableForPickup lastFreeDay holds { type status } outstandingFeesUSD }
  }
}"""
CONTAINERS = """query MyBoxes($refs: [String!]!) {
  containers(references: $refs) {
    equipmentReference sourcePort status lastEventDateTime
    availability { lastFreeDay holds { type status } }
    events { equipmentEventTypeCode eventClassifierCode eventDateTime
             transportCall { vessel { vesselName } } }
  }
}"""
VESSEL_CALLS = """query Calls($after: String) {
  vesselCalls(first: 20, after: $after) {
    edges { node { UNLocationCode facilitySMDGCode portVisitReference phase statusCode
                   vessel { vesselName vesselIMONumber } plannedArrivalDateTime
                   estimatedArrivalDateTime actualArrivalDateTime } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}"""
PORT_METRICS = """query Metrics {
  portMetrics(period: LAST_30_DAYS, metrics: [TEU_DISCHARGED, TEU_LOADED, CONTAINER_DWELL_DAYS]) {
    UNLocationCode facilitySMDGCode metric value unit sampleSize periodStart periodEnd
  }
}"""
OUTLOOK = """query Outlook($refs: [String!]) {
  outlook(days: 3, containers: $refs) {
    ports { UNLocationCode answered vesselsAtAnchor vesselsAtBerth expectedArrivals
            averageDelayHours lateArrivals { vesselName delayHours } containerDwellDays }
    comparison { mostVesselsAtAnchor mostDelayed missing }
    containers { equipmentReference sourcePort atRisk reasons lastFreeDay holdsPending }
  }
}"""


def known_containers(per_port: int = 3) -> list[str]:
    """A few container numbers of every simulated port (the demo's seed)."""
    data = generate_all_ports(seed=DEFAULT_SEED)
    return [c.reference for port in data.values() for c in port.containers[:per_port]]


@dataclass
class WellBehaved:
    """One well-behaved client: its role, and the request bodies it sends in turn."""

    name: str
    role: str
    bodies: list[dict[str, Any]]
    key: str = ""
    latencies: dict[str, list[float]] = field(default_factory=dict)  # phase -> ms
    tallies: dict[str, Tally] = field(default_factory=dict)  # phase -> answers

    async def run(self, url: str, phase: Phase, interval: float, stop: asyncio.Event) -> None:
        bodies = itertools.cycle(self.bodies)
        headers = {"X-API-Key": self.key}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            next_at = time.monotonic() + random.uniform(0, interval)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), max(0.0, next_at - time.monotonic()))
                    break
                next_at += interval
                name = phase.name
                tally = self.tallies.setdefault(name, Tally())
                body = next(bodies)
                started = time.perf_counter()
                status = await send(
                    tally, body["operationName"], client.post("/graphql", json=body)
                )
                if status == 200:
                    self.latencies.setdefault(name, []).append(
                        (time.perf_counter() - started) * 1000
                    )
                next_at = max(next_at, time.monotonic())  # late: no catching up in a burst


def well_behaved_clients() -> list[WellBehaved]:
    refs = known_containers()
    groups = [refs[i : i + 3] for i in range(0, len(refs), 3)]

    def body(name: str, query: str, **variables: Any) -> dict[str, Any]:
        return {"query": query, "operationName": name, "variables": variables}

    return [
        WellBehaved("trucker", "trucker", [body("Box", CONTAINER, ref=r) for r in refs]),
        WellBehaved("cargo_owner", "cargo_owner",
                    [body("MyBoxes", CONTAINERS, refs=g) for g in groups]),
        WellBehaved("port_operator", "port_operator", [body("Calls", VESSEL_CALLS)]),
        WellBehaved("state_analyst", "state_analyst", [body("Metrics", PORT_METRICS)]),
        WellBehaved("outlook", "cargo_owner",
                    [body("Outlook", OUTLOOK, refs=g[:2]) for g in groups[:3]]),
    ]  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN when there are no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


# -- hostile clients --------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One hostile client: what it aims at, the role of its key (None: it sends none, or the
    key is not what it is about), the seconds between its requests, and how many copies of it
    run at once. It is the :class:`HostileRun` method of the same name."""

    aim: str
    role: str | None
    every: float
    at_once: int = 1


HOSTILE: dict[str, Hostile] = {
    "operation_name_churn": Hostile(
        "`query OpN { ports {...} }` with operationName OpN, N new each time: the metric's "
        "operation labels (200 kept, then `other`), the audit's documents table, parse caches",
        role="port_operator",
        every=0.2,
    ),
    "apq_large": Hostile(
        "APQ registrations of ~250 KB: a valid document with a unique 250 KB comment (kept, "
        "within `documents.apq_max_bytes`), a 250 KB document that does not parse, its hash "
        "asked alone, an unknown hash",
        role="port_operator",
        every=1.0,
    ),
    "huge_variables": Hostile(
        "~200 KB of variables (15,000 references, an object of 10,000 keys, lists nested 5,000 "
        "deep) and a 300 KB body over `max_body_bytes`",
        role="cargo_owner",
        every=1.0,
    ),
    "aliased_outlooks": Hostile(
        "10 aliased outlooks in one request (over `limits.max_cost`), and 2 (within it, "
        "computed once)",
        role="port_operator",
        every=2.0,
    ),
    "rotating_forwarded_for": Hostile(
        "anonymous requests, each with another X-Forwarded-For (the demo trusts no proxy: "
        "they share one anonymous allowance)",
        role=None,
        every=0.2,
    ),
    "in_flight_flood": Hostile(
        "bursts of 20 concurrent containers queries for unknown numbers (cache misses) from "
        "one key, over `rate_limit.max_in_flight` (8)",
        role="trucker",
        every=3.0,
    ),
    "slow_headers": Hostile(
        "3 connections at a time sending their headers a byte a second (`server.header_timeout`"
        ", 10 s)",
        role=None,
        every=1.0,
        at_once=3,
    ),
    "slow_body": Hostile(
        "3 connections at a time sending a 2,000-byte body a byte every half second "
        "(`server.body_timeout`, 15 s)",
        role="trucker",
        every=0.5,
        at_once=3,
    ),
    "disconnect_mid_body": Hostile(
        "a Content-Length of 100,000, 2,000 bytes sent, then the connection closed",
        role="trucker",
        every=0.5,
    ),
    "bad_audit_parameters": Hostile(
        "/audit/records with since=99999999999h, after=99999999999999999999999 and other bad "
        "parameters (an auditor's key)",
        role="auditor",
        every=1.0,
    ),
    "several_operations_unnamed": Hostile(
        "a document of two operations without operationName, or naming neither",
        role="port_operator",
        every=0.5,
    ),
    "duplicated_credentials": Hostile(
        "X-API-Key twice, or X-API-Key and Authorization both",
        role="port_operator",
        every=0.5,
    ),
}


@dataclass(frozen=True)
class HostilePlan:
    """What the hostile process needs: the gateway, the keys, how long and how much."""

    url: str
    keys: dict[str, str]  # client -> key; "spare": another valid key
    seconds: float
    max_requests: int
    clients: tuple[str, ...] = tuple(HOSTILE)  # which of :data:`HOSTILE` run


class HostileRun:
    def __init__(self, plan: HostilePlan) -> None:
        self.plan = plan
        self.deadline = asyncio.get_running_loop().time() + plan.seconds
        self.tallies = {name: Tally() for name in plan.clients}
        parts = httpx.URL(plan.url)
        self.host, self.port = str(parts.host), int(parts.port or 80)

    def going(self, name: str) -> bool:
        return (
            asyncio.get_running_loop().time() < self.deadline
            and self.tallies[name].sent < self.plan.max_requests
        )

    async def paced(self, name: str, one: Callable[[int], Awaitable[None]]) -> None:
        """``one(i)`` for i = 0, 1, ... every ``HOSTILE[name].every`` seconds, until the end."""
        every = HOSTILE[name].every
        for index in itertools.count():
            if not self.going(name):
                return
            started = time.monotonic()
            await one(index)
            await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))

    def client(self, name: str, connections: int = 10) -> httpx.AsyncClient:
        key = self.plan.keys.get(name)
        headers = {"X-API-Key": key} if key else {}
        limits = httpx.Limits(max_connections=connections)
        return httpx.AsyncClient(base_url=self.plan.url, headers=headers, timeout=30, limits=limits)

    async def run(self) -> dict[str, Any]:
        clients: list[Callable[[], Awaitable[None]]] = [
            getattr(self, name) for name in self.plan.clients for _ in range(HOSTILE[name].at_once)
        ]
        await asyncio.gather(*(client() for client in clients))
        return {name: tally.as_json() for name, tally in self.tallies.items()}

    # -- over HTTP ---------------------------------------------------------------------------

    async def operation_name_churn(self) -> None:
        tally = self.tallies["operation_name_churn"]
        async with self.client("operation_name_churn") as client:

            async def one(i: int) -> None:
                body = {"query": f"query Op{i} {{ ports {{ UNLocationCode name }} }}",
                        "operationName": f"Op{i}"}  # fmt: skip
                await send(tally, f"Op{i}", client.post("/graphql", json=body))

            await self.paced("operation_name_churn", one)

    async def apq_large(self) -> None:
        tally = self.tallies["apq_large"]
        last_kept = ""
        async with self.client("apq_large") as client:

            async def one(i: int) -> None:
                nonlocal last_kept
                filler = base64.b64encode(os.urandom(187_500)).decode()  # 250,000 characters
                case = ("valid", "hash alone", "unparseable", "unknown hash")[i % 4]
                query: str | None
                if case == "valid":
                    query = "query Big { ports { UNLocationCode } }\n# " + filler
                    last_kept = hashlib.sha256(query.encode()).hexdigest()
                    digest = last_kept
                elif case == "unparseable":
                    query = "query Broken { ports { " + filler
                    digest = hashlib.sha256(query.encode()).hexdigest()
                else:
                    query = None
                    digest = last_kept if case == "hash alone" and last_kept else "0" * 64
                body: dict[str, Any] = {
                    "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}
                }
                if query is not None:
                    body["query"] = query
                await send(tally, f"APQ {case}", client.post("/graphql", json=body))

            await self.paced("apq_large", one)

    async def huge_variables(self) -> None:
        tally = self.tallies["huge_variables"]
        query = "query Boxes($refs: [String!]!) { containers(references: $refs) { status } }"
        async with self.client("huge_variables") as client:

            async def one(i: int) -> None:
                case = ("many references", "wide object", "deep lists", "over the body limit")[
                    i % 4
                ]
                if case == "many references":
                    variables: Any = {"refs": [f"ABCU{n:07d}" for n in range(15_000)]}
                elif case == "wide object":
                    variables = {"refs": ["MSCU9123450"],
                                 "extra": {f"k{n}": "v" * 10 for n in range(10_000)}}  # fmt: skip
                elif case == "deep lists":
                    content = ('{"query": ' + json.dumps(query) + ', "variables": {"refs": '
                               + "[" * 5_000 + "]" * 5_000 + "}}")  # fmt: skip
                    call = client.post(
                        "/graphql", content=content, headers={"content-type": "application/json"}
                    )
                    await send(tally, case, call)
                    return
                else:
                    variables = {"refs": ["MSCU9123450"], "pad": "x" * 300_000}
                body = {"query": query, "variables": variables}
                await send(tally, case, client.post("/graphql", json=body))

            await self.paced("huge_variables", one)

    async def aliased_outlooks(self) -> None:
        tally = self.tallies["aliased_outlooks"]
        fields = "ports { UNLocationCode vesselsAtAnchor averageDelayHours }"
        async with self.client("aliased_outlooks") as client:

            async def one(i: int) -> None:
                count = 10 if i % 2 == 0 else 2
                query = "{ " + " ".join(f"o{n}: outlook(days: 3) {{ {fields} }}"
                                        for n in range(count)) + " }"  # fmt: skip
                await send(tally, f"{count} aliased outlooks",
                           client.post("/graphql", json={"query": query}))  # fmt: skip

            await self.paced("aliased_outlooks", one)

    async def rotating_forwarded_for(self) -> None:
        tally = self.tallies["rotating_forwarded_for"]
        body = {"query": "{ ports { UNLocationCode } }"}
        async with self.client("rotating_forwarded_for") as client:

            async def one(i: int) -> None:
                # Documentation addresses (RFC 5737), written into a header only.
                forwarded = f"198.51.100.{i % 250 + 1}, 203.0.113.{i // 250 % 250 + 1}"
                call = client.post("/graphql", json=body, headers={"X-Forwarded-For": forwarded})
                await send(tally, "anonymous, X-Forwarded-For rotating", call)

            await self.paced("rotating_forwarded_for", one)

    async def in_flight_flood(self) -> None:
        tally = self.tallies["in_flight_flood"]
        query = "query Unknown($refs: [String!]!) { containers(references: $refs) { status } }"
        serials = (n % 1_000_000 for n in itertools.count(random.randrange(1_000_000)))
        async with self.client("in_flight_flood", connections=20) as client:

            async def one(_: int) -> None:
                bodies = [
                    {"query": query, "variables": {"refs": [iso_reference("SOK", next(serials))]}}
                    for _ in range(20)
                ]
                await asyncio.gather(*(
                    send(tally, "20 at once", client.post("/graphql", json=b))
                    for b in bodies
                ))  # fmt: skip

            await self.paced("in_flight_flood", one)

    async def bad_audit_parameters(self) -> None:
        tally = self.tallies["bad_audit_parameters"]
        queries = [
            "since=99999999999h", "after=99999999999999999999999", "until=99999999999999d",
            "since=2026-13-45", "limit=-1", "limit=10000000", "after=abc", "since=24h&since=1h",
            "outcome=everything", "trace=xyz", "document=00", "port=nowhere", "nosuch=1",
        ]  # fmt: skip
        async with self.client("bad_audit_parameters") as client:

            async def one(i: int) -> None:
                query = queries[i % len(queries)]
                await send(tally, f"GET /audit/records?{query}",
                           client.get(f"/audit/records?{query}"))  # fmt: skip

            await self.paced("bad_audit_parameters", one)

    async def several_operations_unnamed(self) -> None:
        tally = self.tallies["several_operations_unnamed"]
        document = "query A { ports { UNLocationCode } } query B { ports { name } }"
        async with self.client("several_operations_unnamed") as client:

            async def one(i: int) -> None:
                body: dict[str, Any] = {"query": document}
                if i % 2:
                    body["operationName"] = "C"
                request = f"two operations, operationName {body.get('operationName')}"
                await send(tally, request, client.post("/graphql", json=body))

            await self.paced("several_operations_unnamed", one)

    async def duplicated_credentials(self) -> None:
        tally = self.tallies["duplicated_credentials"]
        mine, spare = self.plan.keys["duplicated_credentials"], self.plan.keys["spare"]
        body = orjson.dumps({"query": "{ ports { UNLocationCode } }"})
        async with httpx.AsyncClient(base_url=self.plan.url, timeout=30) as client:

            async def one(i: int) -> None:
                second = ("X-API-Key", spare) if i % 2 == 0 else ("Authorization", f"Bearer {mine}")
                headers = [("content-type", "application/json"), ("X-API-Key", mine), second]
                await send(tally, f"X-API-Key and {second[0]}",
                           client.post("/graphql", content=body, headers=headers))  # fmt: skip

            await self.paced("duplicated_credentials", one)

    # -- raw sockets -------------------------------------------------------------------------

    async def _exchange(
        self, name: str, head: bytes, trickle: bytes, every: float
    ) -> tuple[str, float]:
        """Send ``head``, then ``trickle`` a byte every ``every`` seconds, until the gateway
        answers or closes: the status it answered ("closed without an answer" when it closed
        first, "still open at the end" when the phase ended first) and the seconds it took."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.tallies[name].sent += 1
        opened = time.monotonic()

        async def drip() -> None:
            with contextlib.suppress(OSError):
                writer.write(head)
                await writer.drain()
                for byte in trickle:
                    await asyncio.sleep(every)
                    writer.write(bytes([byte]))
                    await writer.drain()

        dripping = asyncio.create_task(drip())
        try:
            async with asyncio.timeout_at(self.deadline):
                answer = await reader.read(4096)
            outcome = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else (
                "closed without an answer")  # fmt: skip
        except TimeoutError:
            outcome = "still open at the end"
        except OSError as exc:
            outcome = f"reset: {type(exc).__name__}"
        finally:
            dripping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dripping
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return outcome, time.monotonic() - opened

    async def slow_headers(self) -> None:
        tally = self.tallies["slow_headers"]
        head = b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        while self.going("slow_headers"):
            outcome, seconds = await self._exchange(
                "slow_headers", head, b"X-Slow: " + b"a" * 10_000, HOSTILE["slow_headers"].every
            )
            tally.held(outcome, seconds)

    async def slow_body(self) -> None:
        tally = self.tallies["slow_body"]
        body = b'{"query": "{ ports { UNLocationCode } }"}'.ljust(2000)
        head = (
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-API-Key: " + self.plan.keys["slow_body"].encode() + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        while self.going("slow_body"):
            outcome, seconds = await self._exchange(
                "slow_body", head, body, HOSTILE["slow_body"].every
            )
            tally.held(outcome, seconds)

    async def disconnect_mid_body(self) -> None:
        tally = self.tallies["disconnect_mid_body"]
        head = (
            b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-API-Key: " + self.plan.keys["disconnect_mid_body"].encode() + b"\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )

        async def one(_: int) -> None:
            tally.sent += 1
            try:
                _reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(head + b'{"query": "{ ports { name } }", "pad": "' + b"x" * 2000)
                await writer.drain()
                await asyncio.sleep(0.05)  # the gateway starts reading the body
                writer.close()
                await writer.wait_closed()
                tally.status["closed mid-body"] += 1
            except OSError as exc:
                tally.status[f"no connection: {type(exc).__name__}"] += 1

        await self.paced("disconnect_mid_body", one)


def hostile_process(plan: HostilePlan) -> dict[str, Any]:
    """The hostile clients for ``plan.seconds`` (run in a process of its own): what each sent
    and got, and the CPU seconds the process used."""

    async def main() -> dict[str, Any]:
        return await HostileRun(plan).run()

    started = time.process_time()
    clients = asyncio.run(main())
    return {"clients": clients, "cpu_seconds": round(time.process_time() - started, 1)}


def ready() -> bool:
    return True


# -- the run ----------------------------------------------------------------------------------


@dataclass
class SoakSettings:
    duration: float = 600.0  # baseline and hostile phases together
    warmup: float = 30.0
    settle: float = 10.0
    rate: float = 2.0  # requests per second per well-behaved client
    sample_every: float = 2.0
    hostile_max: int = 5000  # requests per hostile client at most
    rss_bound_mb: float = 30.0
    fd_bound_load: int = 256
    fd_bound_end: int = 32
    p99_ratio_bound: float = 10.0  # see render()
    hostile: tuple[str, ...] = tuple(HOSTILE)  # which hostile clients run


async def soak(settings: SoakSettings) -> dict[str, Any]:
    """Run the soak against a fresh demo; the result (see :func:`render`)."""
    phase = Phase()
    clients = well_behaved_clients()
    loop = asyncio.get_running_loop()
    with (
        tempfile.TemporaryDirectory(prefix="soak-") as directory,
        ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool,
    ):
        starting = loop.run_in_executor(pool, ready)  # the hostile process starts meanwhile
        async with demo_process(Path(directory)) as demo, httpx.AsyncClient(timeout=30) as http:
            for client in clients:
                client.key = demo.add_key(client.name, client.role)
            hostile_keys = {name: demo.add_key(name, h.role) for name, h in HOSTILE.items()
                            if h.role is not None}  # fmt: skip
            hostile_keys["spare"] = demo.add_key("spare", "public")
            sampler = Sampler(
                demo.pid, phase, settings.sample_every, lambda: event_loop_lag(http, demo)
            )
            process = psutil.Process(demo.pid)
            marks: dict[str, Any] = {}

            def mark(name: str) -> None:
                times = process.cpu_times()
                marks[name] = {
                    "sample": asdict(sampler.sample()),
                    "cpu_seconds": round(times.user + times.system, 1),
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                    "at": round(time.monotonic() - sampler.started, 1),
                }

            mark("rest")  # started, nothing asked yet
            stop = asyncio.Event()
            running = [
                asyncio.create_task(c.run(demo.url, phase, 1 / settings.rate, stop))
                for c in clients
            ]
            sampling = asyncio.create_task(sampler.run())
            await asyncio.sleep(settings.warmup)
            await starting
            audit_before = audit_size(demo.audit_file)
            metrics_before = await scrape(http, demo)
            phase.name = "baseline"
            mark("baseline_start")
            await asyncio.sleep(settings.duration / 2)
            phase.name = "hostile"
            mark("hostile_start")
            plan = HostilePlan(
                demo.url, hostile_keys, settings.duration / 2, settings.hostile_max,
                settings.hostile,
            )  # fmt: skip
            hostile_run = await loop.run_in_executor(pool, hostile_process, plan)
            mark("hostile_end")
            stop.set()
            await asyncio.gather(*running)
            phase.name = "settle"
            await asyncio.sleep(settings.settle)
            mark("end")
            sampling.cancel()
            audit_after = audit_size(demo.audit_file)
            metrics_after = await scrape(http, demo)
        log = demo.log.read_text(errors="replace")

    marks["hostile_end"]["hostile_process_cpu_seconds"] = hostile_run["cpu_seconds"]
    return summarise(
        settings, clients, sampler.samples, marks, hostile_run["clients"],
        {"before": audit_before, "after": audit_after},
        {"before": metrics_before, "after": metrics_after}, log,
    )  # fmt: skip


def rss_trend(samples: list[Sample]) -> float:
    """MiB a minute, the least-squares slope of RSS over time (0 with fewer than 2 samples)."""
    if len({s.seconds for s in samples}) < 2:
        return 0.0
    slope, _ = statistics.linear_regression(
        [s.seconds for s in samples], [s.rss_bytes / MIB for s in samples]
    )
    return round(slope * 60, 2)


def lag_summary(samples: list[Sample]) -> dict[str, float]:
    """Median and largest of the event-loop lags sampled."""
    lags = [s.loop_lag_ms for s in samples if s.loop_lag_ms is not None]
    if not lags:
        return {"median": float("nan"), "max": float("nan")}
    return {"median": round(statistics.median(lags), 1), "max": max(lags)}


def log_summary(log: str) -> dict[str, Any]:
    """The demo's log: its lines, how many say ERROR or hold a traceback, the first few."""
    lines = log.splitlines()
    errors = [line for line in lines if "ERROR" in line or line.startswith("Traceback")]
    return {"lines": len(lines), "error_lines": len(errors), "first_errors": errors[:10]}


def summarise(
    settings: SoakSettings,
    clients: list[WellBehaved],
    samples: list[Sample],
    marks: dict[str, Any],
    hostile: dict[str, Any],
    audit: dict[str, Any],
    metrics: dict[str, Any],
    log: str,
) -> dict[str, Any]:
    phases = ("baseline", "hostile")
    latency: dict[str, Any] = {}
    for name in phases:
        every = [ms for c in clients for ms in c.latencies.get(name, [])]
        latency[name] = {
            "requests": len(every),
            "p50_ms": round(percentile(every, 50), 2),
            "p99_ms": round(percentile(every, 99), 2),
            "per_client": {
                c.name: {"p50_ms": round(percentile(c.latencies.get(name, []), 50), 2),
                         "p99_ms": round(percentile(c.latencies.get(name, []), 99), 2),
                         "requests": len(c.latencies.get(name, []))}
                for c in clients
            },
        }  # fmt: skip
    base, host = latency["baseline"], latency["hostile"]
    latency["ratio_p50"] = round(host["p50_ms"] / base["p50_ms"], 2)
    latency["ratio_p99"] = round(host["p99_ms"] / base["p99_ms"], 2)

    measured = [s for s in samples if s.phase != "warmup"]
    start = marks["baseline_start"]["sample"]
    end = marks["end"]["sample"]
    rest = marks["rest"]["sample"]
    memory: dict[str, Any] = {
        "rss_mb": {"start": round(start["rss_bytes"] / MIB, 1),
                   "max": round(max(s.rss_bytes for s in measured) / MIB, 1),
                   "end": round(end["rss_bytes"] / MIB, 1),
                   **{f"max_{p}": round(max((s.rss_bytes for s in measured if s.phase == p),
                                            default=0) / MIB, 1) for p in phases}},
        "fds": {"rest": rest["fds"], "start": start["fds"], "max": max(s.fds for s in measured),
                "end": min(s.fds for s in samples if s.phase == "settle"),
                **{f"max_{p}": max((s.fds for s in measured if s.phase == p), default=0)
                   for p in phases}},
        "samples": len(samples),
        "rss_mib_per_minute": {p: rss_trend([s for s in samples if s.phase == p])
                               for p in phases},
        "loop_lag_ms": {p: lag_summary([s for s in samples if s.phase == p]) for p in phases},
    }  # fmt: skip

    well = {
        c.name: {p: c.tallies[p].as_json() for p in ("warmup", *phases) if p in c.tallies}
        for c in clients
    }
    shed = sum(t["shed_with_retry_after"] for t in hostile.values()) + sum(
        t["shed_with_retry_after"] for c in well.values() for t in c.values()
    )
    failures = [
        {"client": name, **failure} for name, t in hostile.items() for failure in t["failures"]
    ] + [
        {"client": name, "phase": p, **failure}
        for name, c in well.items() for p, t in c.items() for failure in t["failures"]
    ]  # fmt: skip
    server_errors = sum(
        n for t in [*hostile.values(), *(t for c in well.values() for t in c.values())]
        for status, n in t["status"].items() if status.isdigit() and int(status) >= 500
    ) - shed  # fmt: skip
    unanswered = sum(
        n for c in well.values() for t in c.values()
        for status, n in t["status"].items() if status.startswith("no answer")
    )  # fmt: skip

    rss_growth = memory["rss_mb"]["max"] - memory["rss_mb"]["start"]
    # What the bounded stores (answer cache, APQ, parsed documents, rate counters) took on
    # meanwhile, by their own count in /metrics: memory the gateway holds by design, each
    # store within its configured bound. The rest is what no bound accounts for.
    stores_before = metrics["before"].get("store_bytes", {})
    stores_after = metrics["after"].get("store_bytes", {})
    stores_growth = sum(stores_after.values()) / 2**20 - sum(stores_before.values()) / 2**20
    unaccounted = rss_growth - max(stores_growth, 0.0)
    verdict: dict[str, Any] = {
        "rss": {
            "bound": f"max RSS within {settings.rss_bound_mb:g} MiB of the post-warm-up value, "
            "besides what the bounded stores took on (each within its own configured bound)",
            "growth_mb": round(rss_growth, 1),
            "stores_growth_mb": round(stores_growth, 1),
            "stores_mb": {k: round(v / 2**20, 1) for k, v in sorted(stores_after.items())},
            "unaccounted_mb": round(unaccounted, 1),
            "pass": unaccounted <= settings.rss_bound_mb,
        },
        "fds": {
            "bound": f"max FDs within {settings.fd_bound_load} of the post-warm-up value under "
            f"load; after settling, within {settings.fd_bound_end} of the value at rest before "
            "any load",
            "growth_max": memory["fds"]["max"] - memory["fds"]["start"],
            "growth_end": memory["fds"]["end"] - memory["fds"]["rest"],
            "pass": memory["fds"]["max"] - memory["fds"]["start"] <= settings.fd_bound_load
            and memory["fds"]["end"] - memory["fds"]["rest"] <= settings.fd_bound_end,
        },
        "no_5xx": {
            "bound": "no answer of 500 or above but 503 OVERLOADED with Retry-After; every "
            "well-behaved request answered",
            "server_errors": server_errors,
            "shed_503_with_retry_after": shed,
            "well_behaved_unanswered": unanswered,
            "pass": server_errors == 0 and unanswered == 0,
        },
        "p99": {
            "bound": f"hostile-phase p99 within {settings.p99_ratio_bound:g}x the baseline's",
            "ratio": latency["ratio_p99"],
            "pass": latency["ratio_p99"] <= settings.p99_ratio_bound,
        },
    }
    verdict["pass"] = all(v["pass"] for v in verdict.values() if isinstance(v, dict))

    def delta(name: str) -> float:
        after: float = metrics["after"]["counters"].get(name, 0.0)
        before: float = metrics["before"]["counters"].get(name, 0.0)
        return after - before

    return {
        **run_facts("bench.soak", asdict(settings)),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "niceness": os.nice(0),
        "hostile_aims": {name: h.aim for name, h in HOSTILE.items()},
        "latency": latency,
        "memory": memory,
        "phases": marks,
        "well_behaved": well,
        "hostile": hostile,
        "failures": failures,
        "audit_store": {
            **audit,
            "growth_bytes": audit["after"]["bytes"] - audit["before"]["bytes"],
        },
        "metrics": {
            "operation_labels": {k: metrics[k]["operation_labels"] for k in ("before", "after")},
            "deltas": {k: delta(k) for k in sorted(metrics["after"]["counters"]) if delta(k)},
        },
        "demo_log": log_summary(log),
        "samples": [asdict(s) for s in samples],
        "verdict": verdict,
    }


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT,
                           capture_output=True, text=True, check=False)  # fmt: skip
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True, check=False)  # fmt: skip
    return found.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


# -- the report -------------------------------------------------------------------------------


def _pass(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or "-"


def _longest(tally: dict[str, Any]) -> str:
    held = tally.get("longest_open_seconds") or {}
    return f" (longest open: {_counts({k: f'{v:g} s' for k, v in held.items()})})" if held else ""


def _stores(stores: dict[str, float]) -> str:
    return ", ".join(f"{name} {mb} MiB" for name, mb in stores.items()) or "none reported"


def render(r: dict[str, Any]) -> str:
    lat, mem, v, s = r["latency"], r["memory"], r["verdict"], r["settings"]
    base, host = lat["baseline"], lat["hostile"]
    rss, fds = mem["rss_mb"], mem["fds"]
    m = r["machine"]
    at = {name: mark["cpu_seconds"] for name, mark in r["phases"].items()}
    cpu = {"baseline": at["hostile_start"] - at["baseline_start"],
           "hostile": at["hostile_end"] - at["hostile_start"]}  # fmt: skip
    hostile_cpu = r["phases"]["hostile_end"]["hostile_process_cpu_seconds"]
    lag = mem["loop_lag_ms"]
    lines = [
        "# Soak: the demo under well-behaved and hostile load",
        "",
        f"`{r['command']}` on {r['date']}, commit {r['commit']}; {m['cpus']} CPUs "
        f"({m['cpu_model']}), {m['memory_gb']} GB, Python {m['python']}; niceness "
        f"{r['niceness']}. The machine is shared with other work: load average "
        f"{r['phases']['baseline_start']['load_average']} at the baseline's start, "
        f"{r['phases']['hostile_start']['load_average']} at the hostile phase's, "
        f"{r['phases']['hostile_end']['load_average']} at its end (1, 5, 15 min).",
        "",
        f"`portgate demo` (gateway and five simulated ports, one process) on loopback; "
        f"{s['warmup']:g} s warm-up, {s['duration'] / 2:g} s baseline (well-behaved clients "
        f"only), {s['duration'] / 2:g} s hostile (the same clients beside the hostile ones, "
        f"which run in a process of their own), {s['settle']:g} s settling. Five well-behaved "
        f"clients, one key each, {s['rate']:g} requests a second each.",
        "",
        f"**Verdict: {_pass(v['pass'])}**",
        "",
        "| check | bound | measured | |",
        "|---|---|---|---|",
        f"| RSS | {v['rss']['bound']} | start {rss['start']} MiB, max {rss['max']}, end "
        f"{rss['end']} (+{v['rss']['growth_mb']}); the stores took on "
        f"{v['rss']['stores_growth_mb']:+} ({_stores(v['rss']['stores_mb'])}); unaccounted "
        f"{v['rss']['unaccounted_mb']:+} | {_pass(v['rss']['pass'])} |",
        f"| FDs | {v['fds']['bound']} | start {fds['start']}, max {fds['max']} "
        f"(+{v['fds']['growth_max']}); at rest {fds['rest']} before, {fds['end']} settled "
        f"({v['fds']['growth_end']:+}) | "
        f"{_pass(v['fds']['pass'])} |",
        f"| no 5xx | {v['no_5xx']['bound']} | {v['no_5xx']['server_errors']} server errors, "
        f"{v['no_5xx']['shed_503_with_retry_after']} shed (503 with Retry-After), "
        f"{v['no_5xx']['well_behaved_unanswered']} well-behaved unanswered | "
        f"{_pass(v['no_5xx']['pass'])} |",
        f"| latency | {v['p99']['bound']} | {v['p99']['ratio']}x | {_pass(v['p99']['pass'])} |",
        "",
        "## Well-behaved clients",
        "",
        "| | baseline | hostile | hostile / baseline |",
        "|---|---|---|---|",
        f"| requests answered 200 | {base['requests']} | {host['requests']} | |",
        f"| p50 ms | {base['p50_ms']} | {host['p50_ms']} | {lat['ratio_p50']}x |",
        f"| p99 ms | {base['p99_ms']} | {host['p99_ms']} | {lat['ratio_p99']}x |",
        "",
        "The default latency bound, 10x, comes from two trial runs on the machine these "
        "results were first taken on (2 shared CPUs, load average 2 to 5 from other work): "
        "4.4x and 8.0x. It is what the demo holds there, not a target. Two things weigh on "
        "it: the demo runs the simulated ports in the gateway's process, so the port-side "
        "work of the in-flight flood's cache misses runs on the gateway's event loop too; "
        "and the large hostile bodies (250 KB documents, 15,000 references, 10,000 variable "
        "keys) cost the gateway tens of ms of CPU each, during which its event loop serves "
        "nobody else.",
        "",
        "| client | baseline p50 / p99 ms | hostile p50 / p99 ms | statuses (baseline; hostile)"
        " | error codes in answers |",
        "|---|---|---|---|---|",
    ]
    for name, per in r["well_behaved"].items():
        b, h = base["per_client"][name], host["per_client"][name]
        codes: Counter[str] = Counter()
        for tally in per.values():
            codes.update(tally["codes"])
        lines.append(
            f"| {name} | {b['p50_ms']} / {b['p99_ms']} | {h['p50_ms']} / {h['p99_ms']} | "
            f"{_counts(per.get('baseline', {}).get('status', {}))}; "
            f"{_counts(per.get('hostile', {}).get('status', {}))} | {_counts(dict(codes))} |"
        )
    lines += [
        "",
        "## Hostile clients",
        "",
        "| client | what it sends | sent | statuses | error codes |",
        "|---|---|---|---|---|",
    ]
    for name, tally in r["hostile"].items():
        lines.append(
            f"| {name} | {r['hostile_aims'][name]} | {tally['sent']} | "
            f"{_counts(tally['status'])}{_longest(tally)} | {_counts(tally['codes'])} |"
        )
    audit = r["audit_store"]
    lines += [
        "",
        "Raw-socket clients count the status line the gateway answered, or how the connection "
        "ended, and how long the longest such connection lasted. A "
        "503 `OVERLOADED` with `Retry-After` is load shedding: expected when the gateway falls "
        "behind, counted apart, never a failure.",
        "",
        "## The gateway process",
        "",
        f"RSS (MiB): after warm-up {rss['start']}, max in the baseline {rss['max_baseline']}, "
        f"max in the hostile phase {rss['max_hostile']}, end {rss['end']}. Open FDs: after "
        f"warm-up {fds['start']}, max in the baseline {fds['max_baseline']}, max in the hostile "
        f"phase {fds['max_hostile']}, fewest while settling {fds['end']} (at rest before any "
        "load: "
        f"{fds['rest']}). {mem['samples']} samples, every "
        f"{s['sample_every']:g} s. RSS trend (least squares over each phase's samples): "
        f"{mem['rss_mib_per_minute']['baseline']:+.2f} MiB a minute in the baseline, "
        f"{mem['rss_mib_per_minute']['hostile']:+.2f} in the hostile phase. CPU of the demo "
        f"process: {cpu['baseline']:.1f} s in the baseline, {cpu['hostile']:.1f} s in the "
        f"hostile phase; of the hostile clients' process: {hostile_cpu:.1f} s. The gateway's "
        f"event-loop lag (`portgate_event_loop_lag_seconds`, read with each sample), median / "
        f"max: {lag['baseline']['median']} / {lag['baseline']['max']} ms in the baseline, "
        f"{lag['hostile']['median']} / {lag['hostile']['max']} ms in the hostile phase.",
        "",
        "The demo process holds both ends of every loopback connection inside it (gateway to "
        "port resolver, resolver to simulated port system), so its FDs follow concurrency: each "
        "request of the in-flight flood that is let in (up to 8 at once) asks five ports, over "
        "connections of their own at both layers. Once the load stops, the simulated systems' "
        "shared httpx client keeps up to 20 idle connections (closed by the other end, in "
        "CLOSE-WAIT, dropped only at that client's next request) and the key file's SQLite "
        "connection holds 3 files: hence the bound after settling.",
        "",
        f"Audit trail (the demo's SQLite file, WAL checkpointed): "
        f"{audit['before']['bytes'] / 1e6:.2f} MB with {audit['before']['records']} records and "
        f"{audit['before']['documents']} documents after warm-up, "
        f"{audit['after']['bytes'] / 1e6:.2f} MB with {audit['after']['records']} records and "
        f"{audit['after']['documents']} documents at the end "
        f"(+{audit['growth_bytes'] / 1e6:.2f} MB).",
        "",
        f"`/metrics` (counters that moved between the baseline's start and the end): "
        f"{_counts({k: int(n) for k, n in r['metrics']['deltas'].items()})}. Operation labels "
        f"of `portgate_requests_total`: {r['metrics']['operation_labels']['before']} before, "
        f"{r['metrics']['operation_labels']['after']} after.",
        "",
        f"The demo's log: {r['demo_log']['lines']} lines, {r['demo_log']['error_lines']} with "
        "ERROR or a traceback.",
    ]
    if r["failures"]:
        lines += ["", "## Server errors", ""]
        for failure in r["failures"]:
            lines.append(f"- {failure['client']}: `{failure['request']}` -> "
                         f"{failure['status']} `{failure['body'][:300]}`")  # fmt: skip
    if r["demo_log"]["first_errors"]:
        lines += ["", "First error lines of the demo's log:", "", "```"]
        lines += [line[:300] for line in r["demo_log"]["first_errors"]]
        lines += ["```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    defaults = SoakSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--duration",
        type=float,
        default=defaults.duration,
        help="seconds of the baseline and hostile phases together",
    )
    parser.add_argument("--warmup", type=float, default=defaults.warmup)
    parser.add_argument("--settle", type=float, default=defaults.settle)
    parser.add_argument(
        "--rate",
        type=float,
        default=defaults.rate,
        help="requests a second per well-behaved client",
    )
    parser.add_argument("--sample-every", type=float, default=defaults.sample_every)
    parser.add_argument("--hostile-max", type=int, default=defaults.hostile_max)
    parser.add_argument("--rss-bound-mb", type=float, default=defaults.rss_bound_mb)
    parser.add_argument("--fd-bound-load", type=int, default=defaults.fd_bound_load)
    parser.add_argument("--fd-bound-end", type=int, default=defaults.fd_bound_end)
    parser.add_argument("--p99-ratio-bound", type=float, default=defaults.p99_ratio_bound)
    parser.add_argument("--hostile", default=",".join(HOSTILE),
                        help="the hostile clients that run (comma-separated)")  # fmt: skip
    parser.add_argument("--output", default="soak", help="bench/results/<output>.{md,json}")
    args = parser.parse_args()
    output = vars(args).pop("output")
    args.hostile = tuple(args.hostile.split(","))
    unknown = set(args.hostile) - set(HOSTILE)
    if unknown:
        parser.error(f"unknown hostile clients {sorted(unknown)}; choose from {list(HOSTILE)}")
    result = asyncio.run(soak(SoakSettings(**vars(args))))
    write_results(output, result, render)
    if not result["verdict"]["pass"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
