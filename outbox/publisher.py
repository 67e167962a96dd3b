"""Turn outbox rows into SNS PublishBatch calls and report what failed, and why."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from app.aws import AWS_CALL_ERRORS
from app.domain.events import visibility_of
from app.tracing import OUTCOME, TRACEPARENT_HEADER, event_attributes, start_span
from outbox.repository import ClaimedEvent

# The SNS message attribute (and, under raw delivery, the SQS one) naming the span.
TRACEPARENT_ATTRIBUTE = TRACEPARENT_HEADER

# SNS quotas: 10 entries and 256 KiB of payload per PublishBatch call.
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024
# SNS answers these for an entry that will never be accepted as it is.
PERMANENT_ENTRY_ERRORS = frozenset(
    {"InvalidParameter", "InvalidParameterValue", "ValidationError", "InvalidMessageContents"}
)


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    position: int
    topic: str
    entry: dict[str, Any]
    size_bytes: int
    # The row's: each publish is a span under it, and the message carries that span.
    traceparent: str | None = None
    event_attributes: dict[str, str] = field(default_factory=dict)


FailureKind = Literal["outage", "refused", "invalid"]


@dataclass(frozen=True, slots=True)
class EntryFailure:
    """``outage``: the call itself failed (no fault of the row); ``refused``: SNS
    turned this entry down and may take it later; ``invalid``: it never will."""

    position: int
    error: str
    kind: FailureKind


def prepare(row: ClaimedEvent, *, fifo: bool) -> PreparedMessage:
    body = row.payload_text
    attributes = {
        "event_type": row.event_type,
        "merchant_id": row.merchant_id,
        "visibility": visibility_of(row.event_type).value,
    }
    if row.traceparent:
        attributes[TRACEPARENT_ATTRIBUTE] = row.traceparent
    entry: dict[str, Any] = {
        "Id": str(row.position),
        "Message": body,
        # String only: moto breaks on Binary attributes with raw delivery.
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    }
    if row.subject:
        entry["Subject"] = row.subject
    if fifo:
        entry["MessageGroupId"] = row.aggregate_id
        entry["MessageDeduplicationId"] = row.id
    size = (
        len(body.encode())
        + len((row.subject or "").encode())
        + sum(len(name) + len("String") + len(value.encode()) for name, value in attributes.items())
    )
    return PreparedMessage(
        position=row.position,
        topic=row.topic,
        entry=entry,
        size_bytes=size,
        traceparent=row.traceparent,
        event_attributes=event_attributes(row.id, row.event_type, row.aggregate_id),
    )


def batches(messages: list[PreparedMessage]) -> Iterator[list[PreparedMessage]]:
    """Split one topic's messages into calls within SNS's entry and byte quotas."""
    batch: list[PreparedMessage] = []
    size = 0
    for message in messages:
        if batch and (
            len(batch) == MAX_BATCH_ENTRIES or size + message.size_bytes > MAX_BATCH_BYTES
        ):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += message.size_bytes
    if batch:
        yield batch


async def publish_batch(
    sns: Any, topic_arn: str, batch: list[PreparedMessage]
) -> list[EntryFailure]:
    """One PublishBatch call; a call that fails as a whole fails every entry, transiently."""
    spans = [_publish_span(topic_arn, m) for m in batch]
    failures: list[EntryFailure] | None = None  # None: the call itself raised
    try:
        failures = await _publish_batch(sns, topic_arn, [e for _, e in spans], batch)
        return failures
    finally:
        _end(spans, batch, failures)


def _publish_span(topic_arn: str, message: PreparedMessage) -> tuple[Span, dict[str, Any]]:
    """A producer span per message under its row's, and the entry carrying that span."""
    topic = topic_arn.rsplit(":", 1)[-1]
    attributes = {
        "messaging.system": "aws_sns",
        "messaging.operation.name": "publish",
        "messaging.destination.name": topic,
        **message.event_attributes,
    }
    span, traceparent = start_span(
        f"publish {topic}", message.traceparent, kind=SpanKind.PRODUCER, attributes=attributes
    )
    entry = message.entry
    if message.traceparent:  # same length: the entry's size stays as counted
        attributes_of = entry["MessageAttributes"]
        entry = {
            **entry,
            "MessageAttributes": {
                **attributes_of,
                TRACEPARENT_ATTRIBUTE: {"DataType": "String", "StringValue": traceparent},
            },
        }
    return span, entry


def _end(
    spans: list[tuple[Span, dict[str, Any]]],
    batch: list[PreparedMessage],
    failures: list[EntryFailure] | None,
) -> None:
    failed = {f.position: f.kind for f in failures or []}
    for (span, _), message in zip(spans, batch, strict=True):
        kind = failed.get(message.position, "published" if failures is not None else "error")
        span.set_attribute(OUTCOME, kind)
        if kind != "published":
            span.set_status(Status(StatusCode.ERROR, kind))
        span.end()


async def _publish_batch(
    sns: Any, topic_arn: str, entries: list[dict[str, Any]], batch: list[PreparedMessage]
) -> list[EntryFailure]:
    try:
        response = await sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)
    except AWS_CALL_ERRORS as exc:
        return [EntryFailure(m.position, f"{type(exc).__name__}: {exc}", "outage") for m in batch]
    return [
        EntryFailure(
            position=int(failed["Id"]),
            error=f"{failed.get('Code')}: {failed.get('Message', '')}",
            kind=(
                "invalid"
                if failed.get("SenderFault") and failed.get("Code") in PERMANENT_ENTRY_ERRORS
                else "refused"
            ),
        )
        for failed in response.get("Failed", [])
    ]
