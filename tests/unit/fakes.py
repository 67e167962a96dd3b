"""In-memory stand-ins for the unit of work (app/db/uow.py's ``UnitOfWork`` protocol)
and the area repositories the use cases ask it for, so use cases run without a
database. Each fake keeps rows in a dict and answers the queries the use cases make;
what a use case wrote is read back from them and from ``outbox.events``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from app.db.models import PaymentAttempt, PaymentIntent, Refund, WebhookEndpoint
from app.domain.alerts import Alert
from app.domain.events import Aggregate, EventType
from app.domain.ids import new_id
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
        self._fakes: dict[object, object] = {
            IntentRepository: self.intents,
            AttemptRepository: self.attempts,
            RefundRepository: self.refunds,
            WebhookRepository: self.webhooks,
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
