"""Mutation testing of the modules that carry promises: does a test fail when a line is wrong?

    .venv/bin/python -m bench.mutation                      # every module in PROMISES
    .venv/bin/python -m bench.mutation --module gateway/record/redact.py [--module ...]
    .venv/bin/python -m bench.mutation --report-only        # re-render after editing the notes

(``make mutate`` and ``make mutate MODULE=gateway/record/redact.py`` run the first two.)

Each module runs on its own, with mutmut 3, in a fresh copy of the working tree under
``.mutation/<module>/`` (git-ignored; the tree you work in is never touched): mutmut rewrites
every function of that one module into a set of mutants, runs the module's tests from
:data:`PROMISES` once to learn which test reaches which function, then runs, for each mutant,
only the tests that reach its function (forked from a process that has collected the tests
but run none, so no cache from the clean run answers for a mutant; stopping at the first
failure). The results go to ``bench/results/mutation.json``, one entry per module with its own
date and commit, and ``bench/results/mutation.md`` is rendered from it
(:mod:`bench.mutation_report`), every surviving mutant beside its explanation from
``bench/mutation_notes.toml``.

Not part of ``make test`` or CI: a full run takes minutes, and its verdicts are read by people.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.mutation_report import Notes, Survivor, annotate, render

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
RESULTS = ROOT / "bench" / "results"
NOTES = ROOT / "bench" / "mutation_notes.toml"

# The modules that carry promises, each with the test files that pin them. mutmut runs these
# files once per module to learn which test reaches which function, then each mutant against
# the tests that reach it. To add a module, add a line.
PROMISES: dict[str, tuple[str, ...]] = {
    "gateway/access/policy.py": (
        "tests/gateway/test_policy_enforcement.py",
        "tests/gateway/test_policy_end_to_end.py",
        "tests/gateway/test_policy_roles.py",
        "tests/gateway/test_policy_floor.py",
    ),
    "gateway/access/policy_file.py": (
        "tests/gateway/access/test_policy_file.py",
        "tests/gateway/test_policy_floor.py",
        "tests/gateway/test_policy_roles.py",
    ),
    "gateway/record/audit.py": (
        "tests/gateway/record/test_audit.py",
        "tests/gateway/record/test_audit_bounds.py",
        "tests/gateway/record/test_audit_chain.py",
        "tests/gateway/record/test_audit_store.py",
        "tests/gateway/record/test_audit_trail.py",
        "tests/gateway/cli/test_audit_cli.py",
    ),
    "gateway/record/audit_chain.py": (
        "tests/gateway/record/test_audit_chain.py",
        "tests/gateway/record/test_audit_store.py",
        "tests/gateway/record/test_audit_prune.py",
        "tests/gateway/record/test_audit_upgrade.py",
    ),
    "gateway/record/redact.py": (
        "tests/gateway/record/test_redact.py",
        "tests/gateway/test_error_leaks.py",
    ),
    "gateway/ports/fetch.py": (
        "tests/gateway/ports/test_fetch.py",
        "tests/gateway/ports/test_fan_out_failures.py",
        "tests/gateway/test_port_status.py",
    ),
    "gateway/edge/rate_limit.py": (
        "tests/gateway/access/test_rate_limit.py",
        "tests/gateway/edge/test_rate_limit_middleware.py",
    ),
    "gateway/edge/client_address.py": ("tests/gateway/edge/test_client_address.py",),
    "gateway/access/ratelimit.py": ("tests/gateway/access/test_rate_limit.py",),
    "gateway/ports/cache.py": (
        "tests/gateway/ports/test_cache.py",
        "tests/gateway/test_cache_http.py",
        "tests/gateway/ports/test_cache_redis.py",
        "tests/gateway/ports/test_fetch.py",
    ),
    "portcontract/identifiers.py": ("tests/portcontract/test_identifiers.py",),
    "portcontract/labor.py": (
        "tests/portcontract/test_labor.py",
        "tests/port_resolvers/kit/test_kit_labor.py",
    ),
    "portcontract/cursor.py": ("tests/portcontract/test_cursor.py",),
    "gateway/ports/answer_checks.py": (
        "tests/gateway/ports/test_answer_checks.py",
        "tests/gateway/ports/test_boundary.py",
        "tests/gateway/ports/test_port_boundary.py",
    ),
    "gateway/ports/boundary.py": (
        "tests/gateway/ports/test_boundary.py",
        "tests/gateway/ports/test_port_boundary.py",
        "tests/gateway/ports/test_fetch.py",
    ),
    "gateway/ports/breaker.py": (
        "tests/gateway/ports/test_breaker.py",
        "tests/gateway/ports/test_fetch.py",
    ),
    "gateway/ports/coalesce.py": (
        "tests/gateway/ports/test_coalesce.py",
        "tests/gateway/ports/test_fetch.py",
    ),
}

SOURCE_PACKAGES = ["gateway", "port_resolvers", "portcontract"]
ALSO_COPY = ["README.md", "docs", "deploy"]
# mutmut's own statuses (`mutmut results --all true`), grouped as the report counts them.
KILLED = {"killed"}
TIMEOUT = {"timeout"}
SURVIVED = {"survived"}
NO_TESTS = {"no tests"}
_RESULT_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>.+?)\s*$")


def work_dir(module: str) -> Path:
    return WORK / module.removesuffix(".py").replace("/", ".")


def copy_tree(target: Path) -> None:
    """The working tree as it is now (tracked and new files, not ignored ones) into target."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def mutmut_config(module: str, tests: tuple[str, ...]) -> str:
    """The [tool.mutmut] table for one module (appended to the copy's pyproject.toml)."""

    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(json.dumps(i) for i in items) + "]"

    return "\n".join(
        [
            "",
            "[tool.mutmut]",
            f"source_paths = {toml_list(SOURCE_PACKAGES)}",
            f"only_mutate = {toml_list([module])}",
            f"pytest_add_cli_args_test_selection = {toml_list(list(tests))}",
            'pytest_add_cli_args = ["-p", "no:cacheprovider"]',
            # Files some tests read beside the code (mutmut copies only the code and tests/).
            f"also_copy = {toml_list(ALSO_COPY)}",
            # Fork each mutant's run from a server that only collected the tests, not from the
            # process that ran them clean: a cache the clean run filled (an lru_cache, as in
            # portcontract/labor.py) would answer in the mutated function's place.
            'process_isolation = "forkserver"',
            "",
        ]
    )


def mutmut(workdir: Path, *arguments: str, log: Path | None = None) -> str:
    command = [str(Path(sys.executable).parent / "mutmut"), *arguments]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if log is None:
        done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"mutmut {' '.join(arguments)} failed in {workdir}:\n{done.stderr}")
        return done.stdout
    with log.open("w") as out:
        logged = subprocess.run(command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, env=env)
    if logged.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(arguments)} failed: see {log}")
    return ""


def run_module(module: str, tests: tuple[str, ...], max_children: int) -> dict[str, Any]:
    """Run mutmut over one module; its counts and its survivors, with their diffs."""
    tree = commit()  # what is copied: the working tree as it is now
    workdir = work_dir(module)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    copy_tree(workdir)
    with (workdir / "pyproject.toml").open("a") as pyproject:
        pyproject.write(mutmut_config(module, tests))
    started = time.monotonic()
    print(f"{module}: mutmut over {', '.join(tests)} (log: {workdir / 'mutmut.log'})", flush=True)
    mutmut(workdir, "run", "--max-children", str(max_children), log=workdir / "mutmut.log")
    seconds = time.monotonic() - started
    statuses = {}
    for line in mutmut(workdir, "results", "--all", "true").splitlines():
        if match := _RESULT_LINE.match(line):
            statuses[match["name"]] = match["status"]
    survivors = []
    for name, status in sorted(statuses.items(), key=lambda item: _mutant_order(item[0])):
        if status in KILLED | TIMEOUT:
            continue
        survivors.append(Survivor.from_show(name, status, mutmut(workdir, "show", name)))
    counted = list(statuses.values())
    return {
        "module": module,
        "tests": list(tests),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": tree,
        "seconds": round(seconds),
        "mutants": len(counted),
        "killed": sum(s in KILLED for s in counted),
        "timeouts": sum(s in TIMEOUT for s in counted),
        "survived": sum(s in SURVIVED for s in counted),
        "no_tests": sum(s in NO_TESTS for s in counted),
        "other": sum(s not in KILLED | TIMEOUT | SURVIVED | NO_TESTS for s in counted),
        "survivors": [s.as_json() for s in survivors],
    }


def _mutant_order(name: str) -> tuple[str, int]:
    function, _, number = name.rpartition("__mutmut_")
    return function, int(number) if number.isdigit() else 0


def commit() -> str:
    def git(*arguments: str) -> str:
        return subprocess.run(
            ["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    head = git("rev-parse", "--short=12", "HEAD")
    report = [f":!{RESULTS.relative_to(ROOT) / name}" for name in ("mutation.json", "mutation.md")]
    changed = git("status", "--porcelain", "--", ".", *report)
    return head + (" + uncommitted changes" if changed else "")


def load_results() -> dict[str, Any]:
    path = RESULTS / "mutation.json"
    if not path.exists():
        return {"modules": {}}
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def save(results: dict[str, Any]) -> None:
    results["tool"] = f"mutmut {metadata.version('mutmut')}"
    results["promises"] = {m: list(t) for m, t in PROMISES.items()}
    notes = Notes.load(NOTES)
    annotate(results, notes)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mutation.json").write_text(
        json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (RESULTS / "mutation.md").write_text(render(results, ROOT, notes), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", default=[], help="a path in PROMISES")
    parser.add_argument("--report-only", action="store_true", help="only re-render the report")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    unknown = [m for m in args.module if m not in PROMISES]
    if unknown:
        parser.error(f"{', '.join(unknown)}: not in PROMISES (bench/mutation.py); add it there")
    results = load_results()
    if not args.report_only:
        for module in args.module or list(PROMISES):
            if not (ROOT / module).exists():
                print(f"{module}: no such file yet, skipped", flush=True)
                continue
            entry = run_module(module, PROMISES[module], args.max_children)
            results["modules"][module] = entry
            save(results)  # after each module, so a long campaign keeps what it finished
            print(
                f"{module}: {entry['mutants']} mutants, kill rate {entry['kill_rate']:.1%}, "
                f"{entry['unexplained']} survivors unexplained",
                flush=True,
            )
    save(results)
    print(f"report: {RESULTS / 'mutation.md'}")


if __name__ == "__main__":
    main()
