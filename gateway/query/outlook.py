"""The cross-port outlook, computed at query time from the ports' own answers.

The gateway answers ``outlook`` by asking the ports, through its own pipeline and with the
caller's principal (so the policy, the cache and every failure rule apply as to any query), for
the vessel calls of the window, the port-level aggregates and, when given, the caller's
containers; then it derives each port's figures and a comparison. Nothing is stored. A port that
did not answer is ``answered: false`` with null figures, never zeros; an aggregate the policy
withholds (sample too small) stays null.

What an outlook asks (:func:`inner_queries`) is known before any port is asked, so the query's
cost estimate covers it and the whole operation's deadline bounds it:

- the first page of the window's vessel calls, with the aggregates and the port list, in one
  document per port; then at most ``max_call_pages - 1`` further pages, each after the previous
  cursor (a page is the contract's largest, 100 calls across the ports asked);
- the containers, when given, at the same time as the calls.

The window starts at *now* floored to the alignment (a minute by default), so every outlook
asked within the same minute sends the same inner queries, which the answer cache and the
in-flight coalescing then share.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from statistics import fmean
from typing import Any

from graphql import DocumentNode, GraphQLError, parse

from gateway.errors import BadUserInput, OutlookTruncated
from gateway.schema.query import MAX_CONTAINER_REFERENCES, MAX_OUTLOOK_DAYS, MAX_PAGE_SIZE
from portcontract.identifiers import InvalidIdentifier, check_container_reference

LOOKBACK = timedelta(days=2)  # calls planned this long ago may still be expected (late)
LATE = timedelta(days=1)  # schedule reliability: on time within a day (outlook.late_after)
ANSWERED = frozenset({"ok", "cached", "stale", "partial"})
NOT_COMING = frozenset({"OMIT", "BLNK"})  # omitted calls and blank sailings

_CALLS = f"""
  calls: vesselCalls(ports: $ports, from: $from, to: $to, first: {MAX_PAGE_SIZE}, after: $after) {{
    edges {{ node {{
      UNLocationCode transportCallReference facilitySMDGCode statusCode
      plannedArrivalDateTime estimatedArrivalDateTime actualArrivalDateTime
      vessel {{ vesselName vesselIMONumber }}
    }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}"""
FIRST_PAGE: DocumentNode = parse(f"""
query PortgateOutlook($from: DateTime!, $to: DateTime!, $ports: [String!], $after: String) {{
  {_CALLS}
  metrics: portMetrics(ports: $ports, period: LAST_7_DAYS, metrics: [VESSELS_AT_ANCHOR,
      VESSELS_AT_BERTH, CONTAINER_DWELL_DAYS, TRUCK_TURN_TIME_MINUTES]) {{
    UNLocationCode facilitySMDGCode metric value
  }}
  ports(ports: $ports) {{
    UNLocationCode name status
    terminals {{
      facilitySMDGCode name
      gateHours {{ date open closureReason }}
      emptyReturns {{ date carrierSCACCode ISOEquipmentCode accepted }}
    }}
  }}
}}
""")
NEXT_PAGE: DocumentNode = parse(f"""
query PortgateOutlookCalls($from: DateTime!, $to: DateTime!, $ports: [String!], $after: String) {{
  {_CALLS}
}}
""")
CONTAINERS: DocumentNode = parse("""
query PortgateOutlookContainers($refs: [String!]!, $ports: [String!]) {
  containers(references: $refs, ports: $ports) {
    equipmentReference sourcePort status
    availability { firstAvailableDate lastFreeDay holds { type status } }
  }
}
""")


@dataclass(slots=True)
class Answer:
    """What one internal query gave: data, errors, and which ports answered."""

    data: Mapping[str, Any]
    errors: list[GraphQLError] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)


Ask = Callable[[DocumentNode, dict[str, Any]], Awaitable[Answer]]


@dataclass(frozen=True, slots=True)
class OutlookRequest:
    """One outlook's checked arguments and its window: ``start`` is now, aligned, and the
    window ends ``days`` later. Equal requests give equal inner queries (and are computed
    once per operation)."""

    days: int
    ports: tuple[str, ...] | None
    containers: tuple[str, ...] | None
    start: datetime
    end: datetime

    def calls_variables(self, after: str | None = None) -> dict[str, Any]:
        """Variables of :data:`FIRST_PAGE` and :data:`NEXT_PAGE`: calls planned from the
        look-back before the window to its end."""
        return {
            "from": (self.start - LOOKBACK).isoformat(),
            "to": self.end.isoformat(),
            "ports": None if self.ports is None else list(self.ports),
            "after": after,
        }

    def containers_variables(self) -> dict[str, Any]:
        assert self.containers is not None
        ports = None if self.ports is None else list(self.ports)
        return {"refs": list(self.containers), "ports": ports}


def outlook_request(
    arguments: Mapping[str, Any], now: datetime, alignment: timedelta
) -> OutlookRequest:
    """The outlook's arguments checked (``BadUserInput`` when one is wrong), and its window:
    ``now`` floored to a whole multiple of ``alignment`` since the epoch (UTC)."""
    days = arguments.get("days", 3)
    if not 1 <= days <= MAX_OUTLOOK_DAYS:
        raise BadUserInput(f"days: must be between 1 and {MAX_OUTLOOK_DAYS}, not {days}")
    references = arguments.get("containers")
    if references is not None:
        if len(references) > MAX_CONTAINER_REFERENCES:
            raise BadUserInput(f"containers: at most {MAX_CONTAINER_REFERENCES} per query")
        try:
            references = tuple(check_container_reference(r) for r in references)
        except InvalidIdentifier as exc:
            raise BadUserInput(f"containers: {exc}") from None
    ports = arguments.get("ports")
    step = alignment.total_seconds()
    start = datetime.fromtimestamp(now.timestamp() // step * step, UTC)
    return OutlookRequest(
        days,
        None if ports is None else tuple(ports),
        references,
        start,
        start + timedelta(days=days),
    )


@dataclass(frozen=True, slots=True)
class InnerQuery:
    """A query an outlook asks, and at most how many times (pages of one window)."""

    document: DocumentNode
    variables: dict[str, Any]
    times: int = 1


def inner_queries(request: OutlookRequest, max_call_pages: int) -> list[InnerQuery]:
    """Everything ``request`` may ask, before anything is asked (for the cost estimate):
    further pages are planned with no cursor, which asks the same as with one."""
    queries = [InnerQuery(FIRST_PAGE, request.calls_variables())]
    if max_call_pages > 1:
        queries.append(InnerQuery(NEXT_PAGE, request.calls_variables(), max_call_pages - 1))
    if request.containers is not None:
        queries.append(InnerQuery(CONTAINERS, request.containers_variables()))
    return queries


async def compute_outlook(
    ask: Ask,
    request: OutlookRequest,
    *,
    max_call_pages: int,
    late_after: timedelta = LATE,
    generated_at: datetime | None = None,
) -> tuple[dict[str, Any], list[GraphQLError]]:
    """The outlook (keyed by schema field names) and the errors to report with it. The calls
    and the containers are asked at the same time."""
    now, end = request.start, request.end
    boxes: Answer | None = None
    if request.containers is None:
        calls, errors, sources, first = await _all_calls(ask, request, max_call_pages)
    else:
        (calls, errors, sources, first), boxes = await asyncio.gather(
            _all_calls(ask, request, max_call_pages),
            ask(CONTAINERS, request.containers_variables()),
        )
    # A port whose calls or metrics failed (its resolver may still list it: "partial") has no
    # figures to show: missing, not zeros.
    failed = {(e.extensions or {}).get("port") for e in errors}
    answered = {s["port"] for s in sources if s["status"] in ANSWERED} - failed
    listed = first.data.get("ports") or []
    metrics = first.data.get("metrics") or []
    calls_at, metrics_at = _by_port(calls), _by_port(metrics)
    lacking = {s["port"]: s.get("notOffered", []) for s in first.sources}
    port_rows = []
    for port in listed:
        code = port["UNLocationCode"]
        row = _port(
            port, answered, now, end, calls_at.get(code, []), metrics_at.get(code, []), late_after
        )
        if row["answered"]:
            row.update(_terminal_services(port, now.date(), end.date(), lacking.get(code, [])))
        port_rows.append(row)
    outlook: dict[str, Any] = {
        "generatedAt": (generated_at or now).isoformat(),
        "windowStart": now.isoformat(),
        "windowEnd": end.isoformat(),
        "ports": port_rows,
        "comparison": _comparison(port_rows),
        "containers": None,
    }
    if boxes is not None:
        assert request.containers is not None
        errors += boxes.errors
        withheld = any(
            (e.extensions or {}).get("coordinate") == "Container.availability" for e in boxes.errors
        )
        outlook["containers"] = _containers(
            request.containers, boxes.data.get("containers"), now.date(), withheld
        )
    return outlook, errors


async def _all_calls(
    ask: Ask, request: OutlookRequest, max_pages: int
) -> tuple[list[dict[str, Any]], list[GraphQLError], list[dict[str, Any]], Answer]:
    """Every call of the window, at most ``max_pages`` pages of them; the first page's answer
    carries metrics and ports."""
    first = page = await ask(FIRST_PAGE, request.calls_variables())
    calls, errors, sources = [], list(first.errors), list(first.sources)
    for asked in range(1, max_pages + 1):
        connection = page.data.get("calls") or {}
        calls += [edge["node"] for edge in connection.get("edges") or ()]
        info = connection.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            break
        if asked == max_pages:
            last = calls[-1]["plannedArrivalDateTime"] if calls else request.start.isoformat()
            errors.append(
                OutlookTruncated(
                    f"the window holds more than {max_pages} page(s) of vessel calls: calls "
                    f"planned after {last} are not counted (outlook.max_call_pages)"
                ).to_graphql()
            )
            break
        page = await ask(NEXT_PAGE, request.calls_variables(info["endCursor"]))
        errors += page.errors
        sources += page.sources
    return calls, errors, sources, first


def _by_port(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["UNLocationCode"], []).append(row)
    return grouped


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _port(
    port: Mapping[str, Any],
    answered: set[str],
    now: datetime,
    end: datetime,
    calls: list[dict[str, Any]],
    metrics: list[dict[str, Any]],
    late_after: timedelta,
) -> dict[str, Any]:
    port_id = port["UNLocationCode"]
    row: dict[str, Any] = {
        "UNLocationCode": port_id, "name": port.get("name"), "status": port.get("status"),
        "answered": port_id in answered, "vesselsAtAnchor": None, "vesselsAtBerth": None,
        "expectedArrivals": None, "lateArrivals": None, "averageDelayHours": None,
        "containerDwellDays": None, "truckTurnTimeMinutes": None, "gateClosures": None,
        "emptyReturnRestrictions": None, "notOffered": None,
    }  # fmt: skip
    if not row["answered"]:
        return row  # missing, never zero
    whole_port = {m["metric"]: m.get("value") for m in metrics if m.get("facilitySMDGCode") is None}
    for metric, key, kind in (
        ("VESSELS_AT_ANCHOR", "vesselsAtAnchor", int), ("VESSELS_AT_BERTH", "vesselsAtBerth", int),
        ("CONTAINER_DWELL_DAYS", "containerDwellDays", float),
        ("TRUCK_TURN_TIME_MINUTES", "truckTurnTimeMinutes", float),
    ):  # fmt: skip
        value = whole_port.get(metric)
        row[key] = None if value is None else kind(value)
    expected, delays, late = 0, [], []
    for call in calls:
        if call.get("actualArrivalDateTime") or call.get("statusCode") in NOT_COMING:
            continue
        planned = _time(call["plannedArrivalDateTime"])
        estimated = _time(call.get("estimatedArrivalDateTime"))
        arrival = estimated or planned
        if planned is None or arrival is None or not now <= arrival < end:
            continue
        expected += 1
        if estimated is not None:
            delay = estimated - planned
            delays.append(delay.total_seconds() / 3600)
            if delay >= late_after:
                late.append(_late(call, planned, estimated, delay))
    row["expectedArrivals"] = expected
    row["lateArrivals"] = sorted(late, key=lambda c: -c["delayHours"])
    row["averageDelayHours"] = round(fmean(delays), 1) if delays else None
    return row


def _terminal_services(
    port: Mapping[str, Any], first: date, last: date, not_offered: list[str]
) -> dict[str, Any]:
    """A port's gate closures on the days ``first`` to ``last`` and the empties its terminals
    refuse, each null when the port lacks the capability (or the caller may not see it: the
    terminals then come without it)."""
    terminals = port.get("terminals") or []
    closures: list[dict[str, Any]] | None = []
    refused: list[dict[str, Any]] | None = []
    for terminal in terminals:
        where = {"facilitySMDGCode": terminal["facilitySMDGCode"],
                 "terminalName": terminal.get("name")}  # fmt: skip
        days, rules = terminal.get("gateHours"), terminal.get("emptyReturns")
        if days is None:
            closures = None
        elif closures is not None:
            closures += [
                {**where, "date": day["date"], "closureReason": day["closureReason"]}
                for day in days
                if not day["open"]
                and day.get("closureReason") is not None
                and first <= date.fromisoformat(day["date"]) <= last
            ]
        if rules is None:
            refused = None
        elif refused is not None:
            refused += [
                {**where, "date": rule["date"], "carrierSCACCode": rule["carrierSCACCode"],
                 "ISOEquipmentCode": rule["ISOEquipmentCode"]}
                for rule in rules
                if not rule["accepted"]
            ]  # fmt: skip
    if not terminals:  # nothing to say either way unless the port lacks the capability
        closures = None if "Terminal.gateHours" in not_offered else []
        refused = None if "Terminal.emptyReturns" in not_offered else []
    return {
        "gateClosures": closures,
        "emptyReturnRestrictions": refused,
        "notOffered": list(not_offered),
    }


def _late(
    call: Mapping[str, Any], planned: datetime, estimated: datetime, delay: timedelta
) -> dict[str, Any]:
    vessel = call.get("vessel") or {}
    return {
        "transportCallReference": call["transportCallReference"],
        "UNLocationCode": call["UNLocationCode"], "facilitySMDGCode": call.get("facilitySMDGCode"),
        "vesselName": vessel.get("vesselName"), "vesselIMONumber": vessel.get("vesselIMONumber"),
        "plannedArrivalDateTime": planned.isoformat(),
        "estimatedArrivalDateTime": estimated.isoformat(),
        "delayHours": round(delay.total_seconds() / 3600, 1),
    }  # fmt: skip


def _comparison(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def highest(key: str) -> str | None:
        known = [r for r in rows if r["answered"] and r[key] is not None]
        return max(known, key=lambda r: r[key])["UNLocationCode"] if known else None

    return {
        "mostVesselsAtAnchor": highest("vesselsAtAnchor"),
        "mostDelayed": highest("averageDelayHours"),
        "longestDwell": highest("containerDwellDays"),
        "longestTruckTurn": highest("truckTurnTimeMinutes"),
        "missing": [r["UNLocationCode"] for r in rows if not r["answered"]],
    }


def _containers(
    references: Sequence[str],
    found: list[dict[str, Any]] | None,
    today: date,
    availability_withheld: bool,
) -> list[dict[str, Any]]:
    """Each container asked, in order; ``atRisk`` is null only when the policy withholds what
    decides it (a container without import availability, an export say, is not at risk)."""
    known = {c["equipmentReference"]: c for c in found or ()}
    rows = []
    for reference in references:
        box = known.get(reference)
        if box is None:
            rows.append({"equipmentReference": reference, "found": False, "sourcePort": None,
                         "status": None, "firstAvailableDate": None, "lastFreeDay": None,
                         "holdsPending": None, "atRisk": None, "reasons": []})  # fmt: skip
            continue
        availability = box.get("availability")
        row: dict[str, Any] = {
            "equipmentReference": box["equipmentReference"], "found": True,
            "sourcePort": box.get("sourcePort"), "status": box.get("status"),
            "firstAvailableDate": None, "lastFreeDay": None, "holdsPending": None,
            "atRisk": None, "reasons": [],
        }  # fmt: skip
        if availability is None:
            if availability_withheld:
                row["reasons"] = ["import availability is not visible to your role"]
            else:
                row["atRisk"] = False  # no import waiting for pickup
            rows.append(row)
            continue
        first_day = availability.get("firstAvailableDate")
        free_day = availability.get("lastFreeDay")
        holds = [h["type"] for h in availability.get("holds") or () if h["status"] == "HOLD"]
        row.update(firstAvailableDate=first_day, lastFreeDay=free_day, holdsPending=holds)
        row["reasons"] = _risks(first_day, free_day, holds, box.get("status"), today)
        row["atRisk"] = bool(row["reasons"])
        rows.append(row)
    return rows


def _risks(
    first_day: str | None, free_day: str | None, holds: list[str], status: str | None, today: date
) -> list[str]:
    reasons = []
    last = date.fromisoformat(free_day) if free_day else None
    first = date.fromisoformat(first_day) if first_day else None
    if last is not None and first is not None and last < first:
        reasons.append(f"last free day {last} comes before it can be picked up ({first})")
    if last is not None and holds and (last - today).days <= 2:
        reasons.append(f"holds pending ({', '.join(holds)}) with the last free day {last} near")
    if last is not None and last < today and status == "IN_TERMINAL":
        reasons.append(f"last free day {last} has passed: storage charges accrue")
    return reasons
