"""bench/results/mutation.md from mutation.json: kill rates per module, and each survivor with
the reason it survives (``bench/mutation_notes.toml``) or a slot saying none was given yet.

A note names its survivor by module, function and the mutated line before and after (spaces
collapsed), not by mutmut's mutant number, which shifts whenever the function changes. A note
whose mutant no longer survives is simply not shown. ``[[reviewed]]`` entries say how the code
mutmut cannot reach (decorated functions, values outside functions) was checked instead.
"""

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UNEXPLAINED = "**unexplained**: an equivalent mutant (say why), or name the test that should exist"


def _squeeze(line: str) -> str:
    return " ".join(line.split())


@dataclass(frozen=True, slots=True)
class Survivor:
    """A mutant no test killed (``survived``, or ``no tests`` when no test reaches it)."""

    mutant: str
    status: str
    function: str
    removed: tuple[str, ...]
    added: tuple[str, ...]

    @classmethod
    def from_show(cls, mutant: str, status: str, show: str) -> "Survivor":
        """From ``mutmut show MUTANT``'s output."""
        removed, added = parse_show(show)
        return cls(mutant, status, function_of(mutant), removed, added)

    def key(self) -> tuple[str, str, str]:
        return (self.function, _squeeze(" ".join(self.removed)), _squeeze(" ".join(self.added)))

    def as_json(self) -> dict[str, Any]:
        return {
            "mutant": self.mutant,
            "status": self.status,
            "function": self.function,
            "removed": list(self.removed),
            "added": list(self.added),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Survivor":
        return cls(
            data["mutant"],
            data["status"],
            data["function"],
            tuple(data["removed"]),
            tuple(data["added"]),
        )


def function_of(mutant: str) -> str:
    """``gateway.ports.breaker.xǁCircuitBreakerǁallow__mutmut_3`` -> ``CircuitBreaker.allow``."""
    name = mutant.rpartition("__mutmut_")[0].rpartition(".")[2]
    if name.startswith("xǁ"):
        return name[2:].replace("ǁ", ".")
    return name.removeprefix("x_")


def parse_show(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The lines a mutant removes and adds, from ``mutmut show``'s unified diff."""
    removed, added = [], []
    for line in text.splitlines():
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            removed.append(line[1:].rstrip())
        elif line.startswith("+"):
            added.append(line[1:].rstrip())
    return tuple(removed), tuple(added)


@dataclass(frozen=True, slots=True)
class Notes:
    """``bench/mutation_notes.toml``: why survivors may stay; how blind spots were reviewed."""

    why: dict[tuple[str, tuple[str, str, str]], str]
    reviewed: dict[str, list[str]]

    @classmethod
    def load(cls, path: Path) -> "Notes":
        data = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        why = {}
        for note in data.get("survivor", []):
            key = (note["function"], _squeeze(note["removed"]), _squeeze(note["added"]))
            why[(note["module"], key)] = note["why"]
        reviewed: dict[str, list[str]] = {}
        for note in data.get("reviewed", []):
            reviewed.setdefault(note["module"], []).append(_squeeze(note["how"]))
        return cls(why, reviewed)


def not_mutated(source: str) -> tuple[list[str], list[str]]:
    """What mutmut leaves alone in a module: decorated functions (properties, caches,
    validators; only a lone ``staticmethod`` or ``classmethod`` is mutated) and values bound
    outside any function (module constants, class attributes and field defaults)."""
    tree = ast.parse(source)
    decorated: list[str] = []
    values: list[str] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.decorator_list:
                lone = [ast.unparse(d) for d in node.decorator_list]
                if lone not in (["staticmethod"], ["classmethod"]):
                    decorated.append(f"{prefix}{node.name} (@{', @'.join(lone)})")
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.Assign) and _has_literal(node.value):
                values.extend(prefix + ast.unparse(t) for t in node.targets)
            elif isinstance(node, ast.AnnAssign) and node.value and _has_literal(node.value):
                values.append(prefix + ast.unparse(node.target))

    visit(tree.body, "")
    return decorated, values


def _has_literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "TypeVar":
        return False
    return any(isinstance(n, ast.Constant) for n in ast.walk(node))


def annotate(results: dict[str, Any], notes: Notes) -> None:
    """Give each survivor its note, and each module its counts of explained equivalents and
    its kill rates: **kill rate** = (killed + timeouts) / (mutants - equivalent), the usual
    mutation score; **raw** = (killed + timeouts) / mutants."""
    for module, entry in results["modules"].items():
        for survivor in entry["survivors"]:
            survivor["why"] = notes.why.get((module, Survivor.from_json(survivor).key()))
        entry["equivalent"] = sum(
            bool(s["why"]) and s["why"].startswith("equivalent") for s in entry["survivors"]
        )
        entry["unexplained"] = sum(not s["why"] for s in entry["survivors"])
        detected = entry["killed"] + entry["timeouts"]
        entry["kill_rate"] = _ratio(detected, entry["mutants"] - entry["equivalent"])
        entry["raw_kill_rate"] = _ratio(detected, entry["mutants"])


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def render(results: dict[str, Any], root: Path, notes: Notes) -> str:
    """The report, from results that :func:`annotate` has seen."""
    modules: dict[str, dict[str, Any]] = results["modules"]
    ordered = [m for m in results.get("promises", {}) if m in modules]
    ordered += sorted(m for m in modules if m not in ordered)
    waiting = [m for m in results.get("promises", {}) if m not in modules]
    last = max((modules[m]["date"] for m in ordered), default="never")
    lines = [
        "# Mutation testing\n",
        f"Written by `make mutate` (`bench/mutation.py`, {results.get('tool', 'mutmut')}); "
        f"last run {last}. Each module is mutated on its own, and each mutant runs against the "
        "tests in that module's list that reach the mutated function.\n",
        "**Kill rate** = (killed + timeouts) / (mutants - equivalent): a mutant that makes a "
        "test hang is caught; an *equivalent* mutant behaves exactly like the original, so no "
        "test can kill it, and each is explained below. **Raw** counts every mutant. *No tests*: "
        "no listed test reaches the function, so the mutant is not killed. Every mutant not "
        "killed is listed under its module with the reason it may stay "
        "(`bench/mutation_notes.toml`), or marked unexplained.\n",
        "| module | run | commit | mutants | killed | timeouts | survived | no tests | "
        "equivalent | unexplained | kill rate | raw | time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for module in ordered:
        e = modules[module]
        lines.append(
            f"| `{module}` | {e['date']} | {e['commit']} | {e['mutants']} | {e['killed']} | "
            f"{e['timeouts']} | {e['survived']} | {e['no_tests']} | {e['equivalent']} | "
            f"{e['unexplained']} | {e['kill_rate']:.1%} | {e['raw_kill_rate']:.1%} | "
            f"{e['seconds']} s |"
        )
    if waiting:
        lines.append(f"\nNot run yet: {', '.join(f'`{m}`' for m in waiting)}.")
    for module in ordered:
        lines += ["", *_module_section(modules[module], root, notes)]
    return "\n".join(lines) + "\n"


def _module_section(entry: dict[str, Any], root: Path, notes: Notes) -> list[str]:
    module = entry["module"]
    tests = ", ".join(f"`{t}`" for t in entry["tests"])
    lines = [f"## `{module}`\n", f"Tests: {tests}."]
    path = root / module
    if path.exists():
        decorated, values = not_mutated(path.read_text(encoding="utf-8"))
        if decorated or values:
            lines += ["", "mutmut does not mutate these (their tests are reviewed by hand):"]
            if decorated:
                lines.append(f"- decorated functions: {', '.join(f'`{d}`' for d in decorated)}")
            if values:
                listed = ", ".join(f"`{v}`" for v in values)
                lines.append(f"- values bound outside functions: {listed}")
            lines += [f"- reviewed: {how}" for how in notes.reviewed.get(module, [])]
    survivors = entry["survivors"]
    if not survivors:
        lines.append("\nNo survivors.")
        return lines
    lines += ["", "| mutant | status | change | why it may stay |", "|---|---|---|---|"]
    for data in survivors:
        s = Survivor.from_json(data)
        change = "<br>".join(
            [f"`- {_cell(r.strip())}`" for r in s.removed]
            + [f"`+ {_cell(a.strip())}`" for a in s.added]
        )
        number = s.mutant.rpartition("__mutmut_")[2]
        why = _cell(data["why"] or UNEXPLAINED)
        lines.append(f"| `{s.function}` #{number} | {s.status} | {change} | {why} |")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
