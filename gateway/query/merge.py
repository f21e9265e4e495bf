"""Merge the ports' answers into one result, as JSON, without re-resolving any field.

Each root field's port answers are combined by its :class:`~gateway.planning.rootfields.MergeKind`,
using the hidden fields the planner asked for, then projected onto the client's selection (which
also drops the hidden fields and anything a port sent that was not asked for).

The policy's part: an answer from a port that was asked for less than the client selected is
first cut down to what that port was asked, so a field the policy withholds there is null even
if the port sent it anyway; fields withheld at every port asked are null in the projection. A
``PortMetric.value`` whose ``sampleSize`` is below the caller's minimum is nulled, with one
``FORBIDDEN_FIELD`` error per root field. When the policy withholds a hidden field the merge
uses, the merge falls back: without ``lastEventDateTime`` a port's container ranks below every
port that shares it (ties go to registry order); without ``facilitySMDGCode`` metrics are ordered
by port and metric only. Port failures become
one error per port naming it; port-reported errors become errors naming the port, in the
gateway's words: a port's code is passed on as ``portCode`` when it is a contract code
(:mod:`portcontract.errors`), with a notice's ``count``, its message never
(:mod:`gateway.ports.boundary` kept only codes, paths and counts). Every response gets
``extensions.sources``: one entry per port asked, with status and latency; a port whose answer
broke the contract is ``partial`` with the code ``PORT_CONTRACT_VIOLATION`` and what was
dropped, by reason.
"""

import heapq
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphql import GraphQLError

from gateway.access.policy import Access
from gateway.errors import ForbiddenField
from gateway.planning.plan import Plan, RootFieldPlan
from gateway.planning.rootfields import MergeKind
from gateway.planning.selection import Shape
from gateway.ports.boundary import VIOLATION
from gateway.ports.fetch import PortOutcome
from portcontract.cursor import InvalidCursor, decode_cursor, sort_key
from portcontract.errors import (
    CONTRACT_CODES,
    COORDINATE_EXTENSION,
    COUNT_EXTENSION,
    NOT_OFFERED,
    SOURCE_UNAVAILABLE,
)


@dataclass(slots=True)
class Merged:
    data: dict[str, Any] = field(default_factory=dict)
    errors: list[GraphQLError] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)


Answers = list[tuple[int, Any]]  # (port's registry position, its answer for one root field)
Merger = Callable[[RootFieldPlan, Answers], Any]


def merge(
    plan: Plan,
    outcomes: list[PortOutcome],
    positions: dict[str, int],
    health: Mapping[str, str] | None = None,
) -> Merged:
    """``health``: the gateway's view of each port (UP, DEGRADED, DOWN), for ``Port.status``."""
    merged = Merged()
    for outcome in outcomes:
        merged.sources.append(_source_entry(outcome))
        if outcome.failure is not None and outcome.answer is None:  # no stale stand-in
            failure = outcome.failure
            merged.errors.append(
                GraphQLError(
                    failure.message,
                    extensions={**failure.extensions(), "fields": list(outcome.keys)},
                )
            )
        elif outcome.answer is not None:
            merged.errors.extend(_port_errors(outcome))
    for field_plan in plan.fields:
        if field_plan.skipped:
            merged.sources.extend(
                {"port": p, "status": "skipped", "fields": [field_plan.key],
                 "reason": f"does not answer {field_plan.name}"}
                for p in field_plan.skipped
            )  # fmt: skip
        merged.sources.extend(
            {"port": p, "status": "skipped", "fields": [field_plan.key],
             "reason": "not available to your role"}
            for p in field_plan.withheld
        )  # fmt: skip
        merged.sources.extend(
            {"port": p.id, "status": "skipped", "fields": [field_plan.key], "reason": "paused"}
            for p in field_plan.paused
        )
        answered = False
        answers: Answers = []
        for outcome in outcomes:
            if field_plan.key not in outcome.keys or outcome.answer is None:
                continue
            data = outcome.answer.data or {}
            if field_plan.key in data:
                answered = True
                answer = data[field_plan.key]
                if outcome.port.id in field_plan.restricted:
                    answer = field_plan.asked[outcome.port.id].project(answer)
                if answer is not None:
                    answers.append((positions[outcome.port.id], answer))
        if field_plan.spec.merge is MergeKind.METRIC_LIST and plan.access is not None:
            answers, withheld = _withhold_small_samples(field_plan, plan.access, answers)
            if withheld:
                error = ForbiddenField(
                    f"PortMetric.value withheld in {withheld} metric(s) whose sampleSize is "
                    "below your role's minimum",
                    "PortMetric.value",
                )
                extensions = {**error.extensions(), "withheld": withheld}
                merged.errors.append(
                    GraphQLError(error.message, path=[field_plan.key], extensions=extensions)
                )
        if field_plan.spec.merge is MergeKind.PORT_LIST:  # every port asked is listed
            merged.data[field_plan.key] = _port_list(field_plan, answers, health or {}, positions)
            continue
        # No port answered at all: unknown (null), never an empty list that reads as "none".
        merged.data[field_plan.key] = (
            _MERGERS[field_plan.spec.merge](field_plan, answers)
            if answered or not field_plan.ports
            else None
        )
    return merged


def _source_entry(outcome: PortOutcome) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "port": outcome.port.id,
        "status": outcome.status,
        "latencyMs": round(outcome.latency * 1000, 2),
        "fields": list(outcome.keys),
    }
    if outcome.cache_age is not None:
        entry["cacheAgeSeconds"] = round(outcome.cache_age, 1)
    if outcome.attempts > 1:
        entry["retries"] = outcome.attempts - 1
    errors = [] if outcome.answer is None else _errors_of(outcome.answer.errors)
    not_offered = [] if outcome.answer is None else _not_offered(outcome.answer.errors)
    if not_offered:  # what the port's systems lack: said here, never as an error
        entry["notOffered"] = not_offered
    if outcome.failure is not None:
        entry["code"] = outcome.failure.code  # why a stale answer stands in, or why none does
    elif outcome.answer is not None and errors:
        values = (outcome.answer.data or {}).values()
        entry["status"] = "partial" if any(v is not None for v in values) else "error"
        entry["code"] = _gateway_code(errors[0].get("code"))  # as in errors
    elif outcome.answer is not None and outcome.answer.dropped:
        entry["status"] = "partial"
        entry["code"] = VIOLATION
    if outcome.answer is not None and outcome.answer.dropped:
        entry["dropped"] = dict(outcome.answer.dropped)
    return entry


def _withhold_small_samples(
    field_plan: RootFieldPlan, access: Access, answers: Answers
) -> tuple[Answers, int]:
    """Metrics with ``value`` nulled where ``sampleSize`` is below the caller's minimum for that
    metric (a missing sample size counts as too small), and how many values were nulled. The
    minimum is never below the hard one for aggregates over containers, trucks or moves
    (:meth:`Access.min_sample_size`), whatever the port and the policy: a port resolver not
    built on the resolver kit is held to the floor here. A value the kit withheld under its
    disclosure rules comes with ``sampleSize`` 0, so it is counted here too."""
    value_keys = [key for key, _ in field_plan.shape.keys_named("value")]
    if not value_keys:
        return answers, 0
    sample_key, metric_key = field_plan.hidden["sample"], field_plan.hidden["metric"]
    withheld = 0
    kept: Answers = []
    for position, answer in answers:
        items = []
        for item in answer if isinstance(answer, list) else []:
            if isinstance(item, dict):
                sample, metric = item.get(sample_key), item.get(metric_key)
                floor = access.min_sample_size(metric if isinstance(metric, str) else "")
                if floor and not (isinstance(sample, int) and sample >= floor):
                    item = {**item, **dict.fromkeys(value_keys)}
                    withheld += 1
            items.append(item)
        kept.append((position, items))
    return kept, withheld


def _errors_of(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A port's errors and notices, less what it does not offer (not an error: sources say)."""
    return [error for error in errors if error.get("code") != NOT_OFFERED]


def _not_offered(errors: list[dict[str, Any]]) -> list[str]:
    """The fields a port said it does not offer, by schema coordinate, each once."""
    found = {e.get(COORDINATE_EXTENSION) for e in errors if e.get("code") == NOT_OFFERED}
    return sorted(c for c in found if isinstance(c, str))


def _gateway_code(port_code: Any) -> str:
    """The gateway's code for a port's error with the contract code ``port_code``."""
    return "PORT_UNAVAILABLE" if port_code == SOURCE_UNAVAILABLE else "PORT_ERROR"


def _port_errors(outcome: PortOutcome) -> Iterator[GraphQLError]:
    """A port's errors in the gateway's words, named after the port: its contract code (as the
    boundary kept it) and its path; paths kept only at the root."""
    assert outcome.answer is not None
    port = outcome.port.id
    for error in _errors_of(outcome.answer.errors):
        code = error.get("code")
        meaning = CONTRACT_CODES.get(code) if isinstance(code, str) else None
        path = error.get("path")
        root_path = path if isinstance(path, list) and len(path) == 1 else None
        ours: dict[str, Any] = {"code": _gateway_code(code), "port": port}
        if meaning is not None:
            ours["portCode"] = code
        if isinstance(count := error.get(COUNT_EXTENSION), int):
            ours[COUNT_EXTENSION] = count  # a notice's count, as the boundary believed it
        if isinstance(path, list) and root_path is None:
            ours["portPath"] = [p for p in path if isinstance(p, str | int)]
        yield GraphQLError(
            f"port {port}: it {meaning or 'reported an error'}", path=root_path, extensions=ours
        )


def _port_list(
    field_plan: RootFieldPlan,
    answers: Answers,
    health: Mapping[str, str],
    positions: Mapping[str, int],
) -> list[Any]:
    """Each port asked, in registry order, its ``status`` from the gateway's ``health``. A
    port that gave no answer is listed all the same, from the registry, with what is known."""
    answered: dict[str, dict[str, Any]] = {}
    port_key = field_plan.hidden["port"]
    for _, answer in sorted(answers, key=lambda a: a[0]):
        for item in _objects(answer):
            answered.setdefault(str(item.get(port_key)), item)
    shape = field_plan.shape
    items = []
    paused = {p.id for p in field_plan.paused}
    listed = sorted(
        [*field_plan.ports, *field_plan.paused], key=lambda p: positions.get(p.id, len(positions))
    )
    for port in listed:
        status = "PAUSED" if port.id in paused else health.get(port.id)
        known = {"UNLocationCode": port.id, "name": port.name, "status": status}
        item = dict(answered.get(port.id) or {})
        for key, name, _sub in shape.fields:
            if name == "status" or (key not in item and name in known):
                item[key] = known[name]
        items.append(item)
    return shape.project(items)  # type: ignore[no-any-return]


def _freshness(field_plan: RootFieldPlan, position: int, item: dict[str, Any]) -> tuple[str, int]:
    """The port that saw a container last wins; the earlier port in the registry on a tie."""
    seen = item.get(field_plan.hidden["seen"])
    return (seen if isinstance(seen, str) else "", -position)


def _project(field_plan: RootFieldPlan, value: Any) -> Any:
    """``value`` (objects the ports answered, picked whole) on the client's shape. When every
    port was asked the client's selection whole (none had a field withheld) and none is
    withheld anywhere, the objects below the top are the boundary's own, rebuilt from that
    selection: only the top level (hidden merge keys) needs projecting."""
    shape = field_plan.shape
    if not field_plan.restricted and shape.plain:
        return shape.project_top(value)
    return shape.project(value)


def _best_container(field_plan: RootFieldPlan, answers: Answers) -> Any:
    candidates = [(pos, a) for pos, a in answers if isinstance(a, dict)]
    if not candidates:
        return None
    _, best = max(candidates, key=lambda c: _freshness(field_plan, *c))
    return _project(field_plan, best)


def _containers_by_reference(field_plan: RootFieldPlan, answers: Answers) -> list[Any]:
    reference_key = field_plan.hidden["reference"]
    best: dict[str, tuple[tuple[str, int], dict[str, Any]]] = {}
    for position, answer in answers:
        for item in _objects(answer):
            reference = item.get(reference_key)
            if not isinstance(reference, str):
                continue
            rank = _freshness(field_plan, position, item)
            if reference not in best or rank > best[reference][0]:
                best[reference] = (rank, item)
    asked = field_plan.arguments.get("references") or sorted(best)  # a document's: by number
    ordered = [best[r][1] for r in asked if r in best]
    return _project(field_plan, ordered)  # type: ignore[no-any-return]


def _first_found(field_plan: RootFieldPlan, answers: Answers) -> Any:
    if not answers:
        return None
    _, first = min(answers, key=lambda a: a[0])
    return _project(field_plan, first)


def _metric_list(field_plan: RootFieldPlan, answers: Answers) -> list[Any]:
    hidden = field_plan.hidden
    rows = [(position, item) for position, answer in answers for item in _objects(answer)]
    rows.sort(
        key=lambda r: (
            r[0],
            str(r[1].get(hidden["port"]) or ""),
            r[1].get(hidden["facility"]) is not None,
            str(r[1].get(hidden["facility"]) or ""),
            str(r[1].get(hidden["metric"]) or ""),
        )
    )
    return _project(field_plan, [item for _, item in rows])  # type: ignore[no-any-return]


def _call_page(field_plan: RootFieldPlan, answers: Answers) -> dict[str, Any]:
    """One page across ports: a k-way merge by the shared keyset cursor, deduplicated."""
    hidden = field_plan.hidden
    first: int = field_plan.arguments["first"]
    runs = []
    more_elsewhere = False
    for _, answer in answers:
        if not isinstance(answer, dict):
            continue
        edges = answer.get(hidden["cursors"]) or []
        more_elsewhere |= bool((answer.get(hidden["more"]) or {}).get("hasNextPage"))
        run: list[tuple[tuple[datetime, str, str], str, dict[str, Any], int]] = []
        for index, edge in enumerate(edges):
            cursor = edge.get("cursor") if isinstance(edge, dict) else None
            try:
                key = sort_key(decode_cursor(cursor)) if isinstance(cursor, str) else None
            except InvalidCursor:
                key = None  # a port that breaks the cursor contract loses that item
            if key is not None and isinstance(cursor, str):
                run.append((key, cursor, answer, index))
        runs.append(run)
    picked: list[tuple[str, dict[str, Any], int]] = []
    seen: set[str] = set()
    leftover = False
    for _, cursor, answer, index in heapq.merge(*runs, key=lambda item: item[0]):
        if cursor in seen:
            continue
        if len(picked) == first:
            leftover = True
            break
        seen.add(cursor)
        picked.append((cursor, answer, index))
    return _connection(field_plan.shape, answers, picked, leftover or more_elsewhere)


def _connection(
    shape: Shape, answers: Answers, picked: list[tuple[str, dict[str, Any], int]], more: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name, sub in shape.fields:
        if key in shape.denied:
            out[key] = None  # withheld from the caller at every port asked
        elif name in ("edges", "nodes"):
            assert sub is not None
            out[key] = [sub.project(_item(answer, key, i)) for _, answer, i in picked]
        elif name == "pageInfo":
            assert sub is not None
            info = {"hasNextPage": more, "endCursor": picked[-1][0] if picked else None}
            out[key] = {k: None if k in sub.denied else info.get(n) for k, n, _ in sub.fields}
        elif name == "totalCount":
            counts = [
                c for _, a in answers if isinstance(a, dict) and isinstance(c := a.get(key), int)
            ]
            out[key] = sum(counts) if counts else None
        elif name == "__typename":
            out[key] = "VesselCallConnection"
    return out


def _item(answer: dict[str, Any], key: str, index: int) -> Any:
    items = answer.get(key)
    return items[index] if isinstance(items, list) and index < len(items) else None


def _objects(answer: Any) -> Iterator[dict[str, Any]]:
    if isinstance(answer, list):
        yield from (item for item in answer if isinstance(item, dict))


_MERGERS: dict[MergeKind, Merger] = {
    MergeKind.BEST_CONTAINER: _best_container,
    MergeKind.CONTAINERS_BY_REFERENCE: _containers_by_reference,
    MergeKind.FIRST_FOUND: _first_found,
    MergeKind.CALL_PAGE: _call_page,
    MergeKind.METRIC_LIST: _metric_list,
}
