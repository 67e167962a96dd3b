"""The consumer loop: long-poll a queue, run handlers with bounded concurrency, and
settle every message by deleting it, delaying it, or sending it to the DLQ.

Retries only ever change a message's visibility (never a re-sent copy, which
would reset ApproximateReceiveCount and defeat the redrive policy). Only poison
(a message no retry can fix) is copied to the DLQ at once, with its reason.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from loguru import logger
from opentelemetry.trace import SpanKind
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.aws import AWS_CALL_ERRORS
from app.db.models import MessageFailure
from app.db.uow import SqlUnitOfWork as UnitOfWork
from app.domain.errors import PoisonMessage, RetryLater
from app.roles import periodically, sleep_unless, when_reachable
from app.settings import DELETE_FLUSH_SECONDS
from app.tracing import OUTCOME, annotate, continue_trace, event_attributes, failed, record_span
from workers.runtime import metrics
from workers.runtime.backoff import retry_delay_seconds
from workers.runtime.consumer import Consumer
from workers.runtime.dead_letters import MAX_REASON_CHARS, dead_letter_copy
from workers.runtime.deletes import DeleteBatcher
from workers.runtime.envelope import Event, message_traceparent, parse_event
from workers.runtime.held import Held, stopped_first
from workers.runtime.queues import MAX_RECEIVE_BATCH, QueueInfo, poll_depth

RECEIVE_ERROR_PAUSE_SECONDS = 2.0
# After a receive that brought some messages but not a full batch, the next waits this
# long, so messages trickling in share a call instead of costing one each. An empty
# receive has already waited its long poll, a full one goes on at once.
RECEIVE_FILL_SECONDS = 0.25
DEPTH_POLL_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    concurrency: int = 10
    shutdown_grace_seconds: float = 20.0
    # Heartbeats stop extending a message held this long; SQS may then redeliver it.
    max_hold_seconds: float = 3600.0
    receive_wait_seconds: int = 20
    delete_flush_seconds: float = DELETE_FLUSH_SECONDS
    receive_fill_seconds: float = RECEIVE_FILL_SECONDS
    jitter: Callable[[], float] | None = None


class Worker:
    def __init__(
        self,
        consumer: Consumer,
        *,
        sqs: Any,
        sessions: async_sessionmaker[AsyncSession],
        queue_name: str,
        options: WorkerOptions,
    ) -> None:
        self._consumer = consumer
        self._sqs = sqs
        self._sessions = sessions
        self._queue_name = queue_name
        self._options = options
        self._slots = asyncio.Semaphore(options.concurrency)
        self._held: list[Held] = []
        self._room = asyncio.Event()
        self._room.set()
        self._stopping = False
        self._receive_batch = min(MAX_RECEIVE_BATCH, options.concurrency)
        self._deletes: DeleteBatcher[Held] = DeleteBatcher(
            sqs, consumer=consumer.name, flush_seconds=options.delete_flush_seconds
        )

    async def describe_queue(self) -> QueueInfo:
        url: str = (await self._sqs.get_queue_url(QueueName=self._queue_name))["QueueUrl"]
        attributes = (
            await self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
            )
        )["Attributes"]
        dlq_name = dlq_url = None
        if "RedrivePolicy" in attributes:
            dlq_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
            # arn:aws:sqs:<region>:<account>:<name> is a documented format; queue URLs are not.
            *_, account, dlq_name = dlq_arn.split(":")
            dlq_url = (
                await self._sqs.get_queue_url(QueueName=dlq_name, QueueOwnerAWSAccountId=account)
            )["QueueUrl"]
        return QueueInfo(
            self._queue_name, url, int(attributes["VisibilityTimeout"]), dlq_name, dlq_url
        )

    async def run(self, stop: asyncio.Event) -> None:
        queue = await when_reachable(self.describe_queue, stop, role="worker")
        if queue is None:
            return
        logger.info(
            "worker.started",
            consumer=self._consumer.name,
            queue=queue.name,
            visibility_seconds=queue.visibility_seconds,
            concurrency=self._options.concurrency,
        )
        self._deletes.start(queue.url)
        background = [
            asyncio.create_task(self._heartbeat(queue)),
            asyncio.create_task(
                periodically(DEPTH_POLL_SECONDS, partial(poll_depth, self._sqs, queue))
            ),
        ]
        try:
            await self._dispatch(queue, stop)
            await self._drain(queue)
        finally:
            await self._deletes.close()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            logger.info("worker.stopped", consumer=self._consumer.name)

    # -- receiving ---------------------------------------------------------------

    async def _dispatch(self, queue: QueueInfo, stop: asyncio.Event) -> None:
        while not await stopped_first(asyncio.create_task(self._room.wait()), stop):
            if stop.is_set():
                return
            # A long poll is never cancelled: SQS would go on waiting for the closed
            # connection and hide whatever arrives meanwhile for a whole visibility
            # timeout. Stopping waits for it instead; _drain returns what it brings.
            messages = await self._receive(queue)
            for message in messages:
                self._hold(queue, message)
            if 0 < len(messages) < self._receive_batch:
                await sleep_unless(stop, self._options.receive_fill_seconds)

    async def _receive(self, queue: QueueInfo) -> list[dict[str, Any]]:
        metrics.POLLS.labels(self._consumer.name).inc()
        started_ns = time.time_ns()
        try:
            response = await self._sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=self._receive_batch,
                WaitTimeSeconds=self._options.receive_wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except AWS_CALL_ERRORS as exc:
            logger.warning("worker.receive_failed", consumer=self._consumer.name, error=repr(exc))
            await asyncio.sleep(RECEIVE_ERROR_PAUSE_SECONDS)
            return []
        messages: list[dict[str, Any]] = response.get("Messages", [])
        metrics.RECEIVED.labels(self._consumer.name).inc(len(messages))
        if messages:
            record_span(
                f"receive {queue.name}",
                started_ns=started_ns,
                kind=SpanKind.CONSUMER,
                attributes={**_messaging(queue), "messaging.batch.message_count": len(messages)},
                links_to=(message_traceparent(m) for m in messages),
            )
        return messages

    def _hold(self, queue: QueueInfo, message: dict[str, Any]) -> None:
        now = time.monotonic()
        held = Held(message=message, received_at=now, extended_at=now)
        held.task = asyncio.create_task(self._run_held(queue, held))
        self._held.append(held)
        self._update_room()

    def _release(self, held: Held) -> None:
        self._held.remove(held)
        self._update_room()

    def _update_room(self) -> None:
        metrics.IN_FLIGHT.labels(self._consumer.name).set(len(self._held))
        if len(self._held) < self._options.concurrency:
            self._room.set()
        else:
            self._room.clear()

    # -- handling ----------------------------------------------------------------

    async def _run_held(self, queue: QueueInfo, held: Held) -> None:
        async with self._slots:
            if self._stopping:
                return  # _drain gives it back
            held.started = True
            try:
                await self._settle(queue, held)
            except AWS_CALL_ERRORS as exc:
                # SQS unreachable while settling: the message reappears after its timeout.
                logger.warning(
                    "worker.settle_failed", consumer=self._consumer.name, error=repr(exc)
                )
            finally:
                self._release(held)

    async def _settle(self, queue: QueueInfo, held: Held) -> None:
        # The handler, its log lines and the events it writes join the message's trace.
        with continue_trace(
            message_traceparent(held.message),
            f"process {queue.name}",
            kind=SpanKind.CONSUMER,
            attributes={
                **_messaging(queue),
                "messaging.consumer.group.name": self._consumer.name,
                "messaging.message.id": held.message.get("MessageId", ""),
                "messaging.aws.sqs.receive_count": held.receive_count,
            },
        ):
            await self._settle_traced(queue, held)

    async def _settle_traced(self, queue: QueueInfo, held: Held) -> None:
        started = time.perf_counter()
        event: Event | None = None
        try:
            event = parse_event(held.message["Body"])
            annotate(event_attributes(event.id, event.type, event.aggregate.id))
            await self._handle(event)
            self._deletes.add(held)  # after the commit, never before
            annotate({OUTCOME: "handled"})
        except PoisonMessage as exc:
            failed(type(exc).__name__)
            annotate({OUTCOME: "dead_lettered"})
            await self._dead_letter(queue, held, event, exc)
        except Exception as exc:  # every other failure is retried later
            failed(type(exc).__name__)
            annotate({OUTCOME: "retried"})
            await self._retry_later(queue, held, event, exc)
        finally:
            metrics.HANDLER_SECONDS.labels(self._consumer.name).observe(
                time.perf_counter() - started
            )

    async def _handle(self, event: Event) -> None:
        handler = self._consumer.handlers.get(event.type)
        if handler is None:
            raise PoisonMessage(f"{self._consumer.name} has no handler for {event.type}")
        async with UnitOfWork(self._sessions) as uow:
            first_time = await uow.inbox.claim(self._consumer.name, event.id)
            if first_time:
                try:
                    await handler(event, uow)
                except RetryLater as exc:
                    if exc.keep_progress:  # commit the effects, not the inbox row
                        await uow.inbox.release(self._consumer.name, event.id)
                        await uow.commit()
                    raise
            await uow.commit()
        if first_time and self._consumer.companion is not None:
            self._consumer.companion.wake()
        counter = metrics.SUCCEEDED if first_time else metrics.DUPLICATES
        counter.labels(self._consumer.name).inc()

    async def _retry_later(
        self, queue: QueueInfo, held: Held, event: Event | None, exc: Exception
    ) -> None:
        delay = exc.delay_seconds if isinstance(exc, RetryLater) else None
        if delay is None:
            delay = retry_delay_seconds(
                held.receive_count,
                base_seconds=self._consumer.backoff_base_seconds,
                cap_seconds=self._consumer.backoff_cap_seconds,
                **({"jitter": self._options.jitter} if self._options.jitter else {}),
            )
        await self._record_failure(queue, held, event, exc, dead_lettered=False)
        logger.warning(
            "worker.retry_later",
            consumer=self._consumer.name,
            event_id=event.id if event else None,
            receive_count=held.receive_count,
            delay_seconds=delay,
            error=repr(exc),
        )
        await self._sqs.change_message_visibility(
            QueueUrl=queue.url, ReceiptHandle=held.receipt, VisibilityTimeout=delay
        )
        metrics.RETRIED.labels(self._consumer.name).inc()

    async def _dead_letter(
        self, queue: QueueInfo, held: Held, event: Event | None, exc: PoisonMessage
    ) -> None:
        await self._record_failure(queue, held, event, exc, dead_lettered=True)
        logger.error(
            "worker.dead_lettered",
            consumer=self._consumer.name,
            message_id=held.message["MessageId"],
            event_id=event.id if event else None,
            reason=exc.message,
        )
        if queue.dlq_url is None:
            await self._retry_later(queue, held, event, RetryLater(f"{queue.name} has no DLQ"))
            return
        copy = dead_letter_copy(
            held.message, exc.message, source_queue=queue.name, dlq_url=queue.dlq_url
        )
        await self._sqs.send_message(**copy)
        await self._sqs.delete_message(QueueUrl=queue.url, ReceiptHandle=held.receipt)
        metrics.DEAD_LETTERED.labels(self._consumer.name).inc()

    async def _record_failure(
        self,
        queue: QueueInfo,
        held: Held,
        event: Event | None,
        exc: Exception,
        *,
        dead_lettered: bool,
    ) -> None:
        failure = MessageFailure(
            queue=queue.name,
            message_id=held.message["MessageId"],
            consumer=self._consumer.name,
            event_id=event.id if event else None,
            event_type=event.type if event else None,
            receive_count=held.receive_count,
            error_class=type(exc).__name__,
            error_message=str(exc)[:MAX_REASON_CHARS],
            dead_lettered=dead_lettered,
        )
        try:
            async with UnitOfWork(self._sessions) as uow:
                await uow.failures.record(failure)
                await uow.commit()
        except SQLAlchemyError as ledger_error:
            logger.error("worker.ledger_failed", error=repr(ledger_error))

    # -- keeping messages invisible while held, and giving them back -----------

    async def _heartbeat(self, queue: QueueInfo) -> None:
        tick = max(0.2, queue.visibility_seconds / 4)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            due = [
                held
                for held in [*self._held, *self._deletes.pending]
                if now - held.extended_at >= queue.visibility_seconds / 2
                and now - held.received_at < self._options.max_hold_seconds
            ]
            if due:
                await self._change_visibility(queue, due, queue.visibility_seconds)
                metrics.HEARTBEATS.labels(self._consumer.name).inc(len(due))
                for held in due:
                    held.extended_at = now

    async def _drain(self, queue: QueueInfo) -> None:
        """Give back what has not started; let the rest finish by the deadline."""
        self._stopping = True
        unstarted = [held for held in self._held if not held.started]
        await self._change_visibility(queue, unstarted, 0)
        for held in unstarted:
            if held.task is not None:
                held.task.cancel()
            self._release(held)
        running = [held.task for held in self._held if held.task is not None]
        if running:
            await asyncio.wait(running, timeout=self._options.shutdown_grace_seconds)
        late = list(self._held)
        for held in late:
            if held.task is not None:
                held.task.cancel()
        await asyncio.gather(*(h.task for h in late if h.task), return_exceptions=True)
        await self._change_visibility(queue, late, 0)
        logger.info(
            "worker.drained",
            consumer=self._consumer.name,
            returned=len(unstarted) + len(late),
            cut_short=len(late),
        )

    async def _change_visibility(self, queue: QueueInfo, held: list[Held], seconds: int) -> None:
        for start in range(0, len(held), MAX_RECEIVE_BATCH):
            chunk = held[start : start + MAX_RECEIVE_BATCH]
            try:
                await self._sqs.change_message_visibility_batch(
                    QueueUrl=queue.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": h.receipt, "VisibilityTimeout": seconds}
                        for i, h in enumerate(chunk)
                    ],
                )
            except AWS_CALL_ERRORS as exc:
                logger.warning("worker.visibility_failed", error=repr(exc))


def _messaging(queue: QueueInfo) -> dict[str, str]:
    return {"messaging.system": "aws_sqs", "messaging.destination.name": queue.name}
