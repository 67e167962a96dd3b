"""In-memory stand-ins for the unit of work (app/db/uow.py's ``UnitOfWork`` protocol)
and the area repositories the use cases ask it for, so use cases run without a
database. Each fake keeps rows in a dict and answers the queries the use cases make;
what a use case wrote is read back from them and from ``outbox.events``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from app.db.models import PaymentAttempt, PaymentIntent, Refund
from app.db.money_models import BalanceTransaction, LedgerEntry, LedgerLine
from app.db.webhook_models import WebhookEndpoint
from app.domain.alerts import Alert
from app.domain.events import Aggregate, EventType
from app.domain.ids import new_id
from app.domain.intents import PaymentMethodType
from app.domain.ledger import EntryKind, Pricing, TransactionStatus, TransactionType
from app.ledger.repository import LedgerRepository
from app.payments.repository import AttemptRepository, IntentRepository
from app.refunds.repository import RefundRepository
from app.webhooks.repository import WebhookRepository

R = TypeVar("R")


@dataclass
class WrittenEvent:
    event_id: str
    event_type: EventType
    merchant_id: str
    livemode: bool
    aggregate: Aggregate
    data_object: dict[str, Any]


@dataclass
class FakeOutbox:
    events: list[WrittenEvent] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    async def add_event(
        self,
        *,
        event_type: EventType,
        merchant_id: str,
        livemode: bool,
        aggregate: Aggregate,
        data_object: dict[str, Any],
    ) -> str:
        event_id = new_id("evt")
        self.events.append(
            WrittenEvent(event_id, event_type, merchant_id, livemode, aggregate, data_object)
        )
        return event_id

    async def add_alert(self, alert: Alert, *, merchant_id: str, livemode: bool) -> str:
        self.alerts.append(alert)
        return new_id("evt")

    def types(self) -> list[EventType]:
        return [event.event_type for event in self.events]


@dataclass
class FakeIntents:
    rows: dict[str, PaymentIntent] = field(default_factory=dict)

    def add(self, intent: PaymentIntent) -> None:
        self.rows[intent.id] = intent

    async def get(self, merchant_id: str, intent_id: str) -> PaymentIntent | None:
        intent = self.rows.get(intent_id)
        return intent if intent is not None and intent.merchant_id == merchant_id else None

    async def get_for_update(self, intent_id: str) -> PaymentIntent | None:
        return self.rows.get(intent_id)


@dataclass
class FakeAttempts:
    rows: list[PaymentAttempt] = field(default_factory=list)

    async def for_intent(self, intent_id: str) -> list[PaymentAttempt]:
        return [a for a in self.rows if a.payment_intent_id == intent_id]


@dataclass
class FakeRefunds:
    rows: dict[str, Refund] = field(default_factory=dict)

    def add(self, refund: Refund) -> None:
        self.rows[refund.id] = refund

    async def get(self, merchant_id: str, refund_id: str) -> Refund | None:
        refund = self.rows.get(refund_id)
        return refund if refund is not None and refund.merchant_id == merchant_id else None


@dataclass
class FakeLedger:
    """Entries, lines and balance transactions in lists; no locks (one task at a time)."""

    refunds: FakeRefunds
    entries: list[LedgerEntry] = field(default_factory=list)
    lines: list[LedgerLine] = field(default_factory=list)
    transactions: list[BalanceTransaction] = field(default_factory=list)
    pricings: dict[tuple[str | None, PaymentMethodType], Pricing] = field(default_factory=dict)
    locks: list[tuple[str, bool, str]] = field(default_factory=list)

    async def lock_balance(self, merchant_id: str, livemode: bool, currency: str) -> None:
        self.locks.append((merchant_id, livemode, currency))

    async def has_entry(self, kind: EntryKind, source_id: str) -> bool:
        return any(e.kind == kind and e.source_id == source_id for e in self.entries)

    async def add_entry(self, entry: LedgerEntry, lines: list[LedgerLine]) -> None:
        self.entries.append(entry)
        self.lines.extend(lines)

    async def add_transaction(self, transaction: BalanceTransaction) -> None:
        self.transactions.append(transaction)

    async def account_balance(self, account: str, livemode: bool, currency: str) -> int:
        return sum(
            line.amount
            for line in self.lines
            if (line.account, line.livemode, line.currency) == (account, livemode, currency)
        )

    async def transaction_for(
        self, source: str, kind: TransactionType
    ) -> BalanceTransaction | None:
        found = [t for t in self.transactions if t.source == source and t.type == kind]
        return found[0] if found else None

    async def pending_for_payment(self, intent_id: str) -> int:
        refunds = {r.id for r in self.refunds.rows.values() if r.payment_intent_id == intent_id}
        return sum(
            t.net
            for t in self.transactions
            if t.status is TransactionStatus.PENDING and t.source in refunds | {intent_id}
        )

    async def refunded_of_payment(self, intent_id: str) -> tuple[int, int]:
        refunds = {r.id for r in self.refunds.rows.values() if r.payment_intent_id == intent_id}
        taken = [t for t in self.transactions if t.source in refunds]
        return -sum(t.amount for t in taken), -sum(t.fee for t in taken)

    async def clearing_account_of(self, intent_id: str) -> str | None:
        charges = {e.id for e in self.entries if (e.kind, e.source_id) == ("charge", intent_id)}
        found = [
            line.account
            for line in self.lines
            if line.entry_id in charges and line.account.startswith("gateway:")
        ]
        return found[0] if found else None

    async def pricing(self, merchant_id: str, method: PaymentMethodType) -> Pricing | None:
        return self.pricings.get((merchant_id, method)) or self.pricings.get((None, method))


@dataclass
class FakeWebhooks:
    endpoints: dict[str, WebhookEndpoint] = field(default_factory=dict)

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self.endpoints[endpoint.id] = endpoint

    async def count_endpoints_locked(self, merchant_id: str) -> int:
        return sum(e.merchant_id == merchant_id for e in self.endpoints.values())


class FakeUnitOfWork:
    """One transaction in memory: what a use case did is kept after ``commit()``;
    ``commits`` counts them and ``open`` says whether it is inside ``async with``."""

    def __init__(self) -> None:
        self.outbox = FakeOutbox()
        self.intents = FakeIntents()
        self.attempts = FakeAttempts()
        self.refunds = FakeRefunds()
        self.webhooks = FakeWebhooks()
        self.ledger = FakeLedger(self.refunds)
        self._fakes: dict[object, object] = {
            IntentRepository: self.intents,
            AttemptRepository: self.attempts,
            RefundRepository: self.refunds,
            WebhookRepository: self.webhooks,
            LedgerRepository: self.ledger,
        }
        self.commits = 0
        self.flushes = 0
        self.open = False

    def repository(self, kind: Callable[..., R]) -> R:
        return cast(R, self._fakes[kind])

    async def __aenter__(self) -> Self:
        self.open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.open = False

    async def single_statement(self) -> None:
        """Each statement committing by itself changes nothing in memory."""

    async def flush(self) -> None:
        self.flushes += 1

    async def commit(self) -> None:
        self.commits += 1

    async def rollback(self) -> None:
        """Nothing to undo in memory: the tests that need a rollback run on PostgreSQL."""
