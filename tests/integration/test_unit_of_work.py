"""The unit of work and the outbox writer, in-process against real PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.session import create_engine, session_factory
from app.db.uow import SqlUnitOfWork
from app.domain.caller import Caller
from app.domain.errors import StaleVersion
from app.domain.events import Aggregate, EventType
from app.merchants.service import create_merchant
from app.payments.events import record_event
from app.payments.intents import IntentPolicy, create_intent
from app.payments.repository import IntentRepository
from app.payments.schemas import CreatePaymentIntent
from app.security import DocumentCipher
from app.settings import Settings
from outbox.writer import NOTIFY_CHANNEL
from tests.services import TEST_DOCUMENT_KEY
from tests.support import card_intent

POLICY = IntentPolicy(max_amount=10**8, pix_default_expires_in_seconds=3600)
CIPHER = DocumentCipher(base64.b64decode(TEST_DOCUMENT_KEY))
NOTIFY_WAIT_SECONDS = 5.0


@pytest.fixture
async def sessions(service_env: dict[str, str]) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(Settings(database_url=service_env["PIXWAVE_DATABASE_URL"]))
    yield session_factory(engine)
    await engine.dispose()


async def _new_caller(sessions: async_sessionmaker[AsyncSession]) -> Caller:
    async with SqlUnitOfWork(sessions) as uow:
        issued = await create_merchant(uow, "Loja UoW")
        await uow.commit()
    return Caller(merchant_id=issued.merchant_id, livemode=False, api_key_id=issued.key_id)


def _count(db: psycopg.Connection[Any], table: str, merchant_id: str) -> int:
    row = db.execute(
        f"SELECT count(*) FROM {table} WHERE merchant_id = %s",
        (merchant_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


async def test_nothing_is_written_unless_committed(
    sessions: async_sessionmaker[AsyncSession], db: psycopg.Connection[Any]
) -> None:
    caller = await _new_caller(sessions)
    async with SqlUnitOfWork(sessions) as uow:
        await create_intent(uow, caller, CreatePaymentIntent(**card_intent()), POLICY, CIPHER)
        await uow.flush()
    assert _count(db, "payment_intents", caller.merchant_id) == 0
    assert _count(db, "outbox", caller.merchant_id) == 0


async def test_a_unit_after_a_single_statement_one_is_a_transaction_again(
    service_env: dict[str, str], db: psycopg.Connection[Any]
) -> None:
    """The one pooled connection goes back to transactions once the single-statement
    unit returns it: the next unit's rows are still undone unless committed."""
    settings = Settings(database_url=service_env["PIXWAVE_DATABASE_URL"], db_pool_size=1)
    engine = create_engine(settings)
    sessions = session_factory(engine)
    try:
        caller = await _new_caller(sessions)
        async with SqlUnitOfWork(sessions) as uow:
            await uow.single_statement()
            backend = await uow.session.scalar(text("SELECT pg_backend_pid()"))
        async with SqlUnitOfWork(sessions) as uow:
            assert await uow.session.scalar(text("SELECT pg_backend_pid()")) == backend
            await create_intent(uow, caller, CreatePaymentIntent(**card_intent()), POLICY, CIPHER)
            await uow.flush()
        assert _count(db, "payment_intents", caller.merchant_id) == 0
        assert _count(db, "outbox", caller.merchant_id) == 0
    finally:
        await engine.dispose()


async def test_a_single_statement_unit_commits_by_itself(
    sessions: async_sessionmaker[AsyncSession], db: psycopg.Connection[Any]
) -> None:
    caller = await _new_caller(sessions)
    async with SqlUnitOfWork(sessions) as uow:
        await uow.single_statement()
        await uow.outbox.add_event(
            event_type=EventType.PAYMENT_INTENT_CREATED,
            merchant_id=caller.merchant_id,
            livemode=False,
            aggregate=Aggregate("payment_intent", "pi_single", 1),
            data_object={"id": "pi_single"},
        )
    assert _count(db, "outbox", caller.merchant_id) == 1


async def test_an_error_mid_transaction_rolls_back_rows_and_events(
    sessions: async_sessionmaker[AsyncSession], db: psycopg.Connection[Any]
) -> None:
    caller = await _new_caller(sessions)

    async def crash_before_commit() -> None:
        async with SqlUnitOfWork(sessions) as uow:
            await create_intent(uow, caller, CreatePaymentIntent(**card_intent()), POLICY, CIPHER)
            await uow.flush()
            raise RuntimeError("crash between the insert and the commit")

    with pytest.raises(RuntimeError):
        await crash_before_commit()
    assert _count(db, "payment_intents", caller.merchant_id) == 0
    assert _count(db, "outbox", caller.merchant_id) == 0


async def test_commit_notifies_the_relay_channel_once_committed(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    caller = await _new_caller(sessions)
    with psycopg.connect(database_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        async with SqlUnitOfWork(sessions) as uow:
            await create_intent(uow, caller, CreatePaymentIntent(**card_intent()), POLICY, CIPHER)
            await uow.flush()
            assert list(listener.notifies(timeout=0.2, stop_after=1)) == []
            await uow.commit()
        received = list(listener.notifies(timeout=NOTIFY_WAIT_SECONDS, stop_after=1))
    assert [n.channel for n in received] == [NOTIFY_CHANNEL]


async def test_a_stale_version_loses(
    sessions: async_sessionmaker[AsyncSession], db: psycopg.Connection[Any]
) -> None:
    caller = await _new_caller(sessions)
    async with SqlUnitOfWork(sessions) as uow:
        intent = await create_intent(
            uow, caller, CreatePaymentIntent(**card_intent()), POLICY, CIPHER
        )
        await uow.commit()

    async with SqlUnitOfWork(sessions) as first, SqlUnitOfWork(sessions) as second:
        mine = await first.repository(IntentRepository).get(caller.merchant_id, intent.id)
        theirs = await second.repository(IntentRepository).get(caller.merchant_id, intent.id)
        assert mine is not None
        assert theirs is not None
        mine.status = "processing"
        await record_event(first, mine, EventType.PAYMENT_INTENT_PROCESSING)
        await first.commit()
        theirs.status = "canceled"
        await record_event(second, theirs, EventType.PAYMENT_INTENT_CANCELED)
        with pytest.raises(StaleVersion):
            await second.commit()

    row = db.execute(
        "SELECT status, version, sequence FROM payment_intents WHERE id = %s", (intent.id,)
    ).fetchone()
    assert row == ("processing", 2, 2)
    assert _count(db, "outbox", caller.merchant_id) == 2
