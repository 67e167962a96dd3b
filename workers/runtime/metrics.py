"""Prometheus metrics of the consumers."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

POLLS = Counter(
    "pixwave_worker_polls_total", "ReceiveMessage calls begun (SQS bills each)", ["consumer"]
)
DELETE_CALLS = Counter(
    "pixwave_worker_delete_calls_total",
    "DeleteMessageBatch calls of settled messages (SQS bills each)",
    ["consumer"],
)
DELETES_LEFT = Counter(
    "pixwave_worker_deletes_left_total",
    "Settled messages whose delete failed: SQS redelivers them, the inbox dedups",
    ["consumer"],
)
HEARTBEATS = Counter(
    "pixwave_worker_heartbeats_total", "Visibility extensions of held messages", ["consumer"]
)
RECEIVED = Counter("pixwave_worker_received_total", "Messages received", ["consumer"])
SUCCEEDED = Counter("pixwave_worker_succeeded_total", "Messages handled", ["consumer"])
DUPLICATES = Counter(
    "pixwave_worker_duplicates_total", "Deliveries of an event already handled", ["consumer"]
)
RETRIED = Counter("pixwave_worker_retried_total", "Messages put back with a delay", ["consumer"])
DEAD_LETTERED = Counter(
    "pixwave_worker_dead_lettered_total", "Poison messages sent to the DLQ", ["consumer"]
)
HANDLER_SECONDS = Histogram(
    "pixwave_worker_handler_seconds",
    "Handler time, inbox and commit included",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
IN_FLIGHT = Gauge("pixwave_worker_in_flight", "Messages held by this process", ["consumer"])
QUEUE_DEPTH = Gauge(
    "pixwave_worker_queue_depth", "SQS ApproximateNumberOfMessages*", ["queue", "state"]
)
