"""The SNS/SQS topology, declared once. `pixwave topology apply` makes any endpoint
(moto, LocalStack, AWS) match it; Terraform in infra/ declares the same resources."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from app.domain.events import MERCHANT_EVENTS, EventType, Topic

FIFO_SUFFIX = ".fifo"
DLQ_SUFFIX = "-dlq"

# Retention, in seconds. SQS allows at most 14 days; every DLQ keeps its messages
# longer than its source queue, so nothing expires there before an operator looks.
FOUR_DAYS_SECONDS = 4 * 24 * 3600
FOURTEEN_DAYS_SECONDS = 14 * 24 * 3600

# Largest receive count a consumer retries up to, per queue. maxReceiveCount sits
# above it so a message is dead-lettered by the consumer's decision, not by accident.
CHARGE_MAX_RETRIES = 12
# A webhooks message only fans out into delivery rows (retries of a delivery live in
# its row, not in the queue), so it is retried only while the database is away: at
# the consumer's 5-minute cap, 50 receives wait out about 3.5 hours of that.
WEBHOOK_MAX_RETRIES = 50
REDRIVE_HEADROOM = 3

CHARGE_EVENTS: tuple[EventType, ...] = (
    EventType.PAYMENT_INTENT_CREATED,
    EventType.PAYMENT_INTENT_CAPTURE_REQUESTED,
    EventType.PAYMENT_INTENT_CANCELED,
    EventType.REFUND_CREATED,
    EventType.PAYOUT_CREATED,
)
# What merchants hear about (a redelivery needs no message: the dispatcher finds it).
WEBHOOK_EVENTS: tuple[EventType, ...] = MERCHANT_EVENTS


@dataclass(frozen=True, slots=True)
class QueueSpec:
    name: str
    visibility_timeout_seconds: int
    retention_seconds: int
    max_receive_count: int
    dlq_retention_seconds: int = FOURTEEN_DAYS_SECONDS

    @property
    def dlq_name(self) -> str:
        return _dlq_name(self.name)


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    topic: str
    queue: str
    event_types: tuple[str, ...]

    @property
    def filter_policy(self) -> dict[str, list[str]]:
        return {"event_type": sorted(self.event_types)}


@dataclass(frozen=True, slots=True)
class Topology:
    fifo: bool
    topics: dict[Topic, str]
    queues: tuple[QueueSpec, ...]
    subscriptions: tuple[SubscriptionSpec, ...]

    @property
    def longest_message_life_seconds(self) -> int:
        """A message may wait out its queue's retention, then its DLQ's (SQS keeps the
        enqueue time on a standard queue's redrive, but a FIFO DLQ restarts it)."""
        return max(q.retention_seconds + q.dlq_retention_seconds for q in self.queues)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fifo": self.fifo,
            "topics": {topic.value: name for topic, name in self.topics.items()},
            "queues": [{**asdict(queue), "dlq_name": queue.dlq_name} for queue in self.queues],
            "subscriptions": [
                {**asdict(sub), "filter_policy": sub.filter_policy} for sub in self.subscriptions
            ],
        }


def _dlq_name(queue_name: str) -> str:
    if queue_name.endswith(FIFO_SUFFIX):
        return queue_name.removesuffix(FIFO_SUFFIX) + DLQ_SUFFIX + FIFO_SUFFIX
    return queue_name + DLQ_SUFFIX


def resource_name(prefix: str, base: str, *, fifo: bool) -> str:
    """`pixwave-charge`, or `pixwave-charge.fifo`: every topic and queue is named so."""
    return f"{prefix}-{base}{FIFO_SUFFIX if fifo else ''}"


def declare(*, prefix: str = "pixwave", fifo: bool = False) -> Topology:
    def name(base: str) -> str:
        return resource_name(prefix, base, fifo=fifo)

    events_topic = name("events")
    charge = QueueSpec(
        name=name("charge"),
        visibility_timeout_seconds=60,
        retention_seconds=FOUR_DAYS_SECONDS,
        max_receive_count=CHARGE_MAX_RETRIES + REDRIVE_HEADROOM,
    )
    webhooks = QueueSpec(
        name=name("webhooks"),
        visibility_timeout_seconds=30,
        retention_seconds=FOUR_DAYS_SECONDS,
        max_receive_count=WEBHOOK_MAX_RETRIES + REDRIVE_HEADROOM,
    )
    return Topology(
        fifo=fifo,
        topics={Topic.EVENTS: events_topic, Topic.ALERTS: name("alerts")},
        queues=(charge, webhooks),
        subscriptions=(
            SubscriptionSpec(events_topic, charge.name, tuple(e.value for e in CHARGE_EVENTS)),
            SubscriptionSpec(events_topic, webhooks.name, tuple(e.value for e in WEBHOOK_EVENTS)),
        ),
    )
