"""Unit of work: one transaction, rolled back unless ``commit()`` is called."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from app.db.repositories import (
    ApiKeyRepository,
    AttemptRepository,
    CallbackRepository,
    IntentRepository,
    JobLockRepository,
    MerchantRepository,
    RefundRepository,
    StuckCheckRepository,
)
from app.db.runtime_repositories import (
    FailureLedgerRepository,
    IdempotencyRepository,
    InboxRepository,
)
from app.db.webhook_repositories import EventRepository, WebhookRepository
from app.domain.errors import StaleVersion
from outbox.writer import OutboxWriter


class UnitOfWork:
    session: AsyncSession
    merchants: MerchantRepository
    api_keys: ApiKeyRepository
    intents: IntentRepository
    refunds: RefundRepository
    attempts: AttemptRepository
    callbacks: CallbackRepository
    idempotency: IdempotencyRepository
    inbox: InboxRepository
    failures: FailureLedgerRepository
    webhooks: WebhookRepository
    events: EventRepository
    stuck_checks: StuckCheckRepository
    job_locks: JobLockRepository
    outbox: OutboxWriter

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self.merchants = MerchantRepository(self.session)
        self.api_keys = ApiKeyRepository(self.session)
        self.intents = IntentRepository(self.session)
        self.refunds = RefundRepository(self.session)
        self.attempts = AttemptRepository(self.session)
        self.callbacks = CallbackRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
        self.inbox = InboxRepository(self.session)
        self.failures = FailureLedgerRepository(self.session)
        self.webhooks = WebhookRepository(self.session)
        self.events = EventRepository(self.session)
        self.stuck_checks = StuckCheckRepository(self.session)
        self.job_locks = JobLockRepository(self.session)
        self.outbox = OutboxWriter(self.session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Detach first: objects keep their loaded state for building responses,
        # and the rollback (a no-op after commit) cannot expire them.
        self.session.expunge_all()
        await self.session.rollback()
        await self.session.close()

    async def flush(self) -> None:
        try:
            await self.session.flush()
        except StaleDataError as exc:
            raise StaleVersion("The object was changed by another request; retry.") from exc

    async def commit(self) -> None:
        await self.flush()
        await self.session.commit()

    async def rollback(self) -> None:
        """Undo everything so far and keep going in a fresh transaction."""
        self.session.expunge_all()
        await self.session.rollback()
