"""Running one consumer as a process: `pixwave worker NAME`."""

from __future__ import annotations

import asyncio

from app.aws import async_client
from app.db.session import session_factory
from app.roles import background_role
from app.settings import Settings
from workers.registry import queue_name
from workers.runtime.consumer import Consumer
from workers.runtime.worker import Worker, WorkerOptions


async def serve_worker(settings: Settings, consumer: Consumer) -> None:
    async with (
        background_role(settings, metrics_port=settings.worker_metrics_port) as (engine, stop),
        async_client("sqs", settings) as sqs,
    ):
        sessions = session_factory(engine)
        worker = Worker(
            consumer,
            sqs=sqs,
            sessions=sessions,
            queue_name=queue_name(settings, consumer),
            options=WorkerOptions(
                concurrency=settings.worker_concurrency,
                shutdown_grace_seconds=settings.worker_shutdown_grace_seconds,
                max_hold_seconds=settings.worker_max_hold_seconds,
                receive_wait_seconds=settings.worker_receive_wait_seconds,
                delete_flush_seconds=settings.worker_delete_flush_seconds,
            ),
        )
        roles = [worker.run(stop)]
        if consumer.companion is not None:
            roles.append(consumer.companion.run(sessions, stop))
        await asyncio.gather(*roles)
