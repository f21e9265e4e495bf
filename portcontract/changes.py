"""Change notices: how a port's resolver tells the gateway that something changed at the port,
so that the gateway asks again now instead of at its next poll.

A resolver whose systems can tell it of changes (a DCSA Track & Trace event subscription, a
database trigger, a message queue) serves ``GET <resolver>/changes`` (:data:`CHANGES_PATH`,
beside its ``/graphql``) as a stream of server-sent events, with the same credential as its
``/graphql``. Each event is named :data:`EVENT` and its data is one JSON object:

- ``{"containers": ["MSCU1234565"], "vesselCalls": ["USLAX-2026-0042"]}``: these boxes (by
  equipment reference) and these calls (by transport call reference) changed;
- ``{"all": true}``: anything may have changed (the resolver lost track, or too much changed
  to name).

A notice carries no cargo data: it says what to ask about, never what the answer is. The gateway
takes it as a hint and asks the port through its ordinary query path, so what the port answers
still passes the contract and the policy. A notice can make the gateway ask that port sooner,
and nothing else: never another port, never past the gateway's bound on how often it asks.

Comment lines (``: ...``) are heartbeats. A notice longer than :data:`MAX_NOTICE_BYTES`, or
naming more than :data:`MAX_REFERENCES` things, is not one: the gateway drops the stream.
"""

import re
from dataclasses import dataclass
from typing import Any, Final

import orjson

CHANGES_PATH: Final = "changes"  # relative to the resolver's /graphql URL
EVENT: Final = "changed"
MEDIA_TYPE: Final = "text/event-stream"
MAX_NOTICE_BYTES: Final = 16 * 1024
MAX_REFERENCES: Final = 200
_REFERENCE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}\Z")


class InvalidNotice(ValueError):
    """What came is not a change notice."""


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    """What changed: boxes by equipment reference, calls by transport call reference, or
    everything."""

    containers: frozenset[str] = frozenset()
    vessel_calls: frozenset[str] = frozenset()
    everything: bool = False

    def __post_init__(self) -> None:
        if len(self.containers) + len(self.vessel_calls) > MAX_REFERENCES:
            object.__setattr__(self, "containers", frozenset())
            object.__setattr__(self, "vessel_calls", frozenset())
            object.__setattr__(self, "everything", True)

    @property
    def empty(self) -> bool:
        return not (self.everything or self.containers or self.vessel_calls)

    def merged(self, later: "ChangeNotice") -> "ChangeNotice":
        """Both notices as one (everything, once they name too much to list)."""
        if self.everything or later.everything:
            return EVERYTHING
        return ChangeNotice(self.containers | later.containers,
                            self.vessel_calls | later.vessel_calls)  # fmt: skip

    def to_json(self) -> bytes:
        if self.everything:
            return b'{"all":true}'
        body: dict[str, Any] = {}
        if self.containers:
            body["containers"] = sorted(self.containers)
        if self.vessel_calls:
            body["vesselCalls"] = sorted(self.vessel_calls)
        return orjson.dumps(body)

    def to_event(self) -> bytes:
        """The notice framed as one server-sent event."""
        return b"event: " + EVENT.encode() + b"\ndata: " + self.to_json() + b"\n\n"


EVERYTHING: Final = ChangeNotice(everything=True)


def _references(body: dict[str, Any], name: str) -> frozenset[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or len(value) > MAX_REFERENCES:
        raise InvalidNotice(f"{name} must be a list of at most {MAX_REFERENCES} references")
    if not all(isinstance(r, str) and _REFERENCE.match(r) for r in value):
        raise InvalidNotice(f"{name} holds something that is not a reference")
    return frozenset(value)


def parse_notice(data: bytes | str) -> ChangeNotice:
    """The notice in one event's data; :class:`InvalidNotice` for anything else."""
    if len(data) > MAX_NOTICE_BYTES:
        raise InvalidNotice(f"a notice is at most {MAX_NOTICE_BYTES} bytes")
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidNotice("a notice is a JSON object") from exc
    if not isinstance(body, dict):
        raise InvalidNotice("a notice is a JSON object")
    if body.get("all") is True:
        return EVERYTHING
    return ChangeNotice(_references(body, "containers"), _references(body, "vesselCalls"))
