"""Prometheus metrics of gateway calls, exposed by whichever process makes them."""

from __future__ import annotations

from prometheus_client import Counter

ATTEMPTS = Counter(
    "pixwave_gateway_attempts_total", "Gateway charge tries by outcome", ["gateway", "outcome"]
)
FALLBACKS = Counter(
    "pixwave_gateway_fallbacks_total", "Tries sent past the first gateway in priority", ["gateway"]
)
CIRCUITS_OPENED = Counter(
    "pixwave_gateway_circuit_opened_total", "Times a gateway's circuit opened", ["gateway"]
)
