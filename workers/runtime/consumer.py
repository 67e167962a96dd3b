"""What a consumer is: a queue, handlers by event type, and its retry schedule."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.uow import UnitOfWork
from workers.runtime.envelope import Event

# A handler runs inside the unit of work that also records the inbox row; it
# returns normally when done, raises RetryLater to be tried again later, or
# PoisonMessage to send the message to the DLQ now. Any other exception counts
# as RetryLater: a bug is retried until the redrive policy parks the message.
Handler = Callable[[Event, UnitOfWork], Awaitable[None]]


class Companion(Protocol):
    """Work a consumer's process runs beside the queue (the webhook dispatcher): it
    runs until ``stop`` is set, and hears of every message whose handler committed."""

    async def run(
        self, sessions: async_sessionmaker[AsyncSession], stop: asyncio.Event
    ) -> None: ...

    def wake(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Consumer:
    name: str
    queue: str  # the base name; the runtime adds the prefix and ".fifo"
    handlers: Mapping[str, Handler]
    backoff_base_seconds: float = 2.0
    backoff_cap_seconds: float = 300.0
    companion: Companion | None = None
