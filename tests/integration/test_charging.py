"""Charging along the whole path: API → outbox → relay → SNS → SQS → charge worker →
gateway simulator over HTTP (and its callbacks back into the API)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis import Redis

from app.db.session import create_engine, session_factory
from app.db.uow import unit_of_work_factory
from app.domain.events import EventType
from app.embedded import free_port, moto_server
from app.gateways import brcode
from app.payments.jobs import refund_late_payments
from app.scheduler.jobs import JobContext
from app.settings import Settings
from gatewaysim.mercadopago.issuing import DECLINED_TOKEN, USED_TOKEN
from tests.aws import CREDENTIALS, sqs_client
from tests.gateway_sim import Simulator, running_simulator
from tests.integration.relay_support import RelayWorld, new_world, running_relay
from tests.support import (
    VALID_CPF,
    ApiProcess,
    Merchant,
    card_intent,
    pix_intent,
    start_api,
    start_role,
    wait_for,
)

TERMINAL_TIMEOUT_SECONDS = 90.0
FLAKY_TIMEOUT_SECONDS = 300.0
GATEWAY_TIMEOUT_SECONDS = 1
SIM_HANG_SECONDS = 3  # longer than the gateway timeout: a "timeout" loses the answer
CIRCUIT_OPEN_SECONDS = 2
TERMINAL = {"succeeded", "failed", "canceled", "requires_action", "requires_capture"}


@dataclass
class Stack:
    world: RelayWorld
    sim: Simulator
    api: ApiProcess
    merchant: Merchant

    def create(self, body: dict[str, Any]) -> str:
        response = httpx.post(
            f"{self.api.url}/v1/payment_intents", json=body, headers=self.merchant.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def intent(self, intent_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.api.url}/v1/payment_intents/{intent_id}", headers=self.merchant.headers
        )
        body: dict[str, Any] = response.json()
        return body

    def settle(
        self,
        intent_ids: list[str],
        statuses: set[str] = TERMINAL,
        timeout: float = TERMINAL_TIMEOUT_SECONDS,
    ) -> list[str]:
        wait_for(
            lambda: all(self.intent(i)["status"] in statuses for i in intent_ids),
            timeout=timeout,
            interval=0.2,
        )
        return [self.intent(i)["status"] for i in intent_ids]

    def attempt_list(self, intent_id: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.api.url}/v1/payment_intents/{intent_id}/attempts",
            headers=self.merchant.headers,
        )
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def attempts(self, intent_id: str) -> list[tuple[str, str]]:
        return [
            (str(gateway), str(outcome))
            for gateway, outcome in self.world.rows(
                "SELECT gateway, outcome FROM payment_attempts WHERE payment_intent_id = %s "
                "ORDER BY number",
                (intent_id,),
            )
        ]

    @staticmethod
    def queue_is_empty(sqs: Any, queue_url: str) -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])[
            "Attributes"
        ]
        return (
            int(attributes["ApproximateNumberOfMessages"])
            + int(attributes["ApproximateNumberOfMessagesNotVisible"])
            == 0
        )

    def callbacks_sent(self) -> list[dict[str, Any]]:
        return [c for c in self.sim.ledger()["callbacks"] if c["gateway"] == "mercadopago"]

    def events(self, event_type: EventType) -> list[dict[str, Any]]:
        rows = self.world.rows(
            "SELECT payload FROM outbox WHERE event_type = %s", (event_type.value,)
        )
        return [row[0] for row in rows]


@pytest.fixture(scope="module")
def stack(service_env: dict[str, str]) -> Iterator[Stack]:
    with ExitStack() as stack:
        endpoint = stack.enter_context(moto_server())
        world = new_world(service_env, endpoint)
        api_port = free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        sim = stack.enter_context(
            running_simulator(
                efi_webhook_url=f"{api_url}/v1/callbacks/efi",
                extra_args=("--timeout-hang-seconds", str(SIM_HANG_SECONDS)),
            )
        )
        env = {
            **world.env,
            **sim.gateway_env(),
            "PIXWAVE_PUBLIC_BASE_URL": api_url,
            "PIXWAVE_GATEWAY_TIMEOUT_SECONDS": str(GATEWAY_TIMEOUT_SECONDS),
            "PIXWAVE_GATEWAY_CIRCUIT_OPEN_SECONDS": str(CIRCUIT_OPEN_SECONDS),
        }
        api = stack.enter_context(start_api(env, port=api_port))
        stack.enter_context(running_relay(world))
        for _ in range(2):  # two charge workers share the queue
            stack.enter_context(running_charge_worker(env))
        merchant = Merchant(
            **json.loads(world.pixwave("merchants", "create", "--name", "Loja", "--json"))
        )
        yield Stack(world, sim, api, merchant)


def running_charge_worker(env: dict[str, str]) -> Any:
    port = free_port()
    worker_env = {
        **env,
        "PIXWAVE_WORKER_METRICS_PORT": str(port),
        "PIXWAVE_WORKER_RECEIVE_WAIT_SECONDS": "1",
    }
    return start_role(["worker", "charge"], worker_env, f"http://127.0.0.1:{port}/metrics")


@pytest.fixture(autouse=True)
def healthy_gateways(stack: Stack, service_env: dict[str, str]) -> None:
    """No faults, and every circuit closed (health lives in Redis under the prefix)."""
    stack.sim.admin("DELETE", "/faults")
    redis = Redis.from_url(service_env["PIXWAVE_REDIS_URL"])
    for key in redis.scan_iter(f"{stack.world.prefix}:gateway:*"):
        redis.delete(key)


def test_a_card_intent_is_charged_once_and_succeeds(stack: Stack) -> None:
    intent_id = stack.create(card_intent(5000))
    assert stack.settle([intent_id]) == ["succeeded"]
    assert stack.intent(intent_id)["amount_received"] == 5000
    assert stack.attempts(intent_id) == [("mercadopago", "succeeded")]
    [attempt] = stack.attempt_list(intent_id)
    assert attempt["routing"]["chosen"] == "mercadopago"
    assert attempt["routing"]["reason"] == "first in priority order"


def test_a_manual_capture_card_waits_for_capture(stack: Stack) -> None:
    intent_id = stack.create(card_intent(5000, capture_method="manual"))
    assert stack.settle([intent_id]) == ["requires_capture"]
    assert stack.intent(intent_id)["amount_capturable"] == 5000


def test_a_pix_intent_shows_its_code_and_succeeds_when_paid(stack: Stack) -> None:
    intent_id = stack.create(pix_intent(1990))
    assert stack.settle([intent_id]) == ["requires_action"]
    next_action = stack.intent(intent_id)["next_action"]["pix_display_qr_code"]
    assert brcode.parse(next_action["data"]).amount_cents == 1990
    [(reference,)] = stack.world.rows(
        "SELECT gateway_reference FROM payment_attempts WHERE payment_intent_id = %s",
        (intent_id,),
    )
    stack.sim.admin("POST", f"/pay/mercadopago/{reference}")
    assert stack.settle([intent_id], {"succeeded"}) == ["succeeded"]
    # The callback ended it in the api process, which timed creation → succeeded.
    metrics = httpx.get(f"{stack.api.url}/metrics").text
    assert 'pixwave_payment_intent_seconds_to_terminal_count{method="pix",status="succeeded"}' in (
        metrics
    )


def test_a_merchant_with_its_own_order_is_charged_at_its_first_gateway(stack: Stack) -> None:
    merchant = Merchant(
        **json.loads(stack.world.pixwave("merchants", "create", "--name", "Loja Efí", "--json"))
    )
    stack.world.pixwave("merchants", "priority", merchant.merchant_id, "--set", "efi,mercadopago")
    own_order = Stack(stack.world, stack.sim, stack.api, merchant)
    intent_id = own_order.create(pix_intent(2500))
    assert own_order.settle([intent_id]) == ["requires_action"]
    [attempt] = own_order.attempt_list(intent_id)
    assert attempt["gateway"] == "efi"
    assert attempt["routing"]["candidates"][0] == "efi"


def test_a_hard_decline_fails_without_fallback(stack: Stack) -> None:
    intent_id = stack.create(
        card_intent(5000, payment_method={"type": "card", "card": {"token": DECLINED_TOKEN}})
    )
    assert stack.settle([intent_id]) == ["failed"]
    assert stack.attempts(intent_id) == [("mercadopago", "declined")]


def test_a_request_the_gateway_refuses_fails_without_fallback(stack: Stack) -> None:
    card = {"type": "card", "card": {"token": USED_TOKEN}}
    intent_id = stack.create(card_intent(5000, payment_method=card))
    assert stack.settle([intent_id]) == ["failed"]
    assert stack.attempts(intent_id) == [("mercadopago", "declined")]
    assert stack.intent(intent_id)["last_payment_error"]["code"] == "gateway_refused"


def test_with_the_primary_down_pix_falls_back_and_cards_fail_with_an_alert(
    stack: Stack,
) -> None:
    stack.sim.faults("mercadopago", outage=True)
    pix = [stack.create(pix_intent(1000 + n)) for n in range(4)]
    card = stack.create(card_intent(5000))
    assert stack.settle([*pix, card]) == ["requires_action"] * 4 + ["failed"]

    for intent_id in pix:
        attempts = stack.attempts(intent_id)
        assert attempts[-1] == ("efi", "succeeded")
        assert all(outcome == "not_attempted" for _, outcome in attempts[:-1])
        fallback = stack.attempt_list(intent_id)[-1]["routing"]
        assert fallback["chosen"] == "efi"
        assert "mercadopago" in fallback["skipped"]
    # Efí takes no cards: with Mercado Pago down there is nobody left.
    assert stack.attempts(card) == [("mercadopago", "not_attempted")] * len(stack.attempts(card))
    alerted = [
        e["data"]["object"]["payment_intent"]
        for e in stack.events(EventType.ALERT_PAYMENT_FAILED_ALL_GATEWAYS)
    ]
    assert card in alerted
    assert stack.events(EventType.ALERT_GATEWAY_CIRCUIT_OPENED)


def test_a_flaky_primary_never_charges_an_intent_twice(stack: Stack) -> None:
    stack.sim.faults("mercadopago", error_rate=0.5, timeout_rate=0.2)
    intents = [stack.create(card_intent(3000 + n)) for n in range(4)]
    # Lookups fail as often as charges, so some intents need many rounds of backoff.
    statuses = stack.settle(intents, timeout=FLAKY_TIMEOUT_SECONDS)
    assert set(statuses) <= {"succeeded", "failed"}
    charges = stack.sim.ledger()["charges"]
    for intent_id in intents:
        approved = [
            c
            for c in charges
            if str(c["idempotency_key"]).startswith(intent_id) and c["status"] == "approved"
        ]
        assert len(approved) <= 1, approved
        assert (stack.intent(intent_id)["status"] == "succeeded") == (len(approved) == 1)


def test_a_captured_card_succeeds_with_the_captured_amount(stack: Stack) -> None:
    intent_id = stack.create(card_intent(5000, capture_method="manual"))
    assert stack.settle([intent_id]) == ["requires_capture"]
    captured = httpx.post(
        f"{stack.api.url}/v1/payment_intents/{intent_id}/capture",
        json={"amount_to_capture": 3000},
        headers=stack.merchant.headers,
    )
    assert captured.status_code == 200, captured.text
    assert stack.settle([intent_id], {"succeeded", "failed"}) == ["succeeded"]
    assert stack.intent(intent_id)["amount_received"] == 3000


def test_canceling_a_pix_intent_cancels_its_charge_at_the_gateway(stack: Stack) -> None:
    intent_id = stack.create(pix_intent(1990))
    assert stack.settle([intent_id]) == ["requires_action"]
    canceled = httpx.post(
        f"{stack.api.url}/v1/payment_intents/{intent_id}/cancel", headers=stack.merchant.headers
    )
    assert canceled.status_code == 200, canceled.text
    wait_for(
        lambda: stack.attempt_list(intent_id)[-1]["charge_status"] == "canceled",
        timeout=TERMINAL_TIMEOUT_SECONDS,
    )
    reference = stack.attempt_list(intent_id)[-1]["gateway_reference"]
    [charge] = [c for c in stack.sim.ledger()["charges"] if c["reference"] == reference]
    assert charge["status"] == "cancelled"


def test_partial_then_full_refunds_return_the_money(stack: Stack) -> None:
    intent_id = stack.create(card_intent(5000))
    assert stack.settle([intent_id]) == ["succeeded"]
    refund_ids = []
    for amount in (2000, None):
        body = {"payment_intent": intent_id, **({"amount": amount} if amount else {})}
        created = httpx.post(
            f"{stack.api.url}/v1/refunds", json=body, headers=stack.merchant.headers
        )
        assert created.status_code == 201, created.text
        refund_ids.append(created.json()["id"])

    def refund_status(refund_id: str) -> str:
        response = httpx.get(
            f"{stack.api.url}/v1/refunds/{refund_id}", headers=stack.merchant.headers
        )
        return str(response.json()["status"])

    wait_for(
        lambda: all(refund_status(r) == "succeeded" for r in refund_ids),
        timeout=TERMINAL_TIMEOUT_SECONDS,
    )
    assert stack.intent(intent_id)["amount_refunded"] == 5000
    reference = stack.attempt_list(intent_id)[0]["gateway_reference"]
    refunded = [r for r in stack.sim.ledger()["refunds"] if r["reference"] == reference]
    assert sorted(r["amount_cents"] for r in refunded) == [2000, 3000]


def test_the_same_message_delivered_twice_charges_once(stack: Stack) -> None:
    intent_id = stack.create(card_intent(4100))
    assert stack.settle([intent_id]) == ["succeeded"]
    [(payload,)] = stack.world.rows(
        "SELECT payload FROM outbox WHERE aggregate_id = %s AND event_type = %s",
        (intent_id, EventType.PAYMENT_INTENT_CREATED.value),
    )
    os.environ.update(CREDENTIALS)
    sqs = sqs_client(stack.world.endpoint)
    queue_url = sqs.get_queue_url(QueueName=f"{stack.world.prefix}-charge")["QueueUrl"]
    for _ in range(2):  # both workers may take one copy each
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(payload))
    wait_for(
        lambda: (
            stack.world.rows(
                "SELECT count(*) FROM inbox WHERE consumer = 'charge' AND event_id = %s",
                (payload["id"],),
            )
            == [(1,)]
            and stack.queue_is_empty(sqs, queue_url)
        ),
        timeout=TERMINAL_TIMEOUT_SECONDS,
    )
    assert stack.attempts(intent_id) == [("mercadopago", "succeeded")]
    charges = [
        c for c in stack.sim.ledger()["charges"] if str(c["idempotency_key"]).startswith(intent_id)
    ]
    assert len(charges) == 1


def run_refund_job(stack: Stack) -> int:
    """One run of the scheduler's late-payment job against the stack."""

    async def run() -> int:
        engine = create_engine(Settings(database_url=stack.world.database_url))
        gateways = stack.sim.open_gateways()
        context = JobContext(
            new_uow=unit_of_work_factory(session_factory(engine)),
            gateways=gateways,
            stop=asyncio.Event(),
            inbox_retention=timedelta(days=30),
        )
        try:
            return await refund_late_payments(context, 50)
        finally:
            await gateways.close()
            await engine.dispose()

    return asyncio.run(run())


def test_a_payment_after_cancel_is_refunded_once_with_an_alert(stack: Stack) -> None:
    intent_id = stack.create(pix_intent(1990))
    assert stack.settle([intent_id]) == ["requires_action"]
    reference = stack.attempt_list(intent_id)[0]["gateway_reference"]
    # The payer pays while the worker cannot reach the gateway to cancel the charge.
    stack.sim.faults("mercadopago", outage=True)
    canceled = httpx.post(
        f"{stack.api.url}/v1/payment_intents/{intent_id}/cancel", headers=stack.merchant.headers
    )
    assert canceled.status_code == 200, canceled.text
    stack.sim.admin("POST", f"/pay/mercadopago/{reference}")
    stack.sim.faults("mercadopago", outage=False)
    # The worker's cancel, or the gateway's callback, finds the charge paid.
    wait_for(
        lambda: stack.attempt_list(intent_id)[0]["late_payment"] == "refund_due",
        timeout=TERMINAL_TIMEOUT_SECONDS,
    )

    assert run_refund_job(stack) == 1
    # The same callback again, then another run: nothing is refunded twice.
    sent = len(stack.callbacks_sent())
    stack.sim.admin("POST", f"/callbacks/mercadopago/{reference}/resend")
    wait_for(
        lambda: (
            len(stack.callbacks_sent()) > sent and stack.callbacks_sent()[-1]["status_code"] == 200
        ),
        timeout=TERMINAL_TIMEOUT_SECONDS,
    )
    assert run_refund_job(stack) == 0

    [attempt] = stack.attempt_list(intent_id)
    assert attempt["late_payment"] == "refunded"
    refunds = [r for r in stack.sim.ledger()["refunds"] if r["reference"] == reference]
    assert [(r["amount_cents"], r["requests"]) for r in refunds] == [(1990, 1)]
    assert refunds[0]["refund_id"] == attempt["late_refund_reference"]
    assert stack.intent(intent_id)["status"] == "canceled"
    alerted = [
        e["data"]["object"]["payment_intent"]
        for e in stack.events(EventType.ALERT_LATE_PAYMENT_REFUNDED)
    ]
    assert alerted == [intent_id]


def test_a_payout_whose_answer_is_lost_is_sent_once_by_the_charge_worker(stack: Stack) -> None:
    """payout.created reaches the charge worker through the relay and the queue; Efí
    makes the send but its answer is lost, and every read too for a while; the message
    comes back (its inbox row released) until a read finds the send, which pays it."""
    merchant = Merchant(
        **json.loads(stack.world.pixwave("merchants", "create", "--name", "Repasse", "--json"))
    )
    stack.world.pixwave("merchants", "priority", merchant.merchant_id, "--set", "efi")
    shop = Stack(stack.world, stack.sim, stack.api, merchant)
    intent_id = shop.create(pix_intent(10_000))
    assert shop.settle([intent_id]) == ["requires_action"]
    [(reference,)] = stack.world.rows(
        "SELECT gateway_reference FROM payment_attempts WHERE payment_intent_id = %s",
        (intent_id,),
    )
    stack.sim.admin("POST", f"/pay/efi/{reference}")
    assert shop.settle([intent_id], {"succeeded"}) == ["succeeded"]
    stack.world.pixwave("ledger", "settle")

    def balance() -> dict[str, int]:
        body = httpx.get(f"{stack.api.url}/v1/balance", headers=merchant.headers).json()
        return {kind: sum(a["amount"] for a in body[kind]) for kind in ("available", "reserved")}

    funds = balance()["available"]
    stack.sim.faults("efi", timeout_rate=1.0)
    created = httpx.post(
        f"{stack.api.url}/v1/payouts",
        json={"amount": 3000, "currency": "brl", "destination": {"type": "cpf", "key": VALID_CPF}},
        headers=merchant.headers,
    )
    assert created.status_code == 201, created.text
    payout_id = created.json()["id"]

    def sends() -> list[dict[str, Any]]:
        rows = stack.world.rows(
            "SELECT id_envio FROM payout_attempts WHERE payout_id = %s", (payout_id,)
        )
        ids = {row[0] for row in rows}
        return [s for s in stack.sim.ledger()["pix_sends"] if s["id_envio"] in ids]

    wait_for(lambda: len(sends()) == 1, timeout=TERMINAL_TIMEOUT_SECONDS)
    assert balance() == {"available": funds - 3000, "reserved": 3000}
    time.sleep(GATEWAY_TIMEOUT_SECONDS * 2)  # the PUT's answer, and a read or two, are lost
    stack.sim.admin("DELETE", "/faults")

    def payout_status() -> str:
        url = f"{stack.api.url}/v1/payouts/{payout_id}"
        return str(httpx.get(url, headers=merchant.headers).json()["status"])

    wait_for(lambda: payout_status() == "paid", timeout=TERMINAL_TIMEOUT_SECONDS, interval=0.2)
    [sent] = sends()
    assert (sent["requests"], sent["amount_cents"], sent["payee_key"]) == (1, 3000, "52998224725")
    # The worker did retry the message: its lost answers are in the failure ledger.
    [(error_class, attempts)] = stack.world.rows(
        "SELECT error_class, attempts FROM message_failures WHERE event_type = 'payout.created'"
    )
    assert error_class == "RetryLater"
    assert attempts >= 1
    assert balance() == {"available": funds - 3000, "reserved": 0}
    events = stack.world.rows(
        "SELECT event_type FROM outbox WHERE aggregate_id = %s ORDER BY position", (payout_id,)
    )
    assert [row[0] for row in events] == ["payout.created", "payout.paid"]
