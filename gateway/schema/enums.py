"""Code lists of the shared schema. Names and values follow DCSA where DCSA has a code list."""

from enum import Enum

import strawberry


@strawberry.enum(
    description="DCSA eventClassifierCode: planned, estimated, actual, or requested (JIT)."
)
class EventClassifierCode(Enum):
    PLN = strawberry.enum_value("PLN", description="Planned")
    EST = strawberry.enum_value("EST", description="Estimated")
    ACT = strawberry.enum_value("ACT", description="Actual")
    REQ = strawberry.enum_value(
        "REQ", description="Requested, e.g. a terminal's requested berth arrival (JIT RTA)"
    )


@strawberry.enum(
    description="DCSA equipmentEventTypeCode (Track & Trace 2.2, and the codes DCSA added in "
    "its event domain 3). OTHER stands for a code newer than this schema: the event's "
    "sourceEquipmentEventTypeCode holds it as the port sent it."
)
class EquipmentEventTypeCode(Enum):
    LOAD = strawberry.enum_value(
        "LOAD", description="Loaded onto a means of transport: vessel, barge, train or truck"
    )
    DISC = strawberry.enum_value(
        "DISC", description="Discharged from a means of transport: vessel, barge, train or truck"
    )
    GTIN = strawberry.enum_value("GTIN", description="Gated in to a terminal or depot")
    GTOT = strawberry.enum_value("GTOT", description="Gated out of a terminal or depot")
    STUF = strawberry.enum_value("STUF", description="Stuffed: cargo loaded into the container")
    STRP = strawberry.enum_value("STRP", description="Stripped: cargo unloaded from the container")
    PICK = strawberry.enum_value(
        "PICK", description="Picked up at the customer's premises (not the terminal gate)"
    )
    DROP = strawberry.enum_value(
        "DROP", description="Dropped off at the customer's premises (not the terminal gate)"
    )
    INSP = strawberry.enum_value(
        "INSP", description="Inspected: the seal was inspected (not a customs exam)"
    )
    RSEA = strawberry.enum_value("RSEA", description="Resealed")
    RMVD = strawberry.enum_value("RMVD", description="Removed: the seal was removed")
    AVPU = strawberry.enum_value("AVPU", description="Available for pick-up")
    AVDO = strawberry.enum_value("AVDO", description="Available for drop-off")
    CUSS = strawberry.enum_value("CUSS", description="Customs selected the container for a scan")
    CUSI = strawberry.enum_value(
        "CUSI", description="Customs selected the container for inspection (an exam)"
    )
    CUSR = strawberry.enum_value("CUSR", description="Customs released the container")
    CROS = strawberry.enum_value("CROS", description="Crossed a border")
    OTHER = strawberry.enum_value(
        "OTHER",
        description="A code this schema does not know yet; sourceEquipmentEventTypeCode has it",
    )


@strawberry.enum(description="DCSA emptyIndicatorCode.")
class EmptyIndicatorCode(Enum):
    EMPTY = "EMPTY"
    LADEN = "LADEN"


@strawberry.enum(
    description="Where a container stands, derived from its latest actual event that moves it "
    "(seal, customs and availability events do not move it)."
)
class ContainerStatus(Enum):
    INBOUND = strawberry.enum_value(
        "INBOUND", description="On a vessel expected at the port: discharge planned or estimated"
    )
    IN_TERMINAL = strawberry.enum_value(
        "IN_TERMINAL",
        description="Discharged (from a vessel or a train) or gated in, and still in the terminal",
    )
    GATED_OUT = strawberry.enum_value(
        "GATED_OUT", description="Left the terminal through the gate, or loaded onto a truck"
    )
    LOADED = strawberry.enum_value("LOADED", description="Loaded onto an outbound vessel or barge")
    LOADED_ON_RAIL = strawberry.enum_value(
        "LOADED_ON_RAIL", description="Loaded onto a train (e.g. on-dock rail): leaves by rail"
    )
    DELIVERED_TO_CUSTOMER = strawberry.enum_value(
        "DELIVERED_TO_CUSTOMER", description="Dropped off at the customer's premises (DCSA DROP)"
    )
    COLLECTED_FROM_CUSTOMER = strawberry.enum_value(
        "COLLECTED_FROM_CUSTOMER",
        description="Picked up at the customer's premises (DCSA PICK), on its way",
    )


@strawberry.enum(description="Kind of hold on an import container.")
class HoldType(Enum):
    CUSTOMS = "CUSTOMS"
    FREIGHT = "FREIGHT"
    LINE = "LINE"
    USDA = "USDA"
    TMF = strawberry.enum_value("TMF", description="Traffic Mitigation Fee not paid")
    OTHER = "OTHER"


@strawberry.enum(description="Whether a hold is in force.")
class HoldStatus(Enum):
    HOLD = "HOLD"
    RELEASED = "RELEASED"


@strawberry.enum(description="DCSA modeOfTransport.")
class ModeOfTransport(Enum):
    VESSEL = "VESSEL"
    RAIL = "RAIL"
    TRUCK = "TRUCK"
    BARGE = "BARGE"


@strawberry.enum(description="DCSA transportEventTypeCode.")
class TransportEventTypeCode(Enum):
    ARRI = strawberry.enum_value("ARRI", description="Arrival")
    DEPA = strawberry.enum_value("DEPA", description="Departure")


@strawberry.enum(
    description="Where a vessel-call timestamp applies, as DCSA Just-In-Time Port Call 2.0 "
    "names the places (JIT 1: BRTH, ANCH, PBPL)."
)
class CallPlace(Enum):
    BERTH = strawberry.enum_value("BERTH", description="At the terminal's berth")
    ANCHORAGE = strawberry.enum_value("ANCHORAGE", description="At anchor, waiting for a berth")
    PILOT_BOARDING_PLACE = strawberry.enum_value(
        "PILOT_BOARDING_PLACE", description="Where the pilot boards on arrival"
    )


@strawberry.enum(description="DCSA facilityCodeListProvider: whose list a facility code is from.")
class FacilityCodeListProvider(Enum):
    SMDG = strawberry.enum_value("SMDG", description="SMDG terminal facility codes")
    BIC = strawberry.enum_value("BIC", description="BIC facility codes")


@strawberry.enum(description="DCSA documentReferenceType: what a document reference points to.")
class DocumentReferenceType(Enum):
    BKG = strawberry.enum_value("BKG", description="Booking (carrierBookingReference)")
    TRD = strawberry.enum_value(
        "TRD", description="Transport document: bill of lading or sea waybill"
    )


@strawberry.enum(description="DCSA sealSource: who affixed a seal.")
class SealSource(Enum):
    CAR = strawberry.enum_value("CAR", description="Carrier")
    SHI = strawberry.enum_value("SHI", description="Shipper")
    PHY = strawberry.enum_value("PHY", description="Phytosanitary")
    VET = strawberry.enum_value("VET", description="Veterinary")
    CUS = strawberry.enum_value("CUS", description="Customs")


@strawberry.enum(description="DCSA sealType.")
class SealType(Enum):
    KLP = strawberry.enum_value("KLP", description="Keyless padlock")
    BLT = strawberry.enum_value("BLT", description="Bolt")
    WIR = strawberry.enum_value("WIR", description="Wire")


@strawberry.enum(
    description="DCSA Operational Vessel Schedules transport call status code; null means the "
    "call is as scheduled."
)
class TransportCallStatusCode(Enum):
    OMIT = strawberry.enum_value("OMIT", description="Omitted")
    BLNK = strawberry.enum_value("BLNK", description="Blank sailing")
    ADHO = strawberry.enum_value("ADHO", description="Ad hoc call")
    PHOT = strawberry.enum_value("PHOT", description="Phase out")
    PHIN = strawberry.enum_value("PHIN", description="Phase in")
    ROTC = strawberry.enum_value("ROTC", description="Rotation change")
    SLID = strawberry.enum_value("SLID", description="Sliding")
    CUTR = strawberry.enum_value("CUTR", description="Cut and run")


@strawberry.enum(description="A port as the gateway sees it right now.")
class PortStatus(Enum):
    UP = strawberry.enum_value("UP", description="Its resolver answers")
    DEGRADED = strawberry.enum_value(
        "DEGRADED",
        description="Recovering or failing now and then: its last good answer may stand in",
    )
    DOWN = strawberry.enum_value(
        "DOWN", description="Not answering: its circuit breaker is open, or it just failed"
    )
    PAUSED = strawberry.enum_value(
        "PAUSED", description="Registered, but not asked until an administrator resumes it"
    )


@strawberry.enum(description="Where a vessel call stands now.")
class VesselCallPhase(Enum):
    SCHEDULED = "SCHEDULED"
    AT_ANCHOR = "AT_ANCHOR"
    AT_BERTH = "AT_BERTH"
    DEPARTED = "DEPARTED"
    OMITTED = "OMITTED"


@strawberry.enum(
    description="Port- or terminal-level aggregates. None of them is a per-hour rate or is tied "
    "to a person, a truck or a crane (labor-privacy law)."
)
class PortMetricType(Enum):
    CONTAINER_DWELL_DAYS = strawberry.enum_value(
        "CONTAINER_DWELL_DAYS",
        description="Mean days import containers stayed in the terminal, discharge to gate-out, "
        "counted in the week they left",
    )
    TRUCK_TURN_TIME_MINUTES = strawberry.enum_value(
        "TRUCK_TURN_TIME_MINUTES",
        description="Mean minutes of all truck visits, gate-in to gate-out (aggregate only), "
        "counted in the week the truck left",
    )
    VESSELS_AT_ANCHOR = strawberry.enum_value(
        "VESSELS_AT_ANCHOR",
        description="Container vessels waiting at anchor when counted (a public fact: no "
        "minimum sample size)",
    )
    VESSELS_AT_BERTH = strawberry.enum_value(
        "VESSELS_AT_BERTH",
        description="Container vessels at berth when counted (a public fact: no minimum sample "
        "size)",
    )
    TEU_DISCHARGED = strawberry.enum_value(
        "TEU_DISCHARGED",
        description="TEU discharged from vessels in the period (imports); shown only when every "
        "week had at least 3 vessel calls, none making more than half of the week's TEU",
    )
    TEU_LOADED = strawberry.enum_value(
        "TEU_LOADED",
        description="TEU loaded onto vessels in the period (exports); shown only when every "
        "week had at least 3 vessel calls, none making more than half of the week's TEU",
    )


@strawberry.enum(
    description="The period an aggregate covers: whole weeks (Monday 00:00 to Monday 00:00 in "
    "the port's time zone) ending at the last Monday 00:00 that has passed, never now. The "
    "answer is the same all week and changes by whole weeks; periodStart and periodEnd say "
    "exactly what is covered. Names keep their historical spelling: periods are whole weeks so "
    "that no two of them differ by less than a week."
)
class MetricPeriod(Enum):
    LAST_7_DAYS = strawberry.enum_value("LAST_7_DAYS", description="The last whole week")
    LAST_30_DAYS = strawberry.enum_value(
        "LAST_30_DAYS", description="The last 4 whole weeks (28 days)"
    )
    LAST_90_DAYS = strawberry.enum_value(
        "LAST_90_DAYS", description="The last 13 whole weeks (91 days)"
    )


@strawberry.enum(
    description="DCSA cutOffDateTimeCode (Operational Vessel Schedules 3, Booking 2): which "
    "deadline or opening of a vessel call a cut-off time is."
)
class CutOffDateTimeCode(Enum):
    DCO = strawberry.enum_value(
        "DCO", description="Documentation cut-off: shipping instructions for this call"
    )
    VCO = strawberry.enum_value(
        "VCO", description="Verified gross mass (VGM) cut-off: the box's weight declared"
    )
    FCO = strawberry.enum_value(
        "FCO", description="FCL delivery cut-off: the last moment a full container may gate in"
    )
    LCO = strawberry.enum_value("LCO", description="LCL delivery cut-off")
    EFC = strawberry.enum_value(
        "EFC", description="Earliest full-container delivery: when receiving opens for the call"
    )
    ECP = strawberry.enum_value("ECP", description="Empty container pick-up")


@strawberry.enum(description="Why a terminal's gate is closed on a day it would normally open.")
class GateClosureReason(Enum):
    HOLIDAY = strawberry.enum_value("HOLIDAY", description="A public or port holiday")
    WEATHER = strawberry.enum_value("WEATHER", description="Wind, fog or storm")
    MAINTENANCE = strawberry.enum_value(
        "MAINTENANCE", description="Work on the gate, the yard or its systems"
    )
    SECURITY = strawberry.enum_value("SECURITY", description="A security or safety incident")
    OTHER = "OTHER"


@strawberry.enum(description="What a truck comes to a terminal to do (appointment types).")
class TruckTransaction(Enum):
    IMPORT_PICKUP = strawberry.enum_value(
        "IMPORT_PICKUP", description="Pick up a full import container"
    )
    EXPORT_DROPOFF = strawberry.enum_value(
        "EXPORT_DROPOFF", description="Deliver a full export container for a vessel call"
    )
    EMPTY_RETURN = strawberry.enum_value("EMPTY_RETURN", description="Return an empty container")
    EMPTY_PICKUP = strawberry.enum_value("EMPTY_PICKUP", description="Pick up an empty container")


@strawberry.enum(description="How many truck appointments a time slot still has.")
class SlotAvailability(Enum):
    OPEN = strawberry.enum_value("OPEN", description="Appointments are easy to get")
    LIMITED = strawberry.enum_value("LIMITED", description="Few appointments are left")
    FULL = strawberry.enum_value("FULL", description="No appointment is left")
