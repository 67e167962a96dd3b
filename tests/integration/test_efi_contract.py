"""The rows of docs/gateways/efi.md that move money, driven through PixWave's own services
against the simulator in the mode each row describes (its `/_sim` fault knobs).

The simulator follows Efí's documentation (efipay/documentacao-tecnica-efi, bacen/pix-api);
these tests check that the adapter and the refund flow never move money twice there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from app.db.uow import SqlUnitOfWork
from app.domain.errors import RetryLater
from app.domain.events import EventType
from app.gateways.efi import Efi
from app.gateways.port import GatewayName
from app.payments.charges import apply_attempt_charge
from app.payments.jobs import refund_late_payments
from app.payments.repository import AttemptRepository, IntentRepository
from app.refunds.jobs import follow_up_refunds
from app.refunds.schemas import CreateRefund
from app.refunds.service import create_refund, refund_charge
from tests.gateway_sim import EFI_HMAC, EFI_PIX_KEY
from tests.integration.charge_scene import Scene
from tests.support import ApiProcess, start_api

EFI = GatewayName.EFI
AMOUNT = 1990
WAIT_SECONDS = 20.0
NOW = timedelta(0)  # "pending since before now": every pending refund is due


@pytest.fixture(autouse=True)
def healthy_gateways(scene: Scene) -> None:
    scene.heal_gateways()


def efi(scene: Scene) -> Efi:
    adapter = scene.gateways.get(EFI)
    assert isinstance(adapter, Efi)
    return adapter


async def paid_intent(scene: Scene) -> str:
    """A PIX intent charged at Efí and paid, taken as a verified callback would take it."""
    intent_id = await scene.charged_pix_intent(EFI)
    reference = scene.attempt(intent_id)["reference"]
    scene.sim.admin("POST", f"/pay/efi/{reference}")
    await take_charge(scene, intent_id)
    assert scene.intent(intent_id)["status"] == "succeeded"
    return intent_id


async def take_charge(scene: Scene, intent_id: str) -> None:
    charge = await efi(scene).get_charge(scene.attempt(intent_id)["reference"])
    assert charge is not None
    async with SqlUnitOfWork(scene.sessions) as uow:
        intent = await uow.repository(IntentRepository).get_for_update(intent_id)
        assert intent is not None
        [attempt] = await uow.repository(AttemptRepository).for_intent(intent_id)
        await apply_attempt_charge(uow, intent, attempt, charge)
        await uow.commit()


async def new_refund(scene: Scene, intent_id: str) -> str:
    async with SqlUnitOfWork(scene.sessions) as uow:
        refund = await create_refund(uow, scene.caller, CreateRefund(payment_intent=intent_id))
        await uow.commit()
    return refund.id


async def deliver_refund_created(scene: Scene, refund_id: str) -> bool:
    """The charge worker handling ``refund.created`` once: True if the message is done,
    False if it asked to come back (RetryLater rolls its transaction back)."""
    context = scene.worker_context()
    try:
        async with SqlUnitOfWork(scene.sessions) as uow:
            try:
                await refund_charge(uow, context, refund_id)
            except RetryLater:
                return False
            await uow.commit()
        return True
    finally:
        await context.gateways.close()


def refund_row(scene: Scene, refund_id: str) -> dict[str, object]:
    [(status, reason, reserved)] = scene.rows(
        "SELECT r.status, r.failure_reason, i.amount_refunded FROM refunds r "
        "JOIN payment_intents i ON i.id = r.payment_intent_id WHERE r.id = %s",
        (refund_id,),
    )
    return {"status": status, "failure_reason": reason, "amount_refunded": reserved}


def devolucoes(scene: Scene, reference: str) -> list[dict[str, object]]:
    return [r for r in scene.sim.ledger()["refunds"] if r["reference"] == reference]


async def test_a_devolucao_in_processing_stays_pending_and_is_never_asked_twice(
    scene: Scene,
) -> None:
    """docs/APIPix/Pix: PUT /v2/pix/:e2eId/devolucao/:id answers EM_PROCESSAMENTO, and a
    repeat of the id is 409 devolucao_id_duplicado. A retry reads the devolução; the
    refund stays pending, its amount reserved, until Efí says DEVOLVIDO."""
    scene.sim.faults("efi", refund_settle_seconds=None)  # stays EM_PROCESSAMENTO
    intent_id = await paid_intent(scene)
    reference = scene.attempt(intent_id)["reference"]
    refund_id = await new_refund(scene, intent_id)

    await deliver_refund_created(scene, refund_id)
    await deliver_refund_created(scene, refund_id)  # a redelivery, or the worker's retry
    assert await follow_up_refunds(scene.context(refund_follow_up_after=NOW), 50) == 0

    pending = {"status": "pending", "failure_reason": None, "amount_refunded": AMOUNT}
    assert refund_row(scene, refund_id) == pending
    [asked] = devolucoes(scene, reference)
    assert (asked["requests"], asked["status"]) == (1, "EM_PROCESSAMENTO")

    scene.sim.admin("POST", f"/efi/devolucoes/{asked['refund_id']}/settle")
    assert await follow_up_refunds(scene.context(refund_follow_up_after=NOW), 50) == 1
    assert refund_row(scene, refund_id)["status"] == "succeeded"
    assert EventType.REFUND_SUCCEEDED.value in scene.events(refund_id)
    assert [r["requests"] for r in devolucoes(scene, reference)] == [1]
    assert await follow_up_refunds(scene.context(refund_follow_up_after=NOW), 50) == 0


async def test_only_a_devolucao_not_made_fails_the_refund(scene: Scene) -> None:
    """bacen/pix-api openapi.yaml (Devolucao.status) and docs/APIPix/Pix ("Consultar
    devolução"): NAO_REALIZADO, with a motivo, is the only failure; then the amount is
    refundable again."""
    scene.sim.faults("efi", refund_settle_seconds=None)
    intent_id = await paid_intent(scene)
    reference = scene.attempt(intent_id)["reference"]
    refund_id = await new_refund(scene, intent_id)

    await deliver_refund_created(scene, refund_id)
    assert refund_row(scene, refund_id)["status"] == "pending"
    [asked] = devolucoes(scene, reference)
    scene.sim.admin(
        "POST", f"/efi/devolucoes/{asked['refund_id']}/settle", json={"status": "NAO_REALIZADO"}
    )
    assert await follow_up_refunds(scene.context(refund_follow_up_after=NOW), 50) == 1

    failed = refund_row(scene, refund_id)
    assert (failed["status"], failed["amount_refunded"]) == ("failed", 0)
    assert "NAO_REALIZADO" in str(failed["failure_reason"])
    assert EventType.REFUND_FAILED.value in scene.events(refund_id)


async def test_a_devolucao_settled_a_moment_later_succeeds_in_the_worker(scene: Scene) -> None:
    """EM_PROCESSAMENTO, then DEVOLVIDO on the read that follows (the simulator's default):
    the refund succeeds without waiting for the follow-up, asked for once."""
    intent_id = await paid_intent(scene)
    refund_id = await new_refund(scene, intent_id)

    assert await deliver_refund_created(scene, refund_id)

    assert refund_row(scene, refund_id)["status"] == "succeeded"
    [asked] = devolucoes(scene, scene.attempt(intent_id)["reference"])
    assert (asked["requests"], asked["status"]) == (1, "DEVOLVIDO")


async def test_the_follow_up_waits_for_the_worker(scene: Scene) -> None:
    """A refund younger than the follow-up age is the charge worker's alone."""
    scene.sim.faults("efi", refund_settle_seconds=None)
    intent_id = await paid_intent(scene)
    refund_id = await new_refund(scene, intent_id)
    assert await follow_up_refunds(scene.context(), 50) == 0
    assert devolucoes(scene, scene.attempt(intent_id)["reference"]) == []
    await deliver_refund_created(scene, refund_id)
    assert refund_row(scene, refund_id)["status"] == "pending"


async def test_a_late_payment_devolucao_is_followed_until_it_settles(scene: Scene) -> None:
    """The same rule for money an intent could not take: a devolução EM_PROCESSAMENTO
    is read on the next runs, never asked for again, and counts once it is DEVOLVIDO."""
    scene.sim.faults("efi", refund_settle_seconds=None)
    intent_id = await scene.charged_pix_intent(EFI)
    reference = scene.attempt(intent_id)["reference"]
    scene.rows(  # ended while the payer was paying (the cancel never reached Efí)
        "UPDATE payment_intents SET status = 'canceled', "
        "cancellation_reason = 'requested_by_customer' WHERE id = %s RETURNING id",
        (intent_id,),
    )
    scene.sim.admin("POST", f"/pay/efi/{reference}")
    await take_charge(scene, intent_id)
    assert scene.attempt(intent_id)["late_payment"] == "refund_due"

    assert await refund_late_payments(scene.context(), 50) == 0
    assert await refund_late_payments(scene.context(), 50) == 0
    assert scene.attempt(intent_id)["late_payment"] == "refund_due"
    [asked] = devolucoes(scene, reference)
    assert asked["requests"] == 1

    scene.sim.admin("POST", f"/efi/devolucoes/{asked['refund_id']}/settle")
    assert await refund_late_payments(scene.context(), 50) == 1
    assert scene.attempt(intent_id)["late_payment"] == "refunded"
    assert [(r["requests"], r["status"]) for r in devolucoes(scene, reference)] == [
        (1, "DEVOLVIDO")
    ]


async def test_a_cob_efi_does_not_know_is_not_found(scene: Scene) -> None:
    """docs/APIPix/CobrancasImediatas, GET /v2/cob/:txid: an unknown txid is a 400
    cobranca_nao_encontrada. A try whose answer was lost and whose cob Efí does not know
    made nothing, so the intent may go on (not wait forever)."""
    assert await efi(scene).find_charge(f"pi_{uuid.uuid4().hex}-efi-1") is None


@pytest.fixture(scope="module")
def efi_api(scene: Scene) -> Iterator[ApiProcess]:
    """The API, its Efí adapter pointed at the scene's simulator."""
    with start_api(scene.sim.gateway_env()) as process:
        yield process


async def test_efis_registration_call_gets_a_2xx_from_pixwave(
    scene: Scene, efi_api: ApiProcess
) -> None:
    """docs/APIPix/Webhooks, "Configurar o webhook Pix": Efí calls the URL while it
    registers it and refuses a URL that does not answer 2xx (400 webhook_invalido, "A URL
    informada respondeu com o código HTTP …"). PixWave answers that call, which names no
    charge, and still refuses it without the hmac token."""
    callback_url = f"{efi_api.url}/v1/callbacks/efi"
    async with httpx.AsyncClient(timeout=WAIT_SECONDS) as client:
        registered = await client.put(
            f"{scene.sim.url}/efi/v2/webhook/{EFI_PIX_KEY}",
            json={"webhookUrl": f"{callback_url}?hmac={EFI_HMAC}&ignorar="},
            headers=await token(client, scene),
        )
        forged = await client.post(f"{callback_url}?ignorar=", json={"evento": "teste_webhook"})
    assert registered.status_code == 201, registered.text
    assert forged.status_code == 401
    assert scene.rows("SELECT count(*) FROM gateway_callbacks WHERE gateway = 'efi'") == [(0,)]
    scene.sim.admin("DELETE", "/ledger")  # forget the registration


async def test_the_adapter_registers_the_webhook_with_its_token(
    scene: Scene, efi_api: ApiProcess
) -> None:
    """PUT /v2/webhook/:chave {"webhookUrl"} with x-skip-mtls-checking (docs/APIPix/Webhooks,
    "Skip-mTLS"); "?ignorar=" absorbs the "/pix" Efí appends (efipay/mtls-webhook README)."""
    callback_url = f"{efi_api.url}/v1/callbacks/efi"

    registered = await efi(scene).register_webhook(callback_url)

    assert registered == f"{callback_url}?hmac={EFI_HMAC}&ignorar="
    async with httpx.AsyncClient() as client:
        shown = await client.get(
            f"{scene.sim.url}/efi/v2/webhook/{EFI_PIX_KEY}", headers=await token(client, scene)
        )
    assert shown.json()["webhookUrl"] == registered
    scene.sim.admin("DELETE", "/ledger")


async def token(client: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    response = await client.post(
        f"{scene.sim.url}/efi/oauth/token",
        json={"grant_type": "client_credentials"},
        auth=("client", "secret"),
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
