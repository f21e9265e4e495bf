"""The optional fields of the shared schema: what a port's systems may not have at all.

Cut-offs, a terminal's gate hours, truck appointments and empty-return rules, a box's
empty-return deadline and its rail leg. A port offers the ones its systems have; for any other
it answers null and says so with a ``NOT_OFFERED`` notice naming the field's schema coordinate
(:mod:`portcontract.errors`), which the gateway lists under ``notOffered`` in the port's
``extensions.sources`` entry. Each field's name is unique in the schema, so a selection's field
names say which of them it asks (:data:`BY_NAME`).
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

CUT_OFF_TIMES: Final = "VesselCall.cutOffTimes"
GATE_HOURS: Final = "Terminal.gateHours"
USES_APPOINTMENTS: Final = "Terminal.usesAppointments"
APPOINTMENT_SLOTS: Final = "Terminal.appointmentSlots"
EMPTY_RETURNS: Final = "Terminal.emptyReturns"
EMPTY_RETURN_DEADLINE: Final = "ImportAvailability.emptyReturnDeadline"
RAIL_LEG: Final = "Container.railLeg"

OPTIONAL_FIELDS: Final = frozenset({
    CUT_OFF_TIMES, GATE_HOURS, USES_APPOINTMENTS, APPOINTMENT_SLOTS, EMPTY_RETURNS,
    EMPTY_RETURN_DEADLINE, RAIL_LEG,
})  # fmt: skip
# A terminal's services, which change within the hour (a gate closed for wind, a slot taken):
# an answer holding any of them is cached for a minute at most.
TERMINAL_SERVICES: Final = frozenset({GATE_HOURS, USES_APPOINTMENTS, APPOINTMENT_SLOTS,
                                      EMPTY_RETURNS})  # fmt: skip
# Field name -> coordinate (the kit's test holds each name unique in the shared schema).
BY_NAME: Final[Mapping[str, str]] = MappingProxyType(
    {coordinate.partition(".")[2]: coordinate for coordinate in OPTIONAL_FIELDS}
)
