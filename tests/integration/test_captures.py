"""A requested capture against every order in which gateway news can reach PixWave.

The API runs as a process with its callback route; the simulator answers as Mercado Pago;
the charge worker's services run here, so each test decides exactly when the capture
happens relative to callbacks, re-fetches and redeliveries."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from app.db.session import open_uow
from app.db.uow import UnitOfWork
from app.domain.events import EventType
from app.embedded import free_port
from app.gateways.port import CallbackEvent, Charge, GatewayName
from app.payments.actions import capture_intent
from app.payments.callbacks import apply_callback
from app.payments.charging import ChargeContext, charge_intent
from app.payments.consumer import charge_context
from app.payments.repository import IntentRepository
from app.refunds.service import refund_charge
from app.settings import Settings
from tests.gateway_sim import Simulator, running_simulator
from tests.integration.test_callbacks import Shop, post_mercadopago
from tests.support import ApiProcess, Merchant, card_intent, start_api, wait_for

MP = GatewayName.MERCADOPAGO
AUTHORIZED_AMOUNT = 5000
CAPTURED_AMOUNT = 3000
WAIT_SECONDS = 30.0
CAPTURABLE_UPDATED = EventType.PAYMENT_INTENT_AMOUNT_CAPTURABLE_UPDATED.value
MISMATCH = EventType.ALERT_RECONCILIATION_MISMATCH.value


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with running_simulator() as simulator:
        yield simulator


@pytest.fixture(scope="module")
def api(sim: Simulator) -> Iterator[ApiProcess]:
    with start_api(sim.gateway_env(), port=free_port()) as process:
        yield process


Handler = tuple[UnitOfWork, ChargeContext]


class Till(Shop):
    """Manual-capture card intents, captured the way the charge worker captures them."""

    def settings(self, *, notify: bool = False) -> Settings:
        return self.sim.gateway_settings(
            database_url=self.db_url,
            redis_url=os.environ["PIXWAVE_REDIS_URL"],
            document_key=os.environ["PIXWAVE_DOCUMENT_KEY"],
            gateway_priority=MP.value,
            public_base_url=self.api.url if notify else None,
        )

    @asynccontextmanager
    async def worker(
        self, *, notify: bool = False
    ) -> AsyncIterator[tuple[UnitOfWork, ChargeContext]]:
        """One handler's unit of work and the charge worker's context; nothing commits
        unless the test commits it."""
        settings = self.settings(notify=notify)
        context = charge_context(settings)
        try:
            async with open_uow(settings) as uow:
                yield uow, context
        finally:
            await context.gateways.close()

    async def authorized(self) -> tuple[str, str]:
        """A manual card intent of 5000 in requires_capture, and its charge's reference."""
        intent_id = self.create(card_intent(AUTHORIZED_AMOUNT, capture_method="manual"))
        reference = await self.charge(intent_id, MP, notify=False)
        assert self.status(intent_id) == "requires_capture"
        return intent_id, reference

    def create(self, body: dict[str, Any]) -> str:
        response = httpx.post(
            f"{self.api.url}/v1/payment_intents", json=body, headers=self.merchant.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def request_capture(self, intent_id: str, amount: int = CAPTURED_AMOUNT) -> None:
        response = httpx.post(
            f"{self.api.url}/v1/payment_intents/{intent_id}/capture",
            json={"amount_to_capture": amount},
            headers=self.merchant.headers,
        )
        assert response.status_code == 200, response.text

    def create_refund(self, intent_id: str, amount: int) -> str:
        response = httpx.post(
            f"{self.api.url}/v1/refunds",
            json={"payment_intent": intent_id, "amount": amount},
            headers=self.merchant.headers,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def run_capture(self, intent_id: str) -> None:
        """The charge worker's capture_requested handler, committed."""
        async with self.worker() as (uow, context):
            await capture_intent(uow, context, intent_id)
            await uow.commit()

    async def view(self, reference: str) -> Charge:
        """What a re-fetch sees now (kept by a test to apply later, when it is old)."""
        async with self.worker() as (_, context):
            charge = await context.gateways.require(MP).get_charge(reference)
        assert charge is not None
        return charge

    def intent(self, intent_id: str) -> dict[str, Any]:
        response = httpx.get(
            f"{self.api.url}/v1/payment_intents/{intent_id}", headers=self.merchant.headers
        )
        body: dict[str, Any] = response.json()
        return body

    def charge_status(self, intent_id: str) -> str:
        [(status,)] = self.rows(
            "SELECT charge_status FROM payment_attempts WHERE payment_intent_id = %s",
            (intent_id,),
        )
        return str(status)

    def delivered(self, reference: str) -> bool:
        """The gateway's notification about ``reference`` was at last answered 200."""
        [delivery] = [c for c in self.callbacks_sent(MP) if f"data.id={reference}" in c["url"]]
        assert delivery["status_code"] in (None, 200, 503), delivery
        return bool(delivery["status_code"] == 200)

    def waiting_for_a_row_lock(self) -> bool:
        """Some other transaction (the API's) waits on a row lock."""
        [(waiting,)] = self.rows(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE '%%payment_intents%%'"
        )
        return bool(waiting)

    def mismatch_alerts(self, intent_id: str) -> list[str]:
        return [
            row[0]
            for row in self.rows(
                "SELECT payload->'data'->'object'->>'reason' FROM outbox "
                "WHERE event_type = %s AND payload->'data'->'object'->>'payment_intent' = %s",
                (MISMATCH, intent_id),
            )
        ]

    def assert_captured(
        self, intent_id: str, reference: str, amount: int = CAPTURED_AMOUNT
    ) -> None:
        """Succeeded with what was asked, captured once at the gateway, never moved back."""
        intent = self.intent(intent_id)
        assert (intent["status"], intent["amount_received"]) == ("succeeded", amount), intent
        assert intent["amount_capturable"] == 0
        [charge] = [c for c in self.sim.ledger()["charges"] if c["reference"] == reference]
        assert (charge["status"], charge["amount_cents"]) == ("approved", amount), charge
        assert self.events(intent_id).count(CAPTURABLE_UPDATED) == 1
        assert self.charge_status(intent_id) == "paid"


@pytest.fixture
def till(api: ApiProcess, merchant: Merchant, sim: Simulator, database_url: str) -> Till:
    sim.admin("DELETE", "/faults")
    return Till(api, merchant, sim, database_url)


async def test_an_authorized_callback_after_the_capture_request_keeps_the_request(
    till: Till,
) -> None:
    """Finding 1: the notification's re-fetch still shows the authorization (the worker
    has not captured yet); it used to put the intent back in requires_capture with
    the whole 5000 capturable, and the worker then skipped the capture."""
    intent_id, reference = await till.authorized()
    till.request_capture(intent_id)

    answered = post_mercadopago(till.api, reference)
    assert answered.status_code == 200, answered.text
    assert answered.json()["results"] == ["stale"]
    intent = till.intent(intent_id)
    assert (intent["status"], intent["amount_capturable"]) == ("processing", CAPTURED_AMOUNT)

    await till.run_capture(intent_id)
    till.assert_captured(intent_id, reference)


async def test_a_callback_the_gateway_redelivers_after_the_capture_request_keeps_it(
    till: Till,
) -> None:
    """The way finding 1 happens unprompted: Mercado Pago's payment.created reaches the
    API before the worker has committed the charge (503), and its redelivery arrives
    once the merchant has asked for the capture."""
    intent_id = till.create(card_intent(AUTHORIZED_AMOUNT, capture_method="manual"))
    async with till.worker(notify=True) as (uow, context):
        await charge_intent(uow, context, intent_id)
        # Until the capture is asked for, the API cannot re-fetch: every delivery is a 503.
        till.sim.faults(MP.value, outage=True)
        await uow.commit()
    [(reference,)] = till.rows(
        "SELECT gateway_reference FROM payment_attempts WHERE payment_intent_id = %s",
        (intent_id,),
    )
    till.request_capture(intent_id)
    till.sim.faults(MP.value, outage=False)
    wait_for(lambda: till.delivered(reference), timeout=WAIT_SECONDS)
    assert till.callback_results(reference) == ["stale"]
    assert till.intent(intent_id)["status"] == "processing"

    await till.run_capture(intent_id)
    till.assert_captured(intent_id, reference)


async def test_a_callback_refetched_while_the_capture_is_in_flight_changes_nothing(
    till: Till,
) -> None:
    """The API re-fetches (authorized), then waits for the row the worker holds while it
    captures; once the worker commits, that view is older than what the try knows."""
    intent_id, reference = await till.authorized()
    till.request_capture(intent_id)
    with ThreadPoolExecutor(max_workers=1) as pool:
        async with till.worker() as (uow, context):
            await uow.repository(IntentRepository).get_for_update(
                intent_id
            )  # the worker's handler has begun
            answer = pool.submit(post_mercadopago, till.api, reference)
            wait_for(lambda: till.waiting_for_a_row_lock(), timeout=WAIT_SECONDS)
            await capture_intent(uow, context, intent_id)
            await uow.commit()
        answered = answer.result(timeout=WAIT_SECONDS)
    assert answered.status_code == 200, answered.text
    assert answered.json()["results"] == ["stale"]
    till.assert_captured(intent_id, reference)


async def test_an_old_view_applied_after_the_capture_leaves_the_paid_charge_alone(
    till: Till,
) -> None:
    """A view from before the capture must not rewrite the try as authorized (refunds
    look for the paid charge) nor move the succeeded intent."""
    intent_id, reference = await till.authorized()
    old = await till.view(reference)
    till.request_capture(intent_id)
    await till.run_capture(intent_id)
    events = till.events(intent_id)

    async with till.worker() as (uow, _):
        result = await apply_callback(
            uow, MP, CallbackEvent(f"old:{reference}", reference), old, b"{}"
        )
        await uow.commit()
    assert result == "stale"
    assert till.events(intent_id) == events
    till.assert_captured(intent_id, reference)


async def test_a_redelivered_capture_message_finishes_the_capture_once(till: Till) -> None:
    """The first run captured at the gateway and died before committing; the redelivery
    finds the gateway refusing a second capture, which used to fail the intent with the
    money taken. Another redelivery after the commit does nothing."""
    intent_id, reference = await till.authorized()
    till.request_capture(intent_id)
    async with till.worker() as (uow, context):
        await capture_intent(uow, context, intent_id)  # rolled back: never committed
    assert till.intent(intent_id)["status"] == "processing"

    await till.run_capture(intent_id)
    till.assert_captured(intent_id, reference)
    events = till.events(intent_id)
    await till.run_capture(intent_id)
    assert till.events(intent_id) == events


async def test_a_partial_capture_reconciles_without_an_alert(till: Till) -> None:
    """Finding 2: the gateway's notification after a partial capture shows 3000 charged on
    an intent of 5000, which is what was asked; it used to raise a mismatch alert."""
    intent_id, reference = await till.authorized()
    till.request_capture(intent_id)
    await till.run_capture(intent_id)

    answered = post_mercadopago(till.api, reference)
    assert answered.status_code == 200, answered.text
    assert answered.json()["results"] == ["already_applied"]
    assert till.mismatch_alerts(intent_id) == []
    till.assert_captured(intent_id, reference)


async def test_a_refund_of_a_partial_capture_reconciles_without_an_alert(till: Till) -> None:
    """After a partial capture and a partial refund, the gateway's notification shows
    3000 charged and 1000 refunded: what PixWave captured and refunded."""
    intent_id, reference = await till.authorized()
    till.request_capture(intent_id)
    await till.run_capture(intent_id)
    refund_id = till.create_refund(intent_id, 1000)
    async with till.worker() as (uow, context):
        await refund_charge(uow, context, refund_id)
        await uow.commit()

    answered = post_mercadopago(till.api, reference)
    assert answered.status_code == 200, answered.text
    assert answered.json()["results"] == ["already_applied"]
    assert till.mismatch_alerts(intent_id) == []
    assert till.intent(intent_id)["amount_refunded"] == 1000


async def test_a_capture_of_another_amount_than_asked_still_alerts(till: Till) -> None:
    """The gateway took 4000 where the merchant asked for 3000: a real mismatch."""
    intent_id, reference = await till.authorized()
    till.request_capture(intent_id)
    async with till.worker() as (_, context):
        await context.gateways.require(MP).capture(reference, 4000)

    answered = post_mercadopago(till.api, reference)
    assert answered.status_code == 200, answered.text
    assert answered.json()["results"] == ["amount_mismatch"]
    [reason] = till.mismatch_alerts(intent_id)
    assert reason.startswith(f"charged 4000 but {CAPTURED_AMOUNT} BRL")
    assert till.intent(intent_id)["status"] == "processing"
