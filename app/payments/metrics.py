"""Prometheus metrics of intents, exposed by whichever process ends them (worker or api)."""

from __future__ import annotations

from prometheus_client import Histogram

# Seconds from an intent's creation to its end, observed where it ends (worker or api).
SECONDS_TO_TERMINAL = Histogram(
    "pixwave_payment_intent_seconds_to_terminal",
    "Seconds from creation to succeeded, failed or canceled",
    ["method", "status"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400),
)
