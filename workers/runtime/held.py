"""What the consumer loop holds: a received message until it is settled, and the
wait that gives way to a stop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True, eq=False)
class Held:
    """A message this worker has received and not yet settled."""

    message: dict[str, Any]
    received_at: float
    extended_at: float
    started: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def receipt(self) -> str:
        receipt: str = self.message["ReceiptHandle"]
        return receipt

    @property
    def receive_count(self) -> int:
        return int(self.message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))


async def stopped_first(task: asyncio.Task[Any], stop: asyncio.Event) -> bool:
    """Wait for ``task`` or ``stop``; True (and ``task`` cancelled) if stop came first.
    Only for waits that hold nothing, never for a receive."""
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if task.done():
        return False
    task.cancel()
    return True
