"""The labor rule (Cal. Gov. Code 12100.131(b)(3)): keys that name labor data, in every
spelling and with their families, and free text that names people, quay roles, shifts or
rates; with no false alarm on the shared schema, DCSA Track & Trace 2.2, the simulated port
systems' own payloads, or ordinary cargo text."""

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from port_resolvers.sim.data import containers_only_at, generate_all_ports
from port_resolvers.sim.systems import create_port_system
from portcontract import schema_sdl
from portcontract.labor import ALLOWED_KEYS, drop_labor_keys, is_labor_key, labor_text_reason


@pytest.mark.parametrize(
    "key",
    [
        "craneOperatorID", "crane_operator_id", "gangID", "shiftCode", "clerkID", "driverName",
        "truckLicensePlate", "twicCardNumber", "movesPerHour", "moves_per_hour",
        "grossMovesPerHour", "workerId", "rfidTag", "boxesPerHour",
    ],
)  # fmt: skip
def test_labor_keys_are_recognised(key: str) -> None:
    assert is_labor_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "equipmentReference", "vesselOperatorSMDGLinerCode", "eventDateTime", "yardBlock",
        "sampleSize", "UNLocationCode", "facilityCode", "facilitySMDGCode",
        "TRUCK_TURN_TIME_MINUTES",
        "vesselOperatorCarrierCode", "vesselOperatorCarrierCodeListProvider",
        # "by" and "per" that do not say who did it or how fast
        "sortByCreatedDate", "orderByUpdatedTime", "perDiemDays", "demurragePerDay",
        # the company that runs a vessel or a terminal, and words that only end like an id
        "terminalOperator", "vesselOperator", "carrierOperator", "checkdigit", "powder",
        "planned",
    ],
)  # fmt: skip
def test_cargo_keys_are_not_labor(key: str) -> None:
    assert not is_labor_key(key)


def test_drop_labor_keys_at_any_depth() -> None:
    payload = {
        "equipmentReference": "CSQU3054383",
        "events": [{"eventID": "1", "craneOperatorID": "OP7", "gang": {"gangID": "G1"}}],
        "yard": {"block": "B12", "clerk_id": "C9"},
    }
    assert drop_labor_keys(payload) == {
        "equipmentReference": "CSQU3054383",
        "events": [{"eventID": "1"}],
        "yard": {"block": "B12"},
    }


def test_no_name_of_the_shared_schema_is_a_labor_key() -> None:
    names = schema_names(schema_sdl())
    assert len(names) > 100
    assert sorted(n for n in names if is_labor_key(n)) == []


# Names that mark data tracking or monitoring labor (Cal. Gov. Code 12100.131(b)(3)),
# listed here independently of portcontract.labor so that the scan does not only test itself.
LABOR_NAME_PARTS = (
    "driver", "worker", "employee", "gang", "shift", "crane", "clerk", "longshore", "ilwu",
    "crew", "person", "people", "operator", "productivity", "licence", "license", "twic",
    "rfid", "plate", "gps", "badge", "lane", "moves", "movecount", "perhour", "perhr",
)  # fmt: skip


def schema_names(sdl: str) -> set[str]:
    """Every name the schema declares: types, fields, arguments, enum values, input fields."""
    from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, build_schema

    schema = build_schema(sdl)
    names = set()
    for type_name, type_ in schema.type_map.items():
        if type_name.startswith("__"):
            continue
        names.add(type_name)
        if isinstance(type_, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in type_.fields.items():
                names.add(field_name)
                names.update(getattr(field, "args", {}) or {})
        elif isinstance(type_, GraphQLEnumType):
            names.update(type_.values)
    return names


def labor_names(names: set[str]) -> list[str]:
    """Names containing a labor word, except a vessel's or terminal's operating company."""
    found = []
    for name in names:
        flat = name.lower().replace("_", "")
        if flat in ALLOWED_KEYS:
            continue
        if any(part in flat for part in LABOR_NAME_PARTS):
            found.append(name)
    return sorted(found)


def test_the_exported_schema_has_no_labor_names() -> None:
    names = schema_names(schema_sdl())
    assert len(names) > 100  # the scan reached types, fields, arguments and enum values
    assert labor_names(names) == []


def test_the_scan_would_catch_a_labor_field_and_keeps_the_operating_company() -> None:
    planted = (
        schema_sdl().replace(
            "type Container {", "type Container {\n  craneOperatorID: String\n  gangShift: String"
        )
        + "\nenum WorkerRole { CLERK }\n"
    )
    assert labor_names(schema_names(planted)) == [
        "CLERK",
        "WorkerRole",
        "craneOperatorID",
        "gangShift",
    ]
    assert "vesselOperatorSMDGLinerCode" in schema_names(schema_sdl())  # the carrier stays


# -- the keys of issue 15 and their families ------------------------------------------------

ISSUE_KEYS = (
    "craneId", "qcId", "cheId", "rtgId", "powId", "pointOfWork", "workQueue", "userId",
    "createdBy", "handledBy", "checker", "foreman", "walkingBoss", "lasherId", "tractorId",
    "truckNumber", "truckTag", "GMPH", "NMPH", "BMPH", "hoot",
)  # fmt: skip


def spellings(key: str) -> list[str]:
    """camelCase, snake_case, PascalCase, kebab-case, SCREAMING_CASE, and all in one word in
    lower and in upper case, of one key."""
    words, word = [], ""
    for char in key:
        if char.isupper() and word and not word[-1].isupper():
            words.append(word)
            word = ""
        word += char
    words.append(word)
    lower = [w.lower() for w in words]
    return [
        key,
        "_".join(lower),
        "".join(w.capitalize() for w in lower),
        "-".join(lower),
        "_".join(lower).upper(),
        "".join(lower),
        "".join(lower).upper(),
    ]


@pytest.mark.parametrize("key", ISSUE_KEYS)
def test_every_key_of_the_issue_is_caught_in_every_spelling(key: str) -> None:
    assert [s for s in spellings(key) if not is_labor_key(s)] == []


@pytest.mark.parametrize(
    "key",
    [
        # a person, a role, a shift or an identity: each word on its own, beside a neutral one
        "workersCount", "employeeRef", "employeesCount", "personnelList", "staffCount",
        "operatorRef", "operatorsCount", "clerksCount", "gangsWorking", "crewsCount",
        "longshoreLocal", "longshoremanRef", "longshoremenCount", "ilwuLocal", "personRef",
        "personsCount", "peopleCount", "usersCount", "checkersCount", "foremenCount",
        "lashersCount", "bossRef", "supervisorRef", "dispatcherRef", "signalmanRef",
        "hatchbossRef", "walkingbossRef", "shiftsWorked", "driversCount", "licenceExpiry",
        "licenseExpiry", "plateImage", "gpsTrace", "badgeExpiry",
        # equipment whose logs name its operator, and rates
        "cranesWorking", "qcsWorking", "stsUnit", "rtgsWorking", "rmgsWorking", "tractorsCount",
        "reachstackerRef", "toplifterRef", "avgMph", "productivityIndex",
        # who did something
        "approvedBy", "assigned_by", "changedBy", "CHECKED_BY", "completedBy", "recordCreatedBy",
        "enteredBy", "lastHandledBy", "inspectedBy", "liftedBy", "loggedBy", "movedBy",
        "operatedBy", "performedBy", "processedBy", "recordedBy", "scannedBy", "signedBy",
        "submittedBy", "workedBy",
        # two words that say it together
        "liftRate", "liftsCount", "dailyMoveCount", "movesCount", "movesRate", "pointOfWorkRef",
        "truck_id_hash", "truckNo", "truckNum", "truck_number_masked", "truckTagValue",
        "truckVisitRef",
    ],
)  # fmt: skip
def test_each_word_and_pair_of_the_rule_marks_a_key_on_its_own(key: str) -> None:
    assert is_labor_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "movesperhour", "MOVESPERHR", "grossmovesperhour", "netmovesperhour",
        "cranemovesperhour", "cranerate", "berthproductivity", "pertruckturntime",
        "truckturntimebytruck", "truckid", "truckplate", "truckvisitid", "licenceplate",
        "licenseplate", "cranemoves", "movecount", "movesperinterval", "wq", "workqueue",
        "pointofwork", "createdby", "handledby", "trucknumber", "trucktag",
        # a labor word run together with what identifies it
        "craneid", "gangno", "GANGNUM", "drivername", "shiftcode", "rtgids", "lanetag",
        "operatornumber",
    ],
)  # fmt: skip
def test_keys_written_in_one_case_are_caught(key: str) -> None:
    """A key in one case, all lower or all upper, cannot be split into its words."""
    assert is_labor_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "craneID", "crane_no", "quayCraneNumber", "QCNumber", "stsCraneId", "rtg_operator",
        "rmgId", "strad_id", "straddleCarrierId", "utrId", "yardTractorNo", "powCode",
        "work_queue_id", "workInstructionId", "user_name", "username", "updatedBy",
        "released_by", "modifiedBy", "checkerName", "foremanId", "walking_boss_name",
        "lasherCount", "lashingGangId", "truck_number", "truckTagId", "truckVisitId",
        "gross_moves_per_hour", "liftsPerHour", "moveCount", "total_moves", "hootShift",
        "supervisorBadge", "gateTransactionId", "laneNumber", "berthProductivity",
        "lastUpdatedBy", "last_modified_by", "boxesPerHr", "teu_per_h",
        "containersPerWorkingHours", "approvedBy2", "approved_by_1",
    ],
)  # fmt: skip
def test_families_of_labor_keys_are_caught(key: str) -> None:
    assert is_labor_key(key)


# Every property, parameter and code of the DCSA Track & Trace 2.2 API (OpenAPI, bundled from
# dcsaorg/DCSA-OpenAPI 5d0f833: TNT_v2.2.0 with its domain components), written out here.
DCSA_TNT_22_NAMES = (
    "AAO", "ACT", "API-Version", "APPR", "ARN", "ARRI", "BARGE", "BIC", "BKG", "BKG (Booking)",
    "BLT", "BOCR", "BOK", "BOL", "CAR", "CAS", "CBR", "CLOC", "CMPL", "COFS", "CONF", "COYA",
    "CR", "CUS", "DEPA", "DEPO", "DGD", "DISC", "DRFT", "DROP", "EMPTY", "EQ", "EQUIPMENT", "EST",
    "FF", "GTIN", "GTOT", "HOLD", "INSP", "INTE", "ISOEquipmentCode", "ISSU", "KLP", "LADEN",
    "LOAD", "NMFTA", "Notification-Signature", "OFFD", "OOG", "PENA", "PENU", "PHY", "PICK",
    "PLN", "PO", "POTE", "RAIL", "RAMP", "RECE", "REJE", "RELS", "REQS", "RMVD", "RSEA", "SHI",
    "SHIPMENT", "SI", "SMDG", "SRM", "STRP", "STUF", "SUBM", "SURR", "SWB", "Signature",
    "Subscription-ID", "TRANSPORT", "TRD", "TRD (Transport Document)", "TRUCK", "UNLocationCode",
    "VESSEL", "VET", "VGM", "VOID", "WIR", "address", "bookingReference", "callbackUrl",
    "carrierBookingReference", "carrierServiceCode", "carrierVoyageNumber", "changeRemark",
    "city", "country", "created", "cursor", "delayReasonCode", "documentID",
    "documentReferenceType", "documentReferenceValue", "documentReferences", "documentTypeCode",
    "emptyIndicatorCode", "equipmentEventTypeCode", "equipmentReference", "errorDateTime",
    "errors", "eventClassifierCode", "eventCreatedDateTime", "eventDateTime", "eventID",
    "eventLocation", "eventType", "eventTypeCode", "exportVoyageNumber", "facilityCode",
    "facilityCodeListProvider", "facilityTypeCode", "floor", "headers", "httpMethod",
    "importVoyageNumber", "keyId", "latitude", "limit", "location", "locationName", "longitude",
    "message", "modeOfTransport", "name", "otherFacility", "postCode", "reason", "referenceType",
    "referenceValue", "references", "requestUri", "scheduleID", "sealNumber", "sealSource",
    "sealType", "seals", "secret", "shipmentEventTypeCode", "shipmentID",
    "shipmentInformationTypeCode", "signature", "sort", "stateRegion", "statusCode",
    "statusCodeText", "street", "streetNumber", "subscriptionID", "transportCall",
    "transportCallID", "transportCallSequenceNumber", "transportDocumentID",
    "transportDocumentReference", "transportDocumentTypeCode", "transportEventTypeCode", "vessel",
    "vesselCallSignNumber", "vesselFlag", "vesselIMONumber", "vesselName",
    "vesselOperatorCarrierCode", "vesselOperatorCarrierCodeListProvider",
    "vesselScheduleChangeRemark",
)  # fmt: skip


def test_no_name_of_dcsa_track_and_trace_is_a_labor_key() -> None:
    assert len(DCSA_TNT_22_NAMES) == 171
    assert [name for name in DCSA_TNT_22_NAMES if is_labor_key(name)] == []


def keys_of(payload: Any) -> set[str]:
    if isinstance(payload, dict):
        return set(payload) | {k for v in payload.values() for k in keys_of(v)}
    if isinstance(payload, list):
        return {k for item in payload for k in keys_of(item)}
    return set()


async def test_the_simulated_systems_own_keys_pass_and_their_leaked_labor_keys_do_not() -> None:
    """Every key the simulated port systems send (terminal API and DCSA T&T), knobs off; then,
    with the labor-keys knob on, every key they add is caught."""
    now = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
    data = generate_all_ports(seed=2026, now=now)

    async def payload_keys(port_id: str, leaky: bool) -> set[str]:
        system = create_port_system(port_id, data=data[port_id], seed=2026)
        system.knobs.labor_keys = leaky
        ids = ",".join(b.reference for b in containers_only_at(data, port_id)[:20])
        imo = data[port_id].vessel_calls[0].vessel.imo
        paths = ["/api/v1/facility", f"/api/v1/containers?ids={ids}", "/api/v1/vessel-visits",
                 f"/api/v1/vessels/{imo}", "/api/v1/stats?window=90d"]  # fmt: skip
        if port_id in ("USLAX", "USOAK"):
            paths += ["/v2/events?eventType=EQUIPMENT", "/v2/events?eventType=TRANSPORT"]
        transport = httpx.ASGITransport(app=system.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as client:
            keys: set[str] = set()
            for path in paths:
                response = await client.get(path)
                assert response.status_code == 200, path
                keys |= keys_of(response.json())
        return keys

    clean = set().union(*[await payload_keys(p, False) for p in ("USLAX", "USLGB")])
    assert {"moves", "move_id", "vessel_visit", "eventID", "largest_call_teu"} <= clean
    assert sorted(k for k in clean if is_labor_key(k)) == []
    leaked = set().union(*[await payload_keys(p, True) for p in ("USLAX", "USLGB")]) - clean
    assert leaked, "the knob adds labor keys"
    assert sorted(k for k in leaked if not is_labor_key(k)) == []


# -- free text ----------------------------------------------------------------------------------

LABOR_TEXT = {
    "names a person": [
        "Released by J. Smith",
        "released by J Smith at 14:02",
        "handled by Maria",
        "Hold lifted by John Okafor",
        "operator Maria",
        "Operator 7 on block B",
        "clerk 12",
        "Checker #4",
        "driver Luis Ortega",
        "Contact Mr. Alvarez",
        "signed by Smith, J.",
        "questions: k.nguyen@terminal.example",
        "Foreman Davis",
        "inspected by Officer Kim",
        "dispatcher Jones",
        "inspector Lee",
        "lasher 4",
        "officer Kim",
        "supervisor Diaz",
        "Mrs. Lopez",
        "Ms Chen",
        "Mx. Rivera",
        "Miss Patel",
        "Dr. Osei",
        "Exam booked by Nguyen, K.",
        # surnames that are also places, months or times: the name is still a person's
        "released by John Long",
        "Hold released by Ann May at 14:02",
        "released by May Chen",
        "handled by Maria today",
        "checked by Luis West",
    ],
    "names a role on the quay": [
        "foreman on site",
        "walking boss approval pending",
        "lasher shortage",
        "checkers re-scanning",
        "gang 3",
        "crane operator break",
        "waiting for gang",
        "longshoremen at B",
        "RTG driver",
        "stevedore crew not available",
        "signal man on deck",
        "signal men at hatch 2",
        "walking bosses on break",
        "checker at gate 3",
        "clerk on break",
        "clerks on break",
        "crew on break",
        "crews changing",
        "dispatcher on leave",
        "dispatchers busy",
        "RTG drivers on break",
        "foremen meeting",
        "gangs reassigned",
        "lashers needed",
        "longshore workers",
        "longshoreman on site",
        "crane operators on break",
        "signalman on deck",
        "signalmen on deck",
        "stevedore on site",
        "stevedores on site",
        "supervisor on site",
        "supervisors on site",
        "QC operator on break",
        "STS operators",
        "RMG driver",
        "CHE driver",
        "straddle carrier driver",
        "tractor driver",
        "hatch boss on deck",
    ],
    "names a shift": [
        "first shift",
        "Second shift only",
        "3rd shift",
        "worked on hoot",
        "hoot-owl gang",
        "night shift",
        "day-shift pickup",
        "shift change at 17:00",
        "swing shift",
        "shift2 pickup only",
        "Shift3",
        "hootowl pickup",
        "night shifts only",
        "third shift",
        "1st shift",
        "2nd shift",
        "graveyard shift",
        "owl shift",
        "shift start 08:00",
        "after shift end",
        "paid per shift",
    ],
    "gives a per-hour work rate": [
        "32 moves/hr",
        "30 moves per hour",
        "30 movesper hour",
        "40 movesperhour",
        "28 liftsperhr",
        "GMPH 28",
        "NMPH: 24.5",
        "bmph 31",
        "40 lifts/h",
        "25 boxes an hour",
        "crane productivity low",
        "28 moves per crane hour",
        "27 cntrs per gang hour",
        "18 cntr/hr",
        "30 containers per hour",
        "40 cycles/h",
        "move/hr target 30",
        "lift/h: 25",
        "12 picks per hour",
        "22 teu/hr",
        "30 moves a hr",
        "30 boxes per crane hour",
        "27 boxes per berth hour",
        "40 containers per man-hour",
        "35 cntrs per working hour",
        "30 teu per net hour",
        "32 boxes per gross hour",
        "30 moves per crane",
        "lifts per gang",
        "moves per shift",
        "lifts per man",
    ],
    "holds a labor data key": [
        "crane_moves_per_hour",
        "figure=crane_moves_per_hour",
        "see craneOperatorId",
        "qc_id=QC07",
        "walking_boss_id 33",
    ],
}
# Someone named after any of the verbs that say who did something to a box or a record.
DONE_BY_VERBS = (
    "created", "updated", "modified", "changed", "handled", "performed", "operated", "logged",
    "entered", "keyed", "recorded", "approved", "released", "assigned", "checked", "inspected",
    "scanned", "processed", "signed", "submitted", "completed", "worked", "moved", "lifted",
    "placed", "removed", "cleared",
)  # fmt: skip
LABOR_TEXT["names a person"] += [f"{verb} by Dana Whitfield" for verb in DONE_BY_VERBS]
LABOR_EXAMPLES = [(text, reason) for reason, texts in LABOR_TEXT.items() for text in texts]


@pytest.mark.parametrize(("text", "reason"), LABOR_EXAMPLES)
def test_labor_text_is_flagged_with_its_reason(text: str, reason: str) -> None:
    assert labor_text_reason(text) == reason


def test_the_reason_never_repeats_the_text() -> None:
    for text, _ in LABOR_EXAMPLES:
        reason = labor_text_reason(text)
        assert reason is not None
        names = [w for w in text.replace(".", " ").split() if w[:1].isupper() and len(w) > 2]
        assert [n for n in names if n.lower() in reason] == [], (text, reason)


HOLD_REASONS = [
    "Customs exam required", "CBP hold - intensive exam", "CBP entry not yet released",
    "USDA inspection required", "USDA inspection pending, fumigation ordered",
    "Freight charges unpaid", "Freight not released by ocean carrier", "Carrier release pending",
    "Line hold: unpaid demurrage", "TMF not paid", "Traffic Mitigation Fee due",
    "Released by Customs", "Held by CBP for document review", "Release expected by Friday",
    "Awaiting release by Customs Broker", "Released by carrier", "Hold placed by Line",
    "Exam at CES by 12/05", "Held by U.S. Customs and Border Protection",
    "Released by Hapag Lloyd", "FDA may proceed", "Fish and Wildlife inspection",
    "Released by Smith Trucking", "Released by Long Beach Customs", "Released by Union Pacific",
    "Released by Ocean Network Express", "Cleared by Port Police", "Hold placed by Matson",
    "Cargo shifted in container: re-stow required", "Reefer unit alarm, PTI required",
    "Overweight: 32,500 kg, permit required", "Hazmat IMDG 3 documentation missing",
    "Chassis not available", "Appointment required for pickup", "Vessel delayed by weather",
    "Operated by West Basin Container Terminal", "Moved to CFS for stripping",
    "Demurrage $175.00/day after last free day", "Per diem applies after 4 days",
    "Storage charged per day, not per hour", "Container on rail, ramp ETA 2026-12-03",
]  # fmt: skip
FACILITIES = [
    "APM Pier 400", "Everport", "Fenix Marine", "TraPac", "West Basin", "Yusen",
    "Long Beach Container Terminal", "Total Terminals Intl", "Pacific Container Terminal",
    "SSA Pier A", "Intl Transportation Service", "OICT", "Ben E. Nutter (Everport)",
    "Tenth Avenue Marine Terminal", "Port Hueneme", "Port of Los Angeles",
    "Port of Long Beach", "Port of Oakland", "Port of San Diego", "Port of Hueneme",
    "Pier 400, Terminal Island", "National City Marine Terminal", "Howard Terminal",
    "Matson Navigation Terminal", "Pasha Hawaii", "Shippers Transport Express",
]  # fmt: skip
# The company that runs a vessel or a terminal is not a person, though an operator named is.
OPERATING_COMPANIES = [
    "Vessel operator Matson", "Terminal operator Everport", "Carrier operator Hapag Lloyd",
    "Ocean operator Evergreen", "Liner operator Maersk", "Rail operator Union Pacific",
]  # fmt: skip
VESSELS = [
    "MSC GULSUN", "EVER GIVEN", "CMA CGM JACQUES SAADE", "MAERSK MC-KINNEY MOLLER",
    "HMM ALGECIRAS", "ONE APUS", "YM WELLNESS", "ZIM KINGSTON", "COSCO SHIPPING UNIVERSE",
    "APL PRESIDENT LINCOLN", "MATSONIA", "DANIEL K. INOUYE", "MANUKAI", "MSC ANNA",
    "CMA CGM MARCO POLO", "OOCL HONG KONG", "Ever Ace", "Madrid Maersk", "Seaspan Swan",
]  # fmt: skip


@pytest.mark.parametrize("text", HOLD_REASONS + FACILITIES + OPERATING_COMPANIES + VESSELS)
def test_ordinary_cargo_text_is_let_through(text: str) -> None:
    assert labor_text_reason(text) is None


def test_the_simulated_ports_own_text_is_let_through() -> None:
    texts: set[str] = set()
    for seed in (7, 2024, 2026):
        for data in generate_all_ports(seed=seed, now=datetime(2026, 11, 21, tzinfo=UTC)).values():
            texts |= {data.port.name, *(t.name for t in data.port.terminals)}
            texts |= {c.vessel.name for c in data.vessel_calls}
            texts |= {h.description for b in data.containers if b.availability
                      for h in b.availability.holds}  # fmt: skip
    assert len(texts) > 100
    assert sorted(t for t in texts if labor_text_reason(t)) == []
