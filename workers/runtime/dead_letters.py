"""The copy of a poison message the worker sends to its dead-letter queue itself, and
the attributes that say why: what `pixwave dlq` reads back."""

from __future__ import annotations

from typing import Any

MAX_REASON_CHARS = 1000
# Attributes of a copy the worker dead-letters itself: why, and which message it was.
REASON_ATTRIBUTE = "pixwave_failure_reason"
SOURCE_QUEUE_ATTRIBUTE = "pixwave_source_queue"
SOURCE_MESSAGE_ID_ATTRIBUTE = "pixwave_source_message_id"


def dead_letter_copy(
    message: dict[str, Any], reason: str, *, source_queue: str, dlq_url: str | None
) -> dict[str, Any]:
    """SendMessage arguments for ``message``'s copy: its body and attributes, plus why."""
    attributes = dict(message.get("MessageAttributes", {}))
    attributes |= {
        REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:MAX_REASON_CHARS]},
        SOURCE_QUEUE_ATTRIBUTE: {"DataType": "String", "StringValue": source_queue},
        SOURCE_MESSAGE_ID_ATTRIBUTE: {"DataType": "String", "StringValue": message["MessageId"]},
    }
    copy: dict[str, Any] = {
        "QueueUrl": dlq_url,
        "MessageBody": message["Body"],
        "MessageAttributes": attributes,
    }
    group = message.get("Attributes", {}).get("MessageGroupId")
    if group is not None:
        copy |= {"MessageGroupId": group, "MessageDeduplicationId": message["MessageId"]}
    return copy
