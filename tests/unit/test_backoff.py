from __future__ import annotations

import pytest

from workers.runtime.backoff import MAX_VISIBILITY_SECONDS, retry_delay_seconds


def _delay(count: int, *, base: float = 2, cap: float = 300, jitter: float = 1.0) -> int:
    return retry_delay_seconds(count, base_seconds=base, cap_seconds=cap, jitter=lambda: jitter)


def test_doubles_with_each_receive() -> None:
    assert [_delay(n) for n in range(1, 7)] == [2, 4, 8, 16, 32, 64]


def test_stops_at_the_cap() -> None:
    assert _delay(20) == 300


def test_never_exceeds_what_sqs_accepts() -> None:
    assert _delay(1000, base=60, cap=10**9) == MAX_VISIBILITY_SECONDS
    assert MAX_VISIBILITY_SECONDS < 12 * 3600


@pytest.mark.parametrize("jitter", [0.5, 0.75, 1.0])
def test_jitter_scales_down_never_up(jitter: float) -> None:
    assert 1 <= _delay(5, jitter=jitter) <= _delay(5)


def test_is_at_least_one_second() -> None:
    assert _delay(1, base=0.1, jitter=0.5) == 1
    assert _delay(0) == 2
