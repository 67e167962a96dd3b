"""Retry delays keyed on SQS's ApproximateReceiveCount."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

# ChangeMessageVisibility accepts at most 12 hours.
MAX_VISIBILITY_SECONDS = 12 * 3600 - 1


def retry_delay_seconds(
    receive_count: int,
    *,
    base_seconds: float,
    cap_seconds: float,
    jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0),  # noqa: S311
) -> int:
    """Capped exponential backoff with jitter: base·2^(n-1), at most the cap (< 12 h)."""
    exponent = max(receive_count - 1, 0)
    ceiling = min(cap_seconds, MAX_VISIBILITY_SECONDS, base_seconds * 2.0 ** min(exponent, 40))
    return max(1, min(MAX_VISIBILITY_SECONDS, math.ceil(ceiling * jitter())))
