"""A queue world for the worker runtime tests: its own database, queue and DLQ, and
a worker running in the test's own process."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import psycopg

from app.aws import async_client
from app.db.session import create_engine, session_factory
from app.domain.events import Aggregate, EventType, build_envelope
from app.domain.ids import new_id
from app.settings import Settings
from tests.aws import CREDENTIALS
from tests.integration.probe_consumers import EFFECTS_TABLE, PROBE_EVENT
from tests.integration.world import World, isolated
from tests.support import wait_for
from workers.runtime.consumer import Consumer
from workers.runtime.worker import Worker, WorkerOptions

SETTLE_TIMEOUT_SECONDS = 60.0
FIXED_JITTER = 1.0


@dataclass(frozen=True)
class QueueWorld(World):
    queue_url: str
    dlq_url: str
    queue_base: str = "probe"

    @property
    def queue_name(self) -> str:
        return f"{self.prefix}-{self.queue_base}"

    @property
    def dlq_name(self) -> str:
        return f"{self.queue_name}-dlq"

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


@asynccontextmanager
async def running_worker(
    world: QueueWorld, consumer: Consumer, **options: float
) -> AsyncIterator[None]:
    settings = Settings(aws_endpoint_url=world.endpoint, database_url=world.database_url)
    engine = create_engine(settings)
    stop = asyncio.Event()
    async with async_client("sqs", settings) as sqs:
        worker = Worker(
            consumer,
            sqs=sqs,
            sessions=session_factory(engine),
            queue_name=world.queue_name,
            options=WorkerOptions(
                receive_wait_seconds=1,
                jitter=lambda: FIXED_JITTER,
                **options,  # type: ignore[arg-type]
            ),
        )
        task = asyncio.create_task(worker.run(stop))
        try:
            yield
        finally:
            stop.set()
            await task
    await engine.dispose()


async def until(condition: object, deadline: float = SETTLE_TIMEOUT_SECONDS) -> None:
    """Poll a blocking check off the event loop, so the worker under test keeps running."""
    await asyncio.to_thread(wait_for, condition, timeout=deadline)
