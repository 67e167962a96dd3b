"""Why a message is in a DLQ: the failure ledger (`message_failures`) first, then what
the message itself carries."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from app.db.models import MessageFailure
from app.db.session import open_uow
from app.db.uow import UnitOfWork
from app.operators.queues import DeadLetter
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class Ledger:
    rows: Sequence[MessageFailure]
    unavailable: str | None = None  # why the ledger could not be read

    def row_for(self, letter: DeadLetter) -> MessageFailure | None:
        """By the source message id; else the latest failure of the same event (a copy
        sent again, or moved by a message move task, has a new id)."""
        by_id = (row for row in self.rows if row.message_id == letter.source_message_id)
        by_event = (row for row in self.rows if letter.event_id and row.event_id == letter.event_id)
        return next(by_id, None) or next(by_event, None)


@dataclass(frozen=True, slots=True)
class Reason:
    text: str
    source: str  # "ledger", "message attribute" or "unknown"
    failures: int | None = None  # how many times the ledger saw this message fail
    consumer: str | None = None


def reason_for(letter: DeadLetter, ledger: Ledger) -> Reason:
    row = ledger.row_for(letter)
    if row is not None:
        return Reason(
            f"{row.error_class}: {row.error_message}", "ledger", row.attempts, row.consumer
        )
    if letter.carried_reason is not None:
        return Reason(letter.carried_reason, "message attribute")
    return Reason(f"unknown ({ledger.unavailable or 'not in the ledger'})", "unknown")


def read_ledger(settings: Settings, source_queue: str, letters: Sequence[DeadLetter]) -> Ledger:
    """The ledger rows of these messages; an empty ledger saying why when there is no
    database to ask (peeking must work without one)."""
    if settings.database_url is None:
        return Ledger((), "no database configured")
    if not letters:
        return Ledger(())

    async def read() -> Ledger:
        async with open_uow(settings) as uow:
            return await ledger_of(uow, source_queue, letters)

    try:
        return asyncio.run(read())
    except (SQLAlchemyError, OSError) as exc:
        return Ledger((), f"ledger unreachable: {type(exc).__name__}")


async def ledger_of(uow: UnitOfWork, source_queue: str, letters: Sequence[DeadLetter]) -> Ledger:
    """The ledger rows of these messages, read in a unit of work the caller holds."""
    message_ids = {letter.source_message_id for letter in letters}
    event_ids = {letter.event_id for letter in letters if letter.event_id}
    return Ledger(await uow.failures.for_messages(source_queue, message_ids, event_ids))
