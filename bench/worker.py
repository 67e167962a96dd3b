"""Worker runtime throughput: messages/s through a no-op handler (inbox row and
commit included) against a bare receive+delete loop on the same SQS endpoint in
the same run, and CPU per message. Not a test: it writes JSON to bench/results/.

    .venv/bin/python bench/worker.py [--messages 2000] [--concurrency 10]

It starts its own moto server (or uses --endpoint-url) and its own database on
--database-server. moto slows down as a queue deepens, so every phase starts
from the same depth; the bare loop runs before and after the worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import psutil  # type: ignore[import-untyped]
import psycopg
import uvloop

# `python bench/worker.py` puts bench/, not the root, on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.aws import async_client
from app.db.session import create_engine, session_factory
from app.db.uow import UnitOfWork
from app.domain.events import Aggregate, EventType, build_envelope
from app.domain.ids import new_id
from app.embedded import moto_server
from app.settings import Settings
from bench.common import ROOT, cpu_seconds, write_result
from tests.aws import CREDENTIALS
from tests.services import fresh_database
from workers.runtime.consumer import Consumer
from workers.runtime.envelope import Event
from workers.runtime.queues import MAX_RECEIVE_BATCH
from workers.runtime.worker import Worker, WorkerOptions

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
EVENT_TYPE = "bench.noop"
POLL_SECONDS = 0.25


async def noop(event: Event, uow: UnitOfWork) -> None:
    """Nothing but what every handler gets: the inbox row and the commit."""


def envelope() -> str:
    document = build_envelope(
        event_id=new_id("evt"),
        event_type=EventType.PAYMENT_INTENT_CREATED,
        created=int(time.time()),
        merchant_id="mer_bench",
        livemode=False,
        aggregate=Aggregate("payment_intent", new_id("pi"), 1),
        data_object={"id": "pi_bench", "amount": 1990, "currency": "BRL", "status": "pending"},
    )
    document["type"] = EVENT_TYPE
    return json.dumps(document)


def preload(sqs: Any, url: str, count: int) -> None:
    for start in range(0, count, MAX_RECEIVE_BATCH):
        entries = [
            {"Id": str(i), "MessageBody": envelope()}
            for i in range(min(MAX_RECEIVE_BATCH, count - start))
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


async def bare_loop(settings: Settings, url: str, count: int) -> dict[str, Any]:
    """One receiver, as the worker has, deleting each batch in one call."""
    process = psutil.Process()
    cpu0, started, done = cpu_seconds(process), time.perf_counter(), 0
    async with async_client("sqs", settings) as sqs:
        while done < count:
            messages = (
                await sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=MAX_RECEIVE_BATCH, WaitTimeSeconds=1
                )
            ).get("Messages", [])
            if messages:
                await sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
                done += len(messages)
    wall = time.perf_counter() - started
    return _rates(count, wall, cpu_seconds(process) - cpu0)


async def worker_run(
    settings: Settings, queue_name: str, count: int, concurrency: int
) -> dict[str, Any]:
    engine = create_engine(settings)
    consumer = Consumer(name="bench", queue="probe", handlers={EVENT_TYPE: noop})
    stop = asyncio.Event()
    process = psutil.Process()
    assert settings.database_url is not None
    async with async_client("sqs", settings) as sqs:
        worker = Worker(
            consumer,
            sqs=sqs,
            sessions=session_factory(engine),
            queue_name=queue_name,
            options=WorkerOptions(concurrency=concurrency, receive_wait_seconds=1),
        )
        handled0 = _inbox_rows(settings.database_url)
        cpu0, started = cpu_seconds(process), time.perf_counter()
        task = asyncio.create_task(worker.run(stop))
        while _inbox_rows(settings.database_url) - handled0 < count:  # noqa: ASYNC110
            await asyncio.sleep(POLL_SECONDS)
        wall = time.perf_counter() - started
        used = cpu_seconds(process) - cpu0
        stop.set()
        await task
    await engine.dispose()
    return _rates(count, wall, used)


def _inbox_rows(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute("SELECT count(*) FROM inbox").fetchone()
    return int(row[0]) if row else 0


def _rates(count: int, wall: float, cpu: float) -> dict[str, Any]:
    return {
        "messages": count,
        "wall_seconds": round(wall, 3),
        "messages_per_second": round(count / wall, 1),
        "cpu_ms_per_message": round(cpu * 1000 / count, 3),
    }


async def measure(args: argparse.Namespace, endpoint: str) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    database_url = fresh_database(args.database_server, name=f"pixwave_bench_worker_{suffix}")
    settings = Settings(aws_endpoint_url=endpoint, database_url=database_url)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    queue_name = f"bench{suffix}-probe"
    url = sqs.create_queue(QueueName=queue_name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    phases: dict[str, Any] = {}
    for phase in ("bare_before", "worker", "bare_after"):
        preload(sqs, url, args.messages)
        if phase == "worker":
            phases[phase] = await worker_run(settings, queue_name, args.messages, args.concurrency)
        else:
            phases[phase] = await bare_loop(settings, url, args.messages)
        print(f"{phase}: {phases[phase]}", file=sys.stderr)
    bare = (
        phases["bare_before"]["messages_per_second"] + phases["bare_after"]["messages_per_second"]
    ) / 2
    return {
        **phases,
        "ratio_worker_to_bare": round(phases["worker"]["messages_per_second"] / bare, 3),
        "targets": {
            "worker_at_least_0.9_of_bare": phases["worker"]["messages_per_second"] >= 0.9 * bare,
            "cpu_at_most_1_ms_per_message": phases["worker"]["cpu_ms_per_message"] <= 1.0,
        },
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--endpoint-url", help="an SQS endpoint (default: own moto server)")
    parser.add_argument("--database-server", default=DEFAULT_SERVER)
    args = parser.parse_args(argv)
    os.environ.update(CREDENTIALS)
    started_at = datetime.now(UTC)
    if args.endpoint_url:
        measured = uvloop.run(measure(args, args.endpoint_url))
    else:
        with moto_server() as endpoint:
            measured = uvloop.run(measure(args, endpoint))
    result = {
        "benchmark": "workers.runtime",
        "started_at": started_at.isoformat(),
        "endpoint": args.endpoint_url or "own moto server",
        "concurrency": args.concurrency,
        **measured,
    }
    path = write_result("worker", started_at, result)
    print(path.read_text())
    print(f"written to {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
