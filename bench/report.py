"""bench/results/bench.md from the run's JSON: the tables, the targets, and the profiles."""

from typing import Any

PROFILE_LINES = 25


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in r.get("versions", {}).items())
    parts = [
        "# portgate benchmark\n",
        f"`{r['command']}` ({r['minutes']} min) on {m['cpus']} CPUs ({m['cpu_model']}), "
        f"{m['memory_gb']} GiB, Linux {m['kernel']}, Python {m['python']}; {versions}.\n",
        "Every server is its own process on 127.0.0.1; load from wrk (one thread) in another. "
        f"Medians over {r['settings']['rounds']} rounds of {r['settings']['duration']:g} s per "
        "side, the sides alternating in each round. The ports are resolver-kit apps whose "
        "answers are memoised after the first (bench/ports.py), so they cost every gateway the "
        "same small amount and the figures are the gateways' own work; except in 1b, where the "
        "port executes every query. Gateway cache off except in the cache scenario; every "
        "request asks for another container.\n",
    ]
    if "overhead" in r:
        parts.append(overhead(r["overhead"]))
    if "execute" in r:
        parts.append(execute(r["execute"]))
    if "fanout" in r:
        parts.append(fanout(r["fanout"]))
    if "large" in r:
        parts.append(large(r["large"]))
    if "cache" in r:
        parts.append(cache(r["cache"]))
    if "hotpath" in r:
        parts.append(hotpath(r["hotpath"]))
    parts.append(targets(r))
    parts.append("## wrk commands\n\n" + "\n".join(f"    {c}" for c in r["wrk_commands"]) + "\n")
    parts.append(profiles(r))
    return "\n".join(parts)


def overhead(o: dict[str, Any]) -> str:
    lines = [
        "## 1. Overhead and the Node gateways: one container query, one port\n",
        "| target | conns | req/s | p50 ms | p99 ms | added p50 ms | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in ("c1", "c32"):
        direct = o[c]["port (direct)"]["p50_ms"]
        for name, s in o[c].items():
            added = "" if name == "port (direct)" else f"{s['p50_ms'] - direct:.2f}"
            rss = "" if name == "port (direct)" else s["peak_rss_mb"]
            lines.append(f"| {name} | {c[1:]} | {s['rps']:,.0f} | {s['p50_ms']:.2f} | "
                         f"{s['p99_ms']:.2f} | {added} | {rss} |")  # fmt: skip
    lines.append("")
    rest = ", ".join(f"{k} {v} MB" for k, v in o["rest_rss_mb"].items())
    lines.append(f"RSS at rest (after start-up and one request): {rest}.\n")
    return "\n".join(lines)


def execute(e: dict[str, Any]) -> str:
    lines = [
        "## 1b. A port that executes every query (no memo), one container query\n",
        "What each gateway costs a port doing real work: the port alone, then each gateway in "
        "front of it, side by side in each round.\n",
        "| target | conns | req/s | vs the port alone | p50 ms | p99 ms | added p50 ms | "
        "peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in ("c32", "c1"):
        alone = e[c]["port (direct)"]
        for name, s in e[c].items():
            direct = name == "port (direct)"
            added = "" if direct else f"{s['p50_ms'] - alone['p50_ms']:.2f}"
            share = "" if direct else f"{s['rps'] / alone['rps']:.2f}x"
            rss = "" if direct else s["peak_rss_mb"]
            lines.append(f"| {name} | {c[1:]} | {s['rps']:,.0f} | {share} | {s['p50_ms']:.2f} | "
                         f"{s['p99_ms']:.2f} | {added} | {rss} |")  # fmt: skip
    lines.append("")
    rest = ", ".join(f"{k} {v} MB" for k, v in e["rest_rss_mb"].items())
    lines.append(f"RSS at rest (after start-up and one request): {rest}.\n")
    return "\n".join(lines)


def fanout(f: dict[str, Any]) -> str:
    lines = [
        f"## 2. Fan-out: N ports, each answering after {f['port_latency_ms']:g} ms, 1 connection\n",
        "| ports | port direct p50 ms | portgate p50 ms | p99 ms | over one port ms | "
        "peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for count, e in f["counts"].items():
        d, g = e["direct"], e["portgate"]
        lines.append(f"| {count} | {d['p50_ms']:.1f} | {g['p50_ms']:.1f} | {g['p99_ms']:.1f} | "
                     f"{g['p50_ms'] - d['p50_ms']:.1f} | {g['peak_rss_mb']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def large(f: dict[str, Any]) -> str:
    lines = [
        "## 3. Large answers: containers with their events, one port, 1 connection\n",
        "| containers | response KB | port direct p50 ms | portgate p50 ms | gateway's own ms | "
        "portgate MB/s | peak RSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, e in f["sizes"].items():
        d = e["direct"]
        sides = (("portgate", e["portgate"]), (f"at {f.get('baseline')}", e.get("baseline")))
        for name, g in sides:
            if g is None:
                continue
            label = f"{int(size):,}" if name == "portgate" else f"{int(size):,}, portgate {name}"
            lines.append(f"| {label} | {e['response_bytes'] / 1024:,.0f} | {d['p50_ms']:.1f} | "
                         f"{g['p50_ms']:.1f} | {g['p50_ms'] - d['p50_ms']:.1f} | "
                         f"{g['bytes_per_s'] / 2**20:.1f} | {g['peak_rss_mb']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def cache(c: dict[str, Any]) -> str:
    w, k, b = c["warm"], c["cold"], c["burst"]
    return f"""## 4. Cache: one port answering after {c["port_latency_ms"]:g} ms, 32 connections

| portgate, cache on | req/s | p50 ms | p99 ms | peak RSS MB |
|---|---|---|---|---|
| cold (a container no port knows, new each request) | {k["rps"]:,.0f} | {k["p50_ms"]:.2f} | \
{k["p99_ms"]:.2f} | {k["peak_rss_mb"]} |
| warm (50 containers, all cached) | {w["rps"]:,.0f} | {w["p50_ms"]:.2f} | {w["p99_ms"]:.2f} | \
{w["peak_rss_mb"]} |
| warm / cold | {w["rps"] / k["rps"]:.1f}x | | | |

A burst of {b["burst"]} identical concurrent queries, cache off: requests that reached the port \
(median of {len(b["rounds"]["coalesced"])} rounds): {b["port_requests_coalesced"]:g} with \
coalescing, {b["port_requests_not_coalesced"]:g} without.
"""


def hotpath(h: dict[str, Any]) -> str:
    lines = [
        "## Hot path: each change undone and redone, the overhead query, same run\n",
        "| portgate | req/s (32 conns) | p50 ms (32) | p50 ms (1 conn) | req/s vs before |",
        "|---|---|---|---|---|",
    ]
    before = next(iter(h["c32"].values()))["rps"]
    for name, s in h["c32"].items():
        lines.append(f"| {name} | {s['rps']:,.0f} | {s['p50_ms']:.2f} | "
                     f"{h['c1'][name]['p50_ms']:.2f} | {s['rps'] / before:.2f}x |")  # fmt: skip
    return "\n".join(lines) + "\n"


def targets(r: dict[str, Any]) -> str:
    """The performance issue's targets, each against this run's figures."""
    rows = []
    e = r.get("execute")
    if e:
        alone, ours = e["c32"]["port (direct)"]["rps"], e["c32"]["portgate"]["rps"]
        rows.append(("32 conns, executing port: >= 0.75x the port alone",
                     f"{ours / alone:.2f}x ({ours:,.0f} vs {alone:,.0f})",
                     ours >= 0.75 * alone))  # fmt: skip
        if "hive" in e["c32"]:
            hive = e["c32"]["hive"]["rps"]
            rows.append(("32 conns, executing port: >= 2x Hive Gateway",
                         f"{ours / hive:.2f}x ({ours:,.0f} vs {hive:,.0f})",
                         ours >= 2 * hive))  # fmt: skip
    o = r.get("overhead")
    if o:
        added = o["c1"]["portgate"]["p50_ms"] - o["c1"]["port (direct)"]["p50_ms"]
        rows.append(("added p50 at 1 connection <= 0.35 ms", f"{added:.2f} ms", added <= 0.35))
    f = r.get("fanout", {}).get("counts", {}).get("100")
    if f:
        p50 = f["portgate"]["p50_ms"]
        rows.append(("100 ports x 20 ms: p50 <= 30 ms", f"{p50:.1f} ms", p50 <= 30))
    big = r.get("large", {}).get("sizes", {}).get("1000")
    if big:
        own = big["portgate"]["p50_ms"] - big["direct"]["p50_ms"]
        rows.append(("1,000 containers with events: <= 10 ms of gateway time",
                     f"{own:.1f} ms", own <= 10))  # fmt: skip
    for scenario in (o, e):
        if scenario:
            rest = scenario["rest_rss_mb"]["portgate"]
            loaded = scenario["c32"]["portgate"]["peak_rss_mb"]
            rows.append(("RSS at rest <= 70 MB", f"{rest} MB", rest <= 70))
            rows.append(("RSS under load <= 90 MB", f"{loaded} MB", loaded <= 90))
            break
    lines = ["## Targets (the performance issue)\n", "| target | this run | met |", "|---|---|---|"]
    lines += [f"| {t} | {v} | {'yes' if ok else '**no**'} |" for t, v, ok in rows]
    return "\n".join(lines) + "\n"


def profiles(r: dict[str, Any]) -> str:
    found = []
    if (r.get("overhead") or {}).get("profile"):
        found.append(
            ("portgate under the overhead load (32 connections)", r["overhead"]["profile"])
        )
    for count, e in (r.get("fanout") or {}).get("counts", {}).items():
        if e.get("profile"):
            found.append((f"portgate fanning out to {count} ports (1 connection)", e["profile"]))
    for size, e in (r.get("large") or {}).get("sizes", {}).items():
        if e.get("profile"):
            found.append((f"portgate answering {size} containers (1 connection)", e["profile"]))
    if not found:
        return ""
    parts = ["## Where the gateway's time goes (py-spy, share of samples)\n"]
    for title, p in found:
        if "error" in p:
            parts.append(f"### {title}\n\npy-spy failed: {p['error']}\n")
            continue
        parts.append(f"### {title}: {p['samples']} samples\n")
        parts.append("| inclusive % | function | | self % | function |\n|---|---|---|---|---|")
        own = p["self"] + [("", "")] * (PROFILE_LINES - len(p["self"]))
        for (inc, fn), (slf, sfn) in zip(p["inclusive"][:PROFILE_LINES], own, strict=False):
            parts.append(f"| {inc} | `{fn}` | | {slf} | {f'`{sfn}`' if sfn else ''} |")
        parts.append("")
    return "\n".join(parts)
