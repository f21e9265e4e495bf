"""One DCSA event at a time: read, checked, and either kept or quarantined.

:class:`EventReader` turns one raw event of a T&T feed into the adapter's typed form, or raises
:class:`Quarantined` (invalid, or for another port: counted and logged by the caller) or
:class:`NotAsked` (a kind of event the question was not about, e.g. a shipment event mixed into
an equipment answer: skipped quietly).

Tolerance follows what real feeds send, all of it valid or harmless:

- timestamps with a lowercase ``t``/``z``; without a UTC offset they are read in the port's time
  zone when one is configured, else the event is quarantined;
- no ``eventID`` (``eventID`` is optional in T&T 2.2): a stable id is made from the event's
  content, so the same event always gets the same id;
- a latitude or longitude that is not a number ("N/A"): left out, the event kept;
- an IMO number sent as a JSON number (as the spec's own example renders it);
- a transport call without a vessel;
- the names DCSA's later event domains use beside the 2.2 ones (``transportCallReference``,
  ``carrierImportVoyageNumber``, a ``location`` object inside the transport call,
  ``vessel.name``...).

An event is for another port when its own place (``eventLocation`` or its transport call) has
another UN/LOCODE than the port's.
"""

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Final

from port_resolvers.kit.source import (
    DocumentReferenceRecord,
    EquipmentEventRecord,
    LocationRecord,
    SealRecord,
    TransportCallRecord,
    VesselRecord,
)

CLASSIFIERS: Final = frozenset({"PLN", "EST", "ACT", "REQ"})
TRANSPORT_TYPES: Final = frozenset({"ARRI", "DEPA"})
SEAL_SOURCES: Final = frozenset({"CAR", "SHI", "PHY", "VET", "CUS"})
SEAL_TYPES: Final = frozenset({"KLP", "BLT", "WIR"})
DOCUMENT_TYPES: Final = frozenset({"BKG", "TRD"})
LIST_PROVIDERS: Final = frozenset({"SMDG", "BIC"})
_ID_NAMESPACE: Final = uuid.UUID("0c2f5e1a-6f0b-4f5e-9d0a-3b8f1c7d2e44")
_IMO: Final = re.compile(r"^\d{7}$")


class Quarantined(ValueError):
    """The event is invalid or belongs to another port; the message says why."""


class NotAsked(ValueError):
    """The event is of a kind the question was not about."""


@dataclass(frozen=True, slots=True)
class TransportEvent:
    """A transport event (arrival or departure), as the vessel-call builder needs it."""

    event_id: str
    created: datetime | None
    at: datetime
    classifier: str
    type_code: str  # ARRI | DEPA
    call_key: str  # portVisitReference, else transportCallReference / transportCallID
    facility_type: str | None
    mode: str | None
    call: TransportCallRecord
    port_visit_reference: str | None
    sequence_number: int | None
    service_code: str | None
    delay_reason_code: str | None
    change_remark: str | None
    position: int  # order in the feed: the later of two equally new events wins


@dataclass(frozen=True, slots=True)
class ShipmentEvent:
    """A shipment event about a document (HOLD / RELS feed a container's holds)."""

    event_id: str
    created: datetime | None
    at: datetime
    type_code: str
    document_type: str | None
    document_id: str | None
    reason: str | None


def _text(value: Any, limit: int = 250) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:limit]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _coordinate(value: Any, bound: float) -> float | None:
    number = _number(value)
    return number if number is not None and -bound <= number <= bound else None


def imo_number(value: Any) -> str | None:
    """An IMO number as 7 digits, from a string or a JSON number; None when it is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:07d}"
    text = _text(value)
    return text if text is not None and _IMO.match(text) else None


def _stable_id(raw: dict[str, Any]) -> str:
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return str(uuid.uuid5(_ID_NAMESPACE, digest))


class EventReader:
    """Reads the events of one port; ``time_zone`` places timestamps without an offset."""

    def __init__(self, port_id: str, time_zone: tzinfo | None = None) -> None:
        self.port_id = port_id
        self.time_zone = time_zone

    # pieces -----------------------------------------------------------------------------

    def time(self, value: Any, what: str) -> datetime:
        if not isinstance(value, str):
            raise Quarantined(f"{what} is not a date-time")
        try:
            parsed = datetime.fromisoformat(value.strip().upper())
        except ValueError:
            raise Quarantined(f"{what} {value!r} is not an ISO 8601 date-time") from None
        if parsed.tzinfo is None:
            if self.time_zone is None:
                raise Quarantined(f"{what} {value!r} has no UTC offset")
            parsed = parsed.replace(tzinfo=self.time_zone)
        return parsed

    def _optional_time(self, value: Any, what: str) -> datetime | None:
        return None if value is None else self.time(value, what)

    def _event_id(self, raw: dict[str, Any]) -> str:
        return _text(raw.get("eventID"), 100) or _stable_id(raw)

    def vessel(self, raw: Any) -> VesselRecord | None:
        if not isinstance(raw, dict):
            return None
        imo = imo_number(raw.get("vesselIMONumber"))
        if imo is None:
            return None
        vessel: VesselRecord = {
            "vesselIMONumber": imo,
            "vesselName": _text(raw.get("vesselName") or raw.get("name"), 35),
            "vesselFlag": _text(raw.get("vesselFlag") or raw.get("flag"), 2),
            "vesselCallSign": _text(raw.get("vesselCallSignNumber") or raw.get("callSign"), 10),
        }
        code = _text(raw.get("vesselOperatorCarrierCode") or raw.get("operatorCarrierCode"), 10)
        provider = raw.get("vesselOperatorCarrierCodeListProvider") or raw.get(
            "operatorCarrierCodeListProvider"
        )
        if code is not None and provider == "SMDG":
            vessel["vesselOperatorSMDGLinerCode"] = code
        elif code is not None and provider == "NMFTA":
            vessel["vesselOperatorSCACCode"] = code
        return vessel

    def location(self, raw: Any) -> LocationRecord | None:
        if not isinstance(raw, dict):
            return None
        provider = raw.get("facilityCodeListProvider")
        return {
            "locationName": _text(raw.get("locationName"), 100),
            "UNLocationCode": _text(raw.get("UNLocationCode"), 5),
            "facilityCode": _text(raw.get("facilityCode"), 6),
            "facilityCodeListProvider": provider if provider in LIST_PROVIDERS else None,
            "latitude": _coordinate(raw.get("latitude"), 90),
            "longitude": _coordinate(raw.get("longitude"), 180),
        }

    def transport_call(self, raw: Any) -> TransportCallRecord | None:
        if not isinstance(raw, dict):
            return None
        nested = raw.get("location")
        place: dict[str, Any] = nested if isinstance(nested, dict) else {}
        provider = raw.get("facilityCodeListProvider") or place.get("facilityCodeListProvider")
        sequence = raw.get("transportCallSequenceNumber")
        call: TransportCallRecord = {
            "transportCallReference": _text(
                raw.get("transportCallReference") or raw.get("transportCallID"), 100
            ),
            "portVisitReference": _text(raw.get("portVisitReference"), 50),
            "transportCallSequenceNumber": sequence
            if isinstance(sequence, int) and not isinstance(sequence, bool)
            else None,
            "carrierImportVoyageNumber": _text(
                raw.get("carrierImportVoyageNumber") or raw.get("importVoyageNumber"), 50
            ),
            "carrierExportVoyageNumber": _text(
                raw.get("carrierExportVoyageNumber")
                or raw.get("exportVoyageNumber")
                or raw.get("carrierVoyageNumber"),
                50,
            ),
            "UNLocationCode": _text(raw.get("UNLocationCode") or place.get("UNLocationCode"), 5),
            "facilityCode": _text(raw.get("facilityCode") or place.get("facilityCode"), 6),
            "facilityCodeListProvider": provider if provider in LIST_PROVIDERS else None,
            "facilityTypeCode": _text(raw.get("facilityTypeCode"), 30),
            "modeOfTransport": _text(raw.get("modeOfTransport"), 10),
            "vessel": self.vessel(raw.get("vessel")),
        }
        return call

    def _check_port(self, *places: str | None) -> None:
        for code in places:
            if code is not None and code.upper() != self.port_id:
                raise Quarantined(f"the event is at {code}, not at {self.port_id}")

    def _classifier(self, raw: dict[str, Any]) -> str:
        classifier = raw.get("eventClassifierCode")
        if classifier not in CLASSIFIERS:
            raise Quarantined(f"eventClassifierCode {classifier!r} is not PLN, EST, ACT or REQ")
        return str(classifier)

    @staticmethod
    def _kind(raw: dict[str, Any], asked: str) -> None:
        kind = raw.get("eventType")
        if kind is None:
            raise Quarantined("the event has no eventType")
        if kind != asked:
            raise NotAsked(f"a {kind} event in an answer about {asked} events")

    # events -----------------------------------------------------------------------------

    def equipment_event(self, raw: dict[str, Any]) -> tuple[str, EquipmentEventRecord]:
        """The equipment reference and the event record, or Quarantined / NotAsked."""
        self._kind(raw, "EQUIPMENT")
        reference = _text(raw.get("equipmentReference"), 15)
        if reference is None:
            raise Quarantined("the event has no equipmentReference")
        kind = _text(raw.get("equipmentEventTypeCode"), 10)
        if kind is None:
            raise Quarantined("the event has no equipmentEventTypeCode")
        classifier = self._classifier(raw)
        place = self.location(raw.get("eventLocation"))
        call = self.transport_call(raw.get("transportCall"))
        self._check_port(
            place.get("UNLocationCode") if place else None,
            call.get("UNLocationCode") if call else None,
        )
        event: EquipmentEventRecord = {
            "eventID": self._event_id(raw),
            "eventCreatedDateTime": self._optional_time(
                raw.get("eventCreatedDateTime"), "eventCreatedDateTime"
            ),
            "eventDateTime": self.time(raw.get("eventDateTime"), "eventDateTime"),
            "eventClassifierCode": classifier,
            "equipmentEventTypeCode": kind.upper(),
            "ISOEquipmentCode": _text(raw.get("ISOEquipmentCode"), 4),
            "emptyIndicatorCode": _text(raw.get("emptyIndicatorCode"), 5),
            "eventLocation": place,
            "transportCall": call,
            "seals": self._seals(raw.get("seals")),
            "documentReferences": self._documents(raw),
        }
        return reference.upper(), event

    def transport_event(self, raw: dict[str, Any], position: int) -> TransportEvent:
        self._kind(raw, "TRANSPORT")
        type_code = raw.get("transportEventTypeCode")
        if type_code not in TRANSPORT_TYPES:
            raise NotAsked(f"transportEventTypeCode {type_code!r} is not an arrival or departure")
        classifier = self._classifier(raw)
        call_raw = raw.get("transportCall")
        call = self.transport_call(call_raw)
        if call is None:
            raise Quarantined("the transport event has no transportCall")
        self._check_port(call.get("UNLocationCode"))
        key = call.get("portVisitReference") or call.get("transportCallReference")
        if key is None:
            raise Quarantined("the transport call has no transportCallID")
        sequence = call.get("transportCallSequenceNumber")
        return TransportEvent(
            event_id=self._event_id(raw),
            created=self._optional_time(raw.get("eventCreatedDateTime"), "eventCreatedDateTime"),
            at=self.time(raw.get("eventDateTime"), "eventDateTime"),
            classifier=classifier,
            type_code=str(type_code),
            call_key=key,
            facility_type=(call.get("facilityTypeCode") or None),
            mode=call.get("modeOfTransport"),
            call=call,
            port_visit_reference=call.get("portVisitReference"),
            sequence_number=sequence,
            service_code=_text(call_raw.get("carrierServiceCode"), 11)
            if isinstance(call_raw, dict)
            else None,
            delay_reason_code=_text(raw.get("delayReasonCode"), 3),
            change_remark=_text(raw.get("changeRemark") or raw.get("vesselScheduleChangeRemark")),
            position=position,
        )

    def shipment_event(self, raw: dict[str, Any]) -> ShipmentEvent:
        self._kind(raw, "SHIPMENT")
        at = raw.get("eventDateTime") or raw.get("eventCreatedDateTime")
        return ShipmentEvent(
            event_id=self._event_id(raw),
            created=self._optional_time(raw.get("eventCreatedDateTime"), "eventCreatedDateTime"),
            at=self.time(at, "eventDateTime"),
            type_code=str(raw.get("shipmentEventTypeCode") or ""),
            document_type=_text(raw.get("documentTypeCode"), 3),
            document_id=_text(raw.get("documentID") or raw.get("documentReference"), 100),
            reason=_text(raw.get("reason")),
        )

    @staticmethod
    def _seals(raw: Any) -> list[SealRecord] | None:
        if not isinstance(raw, list):
            return None
        seals: list[SealRecord] = []
        for seal in raw:
            number = _text(seal.get("sealNumber"), 15) if isinstance(seal, dict) else None
            if number is None:
                continue
            seals.append(
                {
                    "sealNumber": number,
                    "sealSource": seal.get("sealSource")
                    if seal.get("sealSource") in SEAL_SOURCES
                    else None,
                    "sealType": seal.get("sealType")
                    if seal.get("sealType") in SEAL_TYPES
                    else None,
                }
            )
        return seals

    @staticmethod
    def _documents(raw: dict[str, Any]) -> list[DocumentReferenceRecord] | None:
        listed = raw.get("documentReferences") or raw.get("relatedDocumentReferences")
        if not isinstance(listed, list):
            return None
        documents: list[DocumentReferenceRecord] = []
        for item in listed:
            if not isinstance(item, dict):
                continue
            kind = str(item.get("documentReferenceType") or item.get("type") or "")[:3]
            value = _text(item.get("documentReferenceValue") or item.get("value"), 100)
            if kind in DOCUMENT_TYPES and value is not None:
                documents.append({"documentReferenceType": kind, "documentReferenceValue": value})
        return documents
