"""The labor-privacy rule (Cal. Gov. Code 12100.131(b)(3)) as code.

No data that tracks or monitors labor is ever passed on: worker, crane-operator or clerk ids,
gang or shift assignments, equipment-operator logs, per-hour productivity rates, gate
transactions tied to a clerk or lane, truck driver identity (name, licence, TWIC, RFID, plate,
GPS) and per-driver or per-truck turn times.

The shared schema has no such type or field. This module is the second line: port adapters and
the gateway drop any key of a port payload that names such data, whatever the schema says, and
tests scan the schema with :func:`is_labor_key`.
"""

import re
from functools import lru_cache
from typing import Any

# Word stems that mark labor data in a key, after splitting camelCase / snake_case into words.
LABOR_WORDS = frozenset({
    "worker", "workers", "employee", "operator", "operators", "clerk", "clerks", "gang",
    "gangs", "shift", "shifts", "longshore", "longshoreman", "longshoremen", "ilwu", "crew",
    "driver", "drivers", "licence", "license", "twic", "rfid", "plate", "gps", "badge",
    "productivity", "lane", "person", "persons", "people",
})  # fmt: skip
# Whole keys (normalised: lower case, no separators) that carry labor data without those words.
LABOR_KEYS = frozenset({
    "movesperhour", "movesperhr", "mph", "grossmovesperhour", "netmovesperhour",
    "cranemovesperhour", "cranerate", "berthproductivity", "pertruckturntime",
    "truckturntimebytruck", "truckid", "truckplate", "truckvisitid", "licenceplate",
    "licenseplate", "cranemoves", "movecount", "movesperinterval",
})  # fmt: skip
# "Operator" is labor unless it names a company that runs a vessel or terminal (SMDG codes).
ALLOWED_KEYS = frozenset({
    "vesseloperatorsmdglinercode", "terminaloperator", "vesseloperator", "carrieroperator",
    "vesseloperatorcarriercode", "vesseloperatorcarriercodelistprovider",  # DCSA vessel fields
})  # fmt: skip

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_\-\s.]+")


def _words(key: str) -> list[str]:
    return [w.lower() for w in _WORD_BOUNDARY.split(key) if w]


@lru_cache(maxsize=4096)  # payloads repeat a few dozen keys; this sits on every answer
def is_labor_key(key: str) -> bool:
    """True when a payload key or schema field names data that tracks or monitors labor."""
    flat = "".join(_words(key))
    if flat in ALLOWED_KEYS:
        return False
    if flat in LABOR_KEYS:
        return True
    words = _words(key)
    if any(w in LABOR_WORDS for w in words):
        return True
    # "...PerHour" rates of anything (moves, boxes, lifts) are productivity metrics.
    return "per" in words and any(w in {"hour", "hr", "hours"} for w in words)


def drop_labor_keys(payload: Any) -> Any:
    """A copy of a JSON-like payload without any key that names labor data, at any depth."""
    if isinstance(payload, dict):
        return {k: drop_labor_keys(v) for k, v in payload.items() if not is_labor_key(k)}
    if isinstance(payload, list):
        return [drop_labor_keys(item) for item in payload]
    return payload


# Free text that names labor: a role on the quay or at the gate, a shift, or a per-hour rate.
_LABOR_TEXT = re.compile(
    r"(?ix)\b(?:"
    r"(?:crane|equipment|rtg|straddle)[\s_-]*operators?|foreman|foremen|walking[\s_-]*boss"
    r"|lashers?|checkers?|clerks?|longshore(?:man|men)?|gangs?|crews?|drivers?|workers?"
    r"|(?:first|second|third|day|night|swing|graveyard|hoot)[\s_-]*(?:shift|gang|owl)|shifts?"
    r"|hoot[\s_-]*owl|[gnb]mph|moves?[\s_/-]*(?:per[\s_-]*|/\s*)(?:hour|hr)"
    r")\b"
)


def labor_text_reason(text: str) -> str | None:
    """Why free text (a hold's description, a location's name) may not be passed on, or None:
    it names a role on the quay or at the gate, a shift, or a per-hour rate."""
    match = _LABOR_TEXT.search(text)
    return None if match is None else f"names labor ({match.group(0).lower()!r})"
