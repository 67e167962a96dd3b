"""Gateway callbacks through the real API: the simulator pays and calls back, the API
verifies, re-fetches, and moves the intent with its event in one transaction."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from app.db.session import open_uow
from app.domain.events import EventType
from app.embedded import free_port
from app.gateways.port import GatewayName, RefundRequest
from app.payments.charging import charge_intent
from app.payments.consumer import charge_context
from app.payments.repository import AttemptRepository
from app.payouts.service import send_payout
from gatewaysim.mercadopago.notifications import signature
from tests.gateway_sim import EFI_HMAC, MP_WEBHOOK_SECRET, Simulator, running_simulator
from tests.integration.payout_support import funded_api_merchant
from tests.support import ApiProcess, Merchant, pix_intent, start_api, wait_for

CALLBACK_TIMEOUT_SECONDS = 20.0
EVP = "123e4567-e89b-12d3-a456-426614174000"


@pytest.fixture(scope="module")
def api_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def sim(api_port: int) -> Iterator[Simulator]:
    efi_url = f"http://127.0.0.1:{api_port}/v1/callbacks/efi"
    with running_simulator(efi_webhook_url=efi_url) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def callback_api(sim: Simulator, api_port: int) -> Iterator[ApiProcess]:
    with start_api(sim.gateway_env(), port=api_port) as process:
        yield process


class Shop:
    """A merchant's intents, charged the way the charge worker charges them."""

    def __init__(self, api: ApiProcess, merchant: Merchant, sim: Simulator, db_url: str) -> None:
        self.api, self.merchant, self.sim, self.db_url = api, merchant, sim, db_url

    def create_pix_intent(self, amount: int = 1990) -> str:
        response = httpx.post(
            f"{self.api.url}/v1/payment_intents",
            json=pix_intent(amount),
            headers=self.merchant.headers,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def charge(self, intent_id: str, gateway: GatewayName, *, notify: bool = True) -> str:
        """Issue the PIX charge at ``gateway``; return the gateway's reference.

        ``notify=False`` leaves Mercado Pago without a notification URL, so the test
        alone decides what reaches the API."""
        settings = self.sim.gateway_settings(
            database_url=self.db_url,
            redis_url=os.environ["PIXWAVE_REDIS_URL"],
            document_key=os.environ["PIXWAVE_DOCUMENT_KEY"],
            gateway_priority=gateway.value,
            public_base_url=self.api.url if notify else None,
        )
        context = charge_context(settings)  # what the charge worker runs on
        try:
            async with open_uow(settings) as uow:
                await charge_intent(uow, context, intent_id)
                await uow.commit()
                [attempt] = await uow.repository(AttemptRepository).for_intent(intent_id)
        finally:
            await context.gateways.close()
        assert attempt.gateway_reference is not None, attempt.error
        return attempt.gateway_reference

    def status(self, intent_id: str) -> str:
        response = httpx.get(
            f"{self.api.url}/v1/payment_intents/{intent_id}", headers=self.merchant.headers
        )
        return str(response.json()["status"])

    def events(self, intent_id: str) -> list[str]:
        return [
            row[0]
            for row in self.rows(
                "SELECT event_type FROM outbox WHERE aggregate_id = %s ORDER BY position",
                (intent_id,),
            )
        ]

    def callback_results(self, reference: str) -> list[str]:
        return [
            r[0]
            for r in self.rows(
                "SELECT result FROM gateway_callbacks WHERE reference = %s ORDER BY received_at",
                (reference,),
            )
        ]

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db_url, autocommit=True) as connection:
            return connection.execute(query, params).fetchall()

    def callbacks_sent(self, gateway: GatewayName) -> list[dict[str, Any]]:
        return [c for c in self.sim.ledger()["callbacks"] if c["gateway"] == gateway.value]


@pytest.fixture
def shop(callback_api: ApiProcess, merchant: Merchant, sim: Simulator, database_url: str) -> Shop:
    sim.admin("DELETE", "/faults")
    return Shop(callback_api, merchant, sim, database_url)


SUCCEEDED = EventType.PAYMENT_INTENT_SUCCEEDED.value


@pytest.mark.parametrize("gateway", [GatewayName.MERCADOPAGO, GatewayName.EFI])
async def test_a_paid_pix_charge_succeeds_the_intent_once(shop: Shop, gateway: GatewayName) -> None:
    intent_id = shop.create_pix_intent()
    reference = await shop.charge(intent_id, gateway)
    assert shop.status(intent_id) == "requires_action"

    shop.sim.admin("POST", f"/pay/{gateway.value}/{reference}")
    wait_for(lambda: shop.status(intent_id) == "succeeded", timeout=CALLBACK_TIMEOUT_SECONDS)
    assert shop.events(intent_id).count(SUCCEEDED) == 1

    # The gateway sends the same notification again: nothing moves twice.
    sent = len(shop.callbacks_sent(gateway))
    shop.sim.admin("POST", f"/callbacks/{gateway.value}/{reference}/resend")
    wait_for(lambda: len(shop.callbacks_sent(gateway)) > sent, timeout=CALLBACK_TIMEOUT_SECONDS)
    wait_for(
        lambda: shop.callbacks_sent(gateway)[-1]["status_code"] == 200,
        timeout=CALLBACK_TIMEOUT_SECONDS,
    )
    assert shop.events(intent_id).count(SUCCEEDED) == 1
    assert "moved" in shop.callback_results(reference)


def post_mercadopago(
    api: ApiProcess, payment_id: str, *, secret: str = MP_WEBHOOK_SECRET, age_seconds: int = 0
) -> httpx.Response:
    """A notification as Mercado Pago sends it, signed with ``secret`` ``age_seconds`` ago."""
    ts, request_id = int(time.time()) - age_seconds, str(uuid.uuid4())
    v1 = signature(secret.encode(), payment_id, request_id, ts)
    body = {"id": 1, "type": "payment", "action": "payment.updated", "data": {"id": payment_id}}
    return httpx.post(
        f"{api.url}/v1/callbacks/mercadopago",
        params={"data.id": payment_id, "type": "payment"},
        content=json.dumps(body),
        headers={
            "Content-Type": "application/json",
            "x-request-id": request_id,
            "x-signature": f"ts={ts},v1={v1}",
        },
    )


@pytest.mark.parametrize(
    "forgery", [{"secret": "guessed"}, {"age_seconds": 3600}], ids=["forged", "stale"]
)
async def test_a_forged_or_stale_mercadopago_callback_changes_nothing(
    shop: Shop, forgery: dict[str, Any]
) -> None:
    intent_id = shop.create_pix_intent()
    reference = await shop.charge(intent_id, GatewayName.MERCADOPAGO, notify=False)
    # Paid at the gateway: only verification stands between the callback and the intent.
    shop.sim.admin("POST", f"/pay/mercadopago/{reference}")
    events_before = shop.events(intent_id)

    refused = post_mercadopago(shop.api, reference, **forgery)
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert shop.status(intent_id) == "requires_action"
    assert shop.events(intent_id) == events_before
    assert shop.callback_results(reference) == []

    genuine = post_mercadopago(shop.api, reference)
    assert genuine.status_code == 200, genuine.text
    assert shop.status(intent_id) == "succeeded"


def post_efi(api: ApiProcess, body: Any, *, token: str = EFI_HMAC) -> httpx.Response:
    return httpx.post(
        f"{api.url}/v1/callbacks/efi/pix",
        params={"hmac": token},
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )


async def test_a_forged_efi_callback_is_refused_before_anything_is_read(shop: Shop) -> None:
    intent_id = shop.create_pix_intent()
    reference = await shop.charge(intent_id, GatewayName.EFI)
    pix = {"endToEndId": "E" + "1" * 31, "txid": reference, "valor": "19.90", "horario": "x"}
    response = post_efi(shop.api, {"pix": [pix]}, token="guessed")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert shop.status(intent_id) == "requires_action"
    assert shop.callback_results(reference) == []


async def test_an_unknown_txid_is_acknowledged_and_changes_nothing(shop: Shop) -> None:
    pix = {"endToEndId": "E" + "2" * 31, "txid": "z" * 32, "valor": "19.90", "horario": "x"}
    response = post_efi(shop.api, {"pix": [pix]})
    assert response.status_code == 200
    assert response.json()["results"] == ["unknown_charge"]
    assert shop.rows("SELECT count(*) FROM outbox WHERE aggregate_id = %s", ("z" * 32,)) == [(0,)]


@pytest.mark.parametrize(
    ("txid", "end_to_end_id", "param"),
    [
        ("../../oauth/token", "E" + "3" * 31, "txid"),
        ("a" * 25, "E" + "3" * 31, "txid"),
        ("x" * 32, "../../v2/webhook/x", "endToEndId"),
    ],
)
async def test_a_callback_identifier_out_of_form_is_refused_before_any_gateway_call(
    shop: Shop, txid: str, end_to_end_id: str, param: str
) -> None:
    pix = {"endToEndId": end_to_end_id, "txid": txid, "valor": "19.90", "horario": "x"}
    response = post_efi(shop.api, {"pix": [pix]})
    assert response.status_code == 400, response.text
    problem = response.json()
    assert (problem["code"], problem["param"]) == ("gateway_identifier_invalid", param)
    assert shop.callback_results(txid) == []


async def test_what_a_failing_gateway_said_never_reaches_the_caller(shop: Shop) -> None:
    shop.sim.faults("efi", outage=True)
    pix = {"endToEndId": "E" + "4" * 31, "txid": "y" * 32, "valor": "19.90", "horario": "x"}
    response = post_efi(shop.api, {"pix": [pix]})
    assert response.status_code == 503, response.text
    problem = response.json()
    assert problem["code"] == "gateway_not_attempted"
    assert problem["detail"] == "The efi gateway gave no usable answer; retry later."
    assert problem["request_id"] is not None


def test_callbacks_are_limited_per_gateway(sim: Simulator) -> None:
    sim.admin("DELETE", "/faults")
    limit = 2
    overrides = {
        **sim.gateway_env(),
        "PIXWAVE_CALLBACK_RATE_LIMIT_PER_MINUTE": str(limit),
        "PIXWAVE_NAME_PREFIX": f"cb{uuid.uuid4().hex[:8]}",  # counters of its own
    }
    pix = {"endToEndId": "E" + "5" * 31, "txid": "w" * 32, "valor": "19.90", "horario": "x"}
    with start_api(overrides) as limited:
        # 2·limit + 1 within seconds: at most one minute boundary passes, so one is refused.
        answers = [post_efi(limited, {"pix": [pix]}) for _ in range(2 * limit + 1)]
        forged = post_efi(limited, {"pix": [pix]}, token="guessed")
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert {a.status_code for a in answers} <= {200, 429}
    assert refused[0].json()["code"] == "rate_limited"
    assert int(refused[0].headers["Retry-After"]) >= 1
    assert forged.status_code == 401  # verification comes first: forgeries use no budget


async def test_an_amount_mismatch_moves_nothing_and_raises_an_alert(shop: Shop) -> None:
    intent_id = shop.create_pix_intent(1990)
    reference = await shop.charge(intent_id, GatewayName.EFI)
    shop.sim.admin("POST", f"/pay/efi/{reference}", json={"amount_cents": 1000})
    wait_for(
        lambda: shop.callback_results(reference) == ["amount_mismatch"],
        timeout=CALLBACK_TIMEOUT_SECONDS,
    )
    assert shop.status(intent_id) == "requires_action"
    assert SUCCEEDED not in shop.events(intent_id)
    alerts = shop.rows(
        "SELECT payload->'data'->'object'->>'payment_intent' FROM outbox WHERE event_type = %s",
        (EventType.ALERT_RECONCILIATION_MISMATCH.value,),
    )
    assert (intent_id,) in alerts


async def test_an_efi_batch_settles_every_pix_in_it(shop: Shop) -> None:
    intents = [shop.create_pix_intent(amount) for amount in (1000, 2500)]
    references = [await shop.charge(i, GatewayName.EFI) for i in intents]
    shop.sim.admin("POST", "/pay-many/efi", json={"references": references})
    wait_for(
        lambda: all(shop.status(i) == "succeeded" for i in intents),
        timeout=CALLBACK_TIMEOUT_SECONDS,
    )
    assert [shop.events(i).count(SUCCEEDED) for i in intents] == [1, 1]


async def test_a_callback_the_gateway_cannot_confirm_is_refused_until_it_can(shop: Shop) -> None:
    intent_id = shop.create_pix_intent()
    reference = await shop.charge(intent_id, GatewayName.EFI)
    shop.sim.faults("efi", outage=True)
    shop.sim.admin("POST", f"/pay/efi/{reference}")
    # The API cannot re-fetch the cob, so it answers 503 and the gateway tries again.
    wait_for(
        lambda: shop.callbacks_sent(GatewayName.EFI)[-1]["attempts"] >= 2,
        timeout=CALLBACK_TIMEOUT_SECONDS,
    )
    assert shop.callbacks_sent(GatewayName.EFI)[-1]["status_code"] == 503
    assert shop.status(intent_id) == "requires_action"
    assert shop.callback_results(reference) == []

    shop.sim.faults("efi", outage=False)
    wait_for(lambda: shop.status(intent_id) == "succeeded", timeout=CALLBACK_TIMEOUT_SECONDS)
    assert shop.events(intent_id).count(SUCCEEDED) == 1


async def test_efi_devolucao_and_resent_callbacks_move_nothing_twice(shop: Shop) -> None:
    """docs/APIPix/Webhooks ("Exemplo-Devolução"): a devolução made is called back with
    its pix again (same endToEndId): stored as its own callback, not lost as a duplicate
    of the payment's. Resends (every callback twice here, and the payment's again after
    the devolução's) change nothing."""
    shop.sim.faults("efi", callback_duplicate_rate=1.0)
    earlier = len(shop.callbacks_sent(GatewayName.EFI))  # other tests' callbacks
    intent_id = shop.create_pix_intent()
    reference = await shop.charge(intent_id, GatewayName.EFI)
    shop.sim.admin("POST", f"/pay/efi/{reference}")
    wait_for(lambda: shop.status(intent_id) == "succeeded", timeout=CALLBACK_TIMEOUT_SECONDS)
    gateways = shop.sim.open_gateways()
    try:
        efi = gateways.require(GatewayName.EFI.value)
        paid = await efi.get_charge(reference)
        assert paid is not None
        await efi.refund(RefundRequest(paid, f"re_{uuid.uuid4().hex[:20]}", 500))
    finally:
        await gateways.close()
    wait_for(lambda: len(shop.callback_results(reference)) == 2, timeout=CALLBACK_TIMEOUT_SECONDS)
    shop.sim.admin("POST", f"/efi/callbacks/{reference}/resend/0")

    def all_answered() -> bool:
        sent = shop.callbacks_sent(GatewayName.EFI)[earlier:]
        return len(sent) == 5 and all(c["status_code"] == 200 for c in sent)

    wait_for(all_answered, timeout=CALLBACK_TIMEOUT_SECONDS)
    assert shop.callback_results(reference)[0] == "moved"
    assert len(shop.callback_results(reference)) == 2
    assert shop.events(intent_id).count(SUCCEEDED) == 1


@pytest.mark.parametrize(
    ("settled", "status"), [("REALIZADO", "paid"), ("NAO_REALIZADO", "failed")]
)
async def test_a_pix_send_callback_has_the_payout_read_back_and_settled(
    shop: Shop, db: psycopg.Connection[Any], database_url: str, settled: str, status: str
) -> None:
    """The send's callback ("Pix enviado"/"rejeitado") only says "read send idEnvio
    again": the API reads it from Efí and the payout ends as the read says."""
    merchant = await funded_api_merchant(shop.api, db, database_url, 5000)
    api = httpx.AsyncClient(base_url=shop.api.url, headers=merchant.headers)
    body = {"amount": 1200, "currency": "brl", "destination": {"type": "evp", "key": EVP}}
    created = (await api.post("/v1/payouts", json=body)).json()
    shop.sim.faults("efi", send_settle_seconds=None)  # EM_PROCESSAMENTO until told
    settings = shop.sim.gateway_settings(
        database_url=database_url,
        redis_url=os.environ["PIXWAVE_REDIS_URL"],
        document_key=os.environ["PIXWAVE_DOCUMENT_KEY"],
    )
    context = charge_context(settings)  # what the charge worker runs on
    try:
        async with open_uow(settings) as uow:
            await send_payout(uow, context, created["id"])
            await uow.commit()
    finally:
        await context.gateways.close()
    [(id_envio,)] = shop.rows(
        "SELECT id_envio FROM payout_attempts WHERE payout_id = %s", (created["id"],)
    )

    def payout_status() -> str:
        url = f"{shop.api.url}/v1/payouts/{created['id']}"
        return str(httpx.get(url, headers=merchant.headers).json()["status"])

    assert payout_status() == "in_transit"
    shop.sim.admin("POST", f"/efi/envios/{id_envio}/settle", json={"status": settled})
    wait_for(lambda: payout_status() == status, timeout=CALLBACK_TIMEOUT_SECONDS)
    assert [e for e in shop.events(created["id"]) if e != "payout.created"] == [f"payout.{status}"]
    balance = (await api.get("/v1/balance")).json()
    await api.aclose()
    assert balance["reserved"] == [{"amount": 0, "currency": "BRL"}]
