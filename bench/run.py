"""The benchmark: portgate against its ports, against itself, and against the Node gateways.

    make bench                                  # .venv/bin/python -m bench.run
    .venv/bin/python -m bench.run --rounds 3 --duration 4 --only overhead,fanout --no-peers

Every server is a real process on 127.0.0.1: the benchmark ports (``python -m bench.ports``:
resolver-kit apps, see bench/ports.py), the gateway (``portgate serve``, cache off unless the
scenario is about the cache), Hive Gateway and Apollo Gateway (bench/peers, ``npm ci`` run
here). Load comes from wrk (installed with apt-get when missing) with bench/wrk.lua, which
posts a different container number in turn, so no cache or coalescing answers for a gateway.
Each figure is the median over ``--rounds`` rounds; within a round the sides of a comparison
run one after the other, alternating, so machine noise hits all of them; ratios are computed
from figures of this one run. Scenarios:

1. overhead: one container query to the port directly, through portgate, Hive and Apollo, at 1
   and 32 connections: req/s, p50, p99, latency added over the port;
1b. execute: the same against a port that executes every query (no memo), through portgate,
   Grafbase (Rust; only with ``--isolate``, in a network namespace of its own, since its CLI
   sends usage data) and Hive: what each gateway costs a port doing real work;
2. fanout: 5, 20, 50, 100 ports answering the same container query, each after 20 ms;
3. large: 1, 100, 1,000 containers with their events, directly and through portgate;
4. cache: warm vs cold req/s with the cache on, and a burst of identical queries with the
   cache off: the port requests it caused, with and without coalescing;
5. memory: gateway RSS at rest and its peak in each scenario (psutil, the process tree);
6. hotpath: the gateway with each hot-path change undone (bench/variant.py), side by side.

``--profile`` (on in ``make bench``) samples the gateway with py-spy under the overhead load, the
100-port fan-out and the largest answer. Results: bench/results/bench.{md,json} (and profile.md).
The whole run takes about ten minutes on two cores; never part of ``make test``.
"""

import argparse
import contextlib
import functools
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import yaml

from bench import profile, report
from bench.ports import bench_data
from portcontract.identifiers import iso6346_check_digit

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PEERS = BENCH / "peers"
WRK_SCRIPT = BENCH / "wrk.lua"
PORT_LATENCY_MS = 20.0

CONTAINER_QUERY = """query Box($ref: String!) {
  container(reference: $ref) {
    equipmentReference status sourcePort ISOEquipmentCode lastEventDateTime
    location { facilitySMDGCode terminalName yardBlock }
    events { eventID equipmentEventTypeCode eventClassifierCode eventDateTime }
  }
}"""
CONTAINERS_FIELDS = """equipmentReference status sourcePort lastEventDateTime
    events { eventID equipmentEventTypeCode eventClassifierCode eventDateTime
             eventLocation { UNLocationCode facilityCode }
             transportCall { transportCallReference vessel { vesselName vesselIMONumber } } }"""
# The benchmark's policy: anonymous callers see everything, so no request needs a credential
# (the Node gateways check none either) and no field is withheld.
OPEN_POLICY = {"roles": {"public": {"allow": ["*"]}}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_file() -> Any:
    return open(os.environ.get("BENCH_GATEWAY_LOG", os.devnull), "ab")


def python_env(root: Path = ROOT) -> dict[str, str]:
    """The gateway and ports import ``root``: this tree, or an earlier commit's (--baseline)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root),
            os.environ.get("PYTHONPATH")]))}  # fmt: skip


def exported(revision: str, directory: Path) -> Path:
    """The tree of ``revision`` (a commit of this repository), written under ``directory``."""
    target = directory / f"baseline-{revision}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True,
                                 capture_output=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


# -- processes ------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str  # the GraphQL endpoint
    process: subprocess.Popen[bytes] | None = None  # None: a port, not a gateway
    rest_rss: int = 0

    def rss(self) -> int:
        """Resident memory of the process and its children, in bytes."""
        if self.process is None:
            return 0
        try:
            root = psutil.Process(self.process.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.NoSuchProcess:
            return 0


@contextlib.contextmanager
def bench_ports(count: int, latency_ms: float, *, memo: bool = True) -> Iterator[dict[str, Any]]:
    """``python -m bench.ports`` (answers memoised unless ``memo`` is False):
    ``{"ports": [{id, url}], "stats": url}``."""
    command = [sys.executable, "-m", "bench.ports", "--count", str(count),
               "--latency-ms", str(latency_ms), *(["--memo"] if memo else [])]  # fmt: skip
    with log_file() as log:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=python_env()
        )
    assert process.stdout is not None
    assert process.stdin is not None
    try:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"bench.ports did not start: {' '.join(command)}")
        yield orjson.loads(line)
    finally:
        process.stdin.close()  # bench.ports stops when its stdin closes
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until_answering(url: str, body: bytes, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            response = httpx.post(url, content=body, headers=JSON_HEADERS, timeout=10)
            if response.status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within 90 s")


JSON_HEADERS = {"content-type": "application/json"}


@contextlib.contextmanager
def stopping(process: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gateway_config(ports: list[dict[str, str]], directory: Path, **settings: Any) -> Path:
    (directory / "policy.yaml").write_text(yaml.safe_dump(OPEN_POLICY))
    config = {
        "deadline": "10s",
        "port_defaults": {"timeout": "5s"},
        "graphiql": False,
        "cache": {"enabled": False},
        # One client sends everything, and the 1,000-container and 100-port queries are
        # large by design: no rate limit, and room under the cost limit (the Node gateways
        # apply neither).
        "rate_limit": {"enabled": False},
        "limits": {"max_cost": 100_000_000},
        "policy": {"file": "policy.yaml"},
        "audit": {"store": "sqlite:///audit.sqlite3"},
        "ports": [{"id": p["id"], "name": p["id"], "url": p["url"]} for p in ports],
        "registry": {"egress": {"schemes": ["http"], "hosts": ["127.0.0.1"]}},  # its ports
        **settings,
    }
    path = directory / "portgate.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@contextlib.contextmanager
def portgate(
    ports: list[dict[str, str]],
    probe: bytes,
    *,
    name: str = "portgate",
    variant: list[str] | None = None,
    root: Path = ROOT,
    **settings: Any,
) -> Iterator[Server]:
    """``portgate serve`` for these ports, in its own process (and its own temporary dir);
    with ``variant`` (options of bench/variant.py), that hot-path variant of it; with ``root``,
    the gateway of that tree (an earlier commit's, exported)."""
    with tempfile.TemporaryDirectory(prefix="portgate-bench-") as directory:
        config = gateway_config(ports, Path(directory), **settings)
        port = free_port()
        command = [str(Path(sys.executable).parent / "portgate"), "serve", "--config",
                   str(config), "--port", str(port)]  # fmt: skip
        if variant is not None:
            command = [sys.executable, "-m", "bench.variant", "--config", str(config),
                       "--port", str(port), *variant]  # fmt: skip
        with log_file() as log:
            process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=python_env(root),
                cwd=directory,
            )
        with stopping(process):
            server = Server(name, f"http://127.0.0.1:{port}/graphql", process)
            server.rest_rss = wait_and_measure_rest(server, probe)
            yield server


def wait_and_measure_rest(server: Server, probe: bytes) -> int:
    assert server.process is not None
    time.sleep(0.5)
    wait_until_answering(server.url, probe, server.process)
    time.sleep(0.5)
    return server.rss()


def npm_ci() -> None:
    if (PEERS / "node_modules" / ".package-lock.json").exists():
        return
    print("bench: npm ci in bench/peers (once)", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEERS,
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip


@contextlib.contextmanager
def node_peer(name: str, port_url: str, probe: bytes) -> Iterator[Server]:
    """Hive Gateway (proxy mode, one process) or Apollo Gateway, in front of ``port_url``."""
    port = free_port()
    schema = str(ROOT / "schema.graphql")
    if name == "hive":
        command = [
            str(PEERS / "node_modules" / ".bin" / "hive-gateway"),
            "proxy",
            port_url,
            "--schema",
            schema,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--fork",
            "1",
        ]
    else:
        command = ["node", str(PEERS / "apollo.mjs"), schema, port_url, str(port)]
    env = {**os.environ, "NODE_ENV": "production"}
    with log_file() as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, cwd=PEERS, env=env)
    with stopping(process):
        server = Server(name, f"http://127.0.0.1:{port}/graphql", process)
        server.rest_rss = wait_and_measure_rest(server, probe)
        yield server  # fmt: skip


GRAFBASE = PEERS / "node_modules" / "@grafbase" / "cli-x86_64-unknown-linux-musl" / "grafbase"
ISOLATED = "PORTGATE_BENCH_ISOLATED"  # set inside the network namespace of --isolate


def isolated() -> bool:
    """Whether this run is inside a network namespace of its own (only loopback exists)."""
    return os.environ.get(ISOLATED) == "1"


@contextlib.contextmanager
def grafbase_peer(port_url: str, probe: bytes) -> Iterator[Server]:
    """The Grafbase gateway (Rust, from npm) in front of ``port_url``, the shared schema given as
    the subgraph's file (it cannot introspect the kit). Its CLI sends usage data, so it runs
    only inside the network namespace of ``--isolate``, where nothing but loopback exists."""
    if not isolated():
        raise RuntimeError("the Grafbase peer runs only with --isolate")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="grafbase-") as directory:
        config = Path(directory) / "grafbase.toml"
        config.write_text(
            f'[subgraphs.ports]\nurl = "{port_url}"\nschema_path = "{ROOT / "schema.graphql"}"\n'
        )
        command = [str(GRAFBASE), "--home", str(Path(directory) / "home"), "dev", "-c",
                   str(config), "-p", str(port)]  # fmt: skip
        env = {**os.environ, "DO_NOT_TRACK": "1"}
        with log_file() as log:
            process = subprocess.Popen(command, stdout=log, stderr=log, cwd=directory, env=env)
        with stopping(process):
            server = Server("grafbase", f"http://127.0.0.1:{port}/graphql", process)
            server.rest_rss = wait_and_measure_rest(server, probe)
            yield server


# -- load -----------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("bench: installing wrk (apt-get install -y wrk)", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
    return shutil.which("wrk") or "wrk"


@dataclass
class Bodies:
    """Request bodies, one JSON document a line, posted in turn by bench/wrk.lua."""

    path: Path
    lines: list[bytes]

    @classmethod
    def write(cls, directory: Path, name: str, bodies: list[dict[str, Any]]) -> "Bodies":
        lines = [orjson.dumps(b) for b in bodies]
        path = directory / f"{name}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        return cls(path, lines)


@dataclass
class Load:
    wrk: str
    duration: float
    commands: list[str] = field(default_factory=list)

    def run(self, server: Server, bodies: Bodies, connections: int,
            duration: float | None = None) -> dict[str, Any]:  # fmt: skip
        seconds = duration or self.duration
        command = [self.wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
                   "-s", str(WRK_SCRIPT), server.url, "--", str(bodies.path)]  # fmt: skip
        shown = " ".join(["wrk", *command[1:]]).replace(str(bodies.path), bodies.path.name)
        shown = shown.replace(str(WRK_SCRIPT), "bench/wrk.lua").replace(
            server.url, f"<{server.name}>"
        )
        if shown not in self.commands:
            self.commands.append(shown)
        with RssPeak(server) as peak:
            done = subprocess.run(command, capture_output=True, text=True, check=True)
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        failed = sum(result["errors"].values())
        if failed:
            raise RuntimeError(f"{server.name}: {failed} failed requests: {result['errors']}")
        seconds_run = result["duration_us"] / 1e6
        result["rps"] = result["requests"] / seconds_run
        result["bytes_per_s"] = result["bytes"] / seconds_run
        result["peak_rss"] = peak.value
        return result


class RssPeak:
    """The largest RSS of a server's process tree while the block runs (sampled every 50 ms)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.value = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.value = max(self.value, self.server.rss())

    def __enter__(self) -> "RssPeak":
        self.value = self.server.rss()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def check(server: Server, bodies: Bodies, expect: Callable[[Any], bool]) -> None:
    """Every body once, one at a time (this also fills the ports' memo), and a sample checked:
    a gateway that answers fast with errors must not look good."""
    with httpx.Client(timeout=30) as client:
        for index, body in enumerate(bodies.lines):
            response = client.post(server.url, content=body, headers=JSON_HEADERS)
            if index % 50 == 0:
                answer = response.json()
                if response.status_code != 200 or answer.get("errors") or not expect(answer):
                    raise RuntimeError(f"{server.name}: a wrong answer: {response.text[:500]}")


def has_container(answer: Any) -> bool:
    return bool(answer.get("data", {}).get("container"))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds of one side of a comparison."""
    return {
        "rps": round(median([r["rps"] for r in runs]), 1),
        "p50_ms": round(median([r["p50_us"] for r in runs]) / 1000, 3),
        "p99_ms": round(median([r["p99_us"] for r in runs]) / 1000, 3),
        "bytes_per_s": round(median([r["bytes_per_s"] for r in runs])),
        "peak_rss_mb": round(max(r["peak_rss"] for r in runs) / 2**20, 1),
        "rounds_rps": [round(r["rps"], 1) for r in runs],
        "rounds_p50_ms": [round(r["p50_us"] / 1000, 3) for r in runs],
    }


def rounds(load: Load, servers: list[Server], bodies: Bodies, connections: int,
           count: int) -> dict[str, dict[str, Any]]:  # fmt: skip
    """``count`` rounds; in each, every server once, in an order that rotates per round."""
    runs: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
    for index in range(count):
        shift = index % len(servers)
        for server in servers[shift:] + servers[:shift]:
            runs[server.name].append(load.run(server, bodies, connections))
    return {name: summarise(r) for name, r in runs.items()}


# -- scenarios ------------------------------------------------------------------------------


def iso_reference(owner: str, serial: int) -> str:
    first_ten = f"{owner}U{serial:06d}"
    return first_ten + str(iso6346_check_digit(first_ten))


def container_bodies(tmp: Path, name: str, count: int) -> Bodies:
    """The container query for each of the first ``count`` containers, one body a line."""
    references = [c.reference for c in bench_data().containers][:count]
    return Bodies.write(tmp, name, [
        {"query": CONTAINER_QUERY, "variables": {"ref": r}, "operationName": "Box"}
        for r in references
    ])  # fmt: skip


def overhead(args: argparse.Namespace, load: Load, tmp: Path) -> dict[str, Any]:
    """The port directly, portgate, Hive and Apollo, at 1 and 32 connections."""
    bodies = container_bodies(tmp, "overhead", 500)
    probe = bodies.lines[0]
    result: dict[str, Any] = {"query": CONTAINER_QUERY, "containers": len(bodies.lines)}
    with bench_ports(1, 0) as ports, contextlib.ExitStack() as stack:
        port_url = ports["ports"][0]["url"]
        direct = Server("port (direct)", port_url)
        servers = [direct, stack.enter_context(portgate(ports["ports"], probe))]
        if args.peers:
            npm_ci()
            servers += [stack.enter_context(node_peer(name, port_url, probe))
                        for name in ("hive", "apollo")]  # fmt: skip
        for server in servers:
            check(server, bodies, has_container)
            load.run(server, bodies, 32, duration=2)  # warm up (JIT, pools)
        gateways = servers[1:]
        profiled = None
        if args.profile:
            profiled = profile.record(
                gateways[0],
                lambda: load.run(gateways[0], bodies, 32, duration=args.duration + 3),
                seconds=args.duration,
            )
        for connections in (1, 32):
            result[f"c{connections}"] = rounds(load, servers, bodies, connections, args.rounds)
        result["rest_rss_mb"] = {s.name: round(s.rest_rss / 2**20, 1) for s in gateways}
    result["profile"] = profiled
    return result


def fanout(args: argparse.Namespace, load: Load, tmp: Path) -> dict[str, Any]:
    """One container query answered by N ports, each after 20 ms, at 1 connection."""
    bodies = container_bodies(tmp, "fanout", 20)
    result: dict[str, Any] = {"port_latency_ms": PORT_LATENCY_MS, "counts": {}}
    for count in args.fanout:
        with (
            bench_ports(count, PORT_LATENCY_MS) as ports,
            portgate(ports["ports"], bodies.lines[0], deadline="10s") as gateway,
        ):
            direct = Server("port (direct)", ports["ports"][0]["url"])
            for server in (direct, gateway):
                check(server, bodies, has_container)
            runs = rounds(load, [direct, gateway], bodies, 1, args.rounds)
            entry = {"direct": runs["port (direct)"], "portgate": runs["portgate"],
                     "rest_rss_mb": round(gateway.rest_rss / 2**20, 1)}  # fmt: skip
            if args.profile and count == max(args.fanout):
                entry["profile"] = profile.record(
                    gateway,
                    lambda: load.run(gateway, bodies, 1, duration=args.duration + 3),
                    seconds=args.duration,
                )
            result["counts"][str(count)] = entry
    return result


def execute(args: argparse.Namespace, load: Load, tmp: Path) -> dict[str, Any]:
    """One port that executes every query (no memo), the container query with another container
    each request: the port alone, and portgate, Grafbase and Hive in front of it. What each
    gateway costs a port that does real work, at 32 and 1 connections."""
    bodies = container_bodies(tmp, "execute", 500)
    probe = bodies.lines[0]
    result: dict[str, Any] = {"query": CONTAINER_QUERY, "containers": len(bodies.lines),
                              "peers": []}  # fmt: skip
    with bench_ports(1, 0, memo=False) as ports, contextlib.ExitStack() as stack:
        port_url = ports["ports"][0]["url"]
        servers = [Server("port (direct)", port_url),
                   stack.enter_context(portgate(ports["ports"], probe))]  # fmt: skip
        if args.baseline:
            root = exported(args.baseline, tmp)
            name = f"portgate at {args.baseline}"
            servers.append(stack.enter_context(portgate(ports["ports"], probe, name=name,
                                                        root=root)))  # fmt: skip
        if args.peers and isolated() and GRAFBASE.exists():
            servers.append(stack.enter_context(grafbase_peer(port_url, probe)))
        if args.peers:
            npm_ci()
            servers.append(stack.enter_context(node_peer("hive", port_url, probe)))
        result["peers"] = [s.name for s in servers[2:]]
        for server in servers:
            check(server, bodies, has_container)
            load.run(server, bodies, 32, duration=2)  # warm up (JIT, pools)
        for connections in (32, 1):
            result[f"c{connections}"] = rounds(load, servers, bodies, connections, args.rounds)
        result["rest_rss_mb"] = {s.name: round(s.rest_rss / 2**20, 1) for s in servers[1:]}
    return result


HOT_PATH_VARIANTS = {
    "this tree, port documents printed for each request": ["--print-per-request"],
    "this tree, ports through aiohttp's pool": ["--aiohttp"],
    "this tree": [],
}


def hotpath(args: argparse.Namespace, load: Load, tmp: Path) -> dict[str, Any]:
    """Hot-path changes undone and redone, side by side: the gateway at ``--baseline`` (when
    given), then this tree with a change put back (bench/variant.py), then this tree; the
    overhead query, 1 and 32 connections."""
    bodies = container_bodies(tmp, "hotpath", 500)
    result: dict[str, Any] = {}
    with bench_ports(1, 0) as ports, contextlib.ExitStack() as stack:
        probe = bodies.lines[0]
        servers = []
        if args.baseline:
            root = exported(args.baseline, tmp)
            name = f"at {args.baseline}"
            servers.append(stack.enter_context(portgate(ports["ports"], probe, name=name,
                                                        root=root)))  # fmt: skip
        servers += [
            stack.enter_context(portgate(ports["ports"], probe, name=name, variant=v))
            for name, v in HOT_PATH_VARIANTS.items()
        ]
        for server in servers:
            check(server, bodies, has_container)
            load.run(server, bodies, 32, duration=2)
        for connections in (1, 32):
            result[f"c{connections}"] = rounds(load, servers, bodies, connections, args.rounds)
    return result


def large_bodies(tmp: Path, size: int, variants: int = 4) -> Bodies:
    """``size`` containers (with events) in one query: up to 100 references per ``containers``
    field (its limit), so 1,000 are ten aliased fields; each variant starts elsewhere."""
    references = [c.reference for c in bench_data().containers]
    bodies = []
    for variant in range(variants):
        start = variant * 37
        chosen = [references[(start + i) % len(references)] for i in range(size)]
        groups = [chosen[i : i + 100] for i in range(0, size, 100)]
        header = ", ".join(f"$r{i}: [String!]!" for i in range(len(groups)))
        fields = "\n  ".join(
            f"c{i}: containers(references: $r{i}) {{ {CONTAINERS_FIELDS} }}"
            for i in range(len(groups))
        )
        query = f"query Boxes({header}) {{\n  {fields}\n}}"
        variables = {f"r{i}": group for i, group in enumerate(groups)}
        bodies.append({"query": query, "variables": variables, "operationName": "Boxes"})
    return Bodies.write(tmp, f"large-{size}", bodies)


def large(args: argparse.Namespace, load: Load, tmp: Path) -> dict[str, Any]:
    """1, 100 and 1,000 containers with events, directly and through portgate, 1 connection."""
    result: dict[str, Any] = {"sizes": {}}
    with bench_ports(1, 0) as ports:
        port_url = ports["ports"][0]["url"]
        for size in args.large:
            bodies = large_bodies(tmp, size)
            with contextlib.ExitStack() as stack:
                gateway = stack.enter_context(portgate(ports["ports"], bodies.lines[0]))
                direct = Server("port (direct)", port_url)
                servers = [direct, gateway]
                if args.baseline:
                    servers.append(stack.enter_context(portgate(
                        ports["ports"], bodies.lines[0], name=f"portgate at {args.baseline}",
                        root=exported(args.baseline, tmp))))  # fmt: skip

                def counted(answer: Any, size: int = size) -> bool:
                    data = answer.get("data") or {}
                    return sum(len(v or []) for v in data.values()) == size

                for server in servers:
                    check(server, bodies, counted)
                profiled = None
                if args.profile and size == max(args.large):
                    profiled = profile.record(
                        gateway,
                        functools.partial(load.run, gateway, bodies, 1, duration=args.duration + 3),
                        seconds=args.duration,
                    )
                runs = rounds(load, servers, bodies, 1, args.rounds)
                result["sizes"][str(size)] = {
                    "profile": profiled,
                    "direct": runs["port (direct)"],
                    "portgate": runs["portgate"],
                    "baseline": runs.get(f"portgate at {args.baseline}"),
                    "response_bytes": len(httpx.post(gateway.url, content=bodies.lines[0],
                                                     headers=JSON_HEADERS).content),
                    "rest_rss_mb": round(gateway.rest_rss / 2**20, 1),
                }  # fmt: skip
        result["baseline"] = args.baseline
    return result


def cache(args: argparse.Namespace, load: Load, tmp: Path) -> dict[str, Any]:
    """Cache on: warm (50 containers, all cached) vs cold (a new container every request);
    cache off: a burst of identical queries, with and without coalescing."""
    references = [c.reference for c in bench_data().containers]
    warm = Bodies.write(tmp, "warm", [
        {"query": CONTAINER_QUERY, "variables": {"ref": r}, "operationName": "Box"}
        for r in references[:50]
    ])  # fmt: skip
    result: dict[str, Any] = {"port_latency_ms": PORT_LATENCY_MS}
    runs: dict[str, list[dict[str, Any]]] = {"warm": [], "cold": []}
    with bench_ports(1, PORT_LATENCY_MS) as ports:
        with portgate(ports["ports"], warm.lines[0], cache={"enabled": True}) as gateway:
            check(gateway, warm, has_container)  # every warm answer now cached
            for index in range(args.rounds):
                # Containers no port knows (valid numbers): every request a miss at the port.
                cold = Bodies.write(tmp, f"cold-{index}", [
                    {"query": CONTAINER_QUERY, "variables": {"ref": iso_reference("BNC", s)},
                     "operationName": "Box"}
                    for s in range(index * 100_000, index * 100_000 + 20_000)
                ])  # fmt: skip
                for side in ("cold", "warm") if index % 2 == 0 else ("warm", "cold"):
                    runs[side].append(load.run(gateway, cold if side == "cold" else warm, 32))
            result["rest_rss_mb"] = round(gateway.rest_rss / 2**20, 1)
        result["warm"], result["cold"] = summarise(runs["warm"]), summarise(runs["cold"])
        result["burst"] = burst(args, ports, warm)
    return result


def burst(args: argparse.Namespace, ports: dict[str, Any], bodies: Bodies) -> dict[str, Any]:
    """``--burst`` identical concurrent queries, cache off: the requests that reached the port."""
    counts: dict[str, list[int]] = {"coalesced": [], "not_coalesced": []}
    stats = ports["stats"]
    for side in counts:
        settings: dict[str, Any] = {"cache": {"enabled": False, "coalesce": side == "coalesced"}}
        with portgate(ports["ports"], bodies.lines[0], **settings) as gateway:
            for index in range(args.rounds):
                body = bodies.lines[index % len(bodies.lines)]
                httpx.post(stats)  # reset the port's counters
                threads = [threading.Thread(target=_post, args=(gateway.url, body))
                           for _ in range(args.burst)]  # fmt: skip
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                counts[side].append(httpx.get(stats).json()["requests"])
    return {
        "burst": args.burst,
        "port_requests_coalesced": median([float(c) for c in counts["coalesced"]]),
        "port_requests_not_coalesced": median([float(c) for c in counts["not_coalesced"]]),
        "rounds": counts,
    }


def _post(url: str, body: bytes) -> None:
    response = httpx.post(url, content=body, headers=JSON_HEADERS, timeout=60)
    response.raise_for_status()


# -- the run --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def versions(peers: bool) -> dict[str, str]:
    names = ("strawberry-graphql", "graphql-core", "starlette", "uvicorn", "uvloop", "httptools",
             "aiohttp", "httpx", "orjson")  # fmt: skip
    found = {name: metadata.version(name) for name in names}
    found["wrk"] = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split(
        "[")[0].strip()  # fmt: skip
    found["node"] = (
        subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        if shutil.which("node")
        else ""
    )
    if peers:
        for package in (
            "@graphql-hive/gateway",
            "@apollo/gateway",
            "@apollo/server",
            "@grafbase/cli-x86_64-unknown-linux-musl",
        ):
            manifest = PEERS / "node_modules" / package / "package.json"
            found[package] = json.loads(manifest.read_text())["version"]
    return found  # fmt: skip


SCENARIOS = {"overhead": overhead, "execute": execute, "fanout": fanout, "large": large,
             "cache": cache, "hotpath": hotpath}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per wrk run")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios to run")
    parser.add_argument("--fanout", type=lambda s: [int(x) for x in s.split(",")],
                        default=[5, 20, 50, 100])  # fmt: skip
    parser.add_argument("--large", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 100, 1000])  # fmt: skip
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--no-peers", dest="peers", action="store_false")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway under load")
    parser.add_argument("--output", default="bench", help="bench/results/<output>.{md,json}")
    parser.add_argument(
        "--baseline", metavar="REV",
        help="in the execute scenario, also the gateway of this commit, side by side",
    )  # fmt: skip
    parser.add_argument(
        "--isolate", action="store_true",
        help="run inside a network namespace of its own, where only loopback exists (needed "
        "for the Grafbase peer, whose CLI sends usage data; uses unshare)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.isolate and not isolated():
        ensure_wrk()  # what needs the registries, before the namespace has none
        if args.peers:
            npm_ci()
        command = [sys.executable, "-m", "bench.run", *sys.argv[1:]]
        os.execvpe("unshare", ["unshare", "--net", "--", "sh", "-c",
                               'ip link set lo up && exec "$@"', "sh", *command],
                   {**os.environ, ISOLATED: "1"})  # fmt: skip

    load = Load(ensure_wrk(), args.duration)
    started = time.monotonic()
    result: dict[str, Any] = {
        "command": " ".join(["python", "-m", "bench.run", *sys.argv[1:]]),
        "machine": machine(),
        "settings": {k: v for k, v in vars(args).items() if k != "only"},
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as name:
        for scenario in args.only.split(","):
            print(f"bench: {scenario}", flush=True)
            result[scenario] = SCENARIOS[scenario](args, load, Path(name))
    result["versions"] = versions(args.peers and bool({"overhead", "execute"} & set(
        args.only.split(","))))  # fmt: skip
    result["wrk_commands"] = load.commands
    result["minutes"] = round((time.monotonic() - started) / 60, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.output}.json").write_text(json.dumps(result, indent=2) + "\n")
    text = report.render(result)
    (RESULTS / f"{args.output}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
