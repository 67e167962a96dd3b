from __future__ import annotations

from outbox.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(threshold=3, base_wait_seconds=1.0, max_wait_seconds=8.0, clock=clock)


def test_stays_closed_below_the_threshold() -> None:
    breaker = _breaker(FakeClock())
    breaker.record_failure()
    breaker.record_failure()
    assert not breaker.is_open
    assert breaker.seconds_until_trial() == 0.0


def test_opens_at_the_threshold_then_allows_a_trial_after_the_wait() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.record_failure()
    wait = breaker.seconds_until_trial()
    assert breaker.is_open
    assert 0.5 <= wait <= 1.0
    clock.now += wait
    assert breaker.seconds_until_trial() == 0.0


def test_each_reopening_doubles_the_wait_up_to_the_cap() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        threshold=3, base_wait_seconds=1.0, max_wait_seconds=8.0, clock=clock, jitter=lambda: 1.0
    )
    for _ in range(2):
        breaker.record_failure()
    waits = []
    for _ in range(6):
        breaker.record_failure()  # a failed trial reopens the circuit
        waits.append(breaker.seconds_until_trial())
        clock.now += 100
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_success_closes_and_resets() -> None:
    clock = FakeClock()
    breaker = _breaker(clock)
    for _ in range(5):
        breaker.record_failure()
    breaker.record_success()
    assert not breaker.is_open
    breaker.record_failure()
    assert not breaker.is_open
