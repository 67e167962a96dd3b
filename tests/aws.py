"""The AWS API server the tests use (moto's, as a process, over HTTP) and a TCP
proxy in front of it that a test can cut to simulate an outage."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from app.embedded import free_port
from tests.support import wait_for

STARTUP_TIMEOUT_SECONDS = 30.0
RECEIVE_WAIT_SECONDS = 1
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _answers(port), timeout=STARTUP_TIMEOUT_SECONDS)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


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
