"""What AWS-contract tests share: credentials moto accepts and SQS helpers. The server
itself is `app.embedded.moto_server` (a process, over HTTP); `devtools.chaos.outage` cuts it."""

from __future__ import annotations

import time
from typing import Any

import boto3

RECEIVE_WAIT_SECONDS = 1
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def sqs_client(endpoint: str) -> Any:
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")


def drain(endpoint: str, queue_name: str, *, expected: int, timeout: float) -> list[dict[str, Any]]:
    """Receive and delete until ``expected`` messages came (or the deadline), then
    keep listening one more wait to catch extras."""
    sqs = sqs_client(endpoint)
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    quiet_rounds = 0
    while time.monotonic() < deadline and (len(messages) < expected or quiet_rounds < 1):
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        quiet_rounds = 0 if batch or len(messages) < expected else quiet_rounds + 1
        if batch:
            messages.extend(batch)
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )
    return messages
