"""Queries of the plumbing every area shares: stored idempotent answers, the consumers'
inbox, their failure ledger and the scheduler's job locks."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Interval, String, Table, bindparam, delete, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from app.db.models import IdempotencyKey, InboxEntry, MessageFailure

# An idempotent request runs these three; built once, so no request builds them.
_TRY_LOCK_KEY = select(
    func.pg_try_advisory_xact_lock(
        func.hashtext(bindparam("merchant_id", type_=String)),
        func.hashtext(bindparam("key", type_=String)),
    )
)
_FIND_ANSWER = select(
    IdempotencyKey.request_hash, IdempotencyKey.response_status, IdempotencyKey.response_body
).where(
    IdempotencyKey.merchant_id == bindparam("merchant_id"),
    IdempotencyKey.key == bindparam("key"),
    IdempotencyKey.expires_at >= func.now(),
)


def _store_answer_statement() -> Executable:
    table = cast(Table, IdempotencyKey.__table__)
    answer = {
        "request_hash": bindparam("request_hash"),
        "response_status": bindparam("response_status"),
        "response_body": bindparam("response_body"),
        "created_at": func.now(),
        "expires_at": func.now() + bindparam("ttl", type_=Interval),
    }
    return (
        insert(table)
        .values(merchant_id=bindparam("merchant_id"), key=bindparam("key"), **answer)
        .on_conflict_do_update(
            index_elements=[table.c.merchant_id, table.c.key],
            set_=answer,
            where=table.c.expires_at < func.now(),
        )
    )


_STORE_ANSWER = _store_answer_statement()

# Every message a worker takes runs this: built once, on the table (no ORM bulk path).
_INBOX_TABLE = cast(Table, InboxEntry.__table__)
_CLAIM_INBOX = (
    insert(_INBOX_TABLE)
    .values(consumer=bindparam("consumer"), event_id=bindparam("event_id"))
    .on_conflict_do_nothing()
    .returning(_INBOX_TABLE.c.event_id)
)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request_hash: str
    response_status: int
    response_body: bytes


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def try_lock(self, merchant_id: str, key: str) -> bool:
        """Take the key for this transaction; False while another transaction holds it."""
        locked = await self._session.execute(
            _TRY_LOCK_KEY, {"merchant_id": merchant_id, "key": key}
        )
        return bool(locked.scalar_one())

    async def find(self, merchant_id: str, key: str) -> StoredAnswer | None:
        found = await self._session.execute(_FIND_ANSWER, {"merchant_id": merchant_id, "key": key})
        row = found.first()
        return None if row is None else StoredAnswer(row[0], row[1], row[2])

    async def delete_expired(self, limit: int) -> int:
        doomed = (
            select(IdempotencyKey.merchant_id, IdempotencyKey.key)
            .where(IdempotencyKey.expires_at < func.now())
            .limit(limit)
        )
        result = await self._session.execute(
            delete(IdempotencyKey).where(
                tuple_(IdempotencyKey.merchant_id, IdempotencyKey.key).in_(doomed)
            )
        )
        return int(getattr(result, "rowcount", 0))

    async def store(
        self,
        *,
        merchant_id: str,
        key: str,
        request_hash: str,
        status: int,
        body: bytes,
        ttl: timedelta,
    ) -> None:
        """Keep the answer; an expired record under the same key is replaced."""
        await self._session.execute(
            _STORE_ANSWER,
            {
                "merchant_id": merchant_id,
                "key": key,
                "request_hash": request_hash,
                "response_status": status,
                "response_body": body,
                "ttl": ttl,
            },
        )


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, consumer: str, event_id: str) -> bool:
        """Record the event as handled by ``consumer``; False if it already was.

        A concurrent claim of the same event waits on the primary key until the
        first transaction ends, so only one of them ever runs the effects.
        """
        inserted = await self._session.execute(
            _CLAIM_INBOX, {"consumer": consumer, "event_id": event_id}
        )
        return inserted.first() is not None

    async def release(self, consumer: str, event_id: str) -> None:
        """Forget a claim within its own transaction, so the event runs again."""
        await self._session.execute(
            delete(InboxEntry).where(
                InboxEntry.consumer == consumer, InboxEntry.event_id == event_id
            )
        )

    async def delete_before(self, cutoff: datetime, limit: int) -> int:
        doomed = (
            select(InboxEntry.consumer, InboxEntry.event_id)
            .where(InboxEntry.processed_at < cutoff)
            .limit(limit)
        )
        result = await self._session.execute(
            delete(InboxEntry).where(tuple_(InboxEntry.consumer, InboxEntry.event_id).in_(doomed))
        )
        return int(getattr(result, "rowcount", 0))


class FailureLedgerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, failure: MessageFailure) -> None:
        """One row per message: the count grows, the latest error and receive count win."""
        values = {
            column: getattr(failure, column)
            for column in (
                "queue",
                "message_id",
                "consumer",
                "event_id",
                "event_type",
                "receive_count",
                "error_class",
                "error_message",
                "dead_lettered",
            )
        }
        statement = insert(MessageFailure).values(**values, attempts=1)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[MessageFailure.queue, MessageFailure.message_id],
                set_={
                    "receive_count": statement.excluded.receive_count,
                    "error_class": statement.excluded.error_class,
                    "error_message": statement.excluded.error_message,
                    "dead_lettered": statement.excluded.dead_lettered,
                    "attempts": MessageFailure.attempts + 1,
                    "last_seen": func.now(),
                },
            )
        )

    async def for_messages(
        self, queue: str, message_ids: Collection[str], event_ids: Collection[str]
    ) -> list[MessageFailure]:
        """Rows of ``queue`` for any of these messages or events, the latest first."""
        rows = await self._session.scalars(
            select(MessageFailure)
            .where(
                MessageFailure.queue == queue,
                or_(
                    MessageFailure.message_id.in_(message_ids),
                    MessageFailure.event_id.in_(event_ids),
                ),
            )
            .order_by(MessageFailure.last_seen.desc())
        )
        return list(rows)


class JobLockRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def try_lock(self, key: int) -> bool:
        """Take a job's lock until this transaction ends; False while another holds it.
        The one-bigint form: a separate key space from the idempotency locks' two ints."""
        locked = await self._session.execute(select(func.pg_try_advisory_xact_lock(key)))
        return bool(locked.scalar_one())
