"""The shared schema's answers as DCSA Track & Trace 2.2 events (the DCSA facade's mapping).

The shared schema is on DCSA names, so the mapping is mostly a renaming back:

- each ``Container.events`` item is an ``equipmentEvent``: its ``eventID`` kept when it is a UUID
  (DCSA's ``eventID`` is one), else a UUID derived from the port and the port's ID
  (:func:`facade_event_id`); the container's ``equipmentReference`` added;
- each ``VesselCall.timestamps`` item at the berth (``place: BERTH``) with a planned, estimated
  or actual classifier is a ``transportEvent`` (ARRI or DEPA) of that call, with an ``eventID``
  derived from the port, the call and what the timestamp is (so the same timestamp keeps its ID
  while its time moves, as a DCSA publisher's event would not: see docs/dcsa-clients.md).

What the policy withheld (null in the answer) is left out of the event, never filled in. An event
DCSA T&T 2.2 cannot carry is left out whole: an equipment event whose code is newer than 2.2
(``AVPU``, ``CUSR``, ..., ``OTHER``), a requested (``REQ``) timestamp, and an event missing a
field 2.2 requires (``eventCreatedDateTime``, ``emptyIndicatorCode``, ...), also when the policy
withholds it: those are counted so the response can say something was left out.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Equipment event type codes of DCSA T&T 2.2 (the schema has the later event domain's too).
EQUIPMENT_CODES = frozenset(
    {"LOAD", "DISC", "GTIN", "GTOT", "STUF", "STRP", "PICK", "DROP", "INSP", "RSEA", "RMVD"}
)
TRANSPORT_CODES = frozenset({"ARRI", "DEPA"})
CLASSIFIERS = frozenset({"PLN", "EST", "ACT"})
# The namespace of the facade's derived event IDs (a fixed, random UUID: never change it).
EVENT_NAMESPACE = uuid.UUID("5b0c3f4e-8d51-4c1a-9a77-2f0d6c1e9b42")

LOCATION = "locationName UNLocationCode facilityCode facilityCodeListProvider latitude longitude"
VESSEL = (
    "vesselIMONumber vesselName vesselFlag vesselCallSign vesselOperatorSMDGLinerCode "
    "vesselOperatorSCACCode"
)
EQUIPMENT_EVENT_FIELDS = (
    "eventID eventCreatedDateTime eventDateTime eventClassifierCode equipmentEventTypeCode "
    f"ISOEquipmentCode emptyIndicatorCode eventLocation {{ {LOCATION} }} "
    "transportCall { transportCallReference transportCallSequenceNumber "
    "carrierImportVoyageNumber carrierExportVoyageNumber UNLocationCode facilityCode "
    f"facilityCodeListProvider facilityTypeCode modeOfTransport vessel {{ {VESSEL} }} }} "
    "seals { sealNumber sealSource sealType } "
    "documentReferences { documentReferenceType documentReferenceValue }"
)
CONTAINER_FIELDS = (
    f"equipmentReference ISOEquipmentCode emptyIndicatorCode sourcePort "
    f"events {{ {EQUIPMENT_EVENT_FIELDS} }}"
)
VESSEL_CALL_FIELDS = (
    "transportCallReference transportCallSequenceNumber UNLocationCode facilitySMDGCode "
    f"carrierServiceCode carrierImportVoyageNumber carrierExportVoyageNumber vessel {{ {VESSEL} }} "
    "timestamps { place eventTypeCode eventClassifierCode eventDateTime eventCreatedDateTime "
    "delayReasonCode changeRemark }"
)


@dataclass(frozen=True, slots=True)
class Event:
    """One DCSA event and what orders it: eventCreatedDateTime, then port, then eventID."""

    body: dict[str, Any]
    created: datetime
    port: str

    @property
    def event_id(self) -> str:
        return str(self.body["eventID"])

    def key(self) -> tuple[str, str, str]:
        return (self.created.astimezone(UTC).isoformat(), self.port, self.event_id)


@dataclass(slots=True)
class Mapped:
    events: list[Event]
    left_out: int = 0  # events DCSA T&T 2.2 cannot carry (newer codes, required fields missing)


def facade_event_id(port: str, event_id: str) -> str:
    """The event's ID as the facade publishes it: the port's own when it is a UUID."""
    try:
        return str(uuid.UUID(event_id))
    except ValueError:
        return str(uuid.uuid5(EVENT_NAMESPACE, f"equipment/{port}/{event_id}"))


def transport_event_id(port: str, call: str, type_code: str, classifier: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"transport/{port}/{call}/{type_code}/{classifier}"))


def _present(source: dict[str, Any] | None, names: dict[str, str]) -> dict[str, Any]:
    """``names`` (DCSA name: schema name) of ``source`` that are there: null stays out."""
    if not source:
        return {}
    return {dcsa: source[own] for dcsa, own in names.items() if source.get(own) is not None}


def _vessel(vessel: dict[str, Any] | None) -> dict[str, Any] | None:
    if not vessel or vessel.get("vesselIMONumber") is None:
        return None  # DCSA requires the IMO number of a vessel
    out = _present(
        vessel,
        {
            "vesselIMONumber": "vesselIMONumber",
            "vesselName": "vesselName",
            "vesselFlag": "vesselFlag",
            "vesselCallSignNumber": "vesselCallSign",
        },
    )
    if vessel.get("vesselOperatorSMDGLinerCode") is not None:
        out["vesselOperatorCarrierCode"] = vessel["vesselOperatorSMDGLinerCode"]
        out["vesselOperatorCarrierCodeListProvider"] = "SMDG"
    elif vessel.get("vesselOperatorSCACCode") is not None:
        out["vesselOperatorCarrierCode"] = vessel["vesselOperatorSCACCode"]
        out["vesselOperatorCarrierCodeListProvider"] = "NMFTA"
    return out


def _location(location: dict[str, Any] | None) -> dict[str, Any] | None:
    out = _present(
        location,
        {
            "locationName": "locationName",
            "UNLocationCode": "UNLocationCode",
            "facilityCode": "facilityCode",
            "facilityCodeListProvider": "facilityCodeListProvider",
        },
    )
    if out.get("facilityCodeListProvider") not in (None, "SMDG", "BIC"):
        del out["facilityCodeListProvider"]
    for name in ("latitude", "longitude"):  # DCSA has them as strings
        if location and location.get(name) is not None:
            out[name] = f"{location[name]:.7f}"[: 10 if name == "latitude" else 11]
    return out or None


def _transport_call(call: dict[str, Any] | None) -> dict[str, Any] | None:
    """An equipment event's transport call; DCSA requires its ID and mode of transport."""
    if not call or call.get("transportCallReference") is None:
        return None
    if call.get("modeOfTransport") is None:
        return None
    out: dict[str, Any] = {"transportCallID": call["transportCallReference"]}
    out |= _present(
        call,
        {
            "transportCallSequenceNumber": "transportCallSequenceNumber",
            "importVoyageNumber": "carrierImportVoyageNumber",
            "exportVoyageNumber": "carrierExportVoyageNumber",
            "UNLocationCode": "UNLocationCode",
            "facilityCode": "facilityCode",
            "facilityCodeListProvider": "facilityCodeListProvider",
            "facilityTypeCode": "facilityTypeCode",
            "modeOfTransport": "modeOfTransport",
        },
    )
    voyage = call.get("carrierExportVoyageNumber") or call.get("carrierImportVoyageNumber")
    if voyage is not None:
        out["carrierVoyageNumber"] = voyage  # DCSA: the export voyage when there are two
    vessel = _vessel(call.get("vessel"))
    if vessel is not None:
        out["vessel"] = vessel
    return out


def equipment_events(container: dict[str, Any]) -> Mapped:
    """A container's events that DCSA T&T 2.2 can carry, as ``equipmentEvent`` objects."""
    mapped = Mapped([])
    port = str(container.get("sourcePort") or "")
    for event in container.get("events") or ():
        code = event.get("equipmentEventTypeCode")
        created = event.get("eventCreatedDateTime")
        required = (
            event.get("eventID"), created, event.get("eventDateTime"),
            event.get("emptyIndicatorCode"),
        )  # fmt: skip
        if (
            code not in EQUIPMENT_CODES
            or event.get("eventClassifierCode") not in CLASSIFIERS
            or any(value is None for value in required)
        ):
            mapped.left_out += 1
            continue
        body: dict[str, Any] = {
            "eventID": facade_event_id(port, str(event["eventID"])),
            "eventType": "EQUIPMENT",
            "eventCreatedDateTime": created,
            "eventDateTime": event["eventDateTime"],
            "eventClassifierCode": event["eventClassifierCode"],
            "equipmentEventTypeCode": code,
            "emptyIndicatorCode": event["emptyIndicatorCode"],
        }
        if container.get("equipmentReference") is not None:
            body["equipmentReference"] = container["equipmentReference"]
        iso = event.get("ISOEquipmentCode") or container.get("ISOEquipmentCode")
        if iso is not None:
            body["ISOEquipmentCode"] = iso
        location = _location(event.get("eventLocation"))
        if location is not None:
            body["eventLocation"] = location
        call = _transport_call(event.get("transportCall"))
        if call is not None:
            body["transportCall"] = call
            body["transportCallID"] = call["transportCallID"]
        seals = [
            _present(s, {"sealNumber": "sealNumber", "sealSource": "sealSource",
                         "sealType": "sealType"})
            for s in event.get("seals") or ()
        ]  # fmt: skip
        seals = [s for s in seals if "sealNumber" in s and "sealType" in s]
        if seals:
            body["seals"] = seals
        references = [
            _present(r, {"documentReferenceType": "documentReferenceType",
                         "documentReferenceValue": "documentReferenceValue"})
            for r in event.get("documentReferences") or ()
        ]  # fmt: skip
        if references:
            body["documentReferences"] = references
        mapped.events.append(Event(body, datetime.fromisoformat(created), port))
    return mapped


def transport_events(call: dict[str, Any]) -> Mapped:
    """A vessel call's berth timestamps that DCSA T&T 2.2 can carry, as ``transportEvent``s."""
    mapped = Mapped([])
    port = str(call.get("UNLocationCode") or "")
    reference = call.get("transportCallReference")
    if reference is None:
        return mapped
    transport_call: dict[str, Any] = {
        "transportCallID": reference,
        "modeOfTransport": "VESSEL",
        "UNLocationCode": port,
    }
    transport_call |= _present(
        call,
        {
            "transportCallSequenceNumber": "transportCallSequenceNumber",
            "carrierServiceCode": "carrierServiceCode",
            "importVoyageNumber": "carrierImportVoyageNumber",
            "exportVoyageNumber": "carrierExportVoyageNumber",
            "facilityCode": "facilitySMDGCode",
        },
    )
    if "facilityCode" in transport_call:
        transport_call["facilityCodeListProvider"] = "SMDG"
        transport_call["facilityTypeCode"] = "POTE"
    voyage = call.get("carrierExportVoyageNumber") or call.get("carrierImportVoyageNumber")
    if voyage is not None:
        transport_call["carrierVoyageNumber"] = voyage
    vessel = _vessel(call.get("vessel"))
    if vessel is not None:
        transport_call["vessel"] = vessel
    for stamp in call.get("timestamps") or ():
        if stamp.get("place") != "BERTH":
            continue  # anchorage and pilot boarding are Just-In-Time port call events
        code, classifier = stamp.get("eventTypeCode"), stamp.get("eventClassifierCode")
        created = stamp.get("eventCreatedDateTime")
        if (
            code not in TRANSPORT_CODES
            or classifier not in CLASSIFIERS
            or created is None
            or stamp.get("eventDateTime") is None
        ):
            mapped.left_out += 1
            continue
        body: dict[str, Any] = {
            "eventID": transport_event_id(port, str(reference), str(code), str(classifier)),
            "eventType": "TRANSPORT",
            "eventCreatedDateTime": created,
            "eventDateTime": stamp["eventDateTime"],
            "eventClassifierCode": classifier,
            "transportEventTypeCode": code,
            "transportCall": transport_call,
        }
        body |= _present(stamp, {"delayReasonCode": "delayReasonCode",
                                 "changeRemark": "changeRemark"})  # fmt: skip
        mapped.events.append(Event(body, datetime.fromisoformat(created), port))
    return mapped
