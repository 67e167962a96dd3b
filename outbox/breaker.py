"""A circuit breaker with capped exponential backoff, for the relay's SNS calls."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; each reopening doubles the wait
    (with jitter) up to ``max_wait``. After the wait one trial is allowed (half-open):
    a success closes the circuit, a failure opens it again for longer."""

    def __init__(
        self,
        *,
        threshold: int,
        base_wait_seconds: float,
        max_wait_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0),  # noqa: S311
    ) -> None:
        self._threshold = threshold
        self._base = base_wait_seconds
        self._max = max_wait_seconds
        self._clock = clock
        self._jitter = jitter
        self._failures = 0
        self._opened_times = 0
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._failures >= self._threshold

    def seconds_until_trial(self) -> float:
        """0 when a call may go now (closed, or open and its wait is over)."""
        if not self.is_open:
            return 0.0
        return max(0.0, self._open_until - self._clock())

    def record_success(self) -> None:
        self._failures = 0
        self._opened_times = 0

    def record_failure(self) -> None:
        self._failures += 1
        if self.is_open:
            wait = min(self._max, self._base * 2**self._opened_times)
            self._open_until = self._clock() + wait * self._jitter()
            self._opened_times += 1
