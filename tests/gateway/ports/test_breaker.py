"""The circuit breaker's state machine on a fake clock, each transition at its exact boundary:

closed --(failure_threshold failures in a row)--> open
open --(reset_timeout passed)--> half-open: one trial request at a time
half-open --(trial succeeds)--> closed;  --(trial fails)--> open again
"""

import pytest

from gateway.ports.breaker import BreakerState, CircuitBreaker

THRESHOLD = 3
RESET = 30.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=THRESHOLD, reset_timeout=RESET, clock=clock)


def open_it(breaker: CircuitBreaker) -> None:
    for _ in range(THRESHOLD):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_a_new_breaker_is_closed_and_lets_every_request_through(breaker: CircuitBreaker) -> None:
    assert breaker.state is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(10))
    assert breaker.state is BreakerState.CLOSED


def test_it_opens_at_the_thresholds_failure_and_not_before(breaker: CircuitBreaker) -> None:
    for _ in range(THRESHOLD - 1):
        breaker.record_failure()
        assert breaker.state is BreakerState.CLOSED
        assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()


def test_failures_count_only_in_a_row(breaker: CircuitBreaker) -> None:
    for _ in range(3):  # nine failures in all, never THRESHOLD in a row
        for _ in range(THRESHOLD - 1):
            breaker.record_failure()
        breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_a_threshold_of_one_opens_on_the_first_failure(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=RESET, clock=clock)
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_it_stays_open_until_the_reset_timeout_has_passed(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    open_it(breaker)
    clock.now += RESET - 0.001
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += 0.001  # exactly reset_timeout after it opened
    assert breaker.state is BreakerState.HALF_OPEN


def test_half_open_allows_one_trial_at_a_time(breaker: CircuitBreaker, clock: FakeClock) -> None:
    open_it(breaker)
    clock.now += RESET
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # a second caller while the trial runs
    assert not breaker.allow()
    assert breaker.state is BreakerState.HALF_OPEN


def test_a_successful_trial_closes_it_and_forgets_the_failures(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    open_it(breaker)
    clock.now += RESET
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(3))
    for _ in range(THRESHOLD - 1):  # the count starts again from zero
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_a_failed_trial_reopens_it_for_a_full_reset_timeout_from_then(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    open_it(breaker)
    clock.now += RESET + 5
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()
    clock.now += RESET - 0.001
    assert breaker.state is BreakerState.OPEN
    clock.now += 0.001
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()  # a new trial: the failed one is over


def test_a_trial_cut_off_by_the_deadline_frees_the_slot_without_a_verdict(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    open_it(breaker)
    clock.now += RESET
    assert breaker.allow()
    breaker.record_released()
    assert breaker.state is BreakerState.HALF_OPEN  # neither closed nor reopened
    assert breaker.allow()  # another caller may try
    assert not breaker.allow()


def test_the_clock_is_read_when_it_opens(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=10, clock=clock)
    breaker.record_failure()
    clock.now += 100  # a long gap before the failure that opens it
    breaker.record_failure()
    clock.now += 9
    assert breaker.state is BreakerState.OPEN
    clock.now += 1
    assert breaker.state is BreakerState.HALF_OPEN


def test_states_have_the_names_metrics_and_spans_show() -> None:
    assert [s.value for s in BreakerState] == ["closed", "open", "half_open"]
