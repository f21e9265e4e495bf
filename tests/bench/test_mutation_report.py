"""The mutation report's arithmetic and bookkeeping, on hand-made mutmut output: which survivor a
note explains, the kill rates, and what mutmut cannot reach."""

from pathlib import Path
from typing import Any

from bench.mutation_report import (
    UNEXPLAINED,
    Notes,
    Survivor,
    annotate,
    function_of,
    not_mutated,
    render,
)

SHOW = """# gateway.ports.breaker.xǁCircuitBreakerǁrecord_success__mutmut_4: survived
--- gateway/ports/breaker.py
+++ gateway/ports/breaker.py
@@ -1,4 +1,4 @@
 def record_success(self) -> None:
     self._failures = 0
     self._opened_at = None
-    self._trial_running = False
+    self._trial_running = None
"""

NOTES = """
[[survivor]]
module = "gateway/ports/breaker.py"
function = "CircuitBreaker.record_success"
removed = "self._trial_running   =   False"
added = "self._trial_running = None"
why = "equivalent: read only for its truth value"

[[reviewed]]
module = "gateway/ports/breaker.py"
how = "state by hand"
"""


def test_mutant_names_become_functions_and_methods() -> None:
    assert function_of("portcontract.identifiers.x_check_imo__mutmut_12") == "check_imo"
    assert (
        function_of("gateway.ports.breaker.xǁCircuitBreakerǁrecord_failure__mutmut_7")
        == "CircuitBreaker.record_failure"
    )


def test_a_survivor_is_its_function_and_the_lines_it_changes() -> None:
    survivor = Survivor.from_show(
        "gateway.ports.breaker.xǁCircuitBreakerǁrecord_success__mutmut_4", "survived", SHOW
    )
    assert survivor.function == "CircuitBreaker.record_success"
    assert survivor.removed == ("    self._trial_running = False",)
    assert survivor.added == ("    self._trial_running = None",)
    assert Survivor.from_json(survivor.as_json()) == survivor


def results(survivors: list[dict[str, Any]], killed: int, timeouts: int = 0) -> dict[str, Any]:
    return {
        "tool": "mutmut 3.8.1",
        "promises": {
            "gateway/ports/breaker.py": ["tests/gateway/ports/test_breaker.py"],
            "gateway/x.py": [],
        },
        "modules": {
            "gateway/ports/breaker.py": {
                "module": "gateway/ports/breaker.py",
                "tests": ["tests/gateway/ports/test_breaker.py"],
                "date": "2026-12-01 10:00 UTC",
                "commit": "abc",
                "seconds": 9,
                "mutants": killed + timeouts + len(survivors),
                "killed": killed,
                "timeouts": timeouts,
                "survived": len(survivors),
                "no_tests": 0,
                "other": 0,
                "survivors": survivors,
            }
        },
    }


def test_notes_match_survivors_whatever_the_spacing_and_set_the_kill_rate(tmp_path: Path) -> None:
    (tmp_path / "notes.toml").write_text(NOTES, encoding="utf-8")
    notes = Notes.load(tmp_path / "notes.toml")
    explained = Survivor.from_show("m.xǁCircuitBreakerǁrecord_success__mutmut_4", "survived", SHOW)
    other = Survivor(
        "m.xǁCircuitBreakerǁallow__mutmut_1", "no tests", "CircuitBreaker.allow", ("a",), ("b",)
    )
    data = results([explained.as_json(), other.as_json()], killed=15, timeouts=1)
    annotate(data, notes)
    entry = data["modules"]["gateway/ports/breaker.py"]
    assert (entry["equivalent"], entry["unexplained"]) == (1, 1)
    assert entry["kill_rate"] == round(16 / 17, 4)  # 18 mutants, one equivalent
    assert entry["raw_kill_rate"] == round(16 / 18, 4)
    assert [s["why"] for s in entry["survivors"]] == [
        "equivalent: read only for its truth value",
        None,
    ]

    report = render(data, tmp_path, notes)
    assert "| 18 | 15 | 1 | 2 | 0 | 1 | 1 | 94.1% | 88.9% | 9 s |" in report
    assert "Not run yet: `gateway/x.py`." in report
    assert report.count(UNEXPLAINED) == 1
    assert "`- self._trial_running = False`<br>`+ self._trial_running = None`" in report


def test_what_mutmut_leaves_alone_is_named() -> None:
    source = """
import re
from typing import TypeVar
T = TypeVar("T")
PATTERN = re.compile(r"^x$")
class Breaker:
    limit: int = 3
    @property
    def state(self) -> int:
        return 1
    @staticmethod
    def plain() -> int:
        return 2
@lru_cache(maxsize=8)
def cached(x: str) -> bool:
    return True
def ordinary() -> None:
    pass
"""
    decorated, values = not_mutated(source)
    assert decorated == ["Breaker.state (@property)", "cached (@lru_cache(maxsize=8))"]
    assert values == ["PATTERN", "Breaker.limit"]
