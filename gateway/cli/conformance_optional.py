"""The conformance check's ``optional capabilities``: the query that asks every optional field
of the contract (:data:`portcontract.capabilities.OPTIONAL_FIELDS`), where each one's values are
in its answer, and whether the values a port offers make sense (cut-offs before the call's
arrival, gate days in order, slots that end after they start, one empty-return rule a day,
carrier and size type, a rail departure with its classifier)."""

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from portcontract.capabilities import (
    APPOINTMENT_SLOTS,
    CUT_OFF_TIMES,
    EMPTY_RETURN_DEADLINE,
    EMPTY_RETURNS,
    GATE_HOURS,
    RAIL_LEG,
    USES_APPOINTMENTS,
)

OPTIONAL = """query ConformanceOptional($refs: [String!]!) {
  ports { terminals {
    facilitySMDGCode
    gateHours { date open closureReason periods { opensDateTime closesDateTime offPeak } }
    usesAppointments
    appointmentSlots { startDateTime endDateTime transaction availability appointmentsLeft }
    emptyReturns { date carrierSCACCode ISOEquipmentCode accepted }
  } }
  vesselCalls(first: 50) { nodes {
    transportCallReference plannedArrivalDateTime
    cutOffTimes { cutOffDateTimeCode cutOffDateTime reefer }
  } }
  containers(references: $refs) {
    equipmentReference status
    availability { emptyReturnDeadline }
    railLeg { onDock loadedOnRailDateTime departureDateTime departureClassifierCode }
  }
}"""
# Where each optional field's values are in an OPTIONAL answer: the path of objects to it.
OPTIONAL_PATHS: dict[str, tuple[str, ...]] = {
    CUT_OFF_TIMES: ("vesselCalls", "nodes", "cutOffTimes"),
    GATE_HOURS: ("ports", "terminals", "gateHours"),
    USES_APPOINTMENTS: ("ports", "terminals", "usesAppointments"),
    APPOINTMENT_SLOTS: ("ports", "terminals", "appointmentSlots"),
    EMPTY_RETURNS: ("ports", "terminals", "emptyReturns"),
    EMPTY_RETURN_DEADLINE: ("containers", "availability", "emptyReturnDeadline"),
    RAIL_LEG: ("containers", "railLeg"),
}
# Cut-offs that are deadlines or openings ahead of the call: each before its planned arrival.
BEFORE_ARRIVAL = frozenset({"DCO", "VCO", "FCO", "LCO", "EFC"})


def values_at(data: Any, path: Sequence[str]) -> Iterator[Any]:
    """Every value at ``path`` in ``data`` (lists on the way crossed), nulls included."""
    if not path:
        yield data
        return
    if isinstance(data, list):
        for item in data:
            yield from values_at(item, path)
        return
    if isinstance(data, dict):
        yield from values_at(data.get(path[0]), path[1:])
    else:
        yield None


def optional_problems(coordinate: str, data: dict[str, Any], values: list[Any]) -> Iterator[str]:
    """What makes no sense in an offered optional field's values (nothing when all is well)."""
    if coordinate == CUT_OFF_TIMES:
        for call in (data.get("vesselCalls") or {}).get("nodes") or []:
            yield from _cut_off_problems(call)
    elif coordinate == GATE_HOURS:
        for days in values:
            yield from _gate_problems(days or [])
    elif coordinate == APPOINTMENT_SLOTS:
        for slots in values:
            for slot in slots or []:
                if slot["endDateTime"] <= slot["startDateTime"]:
                    yield f"a slot ends at {slot['endDateTime']}, not after its start"
                left = slot["appointmentsLeft"]
                if left is not None and (
                    left < 0 or (slot["availability"] == "FULL") != (left == 0)
                ):
                    yield f"a {slot['availability']} slot has {left} appointment(s) left"
        for terminals in values_at(data, ("ports", "terminals")):
            for terminal in terminals or []:
                if terminal.get("usesAppointments") is False and terminal.get("appointmentSlots"):
                    yield f"{terminal['facilitySMDGCode']} uses no appointments but has slots"
    elif coordinate == EMPTY_RETURNS:
        for rules in values:
            seen = [(r["date"], r["carrierSCACCode"], r["ISOEquipmentCode"]) for r in rules or []]
            if len(seen) != len(set(seen)):
                yield "a rule comes twice for one day, carrier and size type"
    elif coordinate == RAIL_LEG:
        for leg in values:
            if leg and (leg["departureDateTime"] is None) != (
                leg["departureClassifierCode"] is None
            ):
                yield "departureDateTime and departureClassifierCode come only together"


def _cut_off_problems(call: dict[str, Any]) -> Iterator[str]:
    reference = call["transportCallReference"]
    arrival = datetime.fromisoformat(call["plannedArrivalDateTime"])
    cut_offs = call.get("cutOffTimes") or []
    at = {(c["cutOffDateTimeCode"], c["reefer"]): datetime.fromisoformat(c["cutOffDateTime"])
          for c in cut_offs}  # fmt: skip
    if len(at) != len(cut_offs):
        yield f"{reference}: a cut-off comes twice"
    for (code, _reefer), when in at.items():
        if code in BEFORE_ARRIVAL and when >= arrival:
            yield f"{reference}: {code} is not before the planned arrival"
    for reefer in (False, True):
        opens, closes = at.get(("EFC", reefer)), at.get(("FCO", reefer))
        if opens is not None and closes is not None and opens >= closes:
            yield f"{reference}: receiving opens (EFC) after it closes (FCO)"


def _gate_problems(days: list[dict[str, Any]]) -> Iterator[str]:
    dates = [day["date"] for day in days]
    if dates != sorted(set(dates)):
        yield "gate days are not in order, or one comes twice"
    for day in days:
        periods = day["periods"]
        if day["open"] != bool(periods):
            yield f"{day['date']}: open is {day['open']} with {len(periods)} period(s)"
        if day["open"] and day["closureReason"] is not None:
            yield f"{day['date']}: open, yet with a closure reason"
        previous_close = None
        for period in periods:
            opens = datetime.fromisoformat(period["opensDateTime"])
            closes = datetime.fromisoformat(period["closesDateTime"])
            if closes <= opens:
                yield f"{day['date']}: a period closes before it opens"
            if previous_close is not None and opens < previous_close:
                yield f"{day['date']}: periods overlap or are out of order"
            previous_close = closes
