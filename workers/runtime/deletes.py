"""Deleting settled messages in DeleteMessageBatch calls of up to 10.

A message is added only after its handler's transaction committed, so a delete
never runs ahead of the effects it acknowledges. Adds are flushed when 10 are
ready, when the oldest has waited ``flush_seconds`` (DELETE_FLUSH_SECONDS by
default, app/settings.py), and on close. Pending deletes stay under the worker's
heartbeat, so SQS does not redeliver a handled message while the worker lives.
An entry SQS refuses, or a call that fails, is left alone: the message comes back
after its visibility timeout and the inbox row makes the second delivery a no-op.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any, Generic, Protocol, TypeVar

from loguru import logger

from app.aws import AWS_CALL_ERRORS
from workers.runtime import metrics
from workers.runtime.queues import MAX_RECEIVE_BATCH


class Receipted(Protocol):
    @property
    def receipt(self) -> str: ...


_Item = TypeVar("_Item", bound=Receipted)


class DeleteBatcher(Generic[_Item]):
    def __init__(self, sqs: Any, *, consumer: str, flush_seconds: float) -> None:
        self._sqs = sqs
        self._queue_url = ""
        self._consumer = consumer
        self._flush_seconds = flush_seconds
        self.pending: list[_Item] = []
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self, queue_url: str) -> None:
        self._queue_url = queue_url
        self._task = asyncio.create_task(self._run())

    def add(self, item: _Item) -> None:
        """Only for a message whose handler committed (or found it already handled)."""
        self.pending.append(item)
        self._wake.set()
        if len(self.pending) >= MAX_RECEIVE_BATCH:
            self._full.set()

    async def close(self) -> None:
        """Flush everything still pending, then stop."""
        self._closing = True
        self._wake.set()
        self._full.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if not self._closing and len(self.pending) < MAX_RECEIVE_BATCH:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self._flush_seconds)
            self._full.clear()
            taken, self.pending = self.pending, []
            await asyncio.gather(
                *(
                    self._delete(taken[start : start + MAX_RECEIVE_BATCH])
                    for start in range(0, len(taken), MAX_RECEIVE_BATCH)
                )
            )
            if not self.pending:
                if self._closing:
                    return
                self._wake.clear()

    async def _delete(self, chunk: list[_Item]) -> None:
        metrics.DELETE_CALLS.labels(self._consumer).inc()
        try:
            response = await self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": it.receipt} for i, it in enumerate(chunk)],
            )
        except AWS_CALL_ERRORS as exc:
            # The messages reappear after their visibility timeout; the inbox dedups them.
            logger.warning("worker.delete_failed", consumer=self._consumer, error=repr(exc))
            metrics.DELETES_LEFT.labels(self._consumer).inc(len(chunk))
            return
        failed = response.get("Failed", [])
        if failed:
            logger.warning(
                "worker.delete_refused",
                consumer=self._consumer,
                refused=len(failed),
                first_error=f"{failed[0].get('Code')}: {failed[0].get('Message', '')}",
            )
            metrics.DELETES_LEFT.labels(self._consumer).inc(len(failed))
