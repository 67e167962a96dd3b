"""A queue world for the worker runtime tests: its own database, queue and DLQ."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg

from app.domain.events import Aggregate, EventType, build_envelope
from app.domain.ids import new_id
from tests.aws import CREDENTIALS
from tests.integration.probe_consumers import EFFECTS_TABLE, PROBE_EVENT
from tests.integration.world import World, isolated


@dataclass(frozen=True)
class QueueWorld(World):
    queue_url: str
    dlq_url: str

    @property
    def queue_name(self) -> str:
        return f"{self.prefix}-probe"

    @property
    def env(self) -> dict[str, str]:
        return {**self.base_env, "PIXWAVE_WORKER_MODULES": "tests.integration.probe_consumers"}

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs", endpoint_url=self.endpoint, region_name="us-east-1")

    def send(self, body: str, **kwargs: Any) -> None:
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body, **kwargs)

    def effects(self) -> list[str]:
        return [row[0] for row in self.rows("SELECT event_id FROM probe_effects ORDER BY at")]

    def depth(self, url: str | None = None) -> dict[str, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url, AttributeNames=["All"]
        )["Attributes"]
        return {
            "visible": int(attributes["ApproximateNumberOfMessages"]),
            "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        }

    def receive_dlq(self, expected: int, timeout: float) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < expected and time.monotonic() < deadline:
            found += self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        return found


def new_queue_world(
    service_env: dict[str, str], endpoint: str, *, visibility: int, max_receive_count: int
) -> QueueWorld:
    os.environ.update(CREDENTIALS)
    database_url, prefix = isolated(service_env, "worker")
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(EFFECTS_TABLE)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-probe-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-probe",
        Attributes={
            "VisibilityTimeout": str(visibility),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
            ),
        },
    )["QueueUrl"]
    return QueueWorld(database_url, endpoint, prefix, queue_url, dlq_url)


def probe_event(event_type: str = PROBE_EVENT, **data: Any) -> tuple[str, str]:
    """A valid envelope; returns (event id, JSON body)."""
    event_id = new_id("evt")
    envelope = build_envelope(
        event_id=event_id,
        event_type=EventType.PAYMENT_INTENT_CREATED,
        created=int(time.time()),
        merchant_id="mer_probe",
        livemode=False,
        aggregate=Aggregate("probe", "probe_1", 1),
        data_object=data,
    )
    envelope["type"] = event_type
    return event_id, json.dumps(envelope)
