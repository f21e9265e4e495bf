"""A circuit breaker per port: stop asking a port that keeps failing, try again later.

    closed ──(failure_threshold failures in a row)──▶ open
    open ──(reset_timeout passed)──▶ half-open: one trial request at a time
    half-open ──(trial succeeds)──▶ closed
    half-open ──(trial fails)──▶ open again

While a breaker is open the port is not called at all; its part of an answer is served stale
from the cache when possible, else reported as ``PORT_CIRCUIT_OPEN``. Only failures the port is
responsible for count (timeouts, refused connections, errors); the query's own deadline cutting a
port off does not. State is per gateway replica.
"""

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

Monotonic = Callable[[], float]


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class CircuitBreaker:
    failure_threshold: int
    reset_timeout: float
    clock: Monotonic = time.monotonic
    _failures: int = 0
    _opened_at: float | None = None
    _trial_running: bool = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self.clock() - self._opened_at >= self.reset_timeout:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether to call the port now; in half-open state, only one trial at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._trial_running or self._failures >= self.failure_threshold:
            self._opened_at = self.clock()
        self._trial_running = False

    def record_released(self) -> None:
        """A trial that ended without a verdict (cut off by the query's deadline)."""
        self._trial_running = False
