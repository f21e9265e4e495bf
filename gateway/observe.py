"""What the gateway records about each finished operation: metrics now, the audit trail next.

Called once per operation, after its response is built: by the fan-out extension for operations
that ran, and by the request-error extension for documents rejected before running. It never
raises into the request.
"""

import logging
from collections.abc import Sequence
from typing import Any

from gateway.fetch import PortOutcome
from gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)

AnyResult = Any  # graphql-core's or strawberry's ExecutionResult (both have data and errors)


def outcome_of(result: AnyResult, status: int | None) -> str:
    """ok | partial | error | rejected (a 4xx before or instead of running)."""
    if status is not None and 400 <= status < 500:
        return "rejected"
    if result is None or result.data is None:
        return "error"
    return "partial" if result.errors else "ok"


def denied_coordinates(result: AnyResult) -> list[str]:
    """Schema coordinates the policy withheld, from the FORBIDDEN_FIELD errors."""
    coordinates = []
    for error in (result.errors if result is not None else None) or ():
        extensions = error.extensions or {}
        if extensions.get("code") == "FORBIDDEN_FIELD" and "coordinate" in extensions:
            coordinates.append(str(extensions["coordinate"]))
    return coordinates


class OperationObserver:
    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def finished(
        self,
        *,
        operation_name: str | None,
        seconds: float,
        result: AnyResult,
        status: int | None,
        outcomes: Sequence[PortOutcome] = (),
    ) -> None:
        try:
            self.metrics.observe_operation(operation_name, outcome_of(result, status), seconds)
            for port in outcomes:
                self.metrics.observe_port(port.port.id, port.status, port.latency)
            for coordinate in denied_coordinates(result):
                self.metrics.denials.labels(coordinate).inc()
        except Exception:  # metrics must never break a query
            log.exception("recording metrics failed")
