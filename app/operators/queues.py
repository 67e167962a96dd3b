"""Reading queues for operators: the queues the topology declares, their depth, and
a look at messages that leaves them where they were (visibility back to 0)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from app.domain.errors import InvalidRequest, NotFound, PoisonMessage
from outbox.topology import FIFO_SUFFIX, QueueSpec, Topology
from workers.runtime.dead_letters import (
    REASON_ATTRIBUTE,
    SOURCE_MESSAGE_ID_ATTRIBUTE,
)
from workers.runtime.envelope import Event, parse_event
from workers.runtime.queues import MAX_RECEIVE_BATCH

# A long poll: an empty answer means nothing is visible (a short poll may miss messages).
RECEIVE_WAIT_SECONDS = 1
# A peeked message is hidden at most this long: should the tool die before giving it
# back, SQS does so by itself.
PEEK_HOLD_SECONDS = 60
EVENT_TYPE_ATTRIBUTE = "event_type"  # set by the relay on every event (../shared/DESIGN.md)
_DEPTH_ATTRIBUTES = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass(frozen=True, slots=True)
class QueuePair:
    """A source queue and its DLQ, located at the endpoint."""

    source: str
    source_url: str
    dlq: str
    dlq_url: str


@dataclass(frozen=True, slots=True)
class QueueStats:
    queue: str
    dead_letter_for: str | None  # the source queue, when this is a DLQ
    visible: int
    in_flight: int
    delayed: int
    # DLQs only: the oldest SentTimestamp among the ``sampled`` (at most 10) messages
    # peeked, the whole queue's when it holds no more. Source queues are never received
    # from here: every receive counts toward their maxReceiveCount.
    oldest_age_seconds: float | None
    sampled: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message as SQS returned it, and its event when the body is one."""

    message: dict[str, Any]
    event: Event | None

    @property
    def message_id(self) -> str:
        message_id: str = self.message["MessageId"]
        return message_id

    @property
    def source_message_id(self) -> str:
        """The id in the source queue: the ledger's key. SQS keeps it when its redrive
        policy moves a message; a copy the worker dead-lettered names it."""
        return self.attribute(SOURCE_MESSAGE_ID_ATTRIBUTE) or self.message_id

    @property
    def event_id(self) -> str | None:
        return self.event.id if self.event else None

    @property
    def event_type(self) -> str | None:
        return self.event.type if self.event else self.attribute(EVENT_TYPE_ATTRIBUTE)

    @property
    def aggregate_id(self) -> str | None:
        return self.event.aggregate.id if self.event else None

    @property
    def carried_reason(self) -> str | None:
        return self.attribute(REASON_ATTRIBUTE)

    @property
    def receive_count(self) -> int:
        return int(self.message["Attributes"]["ApproximateReceiveCount"])

    @property
    def sent_at(self) -> float:
        """Epoch seconds."""
        return int(self.message["Attributes"]["SentTimestamp"]) / 1000

    def attribute(self, name: str) -> str | None:
        value: str | None = (
            self.message.get("MessageAttributes", {}).get(name, {}).get("StringValue")
        )
        return value


def read_dead_letter(message: dict[str, Any]) -> DeadLetter:
    try:
        event: Event | None = parse_event(message["Body"])
    except PoisonMessage:
        event = None
    return DeadLetter(message, event)


def base_name(spec: QueueSpec, prefix: str) -> str:
    """`charge` for `pixwave-charge` (or `pixwave-charge.fifo`)."""
    return spec.name.removeprefix(f"{prefix}-").removesuffix(FIFO_SUFFIX)


def find_spec(topology: Topology, prefix: str, given: str) -> QueueSpec:
    """The queue pair whose DLQ an operator named, in full (`pixwave-charge-dlq`) or
    by its base name (`charge`)."""
    for spec in topology.queues:
        if given in (spec.dlq_name, base_name(spec, prefix)):
            return spec
    known = ", ".join(f"{spec.dlq_name} ({base_name(spec, prefix)})" for spec in topology.queues)
    raise InvalidRequest(f"unknown dead-letter queue {given!r}; known: {known}", param="queue")


def queue_url(sqs: Any, name: str) -> str:
    try:
        url: str = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist as exc:
        raise NotFound(f"queue {name} does not exist: run `pixwave topology apply`") from exc
    return url


def queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    arn: str = attributes["Attributes"]["QueueArn"]
    return arn


def locate(sqs: Any, spec: QueueSpec) -> QueuePair:
    return QueuePair(
        spec.name, queue_url(sqs, spec.name), spec.dlq_name, queue_url(sqs, spec.dlq_name)
    )


def depth(sqs: Any, url: str) -> tuple[int, int, int]:
    """Messages visible, in flight and delayed."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(_DEPTH_ATTRIBUTES))
    visible, in_flight, delayed = (int(attributes["Attributes"][a]) for a in _DEPTH_ATTRIBUTES)
    return visible, in_flight, delayed


def receive(sqs: Any, url: str, limit: int, *, hold_seconds: int) -> list[dict[str, Any]]:
    """Up to ``limit`` (at most 10) messages, hidden for ``hold_seconds``."""
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=min(limit, MAX_RECEIVE_BATCH),
        WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
        VisibilityTimeout=hold_seconds,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


def release(sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
    """Make held messages visible again now. One whose receipt went stale (its hold ran
    out and it was received again) is simply not changed."""
    for start in range(0, len(messages), MAX_RECEIVE_BATCH):
        chunk = messages[start : start + MAX_RECEIVE_BATCH]
        sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


def peek(sqs: Any, url: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` of the messages visible now, given back before returning. Each
    is received once (SQS counts that in its ApproximateReceiveCount)."""
    wanted = min(limit, depth(sqs, url)[0])
    held: list[dict[str, Any]] = []
    try:
        while len(held) < wanted and (
            batch := receive(sqs, url, wanted - len(held), hold_seconds=PEEK_HOLD_SECONDS)
        ):
            held += batch
    finally:
        release(sqs, url, held)
    return held


def oldest_age_seconds(messages: list[dict[str, Any]], now: float) -> float | None:
    if not messages:
        return None
    return max(0.0, now - min(read_dead_letter(m).sent_at for m in messages))


def stats_of(sqs: Any, name: str, *, dead_letter_for: str | None) -> QueueStats:
    url = queue_url(sqs, name)
    visible, in_flight, delayed = depth(sqs, url)
    sample = peek(sqs, url, MAX_RECEIVE_BATCH) if dead_letter_for else []
    return QueueStats(
        queue=name,
        dead_letter_for=dead_letter_for,
        visible=visible,
        in_flight=in_flight,
        delayed=delayed,
        oldest_age_seconds=oldest_age_seconds(sample, time.time()),
        sampled=len(sample),
    )


def dlq_stats(sqs: Any, topology: Topology) -> list[QueueStats]:
    return [stats_of(sqs, spec.dlq_name, dead_letter_for=spec.name) for spec in topology.queues]


def all_stats(sqs: Any, topology: Topology) -> list[QueueStats]:
    """Each source queue followed by its DLQ."""
    return [
        stats
        for spec in topology.queues
        for stats in (
            stats_of(sqs, spec.name, dead_letter_for=None),
            stats_of(sqs, spec.dlq_name, dead_letter_for=spec.name),
        )
    ]
