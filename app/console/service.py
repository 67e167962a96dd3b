"""What each console page shows and does, over the operators' use cases (the same ones
`pixwave dlq …` and `pixwave queues stats` run) and the areas' queries.

The operators' SQS calls are boto3's, blocking: they run in a worker thread. An
endpoint that cannot be reached, or a queue that does not exist, becomes a sentence for
the page's banner, never an error page."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.api.resources import Resources
from app.aws import AWS_CALL_ERRORS, sync_client
from app.cli_support import operator_message
from app.console.repository import ConsoleRepository, EntryLine
from app.db.models import Merchant, OutboxEvent, PaymentAttempt, PaymentIntent, Refund
from app.db.uow import UnitOfWork
from app.db.webhook_models import WebhookDelivery
from app.domain.errors import PixWaveError
from app.gateways.health import GatewayHealth
from app.gateways.port import GatewayName
from app.operators.dlq import (
    Pacer,
    RedriveResult,
    Selection,
    new_run_id,
    purge,
    redrive_by_hand,
    start_move_task,
)
from app.operators.ledger import Reason, ledger_of, reason_for
from app.operators.queues import (
    DeadLetter,
    QueuePair,
    QueueStats,
    all_stats,
    find_spec,
    locate,
    peek,
    read_dead_letter,
)
from app.payments.repository import AttemptRepository, IntentRepository
from app.settings import Settings
from outbox.repository import OutboxLag, OutboxRepository
from outbox.service import topology_of
from outbox.topology import QueueSpec

PEEKED_MESSAGES = 50
T = TypeVar("T")
# boto3's default session is not safe to make clients from in several threads at once.
_CLIENTS = threading.Lock()


class AwsUnavailable(Exception):
    """SQS could not answer; the message says why, in an operator's words."""


def _sqs(settings: Settings) -> Any:
    with _CLIENTS:
        # No retries: a page says at once that SQS is away rather than hang.
        return sync_client("sqs", settings, retries=False)


async def _on_sqs(settings: Settings, work: Callable[[Any], T]) -> T:
    def run() -> T:
        return work(_sqs(settings))

    try:
        return await asyncio.to_thread(run)
    except AWS_CALL_ERRORS as exc:
        raise AwsUnavailable(operator_message(exc) or f"SQS: {exc}") from exc
    except PixWaveError as exc:  # a queue missing: the topology was never applied
        raise AwsUnavailable(exc.message) from exc


@dataclass(frozen=True, slots=True)
class Overview:
    lag: OutboxLag
    parked: list[OutboxEvent]
    queues: list[QueueStats]
    aws_problem: str | None


async def overview(settings: Settings, uow: UnitOfWork) -> Overview:
    lag = await OutboxRepository(uow.session).lag()
    parked = await uow.repository(ConsoleRepository).parked_events()
    topology = topology_of(settings)
    try:
        queues = await _on_sqs(settings, lambda sqs: all_stats(sqs, topology))
    except AwsUnavailable as exc:
        return Overview(lag, parked, [], str(exc))
    return Overview(lag, parked, queues, None)


def dead_letter_queue(settings: Settings, queue: str) -> QueueSpec:
    """The queue pair of a DLQ named in full or by base name; InvalidRequest otherwise."""
    return find_spec(topology_of(settings), settings.name_prefix, queue)


@dataclass(frozen=True, slots=True)
class DeadLetters:
    pair: QueuePair
    letters: list[tuple[DeadLetter, Reason]]


async def dead_letters(settings: Settings, uow: UnitOfWork, spec: QueueSpec) -> DeadLetters:
    def look(sqs: Any) -> tuple[QueuePair, list[DeadLetter]]:
        pair = locate(sqs, spec)
        return pair, [read_dead_letter(m) for m in peek(sqs, pair.dlq_url, PEEKED_MESSAGES)]

    pair, letters = await _on_sqs(settings, look)
    ledger = await ledger_of(uow, pair.source, letters)
    return DeadLetters(pair, [(letter, reason_for(letter, ledger)) for letter in letters])


@dataclass(frozen=True, slots=True)
class Redrive:
    pair: QueuePair
    dry_run: bool
    results: list[RedriveResult] = field(default_factory=list)
    move_task_started: bool = False


async def redrive(
    settings: Settings, spec: QueueSpec, selection: Selection, *, dry_run: bool
) -> Redrive:
    """As `pixwave dlq redrive`: everything by a message move task where the endpoint
    has them (the page then shows the DLQ emptying), otherwise message by message."""

    def run(sqs: Any) -> Redrive:
        pair = locate(sqs, spec)
        if selection.everything and not dry_run and start_move_task(settings, pair, None):
            return Redrive(pair, dry_run, move_task_started=True)
        results = redrive_by_hand(
            sqs,
            pair,
            selection,
            dry_run=dry_run,
            pacer=Pacer(None),
            on_result=lambda _: None,
            run_id=new_run_id(),
        )
        return Redrive(pair, dry_run, [r for r in results if r.outcome != "skipped"])

    return await _on_sqs(settings, run)


async def purge_dead_letters(settings: Settings, spec: QueueSpec) -> int:
    return await _on_sqs(settings, lambda sqs: purge(sqs, locate(sqs, spec)))


@dataclass(frozen=True, slots=True)
class GatewayState:
    name: str
    configured: bool
    circuit: str
    window: dict[str, Any]


@dataclass(frozen=True, slots=True)
class GatewaysView:
    gateways: list[GatewayState]
    default_priority: list[str]
    merchants: list[Merchant]
    redis_problem: str | None


def gateway_health(resources: Resources) -> GatewayHealth:
    """The breakers as the charge workers share them (app/payments/consumer.py)."""
    settings = resources.settings
    return GatewayHealth(
        resources.redis,
        namespace=settings.name_prefix,
        open_seconds=settings.gateway_circuit_open_seconds,
    )


async def gateways(resources: Resources, health: GatewayHealth, uow: UnitOfWork) -> GatewaysView:
    states = [
        GatewayState(
            name,
            resources.gateways.get(name) is not None,
            await health.circuit_state(name),
            (await health.window(name)).as_record(),
        )
        for name in GatewayName
    ]
    merchants = await uow.repository(ConsoleRepository).merchant_priorities()
    problem = (
        "Redis is unavailable: these are this api process's own counts, not the charge"
        " workers' (each keeps its own while Redis is away)."
        if health.on_memory
        else None
    )
    return GatewaysView(states, resources.settings.gateway_priority_list, merchants, problem)


@dataclass(frozen=True, slots=True)
class IntentView:
    intent: PaymentIntent
    attempts: list[PaymentAttempt]
    refunds: list[Refund]
    events: list[OutboxEvent]
    deliveries: list[WebhookDelivery]
    ledger: list[EntryLine]


async def intent(uow: UnitOfWork, intent_id: str) -> IntentView | None:
    """Everything recorded about one intent of any merchant, or None."""
    found = await uow.repository(IntentRepository).find(intent_id)
    if found is None:
        return None
    console = uow.repository(ConsoleRepository)
    refunds = await console.refunds_of(found.id)
    ids = [found.id, *(refund.id for refund in refunds)]
    events = await console.events_of(ids)
    return IntentView(
        intent=found,
        attempts=await uow.repository(AttemptRepository).for_intent(found.id),
        refunds=refunds,
        events=events,
        deliveries=await console.deliveries_of([event.id for event in events]),
        ledger=await console.ledger_lines_of(ids),
    )
