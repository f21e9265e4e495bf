"""The labor-privacy rule (Cal. Gov. Code 12100.131(b)(3)) as code: keys and text.

No data that tracks or monitors labor is ever passed on: worker, crane-operator or clerk ids,
gang or shift assignments, equipment-operator logs (which crane, straddle carrier, RTG or yard
tractor did what, from which work queue or point of work), per-hour productivity rates, who
created or handled a record, gate transactions tied to a clerk or lane, truck identity (number,
tag, plate, RFID, licence, GPS) and per-driver or per-truck turn times.

The shared schema has no such type or field. This module is the second line:

- :func:`is_labor_key` says whether a payload key names such data. Keys are split into words
  (``craneID``, ``crane_id``, ``CraneId`` and ``crane-id`` are the same words) and judged by
  those words, so a family of keys is caught, not only the spellings seen so far. Port adapters,
  the resolver kit and the gateway drop such keys (:func:`drop_labor_keys`).
- :func:`labor_text_reason` says whether a free-text value (a hold's description, a name)
  names people, roles on the quay, shifts or per-hour rates; such a value is dropped and
  reported, never passed on.
"""

import re
from functools import lru_cache
from typing import Any, Final

# Word stems that mark labor data in a key, after splitting camelCase / snake_case into words.
LABOR_WORDS: Final = frozenset({
    # people and their roles
    "worker", "workers", "employee", "employees", "personnel", "staff", "operator",
    "operators", "clerk", "clerks", "gang", "gangs", "crew", "crews", "longshore",
    "longshoreman", "longshoremen", "ilwu", "person", "persons", "people", "user", "users",
    "checker", "checkers", "foreman", "foremen", "lasher", "lashers", "boss", "supervisor",
    "dispatcher", "signalman", "hatchboss", "walkingboss",
    # shifts
    "shift", "shifts", "hoot",
    # drivers and trucks as identities
    "driver", "drivers", "licence", "license", "twic", "rfid", "plate", "gps", "badge",
    # equipment whose logs track its operator
    "crane", "cranes", "qc", "qcs", "sts", "rtg", "rtgs", "rmg", "rmgs", "che", "straddle", "strad",
    "tractor", "tractors", "utr", "reachstacker", "toplifter", "pow",
    # rates
    "productivity", "gmph", "nmph", "bmph", "mph", "lane",
})  # fmt: skip
# Words that, in a key whose last word is "by", say who did something (createdBy, handled_by).
_WHO_DID_IT: Final = frozenset({
    "created", "updated", "modified", "changed", "handled", "performed", "operated", "logged",
    "entered", "recorded", "approved", "released", "assigned", "checked", "inspected",
    "scanned", "processed", "signed", "submitted", "completed", "worked", "moved", "lifted",
})  # fmt: skip
# Word pairs that name labor data though neither word does alone.
_LABOR_PAIRS: Final = (
    ("work", "queue"), ("work", "instruction"), ("point", "work"), ("truck", "id"),
    ("truck", "number"), ("truck", "no"), ("truck", "num"), ("truck", "tag"), ("truck", "visit"),
    ("gate", "transaction"), ("moves", "count"), ("move", "count"), ("moves", "total"),
    ("lifts", "count"), ("moves", "rate"), ("lift", "rate"),
)  # fmt: skip
# Whole keys (normalised: lower case, no separators) that carry labor data without those words.
LABOR_KEYS: Final = frozenset({
    "movesperhour", "movesperhr", "grossmovesperhour", "netmovesperhour",
    "cranemovesperhour", "cranerate", "berthproductivity", "pertruckturntime",
    "truckturntimebytruck", "truckid", "truckplate", "truckvisitid", "licenceplate",
    "licenseplate", "cranemoves", "movecount", "movesperinterval", "wq", "workqueue",
    "pointofwork", "createdby", "handledby", "trucknumber", "trucktag",
})  # fmt: skip
# "Operator" is labor unless it names a company that runs a vessel or terminal (SMDG codes).
ALLOWED_KEYS: Final = frozenset({
    "vesseloperatorsmdglinercode", "terminaloperator", "vesseloperator", "carrieroperator",
    "vesseloperatorcarriercode", "vesseloperatorcarriercodelistprovider",  # DCSA vessel fields
    "vesseloperatorscaccode",  # the carrier's SCAC, as the shared schema names it
})  # fmt: skip

# What a key written in one case runs on after a labor word: "craneid", "GANGNO", "drivername".
_RUN_ON: Final = ("id", "ids", "no", "num", "number", "name", "code", "tag")

# camelCase and PascalCase humps and acronyms ("QCId" -> QC, Id); digits and separators part
# words and are none themselves ("approvedBy2" ends in "by", "wq1" is "wq").
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


def _words(key: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(key)]


def _run_on_labor_word(word: str) -> bool:
    """A labor word run together with what identifies it, which no hump or separator splits."""
    return any(word.endswith(end) and word[: -len(end)] in LABOR_WORDS for end in _RUN_ON)


def _is_labor_key(key: str) -> bool:
    """True when a payload key or schema field names data that tracks or monitors labor."""
    words = _words(key)
    flat = "".join(words)
    if flat in ALLOWED_KEYS:
        return False
    if flat in LABOR_KEYS:
        return True
    if any(w in LABOR_WORDS or _run_on_labor_word(w) for w in words):
        return True
    present = set(words)
    if any(a in present and b in present for a, b in _LABOR_PAIRS):
        return True
    if len(words) >= 2 and words[-1] == "by" and words[-2] in _WHO_DID_IT:
        return True
    # "...PerHour" rates of anything (moves, boxes, lifts) are productivity metrics.
    return "per" in present and bool(present & {"hour", "hr", "hours", "h"})


# Cached by wrapping rather than decorating, so that mutation testing (bench/mutation.py),
# which leaves decorated functions alone, reaches the rule itself.
# Payloads repeat a few dozen keys; this sits on every answer.
is_labor_key: Final = lru_cache(maxsize=4096)(_is_labor_key)


def drop_labor_keys(payload: Any) -> Any:
    """A copy of a JSON-like payload without any key that names labor data, at any depth."""
    if isinstance(payload, dict):
        return {
            k: drop_labor_keys(v) if isinstance(v, dict | list) else v
            for k, v in payload.items()
            if not is_labor_key(k)
        }
    if isinstance(payload, list):
        return [drop_labor_keys(v) if isinstance(v, dict | list) else v for v in payload]
    return payload


# -- free text ---------------------------------------------------------------------------------

_ROLES = (
    r"fore(?:man|men)|walking\s+boss(?:es)?|hatch\s+boss(?:es)?|lashers?|"
    r"checkers?|gangs?|longshore(?:man|men)?|(?:crane|qc|sts|rtg|rmg|che|straddle|tractor)"
    r"\s+(?:carrier\s+)?(?:operators?|drivers?)|signal\s*m[ae]n|clerks?|dispatchers?|"
    r"crews?|stevedores?|supervisors?"
)
_SHIFTS = (
    r"(?:first|second|third|1st|2nd|3rd|day|night|swing|graveyard|owl)[\s-]+shifts?|"
    r"shift\s*#?\s*[0-9]|hoot(?:[\s-]*owl)?|per\s+shift|shift\s+(?:change|start|end)"
)
_RATES = (
    r"\b[gnb]mph\b|\bproductivity\b|"
    r"\b(?:moves?|lifts?|boxes|containers|cntrs?|teu|cycles|picks)(?:\s*/|\s+(?:per|an|a)\b)\s*"
    r"(?:(?:crane|gang|berth|man|working|net|gross)[\s-]*)?(?:hours?|hrs?|h)\b|"
    r"\b(?:moves?|lifts?)\s+per\s+(?:crane|gang|shift|man)\b|"
    r"\b(?:moves?|lifts?|boxes|containers)per\s*(?:hours?|hrs?|h|crane|gang|shift)\b"
)
# ASCII: letters and word boundaries as _TEXT_WORDS sees them (with re.IGNORECASE alone, the long
# s U+017F would read as s, the dotless i U+0131 as i, and an accented letter as part of a word).
_ROLE_TEXT = re.compile(_ROLES.join((r"\b(?:", r")\b")), re.IGNORECASE | re.ASCII)
_SHIFT_TEXT = re.compile(_SHIFTS.join((r"\b(?:", r")\b")), re.IGNORECASE | re.ASCII)
_RATE_TEXT = re.compile(_RATES, re.IGNORECASE | re.ASCII)

_NAME = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"
# A role followed by a name or a number: "operator Maria", "Clerk 12", "driver #4".
_ROLE_AND_NAME = re.compile(
    r"\b(?P<before>\w+\s+)?(?i:operator|driver|clerk|checker|foreman|lasher|inspector|"
    rf"officer|supervisor|dispatcher)\s+(?:#\s*)?(?:[0-9]{{1,5}}\b|{_NAME})",
    re.ASCII,
)
# Someone did something: "released by J. Smith", "handled by Maria", "by Smith, J.".
_BY_INITIAL = re.compile(rf"\bby\s+(?:[A-Z]\.?\s*{_NAME}|{_NAME},\s*[A-Z]\.)")
_DONE_BY = re.compile(
    r"\b(?i:created|updated|modified|changed|handled|performed|operated|logged|entered|keyed|"
    r"recorded|approved|released|assigned|checked|inspected|scanned|processed|signed|"
    r"submitted|completed|worked|moved|lifted|placed|removed|cleared)\s+by\s+"
    rf"(?P<name>{_NAME}(?:\s+{_NAME})?)(?P<after>\s+\w+)?"
)
_TITLE = re.compile(rf"\b(?:Mr|Mrs|Ms|Mx|Miss|Dr)\.?\s+{_NAME}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[A-Za-z]{2,}")
# Authorities, parties to the cargo, places and companies: "released by Customs", "by Carrier".
_NOT_PEOPLE: Final = frozenset({
    "customs", "border", "protection", "broker", "brokers", "carrier", "carriers", "line",
    "lines", "shipper", "consignee", "terminal", "terminals", "port", "ports", "agency",
    "agent", "authority", "department", "usda", "fda", "coast", "guard", "police", "fire",
    "marine", "exchange", "harbor", "harbour", "steamship", "trucking", "logistics", "company",
    "inc", "llc", "corp", "services", "service", "pier", "berth", "gate", "yard", "vessel",
    "ocean", "freight", "forwarder", "system", "systems", "container", "containers",
    "international", "intl", "total", "national", "federal", "state", "county", "city",
    "california", "united", "states", "pacific", "west", "east", "north", "south", "basin",
    "long", "beach", "angeles", "oakland", "diego", "hueneme", "everport", "fenix", "trapac",
    "yusen", "navigation", "shipping", "express", "lloyd", "hapag", "matson", "evergreen",
    "maersk", "cosco", "hyundai", "yang", "ming", "wan", "hai", "orient", "overseas",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "noon", "midnight", "tomorrow", "today", "rail", "truck", "barge",
    "cargo", "inspection", "plant", "animal", "health", "fish", "wildlife", "union",
    "the", "a", "an", "order", "request", "appointment", "payment", "mistake", "error",
})  # fmt: skip
# Words that make what comes before them an organisation: "Smith Trucking", "Long Beach Customs".
# A place or a month alone does not: "John Long" and "May Chen" are people.
_ORGANISATION: Final = frozenset({
    "customs", "border", "protection", "broker", "brokers", "brokerage", "carrier", "carriers",
    "line", "lines", "shipper", "consignee", "terminal", "terminals", "port", "ports", "agency",
    "authority", "department", "guard", "police", "exchange", "trucking", "logistics", "company",
    "co", "inc", "llc", "ltd", "corp", "corporation", "group", "services", "service", "pier",
    "freight", "forwarder", "forwarding", "system", "systems", "container", "containers",
    "international", "intl", "navigation", "shipping", "express", "marine", "transport",
    "transportation", "rail", "railroad", "railway", "cargo", "inspection", "yard", "gate",
})  # fmt: skip
_COMPANY_BEFORE: Final = frozenset({"vessel", "terminal", "carrier", "ocean", "liner", "rail"})
_IDENTIFIER = re.compile(
    r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b|\b[a-z]+(?:[A-Z][a-z0-9]*)+\b"
)


_CAMEL = re.compile(r"[a-z][A-Z]")
# Words without which a pattern cannot match: most text is let through on a set lookup. Each
# pattern needs one of them whole, as a run of ASCII letters ("shift2" holds the word "shift").
_TEXT_WORDS = re.compile(r"[A-Za-z]+")
_RATE_WORDS = frozenset({
    "gmph", "nmph", "bmph", "productivity", "move", "moves", "lift", "lifts", "boxes",
    "containers", "cntr", "cntrs", "teu", "cycles", "picks",
})  # fmt: skip
# A rate word run on into "per" with no space: "30 movesper hour", "40 liftsperhr".
_RUN_ON_RATE = re.compile(r"(?:moves?|lifts?|boxes|containers)per")
_SHIFT_WORDS = frozenset({"shift", "shifts", "hoot", "hootowl"})
_ROLE_WORDS = frozenset({
    "foreman", "foremen", "boss", "bosses", "lasher", "lashers", "checker",
    "checkers", "gang", "gangs", "longshore", "longshoreman", "longshoremen", "operator",
    "operators", "driver", "drivers", "signal", "signalman", "signalmen", "clerk", "clerks",
    "dispatcher", "dispatchers", "crew", "crews", "stevedore", "stevedores", "supervisor",
    "supervisors",
})  # fmt: skip
_TITLE_WORDS = frozenset({"mr", "mrs", "ms", "mx", "miss", "dr"})
_NAMED_ROLE_WORDS = frozenset({
    "operator", "driver", "clerk", "checker", "foreman", "lasher", "inspector", "officer",
    "supervisor", "dispatcher",
})  # fmt: skip


def _names_an_organisation(name: str, after: str | None) -> bool:
    """Whether the capitalised words after "released by" (and the word after them) name an
    authority, a company or a place rather than a person.

    Every word of the name must be one that names no person ("Customs", "Hapag Lloyd", "West
    Basin"), or a word after the first must make it an organisation ("Smith Trucking", "Long
    Beach Customs"). One word that is also a place or a month is not enough: "John Long" and
    "May Chen" are people.
    """
    words = [word.lower() for word in name.split()]
    if all(word in _NOT_PEOPLE for word in words):
        return True
    following = [*words[1:], (after or "").strip().lower()]
    return any(word in _ORGANISATION for word in following)


def _names_a_person(text: str, words: set[str]) -> bool:
    if "@" in text and _EMAIL.search(text):
        return True
    if words & _TITLE_WORDS and _TITLE.search(text):
        return True
    if words & _NAMED_ROLE_WORDS:
        for match in _ROLE_AND_NAME.finditer(text):
            before = (match.group("before") or "").strip().lower()
            if before not in _COMPANY_BEFORE:
                return True
    if "by" in words:
        if _BY_INITIAL.search(text):
            return True
        for match in _DONE_BY.finditer(text):
            if not _names_an_organisation(match.group("name"), match.group("after")):
                return True
    return False


def _labor_text_reason(text: str) -> str | None:
    """Why a free-text value must not be passed on, or None when it may be.

    It may not when it names people ("released by J. Smith", "operator Maria", "clerk 12"),
    roles on the quay (foreman, walking boss, lasher, checker, gang, crane operator), shifts
    (first/second/third shift, hoot, day/night gang) or per-hour rates ("32 moves/hr", "GMPH"),
    or holds an identifier that is a labor key ("crane_moves_per_hour"). The reason never
    repeats the text, which may hold a person's name.
    """
    words = {word.lower() for word in _TEXT_WORDS.findall(text)}
    if (words & _RATE_WORDS or any(_RUN_ON_RATE.match(word) for word in words)) and (
        _RATE_TEXT.search(text)
    ):
        return "gives a per-hour work rate"
    if words & _SHIFT_WORDS and _SHIFT_TEXT.search(text):
        return "names a shift"
    if _names_a_person(text, words):
        return "names a person"
    if words & _ROLE_WORDS and _ROLE_TEXT.search(text):
        return "names a role on the quay"
    if ("_" in text or _CAMEL.search(text)) and any(
        is_labor_key(token) for token in _IDENTIFIER.findall(text)
    ):
        return "holds a labor data key"
    return None


# Names of terminals, locations and vessels repeat in every answer (wrapped as is_labor_key is).
labor_text_reason: Final = lru_cache(maxsize=8192)(_labor_text_reason)
