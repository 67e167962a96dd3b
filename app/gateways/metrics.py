"""Prometheus metrics of gateway calls, exposed by whichever process makes them."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ATTEMPTS = Counter(
    "pixwave_gateway_attempts_total", "Gateway charge tries by outcome", ["gateway", "outcome"]
)
ROUTING_DECISIONS = Counter(
    "pixwave_gateway_routing_decisions_total",
    "Gateway choices: first choice, fallback, or none (wait or exhausted)",
    ["gateway", "reason"],
)
CIRCUITS_OPENED = Counter(
    "pixwave_gateway_circuit_opened_total", "Times a gateway's circuit opened", ["gateway"]
)

# Seconds from an intent's creation to its end, observed where it ends (worker or api).
SECONDS_TO_TERMINAL = Histogram(
    "pixwave_payment_intent_seconds_to_terminal",
    "Seconds from creation to succeeded, failed or canceled",
    ["method", "status"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400),
)
