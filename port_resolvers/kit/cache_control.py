"""How long an answer may be cached: the ``Cache-Control`` header of a resolver answer.

The gateway caps its cache TTL for this port with ``max-age`` and never caches ``no-store``.
Each root field has a kind with its own TTL; an answer's ``max-age`` is the minimum over the
root fields asked. Answers with errors, and every answer of a port configured with
``no_store=True``, are ``no-store``; notices (what the kit or the source left out,
:data:`portcontract.errors.NOTICE_CODES`) are not errors here: such an answer keeps its
``max-age``, and the gateway caches it with its notices.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

DEFAULT_PORTS_TTL: Final = 3600
DEFAULT_CONTAINERS_TTL: Final = 30
DEFAULT_VESSEL_CALLS_TTL: Final = 60
DEFAULT_VESSEL_TTL: Final = 3600
DEFAULT_METRICS_TTL: Final = 300
DEFAULT_SCHEMA_TTL: Final = 3600
DEFAULT_TERMINAL_SERVICES_TTL: Final = 60

NO_STORE: Final = "no-store"


@dataclass(frozen=True, slots=True)
class CacheTtls:
    """Seconds an answer may be cached, per kind of root field.

    - ``ports``: ``ports`` (the port and its terminals change rarely).
    - ``containers``: ``container`` and ``containers`` (events and holds change by the minute).
    - ``vessel_calls``: ``vesselCalls``.
    - ``vessel``: ``vessel``.
    - ``metrics``: ``portMetrics``.
    - ``schema``: introspection (``__schema``, ``__type``) and a root ``__typename``.
    - ``terminal_services``: any answer holding a terminal's gate hours, appointments or
      empty-return rules (:data:`portcontract.capabilities.TERMINAL_SERVICES`), which change
      within the hour.
    """

    ports: int = DEFAULT_PORTS_TTL
    containers: int = DEFAULT_CONTAINERS_TTL
    vessel_calls: int = DEFAULT_VESSEL_CALLS_TTL
    vessel: int = DEFAULT_VESSEL_TTL
    metrics: int = DEFAULT_METRICS_TTL
    schema: int = DEFAULT_SCHEMA_TTL
    terminal_services: int = DEFAULT_TERMINAL_SERVICES_TTL

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"cache TTL {name!r} must be a whole number of seconds >= 0")

    def for_root_field(self, field_name: str) -> int:
        """The TTL of one root field (by its schema name); the shortest for a field unknown."""
        match field_name:
            case "ports":
                return self.ports
            case "container" | "containers":
                return self.containers
            case "vesselCalls":
                return self.vessel_calls
            case "vessel":
                return self.vessel
            case "portMetrics":
                return self.metrics
            case "__schema" | "__type" | "__typename":
                return self.schema
            case _:
                return min(
                    self.ports, self.containers, self.vessel_calls, self.vessel, self.metrics
                )


def max_age(ttls: CacheTtls, root_fields: Iterable[str], *, timely: bool = False) -> int:
    """The ``max-age`` of an answer to ``root_fields``: the smallest of their TTLs, and at most
    ``terminal_services`` when it holds a terminal's services (``timely``)."""
    shortest = min((ttls.for_root_field(name) for name in root_fields), default=ttls.schema)
    return min(shortest, ttls.terminal_services) if timely else shortest


def cache_control(max_age_seconds: int, *, has_errors: bool, no_store: bool) -> str:
    if has_errors or no_store:
        return NO_STORE
    return f"max-age={max_age_seconds}"
