"""Port health: a probe of each registered port on an interval, each under its own bound.

Every ``registry.health_interval`` each port is probed (:mod:`gateway.ports.endpoint_check`:
``ports { UNLocationCode }`` through the path queries take), all at once, each within
``min(its timeout, registry.probe_timeout)``; a result is recorded the moment it arrives, so a
port that hangs delays no other port's health. A port is up, degraded (slower than half its
timeout), down (with a reason code and the gateway's own words, never the port's), or paused;
with the last success and the latency.

Health belongs to one registration: a probe whose port was changed, paused or removed while it
ran is dropped, and a change drops what was recorded of the port before it (a paused port shows
as paused at once). ``check_now`` runs the full check of one port (the admin API's
``POST /admin/ports/{id}/check``) under the same bound.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.ports.endpoint_check import EndpointChecker, Finding
from gateway.ports.registry import PortEntry, PortRegistry, RegistrySnapshot, Sleep

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PortHealth:
    status: str  # up | degraded | down | paused
    checked_at: datetime
    latency_ms: float | None = None
    last_success: datetime | None = None
    finding: Finding | None = None

    def public(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checkedAt": self.checked_at.isoformat(),
            "latencyMs": self.latency_ms,
            "lastSuccess": self.last_success.isoformat() if self.last_success else None,
            "reason": self.finding.reason.value if self.finding else None,
            "message": self.finding.message if self.finding else None,
        }


class PortProber:
    """Probes every registered port on an interval; what it saw of each port's current
    registration."""

    def __init__(
        self,
        registry: PortRegistry,
        checker: EndpointChecker,
        probe_timeout: float,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._registry = registry
        self._checker = checker
        self._probe_timeout = probe_timeout
        self._sleep = sleep
        self.health: dict[str, PortHealth] = {}
        self._of: dict[str, PortEntry] = {}  # the registration each health entry is about
        self._listeners: list[Callable[[str, PortHealth], None]] = []
        self._task: asyncio.Task[None] | None = None
        registry.on_change(self._forget_changed)

    def on_health(self, listener: Callable[[str, PortHealth], None]) -> None:
        """Call ``listener(port, health)`` whenever a port's health is recorded."""
        self._listeners.append(listener)

    def bound(self, entry: PortEntry) -> float:
        """How long one probe or check of ``entry`` may take."""
        return min(entry.timeout or self._registry.defaults.timeout, self._probe_timeout)

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
        """Probe every registered port at once; each result is recorded as it arrives."""
        entries = self._registry.snapshot().entries
        await asyncio.gather(*(self.probe(e) for e in entries))

    async def probe(self, entry: PortEntry) -> PortHealth | None:
        """Probe one port; its health, or None when its registration changed meanwhile."""
        if entry.paused:
            return self._record(entry, self._paused(entry))
        return self._record(entry, await self._run(entry, self._checker.probe))

    async def check_now(self, entry: PortEntry) -> Finding | None:
        """The full check of one port, now, within its bound; its health is recorded too
        (unless it is paused)."""
        health = await self._run(entry, self._checker.check)
        if not entry.paused:
            self._record(entry, health)
        return health.finding

    async def _run(
        self, entry: PortEntry, ask: Callable[[PortEntry, float], Awaitable[Finding | None]]
    ) -> PortHealth:
        """``ask`` (a probe or a check, each bounded) timed, as health."""
        now = datetime.now(UTC)
        last_success = self._last_success(entry)
        started = time.perf_counter()
        finding = await ask(entry, self.bound(entry))
        latency = round((time.perf_counter() - started) * 1000, 2)
        if finding is not None:
            return PortHealth("down", now, latency, last_success, finding)
        timeout = entry.timeout or self._registry.defaults.timeout
        status = "degraded" if latency > timeout * 500 else "up"  # slower than half its timeout
        return PortHealth(status, now, latency, now)

    def _paused(self, entry: PortEntry) -> PortHealth:
        return PortHealth("paused", datetime.now(UTC), None, self._last_success(entry))

    def _last_success(self, entry: PortEntry) -> datetime | None:
        previous = self.health.get(entry.id)
        if previous is None or self._of.get(entry.id) != entry:
            return None
        return previous.last_success

    def _record(self, entry: PortEntry, health: PortHealth) -> PortHealth | None:
        if self._registry.snapshot().entry(entry.id) != entry:
            return None  # changed, paused or removed while probed: not its health any more
        previous = self.health.get(entry.id)
        self.health[entry.id] = health
        self._of[entry.id] = entry
        if previous is None or previous.status != health.status:
            reason = f" ({health.finding.reason.value})" if health.finding else ""
            log.info("port %s is %s%s", entry.id, health.status, reason)
        for listener in self._listeners:
            listener(entry.id, health)
        return health

    def _forget_changed(self, snapshot: RegistrySnapshot) -> None:
        """Drop what was seen of registrations that changed; a paused port is paused now."""
        for port in list(self.health):
            if snapshot.entry(port) != self._of.get(port):
                del self.health[port]
                del self._of[port]
        for entry in snapshot.entries:
            if entry.paused and entry.id not in self.health:
                self._record(entry, self._paused(entry))

    def start(self, interval: float) -> None:
        async def loop() -> None:
            while True:  # the first probe after one interval: new endpoints are checked anyway
                await self._sleep(interval)
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
