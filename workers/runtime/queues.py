"""The queue a worker consumes: what it learned of it at start, SQS's batch limit, and
the depth gauges it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workers.runtime import metrics

MAX_RECEIVE_BATCH = 10  # SQS: messages per ReceiveMessage and entries per batch call
_DEPTH_ATTRIBUTES = {
    "ApproximateNumberOfMessages": "visible",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "ApproximateNumberOfMessagesDelayed": "delayed",
}


@dataclass(frozen=True, slots=True)
class QueueInfo:
    name: str
    url: str
    visibility_seconds: int
    dlq_name: str | None
    dlq_url: str | None


async def poll_depth(sqs: Any, queue: QueueInfo) -> None:
    """Set the depth gauges of the queue and of its DLQ."""
    urls = {queue.name: queue.url}
    if queue.dlq_url is not None and queue.dlq_name is not None:
        urls[queue.dlq_name] = queue.dlq_url
    for name, url in urls.items():
        answer = await sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=list(_DEPTH_ATTRIBUTES)
        )
        for attribute, state in _DEPTH_ATTRIBUTES.items():
            metrics.QUEUE_DEPTH.labels(name, state).set(int(answer["Attributes"][attribute]))
