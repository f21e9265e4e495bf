"""The example queries GraphiQL opens with: one tab per kind of user, as in the README.

The container numbers exist in the demo's data (the simulation's default seed).
"""

import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExampleTab:
    """One GraphiQL tab: a named query and, when it takes any, its variables as JSON text."""

    user: str
    query: str
    variables: str = ""


# GraphiQL parses the headers editor as strict JSON (no comments), so the hint is a key that the
# page's fetcher never sends: keys starting with "_" are dropped.
HEADERS_HINT = json.dumps(
    {
        "_hint": "the API key above is sent from every tab; a key or token set here is this "
        'tab\'s alone: "X-API-Key": "<key>" or "Authorization": "Bearer <token>"',
        "_note": "keys starting with _ are not sent",
    },
    indent=2,
)

TRUCKER = """# Trucker: is my box available, what holds, last free day, which yard block?
query TruckerPickup {
  container(reference: "MSCU9123450") {
    equipmentReference status sourcePort
    location { facilitySMDGCode terminalName yardBlock }
    availability { availableForPickup lastFreeDay holds { type status } outstandingFeesUSD }
  }
}
"""

CARGO_OWNER = """# Cargo owner: my containers across every port, with their events.
# myBill: the boxes of my bill of lading, wherever they are.
query CargoOwnerBoxes($refs: [String!]!) {
  containers(references: $refs) {
    equipmentReference sourcePort status lastEventDateTime
    availability { lastFreeDay emptyReturnDeadline holds { type status } }
    events { equipmentEventTypeCode eventClassifierCode eventDateTime
             transportCall { vessel { vesselName } } }
    railLeg { onDock railCarrierSCACCode destinationRamp { locationName }
              loadedOnRailDateTime departureDateTime departureClassifierCode }
  }
  myBill: containers(transportDocumentReference: "MSCU900000001") {
    equipmentReference sourcePort status
    events { equipmentEventTypeCode eventDateTime seals { sealNumber sealSource } }
  }
}
"""

PORT_OPERATOR = """# Port operator: vessel calls at every port in planned-arrival order,
# paged across ports. Pass pageInfo.endCursor as "after" in the variables for the next page.
query PortOperatorCalls($after: String) {
  vesselCalls(first: 20, after: $after) {
    edges { node {
      UNLocationCode facilitySMDGCode portVisitReference phase statusCode
      vessel { vesselName vesselIMONumber vesselOperatorSCACCode }
      plannedArrivalDateTime estimatedArrivalDateTime actualArrivalDateTime
      anchorageArrivalDateTime delayReasonCode changeRemark
    } }
    pageInfo { hasNextPage endCursor }
    totalCount
  }
}
"""

STATE_ANALYST = """# State analyst: aggregates only, each with its period and sample size.
query StateAnalystMetrics {
  portMetrics(period: LAST_30_DAYS, metrics: [TEU_DISCHARGED, TEU_LOADED, CONTAINER_DWELL_DAYS]) {
    UNLocationCode facilitySMDGCode metric value unit sampleSize periodStart periodEnd
  }
}
"""

TRUCKER_GATES = """# Trucker, next: when is the gate open, any appointments, where do empties go?
query TruckerGatesAndEmpties {
  ports(ports: ["USLGB"]) {
    UNLocationCode
    terminals {
      facilitySMDGCode name
      gateHours { date open closureReason periods { opensDateTime closesDateTime offPeak } }
      usesAppointments
      appointmentSlots { startDateTime transaction availability appointmentsLeft }
      emptyReturns { date carrierSCACCode ISOEquipmentCode accepted }
    }
  }
}
"""

EXPORTER = """# Exporter: when may my export box come (cut-offs), and has my booking's box gated in?
query ExporterCutOffs($booking: String!) {
  vesselCalls(first: 10, ports: ["USOAK"]) {
    nodes {
      UNLocationCode facilitySMDGCode vessel { vesselName } plannedArrivalDateTime
      cutOffTimes { cutOffDateTimeCode cutOffDateTime reefer }
    }
  }
  myBooking: containers(carrierBookingReference: $booking) {
    equipmentReference sourcePort status
    events { equipmentEventTypeCode eventClassifierCode eventDateTime }
  }
}
"""

TRUCKER_LIVE = """# Trucker, live: told when my box changes (one message per change).
subscription TruckerBoxUpdates {
  containerUpdates(references: ["MSCU9123450"]) {
    equipmentReference sourcePort status
    availability { availableForPickup lastFreeDay holds { type status } }
    events { equipmentEventTypeCode eventDateTime }
  }
}
"""

OPERATIONS_ROOM = """# Operations room, live: every port's outlook again whenever a figure changes.
subscription OperationsRoom {
  outlookUpdates(days: 2) {
    ports {
      UNLocationCode answered vesselsAtAnchor vesselsAtBerth expectedArrivals averageDelayHours
    }
    comparison { mostVesselsAtAnchor mostDelayed missing }
  }
}
"""

EXAMPLE_TABS: tuple[ExampleTab, ...] = (
    ExampleTab("trucker", TRUCKER),
    ExampleTab(
        "cargo owner",
        CARGO_OWNER,
        '{"refs": ["MSCU9123450", "CMAU9022176", "SOC9048655"]}',
    ),
    ExampleTab("port operator", PORT_OPERATOR, '{"after": null}'),
    ExampleTab("state analyst", STATE_ANALYST),
    ExampleTab("trucker: gates and empties", TRUCKER_GATES),
    ExampleTab("exporter", EXPORTER, '{"booking": "900000002"}'),
    ExampleTab("trucker, live", TRUCKER_LIVE),
    ExampleTab("operations room", OPERATIONS_ROOM),
)
