"""Prometheus metrics of risk screening, exposed by the API (where intents are screened)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DECISIONS = Counter("pixwave_risk_decisions_total", "Intents screened, by decision", ["decision"])
# By rule type and action, and whether the rule is one of the defaults (its id then) or
# a merchant's own ("merchant"): merchants' rule ids would make a series per rule.
RULE_MATCHES = Counter(
    "pixwave_risk_rule_matches_total", "Rules that matched an intent", ["rule", "type", "action"]
)
VELOCITY_UNAVAILABLE = Counter(
    "pixwave_risk_velocity_unavailable_total",
    "Velocity rules evaluated while Redis did not answer, by what they did",
    ["on_unavailable"],
)
SCREEN_SECONDS = Histogram(
    "pixwave_risk_screen_seconds",
    "Time to screen one intent (rules, first-payment lookup, velocity)",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
)
