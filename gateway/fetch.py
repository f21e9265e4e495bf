"""Ask every planned port at once, each under its own timeout and all under one deadline.

A port that is slow, refuses the connection or answers garbage is reported as that port's
outcome; it never fails the query and never holds it past the deadline. Later stages slot in
here, per port, in this order: cache lookup -> in-flight coalescing -> circuit breaker ->
timeout -> retry -> the port's upstream.
"""

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opentelemetry import propagate

from gateway.config import ResolvedPort
from gateway.errors import DeadlineExceeded, PortFailure, PortTimeout
from gateway.plan import PortQuery
from gateway.upstream import PortAnswer, PortRequest, PortUpstream


@dataclass(frozen=True, slots=True)
class PortOutcome:
    """What one port gave this operation: an answer or a failure, and how long it took."""

    port: ResolvedPort
    keys: list[str]
    latency: float
    answer: PortAnswer | None = None
    failure: PortFailure | None = None


class FanOut:
    """Sends each port its query concurrently through that port's upstream."""

    def __init__(self, upstreams: Mapping[str, PortUpstream]) -> None:
        self._upstreams = upstreams

    async def fetch(
        self, queries: Sequence[PortQuery], deadline: float, operation_name: str | None = None
    ) -> list[PortOutcome]:
        """Outcomes in the order of ``queries``; ``deadline`` is a ``time.monotonic()`` instant."""
        headers: dict[str, str] = {}
        propagate.inject(headers)
        return list(
            await asyncio.gather(
                *(self._fetch_one(q, deadline, operation_name, headers) for q in queries)
            )
        )

    async def _fetch_one(
        self,
        query: PortQuery,
        deadline: float,
        operation_name: str | None,
        headers: dict[str, str],
    ) -> PortOutcome:
        port = query.port
        started = time.monotonic()
        remaining = deadline - started
        budget = min(port.timeout, remaining)
        request = PortRequest(query.document, query.variables, operation_name, headers)
        try:
            if budget <= 0:
                raise DeadlineExceeded(port.id, "the query's deadline passed before it was asked")
            async with asyncio.timeout(budget):
                answer = await self._upstreams[port.id].execute(request, timeout=budget)
        except (TimeoutError, PortTimeout):
            failure: PortFailure = (
                DeadlineExceeded(port.id, f"no answer before the query's deadline ({budget:.3g}s)")
                if remaining < port.timeout
                else PortTimeout(port.id, f"no answer within its timeout of {port.timeout:.3g}s")
            )
            return PortOutcome(port, query.keys, time.monotonic() - started, failure=failure)
        except PortFailure as exc:
            return PortOutcome(port, query.keys, time.monotonic() - started, failure=exc)
        return PortOutcome(port, query.keys, time.monotonic() - started, answer=answer)
