"""Prometheus metrics of the relay."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

UNPUBLISHED = Gauge("pixwave_outbox_unpublished", "Outbox rows not yet published (parked included)")
OLDEST_AGE = Gauge(
    "pixwave_outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished outbox row"
)
PARKED = Gauge("pixwave_outbox_parked", "Outbox rows parked for an operator")
PUBLISHED = Counter("pixwave_outbox_published_total", "Events published to SNS", ["topic"])
FAILED = Counter("pixwave_outbox_publish_failures_total", "Entries SNS did not accept", ["kind"])
COMMIT_TO_PUBLISH = Histogram(
    "pixwave_outbox_commit_to_publish_seconds",
    "From the writing transaction to SNS accepting the event",
    buckets=(0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
