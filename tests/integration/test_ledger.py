"""The ledger on real PostgreSQL: the database refuses unbalanced entries and any change
to posted ones; charges post once; refunds (partial, failed, concurrent, uncovered)
leave the books right; settlement and backfill are idempotent; every test ends with
``check_books`` finding nothing wrong anywhere in the database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.session import create_engine, session_factory
from app.db.uow import SqlUnitOfWork, unit_of_work_factory
from app.domain.caller import Caller
from app.domain.charges import ChargeStatus
from app.domain.errors import InvalidRequest
from app.domain.intents import IntentStatus, PaymentMethodType
from app.domain.ledger import MerchantAccount, Pricing
from app.gateways.port import Charge, GatewayName, RefundResult
from app.ledger import service as ledger
from app.ledger.repository import LedgerRepository
from app.merchants.service import create_merchant
from app.payments.charges import apply_charge
from app.payments.intents import create_intent
from app.payments.repository import IntentRepository
from app.payments.schemas import CreatePaymentIntent
from app.refunds.repository import RefundRepository
from app.refunds.schemas import CreateRefund
from app.refunds.service import NO_PAID_CHARGE, RefundOutcome, create_refund, settle_refund
from app.settings import Settings
from tests.integration.relay_support import CIPHER, POLICY
from tests.support import card_intent, pix_intent

Sessions = async_sessionmaker[AsyncSession]
PIX_PRICING = Pricing(basis_points=99, fixed_amount=0, settlement_delay_days=0)


@pytest.fixture
async def sessions(service_env: dict[str, str]) -> AsyncIterator[Sessions]:
    engine = create_engine(Settings(database_url=service_env["PIXWAVE_DATABASE_URL"]))
    factory = session_factory(engine)
    yield factory
    async with SqlUnitOfWork(factory) as uow:
        assert await ledger.check_books(uow) == []
    await engine.dispose()


async def _merchant(sessions: Sessions) -> Caller:
    async with SqlUnitOfWork(sessions) as uow:
        issued = await create_merchant(uow, "Loja Livro")
        await uow.repository(LedgerRepository).set_pricing(
            issued.merchant_id, PaymentMethodType.PIX, PIX_PRICING
        )
        await uow.commit()
    return Caller(merchant_id=issued.merchant_id, livemode=False, api_key_id=issued.key_id)


async def _paid(
    sessions: Sessions, caller: Caller, amount: int, *, card: bool = False, times: int = 1
) -> str:
    """An intent the gateway says is paid, applied ``times`` times as a charge would be."""
    body = card_intent(amount) if card else pix_intent(amount)
    async with SqlUnitOfWork(sessions) as uow:
        intent = await create_intent(
            uow, caller, CreatePaymentIntent.model_validate(body), POLICY, CIPHER
        )
        intent.status = IntentStatus.PROCESSING if card else IntentStatus.REQUIRES_ACTION
        await uow.commit()
    charge = Charge(GatewayName.EFI, f"ref-{intent.id}", ChargeStatus.PAID, "CONCLUIDA", amount)
    for _ in range(times):
        async with SqlUnitOfWork(sessions) as uow:
            locked = await uow.repository(IntentRepository).get_for_update(intent.id)
            assert locked is not None
            await apply_charge(uow, locked, charge)
            await uow.commit()
    return intent.id


async def _refund(sessions: Sessions, caller: Caller, intent_id: str, amount: int) -> str:
    async with SqlUnitOfWork(sessions) as uow:
        refund = await create_refund(
            uow, caller, CreateRefund(payment_intent=intent_id, amount=amount)
        )
        await uow.commit()
    return refund.id


async def _settle_refund(sessions: Sessions, refund_id: str, outcome: RefundOutcome) -> None:
    async with SqlUnitOfWork(sessions) as uow:
        refund = await uow.repository(RefundRepository).get_for_update(refund_id)
        assert refund is not None
        intent = await uow.repository(IntentRepository).get_for_update(refund.payment_intent_id)
        assert intent is not None
        await settle_refund(uow, intent, refund, outcome)
        await uow.commit()


async def _balance(sessions: Sessions, caller: Caller) -> dict[MerchantAccount, int]:
    async with SqlUnitOfWork(sessions) as uow:
        balance = await ledger.balance_of(uow, caller.merchant_id, caller.livemode)
    return {kind: balance.amounts.get(kind, {}).get("BRL", 0) for kind in MerchantAccount}


def _balance_of(pending: int, available: int = 0, reserved: int = 0) -> dict[MerchantAccount, int]:
    return {
        MerchantAccount.PENDING: pending,
        MerchantAccount.AVAILABLE: available,
        MerchantAccount.RESERVED: reserved,
    }


def _rows(db: psycopg.Connection[Any], query: str, *args: object) -> list[tuple[Any, ...]]:
    return db.execute(query, args).fetchall()


async def test_the_database_refuses_an_unbalanced_entry_and_any_change(
    sessions: Sessions, db: psycopg.Connection[Any]
) -> None:
    caller = await _merchant(sessions)
    intent_id = await _paid(sessions, caller, 10_000)
    [(entry_id,)] = _rows(db, "SELECT id FROM ledger_entries WHERE source_id = %s", intent_id)
    with psycopg.connect(db.info.dsn) as connection:
        connection.execute(
            "INSERT INTO ledger_entries (id, merchant_id, livemode, kind, source_id, currency) "
            "VALUES ('le_unbalanced', %s, false, 'charge', 'pi_unbalanced', 'BRL')",
            (caller.merchant_id,),
        )
        connection.execute(
            "INSERT INTO ledger_lines (entry_id, account, livemode, currency, amount) "
            "VALUES ('le_unbalanced', 'platform:fees', false, 'BRL', 1)"
        )
        with pytest.raises(psycopg.errors.CheckViolation, match="does not sum to zero"):
            connection.commit()
    for statement in (
        "UPDATE ledger_lines SET amount = amount + 1 WHERE entry_id = %s",
        "DELETE FROM ledger_lines WHERE entry_id = %s",
        "UPDATE ledger_entries SET currency = 'USD' WHERE id = %s",
        "DELETE FROM ledger_entries WHERE id = %s",
    ):
        with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
            db.execute(statement, (entry_id,))
    duplicate = (
        "INSERT INTO ledger_entries (id, merchant_id, livemode, kind, source_id, currency) "
        "VALUES ('le_twice', %s, false, 'charge', %s, 'BRL')"
    )
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(duplicate, (caller.merchant_id, intent_id))


async def test_a_charge_posts_once_with_its_fee_even_applied_twice(
    sessions: Sessions, db: psycopg.Connection[Any]
) -> None:
    caller = await _merchant(sessions)
    intent_id = await _paid(sessions, caller, 10_000, times=2)
    async with SqlUnitOfWork(sessions) as uow:
        intent = await uow.repository(IntentRepository).get_for_update(intent_id)
        assert intent is not None
        assert await ledger.post_charge(uow, intent, "efi", datetime.now(UTC)) is None
    lines = _rows(
        db,
        "SELECT account, amount FROM ledger_lines l JOIN ledger_entries e ON e.id = l.entry_id "
        "WHERE e.source_id = %s ORDER BY amount",
        intent_id,
    )
    assert lines == [
        ("gateway:efi:clearing", -10_000),
        ("platform:fees", 99),
        (f"merchant:{caller.merchant_id}:pending", 9_901),
    ]
    txns = _rows(
        db,
        "SELECT type, amount, fee, net, status FROM balance_transactions WHERE source = %s",
        intent_id,
    )
    assert txns == [("charge", 10_000, 99, 9_901, "pending")]
    assert await _balance(sessions, caller) == _balance_of(pending=9_901)


async def test_a_partial_refund_then_a_failed_one_leave_the_books_right(
    sessions: Sessions, db: psycopg.Connection[Any]
) -> None:
    caller = await _merchant(sessions)
    intent_id = await _paid(sessions, caller, 10_000)
    made = await _refund(sessions, caller, intent_id, 3_000)
    assert await _balance(sessions, caller) == _balance_of(pending=6_901, reserved=3_000)
    await _settle_refund(sessions, made, RefundResult(made, "dev-1", 3_000, settled=True))
    assert await _balance(sessions, caller) == _balance_of(pending=6_901)
    failed = await _refund(sessions, caller, intent_id, 2_000)
    await _settle_refund(sessions, failed, NO_PAID_CHARGE)
    assert await _balance(sessions, caller) == _balance_of(pending=6_901)
    txns = _rows(
        db,
        "SELECT type, amount, fee, net FROM balance_transactions WHERE source IN (%s, %s) "
        "ORDER BY id",
        made,
        failed,
    )
    assert txns == [
        ("refund", -3_000, 0, -3_000),
        ("refund", -2_000, 0, -2_000),
        ("refund_failure", 2_000, 0, 2_000),
    ]
    async with SqlUnitOfWork(sessions) as uow:
        clearing = await uow.repository(LedgerRepository).account_balance(
            "gateway:efi:clearing", False, "BRL"
        )
    assert clearing <= -7_000  # what efi still holds for us, from every test's charges


async def test_a_refund_the_balance_cannot_cover_is_refused_writing_nothing(
    sessions: Sessions, db: psycopg.Connection[Any]
) -> None:
    caller = await _merchant(sessions)
    intent_id = await _paid(sessions, caller, 10_000)
    await _refund(sessions, caller, intent_id, 9_000)  # reserved: 901 left pending
    with pytest.raises(InvalidRequest) as refused:
        await _refund(sessions, caller, intent_id, 1_000)
    assert refused.value.code == "balance_insufficient"
    [(refunds,)] = _rows(db, "SELECT count(*) FROM refunds WHERE payment_intent_id = %s", intent_id)
    [(amount_refunded,)] = _rows(
        db, "SELECT amount_refunded FROM payment_intents WHERE id = %s", intent_id
    )
    assert (refunds, amount_refunded) == (1, 9_000)
    assert await _balance(sessions, caller) == _balance_of(pending=901, reserved=9_000)


async def test_settlement_makes_due_funds_available_once(
    sessions: Sessions, db: psycopg.Connection[Any]
) -> None:
    caller = await _merchant(sessions)
    pix = await _paid(sessions, caller, 10_000)
    card = await _paid(sessions, caller, 5_000, card=True)  # 3.99 % + 39, due in 30 days
    new_uow = unit_of_work_factory(sessions)
    now = datetime.now(UTC)
    assert await ledger.settle_due_balances(new_uow, now, 10_000) >= 1
    assert await ledger.settle_due_balances(new_uow, now, 10_000) == 0
    assert await _balance(sessions, caller) == _balance_of(pending=4_761, available=9_901)
    statuses = _rows(
        db, "SELECT source, status FROM balance_transactions WHERE source IN (%s, %s)", pix, card
    )
    assert sorted(statuses) == sorted([(pix, "available"), (card, "pending")])
    events = _rows(
        db,
        "SELECT payload -> 'data' -> 'object' -> 'available' FROM outbox "
        "WHERE event_type = 'balance.available' AND merchant_id = %s",
        caller.merchant_id,
    )
    assert events == [([{"amount": 9_901, "currency": "BRL"}],)]
    later = now + timedelta(days=31)
    assert await ledger.settle_due_balances(new_uow, later, 10_000) >= 1
    assert await _balance(sessions, caller) == _balance_of(pending=0, available=14_662)


async def test_settlement_waits_rather_than_take_available_below_zero(
    sessions: Sessions,
) -> None:
    caller = await _merchant(sessions)
    await _paid(sessions, caller, 5_000, card=True)  # net 4,761, due in 30 days
    pix = await _paid(sessions, caller, 10_000)  # net 9,901, due now
    # More than the payment's own net: drawn on the card's pending funds, due at once.
    await _refund(sessions, caller, pix, 10_000)
    new_uow = unit_of_work_factory(sessions)
    now = datetime.now(UTC)
    await ledger.settle_due_balances(new_uow, now, 10_000)  # other merchants' may settle
    assert await _balance(sessions, caller) == _balance_of(pending=4_662, reserved=10_000)
    assert await ledger.settle_due_balances(new_uow, now + timedelta(days=31), 10_000) >= 1
    assert await _balance(sessions, caller) == _balance_of(
        pending=0, available=4_662, reserved=10_000
    )


async def test_concurrent_refunds_never_take_an_account_below_zero(sessions: Sessions) -> None:
    caller = await _merchant(sessions)
    first = await _paid(sessions, caller, 10_000)
    second = await _paid(sessions, caller, 10_000)
    await ledger.settle_due_balances(unit_of_work_factory(sessions), datetime.now(UTC), 10_000)
    assert await _balance(sessions, caller) == _balance_of(pending=0, available=19_802)
    # Each alone is covered; both are not (the fees stay ours).
    results = await asyncio.gather(
        _refund(sessions, caller, first, 10_000),
        _refund(sessions, caller, second, 10_000),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, InvalidRequest)]
    assert len(refused) == 1
    assert refused[0].code == "balance_insufficient"
    assert await _balance(sessions, caller) == _balance_of(
        pending=0, available=9_802, reserved=10_000
    )


async def test_backfill_posts_payments_made_before_the_ledger_once(
    sessions: Sessions, db: psycopg.Connection[Any]
) -> None:
    caller = await _merchant(sessions)
    old = await _paid_before_the_ledger(sessions, db, caller, 20_000)
    refund_id = f"re_{old[3:]}"
    db.execute("UPDATE payment_intents SET amount_refunded = 5000 WHERE id = %s", (old,))
    db.execute(
        "INSERT INTO refunds (id, merchant_id, payment_intent_id, livemode, amount, currency,"
        " status, version) VALUES (%s, %s, %s, false, 5000, 'BRL', 'succeeded', 1)",
        (refund_id, caller.merchant_id, old),
    )
    async with SqlUnitOfWork(sessions) as uow:
        done = await ledger.backfill(uow, 10_000)
        await uow.commit()
    assert done.charges >= 1
    assert done.refunds >= 1
    assert refund_id not in done.refused
    async with SqlUnitOfWork(sessions) as uow:
        again = await ledger.backfill(uow, 10_000)
    assert (again.charges, again.refunds) == (0, 0)
    txns = _rows(
        db,
        "SELECT type, amount, fee FROM balance_transactions WHERE source IN (%s, %s) ORDER BY id",
        old,
        refund_id,
    )
    assert txns == [("charge", 20_000, 198), ("refund", -5_000, 0)]
    # Reserved, then paid out through the gateway that took the payment.
    assert await _balance(sessions, caller) == _balance_of(pending=14_802)


async def _paid_before_the_ledger(
    sessions: Sessions, db: psycopg.Connection[Any], caller: Caller, amount: int
) -> str:
    """A succeeded intent with its paid try, written as PixWave did before the ledger."""
    async with SqlUnitOfWork(sessions) as uow:
        intent = await create_intent(
            uow, caller, CreatePaymentIntent.model_validate(pix_intent(amount)), POLICY, CIPHER
        )
        await uow.commit()
    db.execute(
        "UPDATE payment_intents SET status = 'succeeded', amount_received = amount WHERE id = %s",
        (intent.id,),
    )
    db.execute(
        "INSERT INTO payment_attempts (id, payment_intent_id, gateway, number, idempotency_key,"
        " gateway_reference, outcome, charge_status, amount) VALUES (%s, %s, 'efi', 1, %s, %s,"
        " 'succeeded', 'paid', %s)",
        (f"att_{intent.id[3:]}", intent.id, f"{intent.id}-efi-1", f"ref-{intent.id}", amount),
    )
    return intent.id


def _ledger_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "ledger", *args], capture_output=True, text=True
    )


async def test_the_ledger_commands_set_fees_settle_and_check(
    sessions: Sessions, db: psycopg.Connection[Any]
) -> None:
    caller = await _merchant(sessions)
    fees = _ledger_command(
        "fees",
        "card",
        "--basis-points",
        "250",
        "--fixed",
        "10",
        "--settlement-days",
        "2",
        "--merchant",
        caller.merchant_id,
    )
    assert fees.returncode == 0, fees.stderr
    card = await _paid(sessions, caller, 4_000, card=True)  # 100 + 10, due in 2 days
    now = _ledger_command("settle")
    assert now.returncode == 0, now.stderr
    assert await _balance(sessions, caller) == _balance_of(pending=3_890)
    later = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")
    ahead = _ledger_command("settle", "--as-of", later)
    assert ahead.returncode == 0, ahead.stderr
    assert await _balance(sessions, caller) == _balance_of(pending=0, available=3_890)
    [(status,)] = _rows(db, "SELECT status FROM balance_transactions WHERE source = %s", card)
    assert status == "available"
    check = _ledger_command("check")
    assert (check.returncode, check.stdout.strip()) == (0, "the books balance")
