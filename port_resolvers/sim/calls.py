"""Vessel calls at one port, from the shared liner services, as of ``now``.

Planned times come from the service schedule (the same at every port of a rotation); each call
then gets its own delay from a generator seeded with the call's reference, so a call looks the
same whatever else is generated. Past calls have actual times, future ones planned and
estimated; a few vessels wait at anchor now and a couple of future calls are omitted. A
carrier publishes an ETA two weeks out and revises it about daily until the vessel berths, the
delay showing bit by bit (``eta_revisions``); long delays are often the weather's (SMDG WEA).
Each call has the port's own visit reference, and the time its vessel reached the pilot
boarding place on its way to the berth. Exporters' cut-offs follow from the planned arrival
(:data:`~port_resolvers.sim.reference.CUT_OFFS`); an omitted call has none.
"""

import hashlib
import random
from dataclasses import replace
from datetime import datetime, timedelta

from port_resolvers.sim.fleet import SCHEDULE_EPOCH, WEEK, Service, liner_services
from port_resolvers.sim.model import CutOff, Port, VesselCall
from port_resolvers.sim.reference import CUT_OFFS

CALLS_FROM = timedelta(days=14)  # calls planned from now - 14 days ...
CALLS_UNTIL = timedelta(days=21)  # ... to now + 21 days
ESTIMATES_AHEAD = timedelta(days=14)  # carriers publish ETAs for the next two weeks only
ANCHOR_WAIT_FROM_DELAY = timedelta(hours=6)  # later than this, a vessel waits at anchor
AT_ANCHOR_NOW = {"USLAX": 3, "USLGB": 3, "USOAK": 1}
OMITTED_CALLS = {"USLAX": 2, "USLGB": 2, "USOAK": 1}
ETA_EVERY = timedelta(hours=24)  # carriers revise an ETA about daily until the vessel berths
PILOT_BEFORE_BERTH = timedelta(minutes=90)  # pilot boarding place to berth, San Pedro Bay
WEATHER_DELAY_FROM = timedelta(hours=12)


def _port_visit_reference(port: Port, reference: str, planned: datetime) -> str:
    digest = hashlib.sha256(reference.encode()).hexdigest()[:6].upper()
    return f"{port.port_id[2:]}{planned:%y%m}-{digest}"


def _eta_revisions(
    rng: random.Random, planned: datetime, final: datetime, now: datetime
) -> tuple[tuple[datetime, datetime], ...]:
    """Daily ETAs from two weeks out: the delay becomes known bit by bit, the last is final."""
    first = planned - ESTIMATES_AHEAD
    last_published = min(now, final - timedelta(hours=1))
    count = max(1, int((last_published - first) / ETA_EVERY) + 1)
    delay = final - planned
    revisions = []
    for k in range(count):
        created = min(first + k * ETA_EVERY + _minutes(rng, 0, 2), now)
        known = timedelta(minutes=round(delay / timedelta(minutes=1) * ((k + 1) / count) ** 2))
        noise = _minutes(rng, -0.5, 0.5) if k < count - 1 else timedelta()
        revisions.append((created, planned + known + noise))
    return tuple(revisions)


def _minutes(rng: random.Random, low_hours: float, high_hours: float) -> timedelta:
    return timedelta(minutes=round(rng.uniform(low_hours, high_hours) * 60))


def _arrival_delay(rng: random.Random) -> timedelta:
    draw = rng.random()
    if draw < 0.1:
        return -_minutes(rng, 0, 3)
    if draw < 0.55:
        return _minutes(rng, 0, 2)
    if draw < 0.85:
        return _minutes(rng, 2, 12)
    return _minutes(rng, 12, 48)


def cut_offs(call: VesselCall) -> tuple[CutOff, ...]:
    """The call's cut-offs at whole hours (local too: the zone's offsets are whole hours)
    before its planned arrival, in time order; none for an omitted call."""
    if call.status_code == "OMIT":
        return ()
    hour = call.planned_arrival.replace(minute=0, second=0, microsecond=0)
    return tuple(CutOff(code, hour - before, reefer) for code, reefer, before in CUT_OFFS)


def _phase(call: VesselCall, now: datetime) -> str:
    if call.status_code == "OMIT":
        return "OMITTED"
    if call.actual_departure is not None and call.actual_departure <= now:
        return "DEPARTED"
    if call.actual_arrival is not None and call.actual_arrival <= now:
        return "AT_BERTH"
    if call.anchorage_arrival is not None and call.anchorage_arrival <= now:
        return "AT_ANCHOR"
    return "SCHEDULED"


def _call(
    service: Service, port: Port, week: int, seed: int, now: datetime, wait: timedelta | None
) -> VesselCall | None:
    stop = service.stop_at(port.port_id)
    assert stop is not None
    planned = SCHEDULE_EPOCH + week * WEEK + service.weekly_offset + stop.arrival_offset
    if not now - CALLS_FROM <= planned < now + CALLS_UNTIL:
        return None
    voyage = service.voyage_in_week(week)
    import_voyage, export_voyage = f"{voyage:03d}E", f"{voyage:03d}W"
    reference = f"{port.port_id}-{stop.facility_code}-{service.code}-{import_voyage}"
    rng = random.Random(f"{seed}:{reference}")
    delay = _arrival_delay(rng)
    anchorage = None
    if wait is not None:  # chosen to be waiting at anchor now: berths after now
        delay = wait
    if wait is not None or delay >= ANCHOR_WAIT_FROM_DELAY:
        anchorage = planned - _minutes(rng, 0, 3)
    berth = planned + delay
    departure = berth + stop.planned_stay + _minutes(rng, -1, 8)
    known_ahead = planned <= now + ESTIMATES_AHEAD
    # The carrier names the weather with its estimates: once it publishes one.
    weather = delay >= WEATHER_DELAY_FROM and rng.random() < 0.5 and known_ahead
    call = VesselCall(
        reference=reference,
        port_id=port.port_id,
        facility_code=stop.facility_code,
        vessel=service.vessel_in_week(week),
        service_code=service.code,
        import_voyage=import_voyage,
        export_voyage=export_voyage,
        status_code=None,
        phase="SCHEDULED",
        planned_arrival=planned,
        planned_departure=planned + stop.planned_stay,
        estimated_arrival=berth if known_ahead else None,
        estimated_departure=departure if known_ahead else None,
        actual_arrival=berth if berth <= now else None,
        actual_departure=departure if departure <= now else None,
        anchorage_arrival=anchorage,
        port_visit_reference=_port_visit_reference(port, reference, planned),
        sequence_number=service.stops.index(stop) + 1,
        pilot_boarding=berth - PILOT_BEFORE_BERTH,
        delay_reason="WEA" if weather else None,
        change_remark="Bad weather on the crossing" if weather else None,
    )
    if call.actual_arrival is not None:  # the last estimate was a little off
        estimate = berth - _minutes(rng, -1, 1)
        call = replace(call, estimated_arrival=estimate)
    if call.estimated_arrival is not None:
        revisions = _eta_revisions(rng, planned, call.estimated_arrival, now)
        call = replace(call, eta_revisions=revisions)
    if call.actual_departure is not None:
        call = replace(call, estimated_departure=departure - _minutes(rng, -1, 1))
    return call


def _weeks_around(now: datetime) -> range:
    current = (now - SCHEDULE_EPOCH) // WEEK
    return range(current - 3, current + 5)


def generate_vessel_calls(port: Port, seed: int, now: datetime) -> tuple[VesselCall, ...]:
    """The port's calls planned from ``now`` - 14 days to ``now`` + 21 days, by planned arrival."""
    services = [s for s in liner_services(seed) if s.stop_at(port.port_id) is not None]
    slots = [(s, w) for s in services for w in _weeks_around(now)]
    calls = {(s.code, w): call for s, w in slots if (call := _call(s, port, w, seed, now, None))}
    rng = random.Random(f"{seed}:{port.port_id}:calls")
    # A few vessels that were due in the last day and a half are still waiting at anchor.
    due = sorted(
        (k for k, c in calls.items() if now - timedelta(hours=36) <= c.planned_arrival <= now),
        key=lambda k: calls[k].planned_arrival,
    )
    for key in due[: AT_ANCHOR_NOW.get(port.port_id, 0)]:
        planned = calls[key].planned_arrival
        wait = now - planned + _minutes(rng, 2, 18)
        service = next(s for s in services if s.code == key[0])
        waiting = _call(service, port, key[1], seed, now, wait)
        assert waiting is not None
        calls[key] = waiting
    # A couple of future calls are dropped from their rotation.
    later = sorted(k for k, c in calls.items() if c.planned_arrival > now + timedelta(days=2))
    for key in rng.sample(later, min(len(later), OMITTED_CALLS.get(port.port_id, 0))):
        calls[key] = replace(
            calls[key],
            status_code="OMIT",
            estimated_arrival=None,
            estimated_departure=None,
            anchorage_arrival=None,
            pilot_boarding=None,
            eta_revisions=(),
            delay_reason=None,
            change_remark=None,
        )
    with_phase = (replace(c, phase=_phase(c, now), cut_offs=cut_offs(c)) for c in calls.values())
    return tuple(sorted(with_phase, key=lambda c: (c.planned_arrival, c.reference)))
