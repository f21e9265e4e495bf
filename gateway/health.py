"""Port health: a probe of each registered port on an interval, and the check a new endpoint
must pass before it takes traffic.

The check asks the endpoint, over GraphQL with the gateway's credential for it, for its root
fields (introspection) and for ``ports { UNLocationCode }``: it must have every root field it
claims to answer, with the shared schema's arguments, and answer for its own port. The probe
asks ``ports { UNLocationCode }`` alone and records status (up, degraded when slower than half
its timeout, down, paused), the last success and the latency.
"""

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from graphql import GraphQLSchema

from gateway.registry import PortEntry, PortRegistry

log = logging.getLogger(__name__)

CHECK_QUERY = """query PortgateCheck {
  __schema { queryType { fields { name args { name } } } }
  ports { UNLocationCode }
}"""
PROBE_QUERY = "query PortgateProbe { ports { UNLocationCode } }"


@dataclass(frozen=True, slots=True)
class PortHealth:
    status: str  # up | degraded | down | paused
    checked_at: datetime
    latency_ms: float | None = None
    last_success: datetime | None = None
    reason: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checkedAt": self.checked_at.isoformat(),
            "latencyMs": self.latency_ms,
            "lastSuccess": self.last_success.isoformat() if self.last_success else None,
            "reason": self.reason,
        }


def _headers(entry: PortEntry) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if entry.credential is not None:
        headers["authorization"] = f"Bearer {entry.credential.get_secret_value()}"
    return headers


async def _ask(
    client: httpx.AsyncClient, entry: PortEntry, query: str, timeout: float
) -> dict[str, Any]:
    """The endpoint's ``data``, or a ValueError saying in plain words what is wrong."""
    try:
        response = await client.post(
            entry.url,
            content=orjson.dumps({"query": query}),
            headers=_headers(entry),
            timeout=timeout,
        )
    except httpx.TimeoutException:
        raise ValueError(f"no answer within {timeout:g}s") from None
    except httpx.TransportError as exc:
        raise ValueError(f"cannot connect ({type(exc).__name__})") from None
    if response.status_code in (401, 403):
        raise ValueError(f"HTTP {response.status_code}: the endpoint refused the credential")
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ValueError(f"HTTP {response.status_code}: not a GraphQL response") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        errors = body.get("errors") if isinstance(body, dict) else None
        first = errors[0].get("message") if isinstance(errors, list) and errors else None
        raise ValueError(f"HTTP {response.status_code}: no data ({first or 'not GraphQL'})")
    data: dict[str, Any] = body["data"]
    return data


def _own_port(data: Mapping[str, Any], port_id: str) -> str | None:
    ports = data.get("ports")
    ids = [p.get("UNLocationCode") for p in ports or () if isinstance(p, dict)]
    if ids != [port_id]:
        return f"`ports` answered {ids}, not exactly its own port {port_id}"
    return None


async def check_endpoint(
    client: httpx.AsyncClient, entry: PortEntry, schema: GraphQLSchema, timeout: float
) -> str | None:
    """Why ``entry``'s endpoint cannot take traffic, or None when it answers the shared schema."""
    try:
        data = await _ask(client, entry, CHECK_QUERY, timeout)
    except ValueError as exc:
        return str(exc)
    try:
        fields = {
            f["name"]: {a["name"] for a in f["args"]}
            for f in data["__schema"]["queryType"]["fields"]
        }
    except (KeyError, TypeError):
        return "it does not answer introspection of its root fields"
    query_type = schema.query_type
    assert query_type is not None
    for name in entry.capabilities:
        if name not in fields:
            return f"it has no root field `{name}` of the shared schema"
        missing = set(query_type.fields[name].args) - fields[name]
        if missing:
            return f"its `{name}` lacks the shared schema's arguments {sorted(missing)}"
    return _own_port(data, entry.id)


class PortProber:
    """Probes every registered port on an interval; what it saw, per port."""

    def __init__(self, registry: PortRegistry, client: httpx.AsyncClient, timeout: float) -> None:
        self._registry = registry
        self._client = client
        self._timeout = timeout
        self.health: dict[str, PortHealth] = {}
        self._task: asyncio.Task[None] | None = None

    def worst_of(self, seen: Mapping[str, str]) -> dict[str, str]:
        """Port statuses (UP, DEGRADED, DOWN) made no better than what the probes last saw."""
        order = {"UP": 0, "DEGRADED": 1, "DOWN": 2}
        probed = {"up": "UP", "degraded": "DEGRADED", "down": "DOWN"}
        worst = dict(seen)
        for port, health in self.health.items():
            status = probed.get(health.status)
            if status is not None and order[status] > order.get(worst.get(port, "UP"), 0):
                worst[port] = status
        return worst

    async def probe_all(self) -> None:
        entries = self._registry.snapshot().entries
        results = await asyncio.gather(*(self._probe(e) for e in entries))
        self.health = {e.id: h for e, h in zip(entries, results, strict=True)}

    async def _probe(self, entry: PortEntry) -> PortHealth:
        now = datetime.now(UTC)
        previous = self.health.get(entry.id)
        last_success = previous.last_success if previous else None
        if entry.paused:
            return PortHealth("paused", now, None, last_success)
        timeout = entry.timeout or self._timeout
        started = time.perf_counter()
        try:
            reason = _own_port(await _ask(self._client, entry, PROBE_QUERY, timeout), entry.id)
        except ValueError as exc:
            reason = str(exc)
        latency = round((time.perf_counter() - started) * 1000, 2)
        if reason is not None:
            return PortHealth("down", now, latency, last_success, reason)
        status = "degraded" if latency > timeout * 500 else "up"  # slower than half its timeout
        return PortHealth(status, now, latency, now)

    def start(self, interval: float) -> None:
        async def loop() -> None:
            while True:  # the first probe after one interval: new endpoints are checked anyway
                await asyncio.sleep(interval)
                try:
                    await self.probe_all()
                except Exception:
                    log.warning("port probes failed", exc_info=True)

        self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
