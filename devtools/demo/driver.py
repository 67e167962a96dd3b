"""Drive a running PixWave as a merchant would: register a receiver, create intents,
let the simulated payers pay, and time each intent from its create request to the
webhook that says it ended; then, if asked, settle the funds and pay some out to a Pix
key, reading the balance before and after."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal

import httpx

from app.db.session import create_engine, session_factory
from app.db.uow import unit_of_work_factory
from app.ledger.jobs import SETTLE_BATCH
from app.ledger.service import settle_due_balances
from app.settings import Settings
from devtools.demo.receiver import Receiver, new_receiver, serving

Method = Literal["pix", "card"]
GATEWAYS = ("mercadopago", "efi")
TERMINAL_EVENTS = {
    "payment_intent.succeeded": "succeeded",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
}
# A simulated payer pays each PIX charge this long after it is issued.
PIX_PAY_AFTER_SECONDS = 0.2
PROGRESS_POLL_SECONDS = 0.1
REQUEST_TIMEOUT_SECONDS = 30.0
# The simulator's admin API (faults, resends, ledger) answers late on a saturated
# machine: at 2,000 intents on 2 cores a resend took over 10 s to be accepted, and a
# CI run's fault restore timed out at httpx's default 5 s.
SIM_ADMIN_TIMEOUT_SECONDS = 60.0
TRANSPORT_TRIES = 5
TRANSPORT_RETRY_SECONDS = 0.5
TEST_CPF = "529.982.247-25"
PAYOUT_DESTINATION = {"type": "email", "key": "demo@example.com"}
PAYOUT_EVENTS = {"payout.paid": "paid", "payout.failed": "failed"}
# Mercado Pago's documented example token; the simulator approves it.
TEST_CARD_TOKEN = "ff8080814c11e237014c1ff593b57b4d"  # noqa: S105 - a test card token


@dataclass(frozen=True, slots=True)
class Plan:
    api_url: str
    api_key: str
    sim_url: str | None
    count: int
    method: Method
    fail_primary_percent: float = 0.0
    primary: str = GATEWAYS[0]
    concurrency: int = 20
    # Intents created per second; None creates them as fast as `concurrency` allows.
    rate_per_second: float | None = None
    timeout_seconds: float = 300.0
    # After the intents: pay this many centavos out to a Pix key (0: no payout), first
    # settling the funds in this database (None: leave it to the scheduler).
    payout_amount: int = 0
    database_url: str | None = None


@dataclass(slots=True)
class IntentRun:
    id: str
    created_at: float
    ended_at: float | None = None
    status: str | None = None
    gateways: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.created_at


@dataclass(frozen=True, slots=True)
class PayoutRun:
    id: str
    status: str
    available_before: int  # after settling, before the payout
    available_after: int


@dataclass(slots=True)
class Outcome:
    runs: list[IntentRun]
    webhooks_received: int
    bad_signatures: int
    started_at: float
    finished_at: float
    payout: PayoutRun | None = None


def intent_body(method: Method, number: int) -> dict[str, Any]:
    details: dict[str, Any] = (
        {"pix": {"payer": {"name": "Maria Silva", "document": TEST_CPF}}}
        if method == "pix"
        else {"card": {"token": TEST_CARD_TOKEN}}
    )
    return {
        "amount": 1000 + number % 9000,
        "currency": "BRL",
        "payment_method": {"type": method, **details},
        "description": f"demo #{number}",
    }


async def run(plan: Plan, progress: Callable[[int, int], None]) -> Outcome:
    headers = {"Authorization": f"Bearer {plan.api_key}"}
    limits = httpx.Limits(max_connections=plan.concurrency)
    async with httpx.AsyncClient(
        base_url=plan.api_url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS, limits=limits
    ) as api:
        with serving(new_receiver()) as receiver:
            async with registered_endpoint(api, receiver), simulated_faults(plan):
                started = time.monotonic()
                runs = await create_intents(api, plan)
                await _wait_for_ends(receiver, runs, plan, progress)
                finished = time.monotonic()
                await _read_attempts(api, runs, plan.concurrency)
                payout = await pay_out(api, receiver, plan) if plan.payout_amount else None
    received = len(receiver.received)
    return Outcome(runs, received, receiver.bad_signatures, started, finished, payout)


@asynccontextmanager
async def registered_endpoint(api: httpx.AsyncClient, receiver: Receiver) -> AsyncIterator[None]:
    """Registered for the run, deleted after: nothing keeps retrying a gone receiver."""
    endpoint = await call_api(
        api, "POST", "/v1/webhook_endpoints", json={"url": receiver.url, "enabled_events": ["*"]}
    )
    receiver.secret = endpoint["secret"]
    try:
        yield
    finally:
        await call_api(api, "DELETE", f"/v1/webhook_endpoints/{endpoint['id']}")


@asynccontextmanager
async def simulated_faults(plan: Plan) -> AsyncIterator[None]:
    """Break the primary and let payers pay PIX charges; put everything back after."""
    if plan.sim_url is None:
        yield
        return
    async with httpx.AsyncClient(
        base_url=f"{plan.sim_url}/_sim", timeout=SIM_ADMIN_TIMEOUT_SECONDS
    ) as sim:
        saved = (await sim.get("/faults")).json()
        changes: dict[str, dict[str, Any]] = {gateway: {} for gateway in GATEWAYS}
        if plan.method == "pix":
            for gateway in GATEWAYS:
                changes[gateway]["pix_auto_pay_seconds"] = PIX_PAY_AFTER_SECONDS
        changes[plan.primary]["error_rate"] = plan.fail_primary_percent / 100
        for gateway, change in changes.items():
            (await sim.put(f"/faults/{gateway}", json=change)).raise_for_status()
        try:
            yield
        finally:
            for gateway in GATEWAYS:
                await sim.put(f"/faults/{gateway}", json=saved[gateway])


async def create_intents(api: httpx.AsyncClient, plan: Plan) -> list[IntentRun]:
    room = asyncio.Semaphore(plan.concurrency)
    begin = time.monotonic()

    async def create(number: int) -> IntentRun:
        if plan.rate_per_second is not None:
            await asyncio.sleep(max(0.0, begin + number / plan.rate_per_second - time.monotonic()))
        async with room:
            started = time.monotonic()
            intent = await call_api(
                api,
                "POST",
                "/v1/payment_intents",
                json=intent_body(plan.method, number),
                headers={"Idempotency-Key": f"demo-{started}-{number}"},
            )
            return IntentRun(id=intent["id"], created_at=started)

    return list(await asyncio.gather(*(create(n) for n in range(plan.count))))


async def _wait_for_ends(
    receiver: Receiver, runs: list[IntentRun], plan: Plan, progress: Callable[[int, int], None]
) -> None:
    by_id = {run.id: run for run in runs}
    deadline = time.monotonic() + plan.timeout_seconds
    seen = 0
    ended = 0
    while ended < len(runs) and time.monotonic() < deadline:
        arrivals = receiver.received[seen:]
        seen += len(arrivals)
        for arrival in arrivals:
            event = arrival.event
            run = by_id.get(event["aggregate"]["id"])
            if run is not None and run.ended_at is None and event["type"] in TERMINAL_EVENTS:
                run.ended_at, run.status = arrival.at, TERMINAL_EVENTS[event["type"]]
                ended += 1
        progress(ended, len(runs))
        await asyncio.sleep(PROGRESS_POLL_SECONDS)


async def _read_attempts(api: httpx.AsyncClient, runs: list[IntentRun], concurrency: int) -> None:
    room = asyncio.Semaphore(concurrency)

    async def read(run: IntentRun) -> None:
        async with room:
            attempts = await call_api(api, "GET", f"/v1/payment_intents/{run.id}/attempts")
            run.gateways = [attempt["gateway"] for attempt in attempts["data"]]
            if run.status is None:  # no ending webhook in time: say where it stands
                intent = await call_api(api, "GET", f"/v1/payment_intents/{run.id}")
                run.status = f"{intent['status']} (no webhook)"

    await asyncio.gather(*(read(run) for run in runs))


async def pay_out(api: httpx.AsyncClient, receiver: Receiver, plan: Plan) -> PayoutRun:
    """Settle what is due (as the scheduler's ``settle_balances`` does), pay
    ``plan.payout_amount`` out to a Pix key, and wait for the webhook that ends it."""
    if plan.database_url is not None:
        await _settle(plan.database_url)
    before = await _available(api)
    payout = await call_api(
        api,
        "POST",
        "/v1/payouts",
        json={"amount": plan.payout_amount, "currency": "brl", "destination": PAYOUT_DESTINATION},
        headers={"Idempotency-Key": f"demo-payout-{time.monotonic()}"},
    )
    status = await _payout_end(receiver, payout["id"], plan.timeout_seconds)
    if status is None:
        current = await call_api(api, "GET", f"/v1/payouts/{payout['id']}")
        status = f"{current['status']} (no webhook)"
    return PayoutRun(payout["id"], status, before, await _available(api))


async def _settle(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url))
    try:
        new_uow = unit_of_work_factory(session_factory(engine))
        while await settle_due_balances(new_uow, datetime.now(UTC), SETTLE_BATCH):
            pass
    finally:
        await engine.dispose()


async def _available(api: httpx.AsyncClient) -> int:
    balance = await call_api(api, "GET", "/v1/balance")
    return sum(int(amount["amount"]) for amount in balance["available"])


async def _payout_end(receiver: Receiver, payout_id: str, timeout_seconds: float) -> str | None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        for arrival in receiver.received:
            event = arrival.event
            if event["aggregate"]["id"] == payout_id and event["type"] in PAYOUT_EVENTS:
                return PAYOUT_EVENTS[event["type"]]
        await asyncio.sleep(PROGRESS_POLL_SECONDS)
    return None


async def call_api(api: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    """One API call as a careful merchant makes it: rate limits (429 + Retry-After) are
    waited out, and a dropped connection is retried when repeating is safe (a read, a
    delete, or a POST carrying an Idempotency-Key)."""
    repeatable = method != "POST" or "Idempotency-Key" in kwargs.get("headers", {})
    dropped = 0
    while True:
        try:
            response = await api.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            dropped += 1
            if not repeatable or dropped == TRANSPORT_TRIES:
                raise DemoError(f"{method} {path}: {exc!r}") from exc
            await asyncio.sleep(TRANSPORT_RETRY_SECONDS * dropped)
            continue
        if response.status_code != HTTPStatus.TOO_MANY_REQUESTS:
            break
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    if response.is_error:
        raise DemoError(f"{method} {path}: {response.text}")
    return response.json()


class DemoError(Exception):
    """The running system refused what the demo asked."""
