"""A port's own terminal system API, simulated: proprietary JSON with its own names and codes.

Long Beach, Hueneme and San Diego expose only this API; Los Angeles and Oakland run it beside
their DCSA Track & Trace API as its companion, for what T&T cannot say (there, containers come
without ``moves``: their events are the T&T API's job).

Conventions: snake_case keys; move times are epoch seconds (``ts``); vessel visit, hold, gate,
appointment, cut-off and train times are port-local wall-clock strings with the zone
abbreviation (``"2026-03-02 09:30 PST"``); dates are ``MM/DD/YYYY``; money is in cents.

What a port's system publishes of gate hours, appointments, empty returns, cut-offs, rail legs
and empty-return deadlines follows :data:`~port_resolvers.sim.reference.OFFERS`: a route it
does not publish is a 404, a key it does not publish is absent (San Diego's system has none of
them, Hueneme's no ``rail``). Routes:

``GET /api/v1/facility``
    ``{"port_code", "port_name", "tz", "terminals": [{"terminal_id", "terminal_name", "lat",
    "lon"}]}``
``GET /api/v1/containers?ids=A,B,...`` (at most 100), or ``?bl_no=...`` / ``?booking_no=...``
    ``{"containers": [...], "unknown_ids": [...]}``; a container is ``{"container_no",
    "size_type", "full_empty": "F"|"E", "category": "IMPORT"|"EXPORT"|"STORAGE",
    "terminal_id", "yard": {"block", "row", "tier"}|null, "moves": [...], "import_status":
    {...}|null}``. A move is ``{"move_id", "move_type": "Discharge"|"Load"|"Gate In"|"Gate
    Out"|"Inspection"|"Available"|"Customs Scan"|"Customs Exam"|"Customs Release"|"Seal Cut"|
    "Seal Applied"|"Rail Load", "stage": "Planned"|"Expected"|"Done", "ts", "logged_ts",
    "terminal_id", "full_empty", "train": str|null, "seals": [{"no", "by", "kind"}],
    "vessel_visit": {"visit_id", "port_visit_no", "rotation_no", "voyage_in", "voyage_out",
    "vessel"}|null}``. A laden container also has ``"bl_no"`` and ``"booking_no"``.
    ``import_status`` is ``{"pickup_ok", "holds": [{"hold_code": "CUS"|"FRT"|"SSL"|"USDA"|
    "TMF", "state": "ACTIVE"|"CLEARED", "note", "changed"}], "first_available",
    "last_free_day", "fees_due_cents", "empty_due"}`` (``empty_due``: the date the box must be
    back empty, once it gated out). A container's ``"rail"`` is null, or for an import leaving
    by train ``{"on_dock", "railroad": "UP"|"BNSF", "ramp": {"name", "locode"}, "loaded_ts"
    (epoch seconds, once loaded on-dock), "departs", "departure_stage"}`` (a move's stages).
``GET /api/v1/vessel-visits?arrival_from=&arrival_to=&imo=&state=``
    Visits whose planned arrival (epoch seconds) is in ``[arrival_from, arrival_to)``, of one
    vessel, in some ``visit_state`` (comma list): ``{"visits": [{"visit_id", "terminal_id",
    "service", "voyage_in", "voyage_out", "visit_state": "EXPECTED"|"ANCHORED"|"WORKING"|
    "SAILED"|"CANCELLED", "vessel": {"imo", "mmsi", "name", "flag", "call_sign",
    "liner_code", "scac"}, "berth_window": {"planned_arrival", "planned_departure"}, "eta",
    "etd", "ata", "atd", "anchored_at", "pilot_on", "port_visit_no", "rotation_no",
    "delay_code", "remark", "cutoffs": {"dry_receiving_from", "reefer_receiving_from",
    "doc_cutoff", "vgm_cutoff", "dry_cutoff", "reefer_cutoff"}}]}`` (``cutoffs`` empty for a
    cancelled visit).
``GET /api/v1/vessels/{imo}``
    A vessel that called or will call here (the ``vessel`` object above), else 404.
``GET /api/v1/stats?window=7d|30d|90d``
    ``{"port_code", "window": {"label", "from", "to"}, "figures": [{"terminal_id"|null,
    "figure": "dwell_days_avg"|"truck_turn_minutes_avg"|"ships_at_anchor"|"ships_at_berth"|
    "teu_in"|"teu_out", "value", "n", "from", "to", "weeks"}]}``: the last 1, 4 or 13 whole
    local weeks that have ended as of the system's clock; every figure but the ship counts
    carries its ``weeks``: ``[{"from", "to", "total", "n", "calls", "largest_call_teu"}]``
    (the call counts for ``teu_in`` and ``teu_out`` only).

``GET /api/v1/gate-schedule``
    Today and the next six local days: ``{"port_code", "terminals": [{"terminal_id", "days":
    [{"date", "status": "OPEN"|"CLOSED", "closed_for": "HOL"|"WX"|"MAINT"|"SEC"|"OTH"|null,
    "hours": [{"from", "to", "off_peak"}]}]}]}`` (``closed_for`` null on a day the gate never
    opens).
``GET /api/v1/appointments``
    From the hour under way to the end of tomorrow: ``{"port_code", "terminals":
    [{"terminal_id", "appointments_required", "slots": [{"from", "to", "appt_type": "Import
    Pick Up"|"Export Drop Off"|"Empty Drop Off"|"Empty Pick Up", "status": "Open"|"Few Left"|
    "Full", "remaining"}]}]}``.
``GET /api/v1/empty-returns``
    Today's and tomorrow's: ``{"port_code", "empties": [{"terminal_id", "date", "ssl_scac",
    "size_type", "receiving": "Y"|"N"}]}``.

Bad parameters are a 400 ``{"error": {"status", "message"}}``.
"""

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from port_resolvers.sim.knobs import SimKnobs
from port_resolvers.sim.metrics import compute_metrics
from port_resolvers.sim.model import (
    AppointmentSlot,
    Availability,
    Container,
    EquipmentEvent,
    GateDay,
    GatePeriod,
    PortData,
    PortMetric,
    RailLeg,
    Vessel,
    VesselCall,
    WeekFigure,
)
from port_resolvers.sim.reference import (
    OFFERS,
    USES_APPOINTMENTS,
)
from portcontract.capabilities import (
    APPOINTMENT_SLOTS,
    CUT_OFF_TIMES,
    EMPTY_RETURN_DEADLINE,
    EMPTY_RETURNS,
    GATE_HOURS,
    RAIL_LEG,
)
from portcontract.capabilities import (
    USES_APPOINTMENTS as USES_APPOINTMENTS_FIELD,
)
from portcontract.periods import last_closed_boundary

MAX_IDS = 100
MOVE_TYPES = {
    "DISC": "Discharge",
    "LOAD": "Load",
    "GTIN": "Gate In",
    "GTOT": "Gate Out",
    "INSP": "Inspection",
    "AVPU": "Available",
    "CUSS": "Customs Scan",
    "CUSI": "Customs Exam",
    "CUSR": "Customs Release",
    "RMVD": "Seal Cut",
    "RSEA": "Seal Applied",
}
RAIL_LOAD = "Rail Load"  # a load onto on-dock rail
STAGES = {"PLN": "Planned", "EST": "Expected", "ACT": "Done"}
HOLD_CODES = {"CUSTOMS": "CUS", "FREIGHT": "FRT", "LINE": "SSL", "USDA": "USDA", "TMF": "TMF"}
VISIT_STATES = {
    "SCHEDULED": "EXPECTED",
    "AT_ANCHOR": "ANCHORED",
    "AT_BERTH": "WORKING",
    "DEPARTED": "SAILED",
    "OMITTED": "CANCELLED",
}
FULL_EMPTY = {"LADEN": "F", "EMPTY": "E"}
CATEGORIES = {"IMPORT": "IMPORT", "EXPORT": "EXPORT", "EMPTY_RETURN": "STORAGE"}
FIGURES = {
    "CONTAINER_DWELL_DAYS": "dwell_days_avg",
    "TRUCK_TURN_TIME_MINUTES": "truck_turn_minutes_avg",
    "VESSELS_AT_ANCHOR": "ships_at_anchor",
    "VESSELS_AT_BERTH": "ships_at_berth",
    "TEU_DISCHARGED": "teu_in",
    "TEU_LOADED": "teu_out",
}
WINDOWS = {"7d": "LAST_7_DAYS", "30d": "LAST_30_DAYS", "90d": "LAST_90_DAYS"}
CLOSURES = {"HOLIDAY": "HOL", "WEATHER": "WX", "MAINTENANCE": "MAINT", "SECURITY": "SEC",
            "OTHER": "OTH"}  # fmt: skip
APPOINTMENT_TYPES = {
    "IMPORT_PICKUP": "Import Pick Up",
    "EXPORT_DROPOFF": "Export Drop Off",
    "EMPTY_RETURN": "Empty Drop Off",
    "EMPTY_PICKUP": "Empty Pick Up",
}
SLOT_STATUSES = {"OPEN": "Open", "LIMITED": "Few Left", "FULL": "Full"}
CUTOFF_KEYS = {
    ("EFC", False): "dry_receiving_from",
    ("EFC", True): "reefer_receiving_from",
    ("DCO", False): "doc_cutoff",
    ("VCO", False): "vgm_cutoff",
    ("FCO", False): "dry_cutoff",
    ("FCO", True): "reefer_cutoff",
}
RAILROADS = {"UPRR": "UP", "BNSF": "BNSF"}


def _bad_request(message: str) -> Response:
    return JSONResponse({"error": {"status": 400, "message": message}}, 400)


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _us_date(day: date | None) -> str | None:
    return day.strftime("%m/%d/%Y") if day else None


def _week(week: WeekFigure) -> dict[str, Any]:
    figure: dict[str, Any] = {
        "from": _epoch(week.start),
        "to": _epoch(week.end),
        "total": week.total,
        "n": week.sample_size,
    }
    if week.calls is not None:
        figure["calls"] = week.calls
    if week.largest_call_teu is not None:
        figure["largest_call_teu"] = week.largest_call_teu
    return figure


def _labor_number(key: str, modulo: int) -> int:
    return sum(ord(c) * (i + 1) for i, c in enumerate(key)) % modulo


class TerminalSystemApi:
    """The proprietary terminal API over one port's :class:`PortData`."""

    def __init__(
        self,
        data: PortData,
        knobs: SimKnobs,
        *,
        with_moves: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.data = data
        self.knobs = knobs
        self.with_moves = with_moves
        self.local = ZoneInfo(data.port.time_zone)
        self.clock = clock or (lambda: data.now)  # what stats take as now
        self.offers = OFFERS[data.port_id]
        self._metrics: dict[datetime, tuple[PortMetric, ...]] = {
            last_closed_boundary(data.now, self.local): data.metrics
        }

    def routes(self) -> list[Route]:
        routes = [
            Route("/api/v1/facility", self.facility, methods=["GET"]),
            Route("/api/v1/containers", self.containers, methods=["GET"]),
            Route("/api/v1/vessel-visits", self.vessel_visits, methods=["GET"]),
            Route("/api/v1/vessels/{imo}", self.vessel, methods=["GET"]),
            Route("/api/v1/stats", self.stats, methods=["GET"]),
        ]
        if GATE_HOURS in self.offers:
            routes.append(Route("/api/v1/gate-schedule", self.gate_schedule, methods=["GET"]))
        if self.offers & {USES_APPOINTMENTS_FIELD, APPOINTMENT_SLOTS}:
            routes.append(Route("/api/v1/appointments", self.appointments, methods=["GET"]))
        if EMPTY_RETURNS in self.offers:
            routes.append(Route("/api/v1/empty-returns", self.empty_returns, methods=["GET"]))
        return routes

    def _local(self, at: datetime | None) -> str | None:
        return at.astimezone(self.local).strftime("%Y-%m-%d %H:%M %Z") if at else None

    # rendering ---------------------------------------------------------------------------

    @staticmethod
    def _vessel(vessel: Vessel) -> dict[str, Any]:
        return {
            "imo": vessel.imo,
            "mmsi": vessel.mmsi,
            "name": vessel.name,
            "flag": vessel.flag,
            "call_sign": vessel.call_sign,
            "liner_code": vessel.liner_code,
            "scac": vessel.scac,
        }

    def _move(self, box: Container, event: EquipmentEvent) -> dict[str, Any]:
        move: dict[str, Any] = {
            "move_id": event.event_id,
            "move_type": RAIL_LOAD if event.mode == "RAIL" else MOVE_TYPES[event.type_code],
            "stage": STAGES[event.classifier],
            "ts": _epoch(event.event_datetime),
            "logged_ts": _epoch(event.created),
            "terminal_id": event.facility_code,
            "full_empty": FULL_EMPTY[event.empty_indicator],
            "train": event.train,
            "seals": [{"no": s.number, "by": s.source, "kind": s.type} for s in event.seals],
            "vessel_visit": None,
        }
        if event.call is not None:
            move["vessel_visit"] = {
                "visit_id": event.call.reference,
                "port_visit_no": event.call.port_visit_reference,
                "rotation_no": event.call.sequence_number,
                "voyage_in": event.call.import_voyage,
                "voyage_out": event.call.export_voyage,
                "vessel": self._vessel(event.call.vessel),
            }
        if self.knobs.labor_keys:
            n = _labor_number(event.event_id, 9000)
            move |= {"clerk_id": f"CLK{n:04d}", "shift_code": ("DAY", "NIGHT", "HOOT")[n % 3]}
            if event.call is not None:
                move |= {"crane_operator_id": f"OP{n:04d}", "gang_id": f"G{n % 40:02d}"}
            if event.type_code in {"GTIN", "GTOT"}:
                move |= {
                    "driver_name": f"Driver {n}",
                    "truck_license_plate": f"7{n:04d}AB",
                    "twic_card_number": f"TW{n:08d}",
                }
        return move

    def _container(self, box: Container) -> dict[str, Any]:
        yard: dict[str, Any] | None = None
        if box.yard is not None:
            yard = {"block": box.yard.block, "row": box.yard.row, "tier": box.yard.tier}
            if self.knobs.labor_keys:
                yard["che_operator_id"] = f"RTG{_labor_number(box.reference, 500):03d}"
        status = None
        if box.availability is not None:
            status = self._import_status(box.availability)
        answer: dict[str, Any] = {
            "container_no": box.reference,
            "bl_no": box.bill_of_lading,
            "booking_no": box.booking,
            "size_type": box.iso_code,
            "full_empty": FULL_EMPTY[box.empty_indicator],
            "category": CATEGORIES[box.flow],
            "terminal_id": box.facility_code,
            "yard": yard,
            "moves": [self._move(box, e) for e in box.events] if self.with_moves else [],
            "import_status": status,
        }
        if RAIL_LEG in self.offers:
            answer["rail"] = self._rail(box.rail) if box.rail is not None else None
        return answer

    def _import_status(self, a: Availability) -> dict[str, Any]:
        status: dict[str, Any] = {
            "pickup_ok": a.available_for_pickup,
            "holds": [
                {
                    "hold_code": HOLD_CODES[h.type],
                    "state": "ACTIVE" if h.status == "HOLD" else "CLEARED",
                    "note": h.description,
                    "changed": self._local(h.updated),
                }
                for h in a.holds
            ],
            "first_available": _us_date(a.first_available_date),
            "last_free_day": _us_date(a.last_free_day),
            "fees_due_cents": round(a.outstanding_fees_usd * 100),
        }
        if EMPTY_RETURN_DEADLINE in self.offers:
            status["empty_due"] = _us_date(a.empty_return_deadline)
        return status

    def _rail(self, rail: RailLeg) -> dict[str, Any]:
        return {
            "on_dock": rail.on_dock,
            "railroad": RAILROADS[rail.railroad],
            "ramp": {"name": rail.ramp.name, "locode": rail.ramp.un_location_code},
            "loaded_ts": _epoch(rail.loaded) if rail.loaded is not None else None,
            "departs": self._local(rail.departure),
            "departure_stage": STAGES[rail.departure_classifier],
        }

    def _visit(self, call: VesselCall) -> dict[str, Any]:
        visit: dict[str, Any] = {
            "visit_id": call.reference,
            "terminal_id": call.facility_code,
            "service": call.service_code,
            "voyage_in": call.import_voyage,
            "voyage_out": call.export_voyage,
            "visit_state": VISIT_STATES[call.phase],
            "vessel": self._vessel(call.vessel),
            "berth_window": {
                "planned_arrival": self._local(call.planned_arrival),
                "planned_departure": self._local(call.planned_departure),
            },
            "eta": self._local(call.estimated_arrival),
            "etd": self._local(call.estimated_departure),
            "ata": self._local(call.actual_arrival),
            "atd": self._local(call.actual_departure),
            "anchored_at": self._local(call.anchorage_arrival),
            "pilot_on": self._local(call.pilot_boarding)
            if call.pilot_boarding is not None and call.pilot_boarding <= self.data.now
            else None,
            "port_visit_no": call.port_visit_reference,
            "rotation_no": call.sequence_number,
            "delay_code": call.delay_reason,
            "remark": call.change_remark,
        }
        if CUT_OFF_TIMES in self.offers:
            visit["cutoffs"] = {
                CUTOFF_KEYS[c.code, c.reefer]: self._local(c.at) for c in call.cut_offs
            }
        if self.knobs.labor_keys:
            n = _labor_number(call.reference, 1000)
            visit |= {
                "gang_count": 2 + n % 5,
                "crane_operator_ids": [f"OP{n:04d}"],
                "lashing_crew": f"L{n % 12}",
            }
            if call.actual_departure is not None:
                visit["moves_per_hour"] = 22 + n % 12
        return visit

    # endpoints ---------------------------------------------------------------------------

    async def facility(self, request: Request) -> Response:
        port = self.data.port
        terminals = [
            {
                "terminal_id": t.facility_code,
                "terminal_name": t.name,
                "lat": t.latitude,
                "lon": t.longitude,
            }
            for t in port.terminals
        ]
        return JSONResponse(
            {
                "port_code": port.port_id,
                "port_name": port.name,
                "tz": port.time_zone,
                "terminals": terminals,
            }
        )

    def _gate_hours(self, period: GatePeriod, facility_code: str) -> dict[str, Any]:
        hours: dict[str, Any] = {
            "from": self._local(period.opens),
            "to": self._local(period.closes),
            "off_peak": period.off_peak,
        }
        if self.knobs.labor_keys:
            hours |= {"shift_code": "NIGHT" if period.off_peak else "DAY",
                      "gang_count": 2 + _labor_number(facility_code, 4)}  # fmt: skip
        return hours

    def _gate_day(self, day: GateDay) -> dict[str, Any]:
        return {
            "date": _us_date(day.day),
            "status": "OPEN" if day.open else "CLOSED",
            "closed_for": CLOSURES[day.closure] if day.closure is not None else None,
            "hours": [self._gate_hours(p, day.facility_code) for p in day.periods],
        }

    def _slot(self, slot: AppointmentSlot) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "from": self._local(slot.start),
            "to": self._local(slot.end),
            "appt_type": APPOINTMENT_TYPES[slot.transaction],
            "status": SLOT_STATUSES[slot.availability],
            "remaining": slot.left,
        }
        if self.knobs.labor_keys:
            n = _labor_number(f"{slot.facility_code}{slot.start}", 9000)
            answer |= {"lane_id": f"L{n % 12}", "clerk_id": f"CLK{n:04d}"}
        return answer

    async def gate_schedule(self, request: Request) -> Response:
        days = self.data.gate_days
        terminals = [
            {
                "terminal_id": code,
                "days": [self._gate_day(d) for d in days if d.facility_code == code],
            }
            for code in (t.facility_code for t in self.data.port.terminals)
        ]
        return JSONResponse({"port_code": self.data.port_id, "terminals": terminals})

    async def appointments(self, request: Request) -> Response:
        slots = self.data.appointment_slots
        required = USES_APPOINTMENTS[self.data.port_id]
        terminals = [
            {
                "terminal_id": code,
                "appointments_required": required,
                "slots": [self._slot(s) for s in slots if s.facility_code == code],
            }
            for code in (t.facility_code for t in self.data.port.terminals)
        ]
        return JSONResponse({"port_code": self.data.port_id, "terminals": terminals})

    async def empty_returns(self, request: Request) -> Response:
        empties = [
            {
                "terminal_id": rule.facility_code,
                "date": _us_date(rule.day),
                "ssl_scac": rule.scac,
                "size_type": rule.iso_code,
                "receiving": "Y" if rule.accepted else "N",
            }
            for rule in self.data.empty_returns
        ]
        return JSONResponse({"port_code": self.data.port_id, "empties": empties})

    async def containers(self, request: Request) -> Response:
        for parameter, kind in (("bl_no", "TRD"), ("booking_no", "BKG")):
            document = request.query_params.get(parameter)
            if document is not None:
                boxes = self.data.containers_of_document(kind, document)
                return JSONResponse(
                    {"containers": [self._container(b) for b in boxes], "unknown_ids": []}
                )
        ids = [i.strip() for i in request.query_params.get("ids", "").split(",") if i.strip()]
        if not ids or len(ids) > MAX_IDS:
            return _bad_request(f"ids must list 1 to {MAX_IDS} container numbers")
        found = [box for i in ids if (box := self.data.container(i)) is not None]
        unknown = [i for i in ids if self.data.container(i) is None]
        return JSONResponse(
            {"containers": [self._container(b) for b in found], "unknown_ids": unknown}
        )

    async def vessel_visits(self, request: Request) -> Response:
        query = request.query_params
        try:
            start = int(query["arrival_from"]) if "arrival_from" in query else None
            end = int(query["arrival_to"]) if "arrival_to" in query else None
        except ValueError:
            return _bad_request("arrival_from and arrival_to are epoch seconds")
        states = {s for s in query.get("state", "").split(",") if s}
        if not states <= set(VISIT_STATES.values()):
            return _bad_request(f"state must be among {', '.join(VISIT_STATES.values())}")
        imo = query.get("imo")
        visits = [
            self._visit(c)
            for c in self.data.vessel_calls
            if (start is None or _epoch(c.planned_arrival) >= start)
            and (end is None or _epoch(c.planned_arrival) < end)
            and (imo is None or c.vessel.imo == imo)
            and (not states or VISIT_STATES[c.phase] in states)
        ]
        return JSONResponse({"visits": visits})

    async def vessel(self, request: Request) -> Response:
        imo = request.path_params["imo"]
        found = next((v for v in self.data.vessels if v.imo == imo), None)
        if found is None:
            return JSONResponse({"error": {"status": 404, "message": f"no vessel {imo}"}}, 404)
        return JSONResponse(self._vessel(found))

    async def stats(self, request: Request) -> Response:
        label = request.query_params.get("window", "7d")
        if label not in WINDOWS:
            return _bad_request(f"window must be one of {', '.join(WINDOWS)}")
        chosen = [m for m in self._metrics_now() if m.period == WINDOWS[label]]
        figures = [
            {
                "terminal_id": m.facility_code,
                "figure": FIGURES[m.metric],
                "value": m.value,
                "n": m.sample_size,
                "from": _epoch(m.period_start),
                "to": _epoch(m.period_end),
                **({"weeks": [_week(w) for w in m.weeks]} if m.weeks else {}),
            }
            for m in chosen
        ]
        if self.knobs.labor_keys:
            figures += [
                {
                    "terminal_id": t.facility_code,
                    "figure": "crane_moves_per_hour",
                    "value": 25.0 + _labor_number(t.facility_code, 10),
                    "n": 100,
                    "moves_per_hour": 27.5,
                    "gang_hours": 96,
                }
                for t in self.data.port.terminals
            ]
        weekly = [m for m in chosen if m.weeks]
        window = {
            "label": label,
            "from": _epoch(min(m.period_start for m in weekly)),
            "to": _epoch(max(m.period_end for m in weekly)),
        }
        return JSONResponse({"port_code": self.data.port_id, "window": window, "figures": figures})

    def _metrics_now(self) -> tuple[PortMetric, ...]:
        """The figures over the weeks that have ended as of the clock (the same all week)."""
        boundary = last_closed_boundary(self.clock(), self.local)
        if boundary not in self._metrics:
            data = self.data
            self._metrics[boundary] = compute_metrics(
                data.port, data.seed, data.now, data.vessel_calls, data.containers,
                data.truck_visits, as_of=boundary,
            )  # fmt: skip
        return self._metrics[boundary]
