"""The keyset cursor for vessel calls, shared by the gateway and every port resolver.

Vessel calls are ordered the same way at every port: by planned berth arrival, then port
UN/LOCODE, then the call's reference: its port visit reference (DCSA OVS 3) when the port gives
one, which names a visit once whichever carrier reports it, else its transport call reference.
A cursor encodes that key of one call, so ``after`` means "calls strictly after this one in the
global order" for every port alike: the gateway forwards a client's cursor to each port
unchanged and merges the answers (one call per key), with no state kept between pages. Clients
treat cursors as opaque strings.
"""

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import NamedTuple


class InvalidCursor(ValueError):
    """An ``after`` argument that is not a cursor this contract produced."""


class CallKey(NamedTuple):
    """The sort key of a vessel call: planned berth arrival (UTC, ISO 8601), port, reference
    (port visit reference, else transport call reference)."""

    planned_arrival: str
    port: str
    reference: str


def call_key(planned_arrival: datetime, port: str, reference: str) -> CallKey:
    return CallKey(planned_arrival.astimezone(UTC).isoformat(timespec="seconds"), port, reference)


def encode_cursor(key: CallKey) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> CallKey:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded.encode()))
        arrival, port, reference = parts
        datetime.fromisoformat(arrival)
        if not all(isinstance(p, str) for p in parts):
            raise TypeError
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor(f"cursor {cursor!r} is not a vessel-call cursor") from exc
    return CallKey(arrival, port, reference)


def sort_key(key: CallKey) -> tuple[datetime, str, str]:
    """Comparable form of a key (time compared as time, not as text)."""
    return (datetime.fromisoformat(key.planned_arrival), key.port, key.reference)
