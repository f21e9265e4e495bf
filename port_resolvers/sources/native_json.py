"""Adapter for a port's proprietary terminal JSON API (the format of
:mod:`port_resolvers.sim.native_api`): snake_case keys, its own move, stage, hold and visit
codes, epoch seconds, port-local wall-clock strings with zone abbreviations, US dates, cents.

:class:`NativeJsonSource` implements :class:`~port_resolvers.kit.source.PortDataSource` with an
injected ``httpx.AsyncClient`` and the system's base URL. It reads the facility record once
(terminal names and coordinates, the port's time zone) and keeps it: that is reference data, not
cargo data. Labor-type keys are dropped from every payload before translation
(:mod:`port_resolvers.sources.fetch`); figures and codes it does not know are skipped.

Not every terminal system publishes gate hours, truck appointments, empty-return rules,
cut-offs, rail legs or empty-return deadlines: the source reads and maps those its ``offers``
names (coordinates of :data:`portcontract.capabilities.OPTIONAL_FIELDS`), and only those. Gate
hours, appointments and empty returns come with the port's terminals (``port()``), from the
system's gate schedule, appointment and empty-return routes, read anew each time: they change
during the day.
"""

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx

from port_resolvers.kit.source import (
    AppointmentSlotRecord,
    ContainerLocationRecord,
    ContainerRecord,
    CutOffTimeRecord,
    EmptyReturnRuleRecord,
    EquipmentEventRecord,
    GateDayRecord,
    HoldRecord,
    ImportAvailabilityRecord,
    PortMetricRecord,
    PortRecord,
    RailLegRecord,
    TerminalRecord,
    VesselCallFilter,
    VesselCallRecord,
    VesselRecord,
    WeekFigureRecord,
)
from port_resolvers.sources.fetch import get_json, require_json, translating
from portcontract.capabilities import (
    APPOINTMENT_SLOTS,
    CUT_OFF_TIMES,
    EMPTY_RETURN_DEADLINE,
    EMPTY_RETURNS,
    GATE_HOURS,
    OPTIONAL_FIELDS,
    RAIL_LEG,
    USES_APPOINTMENTS,
)

MAX_IDS_PER_REQUEST = 100
EVENT_TYPES = {
    "Discharge": "DISC",
    "Load": "LOAD",
    "Rail Load": "LOAD",
    "Gate In": "GTIN",
    "Gate Out": "GTOT",
    "Inspection": "INSP",
    "Available": "AVPU",
    "Customs Scan": "CUSS",
    "Customs Exam": "CUSI",
    "Customs Release": "CUSR",
    "Seal Cut": "RMVD",
    "Seal Applied": "RSEA",
}
MOVES_OF_THE_BOX = frozenset({"Discharge", "Load", "Rail Load", "Gate In", "Gate Out"})
CLASSIFIERS = {"Planned": "PLN", "Expected": "EST", "Done": "ACT"}
EMPTY_INDICATORS = {"F": "LADEN", "E": "EMPTY"}
HOLD_TYPES = {"CUS": "CUSTOMS", "FRT": "FREIGHT", "SSL": "LINE", "USDA": "USDA", "TMF": "TMF"}
HOLD_STATUSES = {"ACTIVE": "HOLD", "CLEARED": "RELEASED"}
PHASES = {
    "EXPECTED": "SCHEDULED",
    "ANCHORED": "AT_ANCHOR",
    "WORKING": "AT_BERTH",
    "SAILED": "DEPARTED",
    "CANCELLED": "OMITTED",
}
METRICS = {
    "dwell_days_avg": ("CONTAINER_DWELL_DAYS", "days"),
    "truck_turn_minutes_avg": ("TRUCK_TURN_TIME_MINUTES", "minutes"),
    "ships_at_anchor": ("VESSELS_AT_ANCHOR", "vessels"),
    "ships_at_berth": ("VESSELS_AT_BERTH", "vessels"),
    "teu_in": ("TEU_DISCHARGED", "TEU"),
    "teu_out": ("TEU_LOADED", "TEU"),
}
WINDOWS = {"LAST_7_DAYS": "7d", "LAST_30_DAYS": "30d", "LAST_90_DAYS": "90d"}
CLOSURES = {"HOL": "HOLIDAY", "WX": "WEATHER", "MAINT": "MAINTENANCE", "SEC": "SECURITY",
            "OTH": "OTHER"}  # fmt: skip
TRANSACTIONS = {
    "Import Pick Up": "IMPORT_PICKUP",
    "Export Drop Off": "EXPORT_DROPOFF",
    "Empty Drop Off": "EMPTY_RETURN",
    "Empty Pick Up": "EMPTY_PICKUP",
}
SLOT_AVAILABILITY = {"Open": "OPEN", "Few Left": "LIMITED", "Full": "FULL"}
CUT_OFFS = {
    "dry_receiving_from": ("EFC", False),
    "reefer_receiving_from": ("EFC", True),
    "doc_cutoff": ("DCO", False),
    "vgm_cutoff": ("VCO", False),
    "dry_cutoff": ("FCO", False),
    "reefer_cutoff": ("FCO", True),
}
RAILROADS = {"UP": "UPRR", "BNSF": "BNSF"}

GATE_SCHEDULE: Final = "/api/v1/gate-schedule"
APPOINTMENTS: Final = "/api/v1/appointments"
EMPTIES: Final = "/api/v1/empty-returns"
# The system's routes for what it publishes of its terminals, by the fields each one gives.
TERMINAL_ROUTES: Final = (
    (frozenset({GATE_HOURS}), GATE_SCHEDULE),
    (frozenset({USES_APPOINTMENTS, APPOINTMENT_SLOTS}), APPOINTMENTS),
    (frozenset({EMPTY_RETURNS}), EMPTIES),
)


def _epoch(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def _us_date(value: str | None) -> date | None:
    return datetime.strptime(value, "%m/%d/%Y").date() if value else None


class NativeJsonSource:
    """A port served from its proprietary terminal API at ``base_url``.

    :param offers: the optional fields the system publishes (by default none): only those are
        read and served; the kit answers null for the others and says they are not offered.
    """

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, *, offers: Iterable[str] = ()
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.offers = frozenset(offers)
        unknown = self.offers - OPTIONAL_FIELDS
        if unknown:
            raise ValueError(f"not optional fields of the schema: {', '.join(sorted(unknown))}")
        self._facility: dict[str, Any] | None = None

    async def _get(self, path: str, params: dict[str, str | int] | None = None) -> Any:
        return (await require_json(self.client, self.base_url + path, params=params)).payload

    async def _facility_info(self) -> dict[str, Any]:
        """The facility record, read on first use and kept (two first uses may both read it)."""
        if self._facility is None:
            payload = await self._get("/api/v1/facility")
            with translating("facility"):
                payload["terminals"] = {t["terminal_id"]: t for t in payload["terminals"]}
                ZoneInfo(payload["tz"])
            self._facility = payload
        return self._facility

    def _local(self, facility: dict[str, Any], value: str | None) -> datetime | None:
        """A port-local ``YYYY-MM-DD HH:MM ZZZ`` string as UTC; the abbreviation settles DST."""
        if not value:
            return None
        wall, _, abbreviation = value.rpartition(" ")
        naive = datetime.strptime(wall, "%Y-%m-%d %H:%M")
        zone = ZoneInfo(facility["tz"])
        for fold in (0, 1):
            candidate = naive.replace(tzinfo=zone, fold=fold)
            if candidate.tzname() == abbreviation:
                return candidate.astimezone(UTC)
        raise ValueError(f"{value!r} is not a wall-clock time in {facility['tz']}")

    # PortDataSource ----------------------------------------------------------------------

    async def port(self) -> PortRecord:
        facility = await self._facility_info()
        with translating("facility"):
            terminals: dict[str, TerminalRecord] = {
                code: {
                    "facilitySMDGCode": code,
                    "name": t.get("terminal_name"),
                    "UNLocationCode": facility["port_code"],
                }
                for code, t in facility["terminals"].items()
            }
        await self._terminal_services(facility, terminals)
        return {
            "UNLocationCode": facility["port_code"],
            "name": facility.get("port_name"),
            "timeZone": facility["tz"],
            "terminals": list(terminals.values()),
        }

    async def _terminal_services(
        self, facility: dict[str, Any], terminals: dict[str, TerminalRecord]
    ) -> None:
        """Gate hours, appointments and empty-return rules onto ``terminals``, those offered
        (the routes read at once); terminals the system does not know are not added."""
        paths = [path for fields, path in TERMINAL_ROUTES if fields & self.offers]
        answers = dict(zip(paths, await asyncio.gather(*map(self._get, paths)), strict=True))
        with translating("gate schedule"):
            for raw in answers[GATE_SCHEDULE]["terminals"] if GATE_SCHEDULE in answers else []:
                if raw["terminal_id"] in terminals:
                    days = [self._gate_day(facility, day) for day in raw["days"]]
                    terminals[raw["terminal_id"]]["gateHours"] = days
        with translating("appointments"):
            for raw in answers[APPOINTMENTS]["terminals"] if APPOINTMENTS in answers else []:
                if raw["terminal_id"] in terminals:
                    self._appointments(facility, terminals[raw["terminal_id"]], raw)
        with translating("empty returns"):
            if EMPTIES in answers:
                self._empty_returns(terminals, answers[EMPTIES]["empties"])

    async def containers(self, references: Sequence[str]) -> list[ContainerRecord]:
        if not references:
            return []
        facility = await self._facility_info()
        chunks = [
            references[i : i + MAX_IDS_PER_REQUEST]
            for i in range(0, len(references), MAX_IDS_PER_REQUEST)
        ]
        answers = await asyncio.gather(
            *(self._get("/api/v1/containers", {"ids": ",".join(chunk)}) for chunk in chunks)
        )
        with translating("containers"):
            return [self._container(facility, raw) for a in answers for raw in a["containers"]]

    async def containers_by_document(
        self, *, transport_document: str | None = None, booking: str | None = None
    ) -> list[ContainerRecord]:
        """The boxes of a bill of lading or a booking (the terminal API's ``bl_no`` /
        ``booking_no`` lookup)."""
        facility = await self._facility_info()
        params: dict[str, str | int]
        if transport_document is not None:
            params = {"bl_no": transport_document}
        else:
            params = {"booking_no": booking or ""}
        answer = await self._get("/api/v1/containers", params)
        with translating("containers"):
            return [self._container(facility, raw) for raw in answer["containers"]]

    async def vessel_calls(self, filter: VesselCallFilter) -> list[VesselCallRecord]:
        params: dict[str, str | int] = {}
        if filter.planned_from is not None:
            params["arrival_from"] = int(filter.planned_from.timestamp())
        if filter.planned_to is not None:
            params["arrival_to"] = int(filter.planned_to.timestamp())
        if filter.vessel_imo_number is not None:
            params["imo"] = filter.vessel_imo_number
        facility = await self._facility_info()
        payload = await self._get("/api/v1/vessel-visits", params)
        with translating("vessel visits"):
            calls = [self._visit(facility, raw) for raw in payload["visits"]]
        if filter.status_codes is not None:
            calls = [c for c in calls if c.get("statusCode") in filter.status_codes]
        return calls

    async def vessel(self, imo: str) -> VesselRecord | None:
        answer = await get_json(
            self.client, f"{self.base_url}/api/v1/vessels/{imo}", missing_ok=True
        )
        if answer is None:
            return None
        with translating("vessel"):
            return self._vessel(answer.payload)

    async def metrics(self, period: str, metrics: Sequence[str] | None) -> list[PortMetricRecord]:
        if period not in WINDOWS:
            raise ValueError(f"unknown metric period {period!r}")
        payload = await self._get("/api/v1/stats", {"window": WINDOWS[period]})
        records: list[PortMetricRecord] = []
        with translating("stats"):
            for figure in payload["figures"]:
                if figure["figure"] not in METRICS:
                    continue  # figures the schema does not share
                metric, unit = METRICS[figure["figure"]]
                if metrics is not None and metric not in metrics:
                    continue
                value = figure["value"]
                record: PortMetricRecord = {
                    "UNLocationCode": payload["port_code"],
                    "facilitySMDGCode": figure["terminal_id"],
                    "metric": metric,
                    "value": None if value is None else float(value),
                    "unit": unit,
                    "periodStart": _epoch(figure["from"]),
                    "periodEnd": _epoch(figure["to"]),
                    "sampleSize": int(figure["n"]),
                }
                if "weeks" in figure:
                    record["weeks"] = [self._week(week) for week in figure["weeks"]]
                records.append(record)
        return records

    @staticmethod
    def _week(raw: dict[str, Any]) -> WeekFigureRecord:
        """One week of a figure; the call counts the kit needs for TEU come along."""
        week: WeekFigureRecord = {
            "periodStart": _epoch(raw["from"]),
            "periodEnd": _epoch(raw["to"]),
            "total": float(raw["total"]),
            "sampleSize": int(raw["n"]),
        }
        if "calls" in raw:
            week["calls"] = int(raw["calls"])
        if "largest_call_teu" in raw:
            week["largestCallTEU"] = float(raw["largest_call_teu"])
        return week

    # translation -------------------------------------------------------------------------

    def _time(self, facility: dict[str, Any], value: str | None) -> datetime:
        """A port-local time that must be there."""
        at = self._local(facility, value)
        if at is None:
            raise ValueError("a time is missing")
        return at

    def _gate_day(self, facility: dict[str, Any], raw: dict[str, Any]) -> GateDayRecord:
        day = _us_date(raw["date"])
        if day is None:
            raise ValueError("a gate day without its date")
        closed_for = raw.get("closed_for")
        return {
            "date": day,
            "open": raw["status"] == "OPEN",
            "periods": [
                {
                    "opensDateTime": self._time(facility, hours["from"]),
                    "closesDateTime": self._time(facility, hours["to"]),
                    "offPeak": bool(hours.get("off_peak")),
                }
                for hours in raw.get("hours") or []
            ],
            "closureReason": CLOSURES.get(closed_for, "OTHER") if closed_for else None,
        }

    def _appointments(
        self, facility: dict[str, Any], terminal: TerminalRecord, raw: dict[str, Any]
    ) -> None:
        """A terminal's appointment rule and slots, as far as the source offers them; slots
        of a kind or status the schema does not know are skipped."""
        if USES_APPOINTMENTS in self.offers:
            terminal["usesAppointments"] = bool(raw["appointments_required"])
        if APPOINTMENT_SLOTS not in self.offers:
            return
        slots: list[AppointmentSlotRecord] = [
            {
                "startDateTime": self._time(facility, slot["from"]),
                "endDateTime": self._time(facility, slot["to"]),
                "transaction": TRANSACTIONS[slot["appt_type"]],
                "availability": SLOT_AVAILABILITY[slot["status"]],
                "appointmentsLeft": slot.get("remaining"),
            }
            for slot in raw.get("slots") or []
            if slot["appt_type"] in TRANSACTIONS and slot["status"] in SLOT_AVAILABILITY
        ]
        terminal["appointmentSlots"] = slots

    @staticmethod
    def _empty_returns(terminals: dict[str, TerminalRecord], raw: list[dict[str, Any]]) -> None:
        """The rules, by terminal: a terminal the answer names no rule of has none."""
        by_terminal: dict[str, list[EmptyReturnRuleRecord]] = {code: [] for code in terminals}
        for rule in raw:
            day = _us_date(rule["date"])
            if rule["terminal_id"] not in by_terminal or day is None:
                continue
            by_terminal[rule["terminal_id"]].append(
                {
                    "date": day,
                    "carrierSCACCode": rule["ssl_scac"],
                    "ISOEquipmentCode": rule["size_type"],
                    "accepted": rule["receiving"] == "Y",
                }
            )
        for code, rules in by_terminal.items():
            terminals[code]["emptyReturns"] = rules

    def _cut_offs(self, facility: dict[str, Any], raw: dict[str, Any]) -> list[CutOffTimeRecord]:
        """A visit's cut-offs in time order; keys the schema has no code for are skipped."""
        found: list[CutOffTimeRecord] = [
            {
                "cutOffDateTimeCode": CUT_OFFS[key][0],
                "cutOffDateTime": self._time(facility, value),
                "reefer": CUT_OFFS[key][1],
            }
            for key, value in raw.items()
            if key in CUT_OFFS and value
        ]
        return sorted(found, key=lambda c: c["cutOffDateTime"])

    def _rail(self, facility: dict[str, Any], raw: dict[str, Any]) -> RailLegRecord:
        ramp = raw.get("ramp")
        loaded = raw.get("loaded_ts")
        return {
            "onDock": bool(raw["on_dock"]),
            "railCarrierSCACCode": RAILROADS.get(raw.get("railroad") or ""),
            "destinationRamp": {"locationName": ramp.get("name"), "UNLocationCode": ramp["locode"]}
            if ramp
            else None,
            "loadedOnRailDateTime": _epoch(loaded) if loaded is not None else None,
            "departureDateTime": self._local(facility, raw.get("departs")),
            "departureClassifierCode": CLASSIFIERS.get(raw.get("departure_stage") or ""),
        }

    @staticmethod
    def _vessel(raw: dict[str, Any]) -> VesselRecord:
        return {
            "vesselIMONumber": raw["imo"],
            "MMSINumber": raw.get("mmsi"),
            "vesselName": raw.get("name"),
            "vesselFlag": raw.get("flag"),
            "vesselCallSign": raw.get("call_sign"),
            "vesselOperatorSMDGLinerCode": raw.get("liner_code"),
            "vesselOperatorSCACCode": raw.get("scac"),
        }

    def _event(
        self, facility: dict[str, Any], box: dict[str, Any], raw: dict[str, Any]
    ) -> EquipmentEventRecord | None:
        if raw["move_type"] not in EVENT_TYPES or raw["stage"] not in CLASSIFIERS:
            return None
        code = raw["terminal_id"]
        terminal = facility["terminals"].get(code, {})
        laden = raw.get("full_empty") == "F"
        event: EquipmentEventRecord = {
            "eventID": raw["move_id"],
            "eventCreatedDateTime": _epoch(raw["logged_ts"]) if raw.get("logged_ts") else None,
            "eventDateTime": _epoch(raw["ts"]),
            "eventClassifierCode": CLASSIFIERS[raw["stage"]],
            "equipmentEventTypeCode": EVENT_TYPES[raw["move_type"]],
            "ISOEquipmentCode": box.get("size_type"),
            "emptyIndicatorCode": EMPTY_INDICATORS.get(raw.get("full_empty", "")),
            "eventLocation": {
                "locationName": terminal.get("terminal_name"),
                "UNLocationCode": facility["port_code"],
                "facilityCode": code,
                "facilityCodeListProvider": "SMDG",
                "latitude": terminal.get("lat"),
                "longitude": terminal.get("lon"),
            },
            "seals": [
                {"sealNumber": s["no"], "sealSource": s.get("by"), "sealType": s.get("kind")}
                for s in raw.get("seals") or []
            ]
            or None,
            "documentReferences": [
                {"documentReferenceType": kind, "documentReferenceValue": box[key]}
                for kind, key in (("BKG", "booking_no"), ("TRD", "bl_no"))
                if laden and box.get(key)
            ]
            or None,
        }
        visit = raw.get("vessel_visit")
        if visit:
            event["transportCall"] = {
                "transportCallReference": visit["visit_id"],
                "portVisitReference": visit.get("port_visit_no"),
                "transportCallSequenceNumber": visit.get("rotation_no"),
                "carrierImportVoyageNumber": visit.get("voyage_in"),
                "carrierExportVoyageNumber": visit.get("voyage_out"),
                "UNLocationCode": facility["port_code"],
                "facilityCode": code,
                "facilityCodeListProvider": "SMDG",
                "facilityTypeCode": "POTE",
                "modeOfTransport": "VESSEL",
                "vessel": self._vessel(visit["vessel"]) if visit.get("vessel") else None,
            }
        elif raw.get("train"):
            event["transportCall"] = {
                "transportCallReference": raw["train"],
                "UNLocationCode": facility["port_code"],
                "facilityCode": code,
                "facilityCodeListProvider": "SMDG",
                "facilityTypeCode": "POTE",
                "modeOfTransport": "RAIL",
            }
        return event

    def _container(self, facility: dict[str, Any], raw: dict[str, Any]) -> ContainerRecord:
        events = [e for m in raw["moves"] if (e := self._event(facility, raw, m)) is not None]
        done = [
            m for m in raw["moves"] if m["stage"] == "Done" and m["move_type"] in MOVES_OF_THE_BOX
        ]
        yard = raw.get("yard")
        location: ContainerLocationRecord | None = None
        facility_code = max(done, key=lambda m: int(m["ts"]))["terminal_id"] if done else None
        if facility_code is None and yard:  # no moves shared, but the box is in the yard
            facility_code = raw["terminal_id"]
        if facility_code is not None:
            terminal = facility["terminals"].get(facility_code, {})
            location = {
                "UNLocationCode": facility["port_code"],
                "facilitySMDGCode": facility_code,
                "terminalName": terminal.get("terminal_name"),
                "yardBlock": yard["block"] if yard else None,
            }
        status = raw.get("import_status")
        record: ContainerRecord = {
            "equipmentReference": raw["container_no"],
            "ISOEquipmentCode": raw.get("size_type"),
            "emptyIndicatorCode": EMPTY_INDICATORS.get(raw.get("full_empty", "")),
            "location": location,
            "availability": self._availability(facility, status) if status else None,
            "events": events,
        }
        if RAIL_LEG in self.offers:
            rail = raw.get("rail")
            record["railLeg"] = self._rail(facility, rail) if rail else None
        return record

    def _availability(
        self, facility: dict[str, Any], raw: dict[str, Any]
    ) -> ImportAvailabilityRecord:
        holds: list[HoldRecord] = [
            {
                "type": HOLD_TYPES.get(h["hold_code"], "OTHER"),
                "status": HOLD_STATUSES[h["state"]],
                "description": h.get("note"),
                "updatedDateTime": self._local(facility, h.get("changed")),
            }
            for h in raw.get("holds") or []
        ]
        cents = raw.get("fees_due_cents")
        record: ImportAvailabilityRecord = {
            "availableForPickup": raw.get("pickup_ok"),
            "holds": holds,
            "firstAvailableDate": _us_date(raw.get("first_available")),
            "lastFreeDay": _us_date(raw.get("last_free_day")),
            "outstandingFeesUSD": None if cents is None else cents / 100,
        }
        if EMPTY_RETURN_DEADLINE in self.offers:
            record["emptyReturnDeadline"] = _us_date(raw.get("empty_due"))
        return record

    def _visit(self, facility: dict[str, Any], raw: dict[str, Any]) -> VesselCallRecord:
        window = raw["berth_window"]
        planned = self._local(facility, window["planned_arrival"])
        if planned is None:
            raise ValueError(f"visit {raw['visit_id']} has no planned arrival")
        phase = PHASES.get(raw.get("visit_state", ""))
        call: VesselCallRecord = {
            "transportCallReference": raw["visit_id"],
            "UNLocationCode": facility["port_code"],
            "facilitySMDGCode": raw.get("terminal_id"),
            "vessel": self._vessel(raw["vessel"]) if raw.get("vessel") else None,
            "carrierServiceCode": raw.get("service"),
            "carrierImportVoyageNumber": raw.get("voyage_in"),
            "carrierExportVoyageNumber": raw.get("voyage_out"),
            "statusCode": "OMIT" if phase == "OMITTED" else None,
            "phase": phase,
            "plannedArrivalDateTime": planned,
            "estimatedArrivalDateTime": self._local(facility, raw.get("eta")),
            "actualArrivalDateTime": self._local(facility, raw.get("ata")),
            "plannedDepartureDateTime": self._local(facility, window.get("planned_departure")),
            "estimatedDepartureDateTime": self._local(facility, raw.get("etd")),
            "actualDepartureDateTime": self._local(facility, raw.get("atd")),
            "anchorageArrivalDateTime": self._local(facility, raw.get("anchored_at")),
            "pilotBoardingDateTime": self._local(facility, raw.get("pilot_on")),
            "portVisitReference": raw.get("port_visit_no"),
            "transportCallSequenceNumber": raw.get("rotation_no"),
            "delayReasonCode": raw.get("delay_code"),
            "changeRemark": raw.get("remark"),
        }
        if CUT_OFF_TIMES in self.offers:
            cut_offs = raw.get("cutoffs")
            call["cutOffTimes"] = None if cut_offs is None else self._cut_offs(facility, cut_offs)
        return call
