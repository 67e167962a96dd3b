"""Prometheus metrics of gateway calls, exposed by whichever process makes them."""

from __future__ import annotations

from prometheus_client import Counter

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
