"""A chaos run: PIX intents flow (simulated payers pay them), and manual-capture card
intents are captured amid resent gateway notifications, while relay and workers are
SIGKILLed at random, the AWS API server and Redis are unreachable for a while and the
primary gateway is down; then every invariant that keeps money safe is checked. In the
realistic-gateway mode the gateways also lag, refuse for a while and settle refunds
late, and some payments are refunded (devtools/chaos/refunds.py)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
import psycopg

from app.aws import sync_client
from app.db.session import open_uow
from app.domain.events import MERCHANT_EVENTS
from app.gateways.efi import txid_for
from app.gateways.port import GatewayName
from app.ledger.service import check_books
from app.payments.charges import attempt_key
from app.reconciliation.service import BRASILIA
from app.settings import Settings
from devtools.chaos.books import (
    clearing_violations,
    moved_by_gateway,
    reconcile_days,
    unclean_runs,
)
from devtools.chaos.captures import (
    CaptureRun,
    capture_intents,
    capture_violations,
    event_order,
    moved_backwards,
)
from devtools.chaos.fleet import Fleet, fleet_settings_fields
from devtools.chaos.refunds import (
    RefundRun,
    realistic_gateways,
    refund_some,
    refund_violations,
    resend_first_callbacks,
)
from devtools.demo.driver import (
    GATEWAYS,
    SIM_ADMIN_TIMEOUT_SECONDS,
    Plan,
    call_api,
    create_intents,
    registered_endpoint,
    simulated_faults,
)
from devtools.demo.receiver import Receiver, new_receiver, serving
from outbox.topology import declare

TERMINAL = ("succeeded", "failed", "canceled")
PAID_STATUSES = {"approved", "CONCLUIDA"}
POISON_BODY = "this is not an event"
SETTLE_POLL_SECONDS = 1.0
# Attempt numbers an intent could have reached (3 per gateway), for ledger lookups.
MAX_ATTEMPTS = 3 * len(GATEWAYS)


@dataclass(frozen=True, slots=True)
class ChaosPlan:
    intents: int = 200
    rate_per_second: float = 20.0
    # Manual-capture card intents, spread over the time the PIX intents are created.
    captures: int = 20
    kill_every_seconds: float = 3.0
    aws_outage_seconds: float = 10.0
    primary_outage_seconds: float = 10.0
    redis_outage_seconds: float = 10.0
    settle_timeout_seconds: float = 300.0
    seed: int = 20261122
    # The gateways' awkward documented behaviours on, and this many payments refunded.
    realistic: bool = False
    refunds: int = 20


@dataclass(slots=True)
class ChaosReport:
    intents: int
    by_status: dict[str, int]
    captures_answered: int
    refunds: int
    kills: int
    aws_outage_seconds: float
    primary_outage_seconds: float
    redis_outage_seconds: float
    seconds: float
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


async def run_chaos(fleet: Fleet, plan: ChaosPlan) -> ChaosReport:
    started = time.monotonic()
    first_day = datetime.now(BRASILIA).date()
    drive = Plan(
        api_url=fleet.api_url,
        api_key=fleet.api_key,
        sim_url=fleet.sim_url,
        count=plan.intents,
        method="pix",
        concurrency=20,
        rate_per_second=plan.rate_per_second,
    )
    headers = {"Authorization": f"Bearer {fleet.api_key}"}
    async with httpx.AsyncClient(base_url=fleet.api_url, headers=headers, timeout=30) as api:
        with serving(new_receiver()) as receiver:
            async with registered_endpoint(api, receiver), simulated_faults(drive):
                if plan.realistic:
                    await realistic_gateways(fleet.sim_url)
                await asyncio.to_thread(_send_poison, fleet)
                chaos = asyncio.create_task(_break_things(fleet, plan))
                creating_seconds = plan.intents / plan.rate_per_second
                cards = asyncio.create_task(
                    capture_intents(api, fleet.sim_url, plan.captures, creating_seconds)
                )
                runs = await create_intents(api, drive)
                await chaos
                captures = await cards
                ids = [run.id for run in runs] + [run.id for run in captures]
                await _settle(fleet, receiver, ids, [], plan.settle_timeout_seconds)
                refunds = await _refund(fleet, api, [run.id for run in runs], plan)
                await _settle(
                    fleet, receiver, ids, [r.id for r in refunds], plan.settle_timeout_seconds
                )
                statuses = [
                    (await call_api(api, "GET", f"/v1/payment_intents/{i}"))["status"] for i in ids
                ]
            report = ChaosReport(
                intents=len(ids),
                by_status=dict(Counter(statuses)),
                captures_answered=sum(run.captured for run in captures),
                refunds=len(refunds),
                kills=fleet.kills,
                aws_outage_seconds=plan.aws_outage_seconds,
                primary_outage_seconds=plan.primary_outage_seconds,
                redis_outage_seconds=plan.redis_outage_seconds,
                seconds=round(time.monotonic() - started, 1),
            )
            report.violations = await asyncio.to_thread(
                _violations, fleet, receiver, ids, captures, refunds
            )
            report.violations += await _reconciled(fleet, first_day)
            fleet.restart_crashed()
            report.violations += fleet.crashes
    return report


async def _refund(
    fleet: Fleet, api: httpx.AsyncClient, intent_ids: list[str], plan: ChaosPlan
) -> list[RefundRun]:
    """In the realistic mode, refund some payments, then resend their first callbacks."""
    if not plan.realistic:
        return []
    refunds = await refund_some(api, intent_ids, plan.refunds)
    charges = await asyncio.to_thread(_paid_charge_of, fleet, [r.intent_id for r in refunds])
    await resend_first_callbacks(fleet.sim_url, charges)
    return refunds


async def _break_things(fleet: Fleet, plan: ChaosPlan) -> None:
    """Kill a random role every few seconds for as long as intents are being created; cut
    Redis a quarter of the way in, AWS a third and the primary gateway halfway, each for
    its outage."""
    rng = random.Random(plan.seed)  # noqa: S311 - chaos, not cryptography
    creating_seconds = plan.intents / plan.rate_per_second
    outages = asyncio.gather(
        _outage(
            creating_seconds / 4, plan.redis_outage_seconds, fleet.redis.cut, fleet.redis.restore
        ),
        _outage(creating_seconds / 3, plan.aws_outage_seconds, fleet.aws.cut, fleet.aws.restore),
        _outage(
            creating_seconds / 2,
            plan.primary_outage_seconds,
            lambda: _primary_down(fleet, True),
            lambda: _primary_down(fleet, False),
        ),
    )
    deadline = time.monotonic() + creating_seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * plan.kill_every_seconds)
        await asyncio.to_thread(fleet.kill_and_restart, rng.choice(fleet.killable))
    await outages


async def _outage(after: float, lasting: float, begin: Any, end: Any) -> None:
    await asyncio.sleep(after)
    await asyncio.to_thread(begin)
    await asyncio.sleep(lasting)
    await asyncio.to_thread(end)


def _primary_down(fleet: Fleet, down: bool) -> None:
    url = f"{fleet.sim_url}/_sim/faults/{GATEWAYS[0]}"
    httpx.put(url, json={"outage": down}, timeout=SIM_ADMIN_TIMEOUT_SECONDS).raise_for_status()


def _sqs(fleet: Fleet) -> Any:
    return sync_client("sqs", fleet.settings)


def _send_poison(fleet: Fleet) -> None:
    """A message no worker can parse: it must end in the charge DLQ, and only it."""
    sqs = _sqs(fleet)
    queue = sqs.get_queue_url(QueueName=f"{fleet.prefix}-charge")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=POISON_BODY)


async def _settle(
    fleet: Fleet, receiver: Receiver, ids: list[str], refund_ids: list[str], within: float
) -> None:
    """Wait until the invariants can be judged: every intent and refund ended, every
    event published and delivered. Past `within` seconds the checks report what is
    missing."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        fleet.restart_crashed()
        if not await asyncio.to_thread(_unsettled, fleet, receiver, ids, refund_ids):
            return
        await asyncio.sleep(SETTLE_POLL_SECONDS)


def _unsettled(
    fleet: Fleet, receiver: Receiver, ids: list[str], refund_ids: list[str]
) -> list[str]:
    with psycopg.connect(fleet.env["PIXWAVE_DATABASE_URL"]) as db:
        open_intents = db.execute(
            "SELECT count(*) FROM payment_intents WHERE id = ANY(%s) AND status <> ALL(%s)",
            (ids, list(TERMINAL)),
        ).fetchone()
        open_refunds = db.execute(
            "SELECT count(*) FROM refunds WHERE id = ANY(%s) AND status = 'pending'",
            (refund_ids,),
        ).fetchone()
        unpublished = db.execute(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        ).fetchone()
        events = db.execute(
            "SELECT id FROM outbox WHERE aggregate_id = ANY(%s) AND event_type = ANY(%s)",
            (ids + refund_ids, [e.value for e in MERCHANT_EVENTS]),
        ).fetchall()
    missing = {event_id for (event_id,) in events} - set(receiver.event_ids())
    problems = []
    if open_intents and open_intents[0]:
        problems.append(f"{open_intents[0]} intents not terminal")
    if open_refunds and open_refunds[0]:
        problems.append(f"{open_refunds[0]} refunds still pending")
    if unpublished and unpublished[0]:
        problems.append(f"{unpublished[0]} outbox rows unpublished")
    if missing:
        problems.append(f"{len(missing)} events never reached the webhook receiver")
    return problems


def _violations(
    fleet: Fleet,
    receiver: Receiver,
    ids: list[str],
    captures: list[CaptureRun],
    refunds: list[RefundRun],
) -> list[str]:
    problems = _unsettled(fleet, receiver, ids, [r.id for r in refunds])
    ledger = httpx.get(f"{fleet.sim_url}/_sim/ledger", timeout=SIM_ADMIN_TIMEOUT_SECONDS).json()
    paid = _paid_charges(ledger, ids)
    problems += [
        f"{intent} was paid {len(amounts)} times"
        for intent, amounts in paid.items()
        if len(amounts) > 1
    ]
    with psycopg.connect(fleet.env["PIXWAVE_DATABASE_URL"]) as db:
        rows = db.execute(
            "SELECT id, status, amount_received FROM payment_intents WHERE id = ANY(%s)",
            ([run.id for run in captures],),
        ).fetchall()
        order = event_order(db, ids)
    intents = {str(i): (str(status), int(received)) for i, status, received in rows}
    problems += capture_violations(captures, intents, paid)
    problems += moved_backwards(order)
    problems += _refund_violations(fleet, refunds, ledger)
    problems += _books(fleet)
    problems += clearing_violations(_clearing(fleet), moved_by_gateway(ledger))
    problems += _dead_letters(fleet)
    return problems


def _books(fleet: Fleet) -> list[str]:
    """The ledger's invariants: every entry sums to zero, no merchant account is negative."""

    async def check() -> list[str]:
        async with open_uow(Settings(database_url=fleet.env["PIXWAVE_DATABASE_URL"])) as uow:
            return await check_books(uow)

    return [f"ledger: {problem}" for problem in asyncio.run(check())]


def _clearing(fleet: Fleet) -> dict[str, int]:
    """Each gateway's clearing balance, every mode."""
    with psycopg.connect(fleet.env["PIXWAVE_DATABASE_URL"]) as db:
        rows = db.execute(
            "SELECT split_part(account, ':', 2), sum(amount) FROM ledger_lines "
            "WHERE account LIKE 'gateway:%:clearing' GROUP BY account"
        ).fetchall()
    return {str(gateway): int(total) for gateway, total in rows}


async def _reconciled(fleet: Fleet, first_day: date) -> list[str]:
    """Every day of the run (one, unless it crossed midnight in Brasília) clean at each
    gateway."""
    today = datetime.now(BRASILIA).date()
    days = sorted({first_day, today})
    settings = Settings.model_validate(fleet_settings_fields(fleet.env))
    return unclean_runs(await reconcile_days(settings, days))


def _refund_violations(fleet: Fleet, refunds: list[RefundRun], ledger: dict[str, Any]) -> list[str]:
    intent_ids = [r.intent_id for r in refunds]
    with psycopg.connect(fleet.env["PIXWAVE_DATABASE_URL"]) as db:
        rows = db.execute(
            "SELECT id, status, amount FROM refunds WHERE id = ANY(%s)", ([r.id for r in refunds],)
        ).fetchall()
        refunded = db.execute(
            "SELECT id, amount_refunded FROM payment_intents WHERE id = ANY(%s)", (intent_ids,)
        ).fetchall()
    return refund_violations(
        refunds,
        {str(i): (str(status), int(amount)) for i, status, amount in rows},
        {str(i): int(amount) for i, amount in refunded},
        _paid_charge_of(fleet, intent_ids),
        ledger,
    )


def _paid_charge_of(fleet: Fleet, intent_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Each intent's (gateway, reference) of the charge that paid it (refunded since,
    perhaps)."""
    with psycopg.connect(fleet.env["PIXWAVE_DATABASE_URL"]) as db:
        rows = db.execute(
            "SELECT DISTINCT ON (payment_intent_id) payment_intent_id, gateway, "
            "gateway_reference FROM payment_attempts WHERE payment_intent_id = ANY(%s) "
            "AND charge_status IN ('paid', 'refunded') AND late_payment IS NULL "
            "ORDER BY payment_intent_id, number DESC",
            (intent_ids,),
        ).fetchall()
    return {str(i): (str(gateway), str(reference)) for i, gateway, reference in rows}


def _paid_charges(ledger: dict[str, Any], ids: list[str]) -> dict[str, list[int]]:
    """The amounts of each intent's paid, unrefunded gateway charges: more than one is
    money moved twice."""
    owner = {}
    for intent_id in ids:
        for number in range(1, MAX_ATTEMPTS + 1):
            for gateway in GatewayName:
                key = attempt_key(intent_id, gateway, number)
                owner[key] = owner[txid_for(key)] = intent_id
    refunded = {refund["reference"] for refund in ledger["refunds"]}
    paid: dict[str, list[int]] = {}
    for charge in ledger["charges"]:
        key = charge["idempotency_key"]
        kept = charge["status"] in PAID_STATUSES and charge["reference"] not in refunded
        if kept and key in owner:
            paid.setdefault(owner[key], []).append(int(charge["amount_cents"]))
    return paid


def _dead_letters(fleet: Fleet) -> list[str]:
    """Only the injected poison may be in a DLQ."""
    sqs = _sqs(fleet)
    problems = []
    for queue in declare(prefix=fleet.prefix).queues:
        url = sqs.get_queue_url(QueueName=queue.dlq_name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        depth = int(attributes["ApproximateNumberOfMessages"])
        expected = 1 if queue.name == f"{fleet.prefix}-charge" else 0
        if depth != expected:
            problems.append(f"{queue.dlq_name} holds {depth} messages, expected {expected}")
    return problems
