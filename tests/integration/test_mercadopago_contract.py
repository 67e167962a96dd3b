"""PixWave's Mercado Pago adapter and charge services against the simulator in the modes
docs/gateways/mercadopago.md documents: each test is a row of that contract that
matters for money (the row's source is cited there and beside each test)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.db.uow import SqlUnitOfWork
from app.domain.charges import AttemptOutcome, ChargeStatus
from app.domain.intents import PaymentMethodType
from app.gateways.port import ChargeRequest, Gateway, GatewayName, Payer
from app.payments.charges import ChargeApplied, apply_attempt_charge
from app.payments.jobs import refund_late_payments, resolve_stuck_intents
from app.payments.repository import AttemptRepository, IntentRepository
from app.refunds.jobs import follow_up_refunds
from gatewaysim.mercadopago.issuing import UNINFERABLE_TOKEN
from tests.integration.charge_scene import Scene
from tests.integration.test_efi_contract import deliver_refund_created, new_refund, refund_row
from tests.support import card_intent

MP = GatewayName.MERCADOPAGO
REAL_TOKEN = "ff8080814c11e237014c1ff593b57b4d"  # the example token of the docs' curl
# Longer than any test: the search never catches up (sdk-nodejs issue 180).
SEARCH_NEVER_CATCHES_UP_SECONDS = 3600.0
NOW = timedelta(0)


@pytest.fixture(autouse=True)
def healthy_gateways(scene: Scene) -> None:
    scene.heal_gateways()


def adapter(scene: Scene) -> Gateway:
    found = scene.gateways.get(MP)
    assert found is not None
    return found


def pix_request(**overrides: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "intent_id": f"pi_{uuid.uuid4().hex}",
        "idempotency_key": f"key-{uuid.uuid4().hex}",
        "amount": 1990,
        "method": PaymentMethodType.PIX,
        "payer": Payer(name="Maria Silva", document_type="cpf", document_number="52998224725"),
        "pix_expires_at": datetime.now(UTC) + timedelta(hours=1),  # a repeat is the same body
        **overrides,
    }
    return ChargeRequest(**values)


def real_card_intent(**card: str) -> dict[str, Any]:
    details = {"token": REAL_TOKEN, "payment_method_id": "visa", "issuer_id": "310", **card}
    return card_intent(payment_method={"type": "card", "card": details})


def charges_of(scene: Scene, intent_id: str) -> list[dict[str, Any]]:
    return [c for c in scene.sim.ledger()["charges"] if c["idempotency_key"].startswith(intent_id)]


# --- finding 6: date_of_expiration is yyyy-MM-dd'T'HH:mm:ss.SSSz ---------------------------


async def test_a_pix_charge_states_its_expiry_in_the_documented_format(scene: Scene) -> None:
    # developers/en/docs/checkout-pro/additional-settings/expiration-date
    expires_at = datetime.now(UTC).replace(microsecond=123456) + timedelta(hours=1)
    result = await adapter(scene).create_charge(pix_request(pix_expires_at=expires_at))

    assert result.outcome is AttemptOutcome.SUCCEEDED, result.reason
    assert result.charge is not None
    assert result.charge.expires_at == expires_at.replace(microsecond=123000)


# --- finding 4: 409 / 423 / 424 are retryable, never declines -----------------------------


@pytest.mark.parametrize("knob", ["conflict_rate", "locked_rate", "dependency_failure_rate"])
async def test_409_423_424_leave_the_outcome_unknown_and_a_repeat_charges_once(
    scene: Scene, knob: str
) -> None:
    # sdk-python mercadopago/errors/exceptions.py: 409 idempotency conflict, 423 key locked
    # (retryable), 424 dependency failure (retryable).
    request = pix_request()
    scene.sim.faults("mercadopago", **{knob: 1.0})
    refused = await adapter(scene).create_charge(request)
    scene.heal_gateways()
    repeated = await adapter(scene).create_charge(request)

    assert refused.outcome is AttemptOutcome.UNKNOWN, refused.reason
    assert repeated.outcome is AttemptOutcome.SUCCEEDED
    ledger = scene.sim.ledger()["charges"]
    assert [c["idempotency_key"] for c in ledger].count(request.idempotency_key) == 1


# --- finding 5: a card body carries payment_method_id and issuer_id -------------------------


async def test_a_card_intent_carries_its_payment_method_and_issuer_to_mercado_pago(
    scene: Scene,
) -> None:
    # Every official card example sends them beside the token (devsite-docs
    # guides/additional-content/your-integrations/webhooks.en.md; sdk-nodejs issue 179).
    intent_id = await scene.new_intent(real_card_intent(payment_method_id="master"))

    await scene.charge(intent_id, MP)

    assert scene.intent(intent_id)["status"] == "succeeded"
    reference = scene.attempt(intent_id)["reference"]
    charge = await adapter(scene).get_charge(reference)
    assert charge is not None
    assert charge.status is ChargeStatus.PAID
    [payment] = charges_of(scene, intent_id)
    assert payment["status"] == "approved"


async def test_a_card_mercado_pago_cannot_infer_fails_without_charging(scene: Scene) -> None:
    # 400 "Cannot infer Payment Method" (sdk-nodejs issue 179): a refusal, no money moved.
    bare = {"type": "card", "card": {"token": UNINFERABLE_TOKEN}}
    intent_id = await scene.new_intent(card_intent(payment_method=bare))

    await scene.charge(intent_id, MP)

    assert scene.intent(intent_id)["status"] == "failed"
    assert charges_of(scene, intent_id) == []


# --- finding 3: an unknown outcome never leads to a second live charge ---------------------


@pytest.mark.parametrize("method", ["pix", "card"])
async def test_a_lost_answer_with_a_lagging_search_never_charges_twice(
    scene: Scene, method: str
) -> None:
    # Search is not read-your-write (sdk-nodejs issue 180); the same X-Idempotency-Key
    # returns the same payment (sdk-nodejs src/utils/restClient/index.ts resends it).
    body = real_card_intent() if method == "card" else None
    intent_id = await (scene.new_intent(body) if body else scene.new_pix_intent())
    scene.sim.faults(
        "mercadopago", timeout_rate=1.0, search_lag_seconds=SEARCH_NEVER_CATCHES_UP_SECONDS
    )
    await scene.charge(intent_id, MP)
    assert scene.attempt(intent_id)["outcome"] == "unknown"

    scene.sim.faults("mercadopago", timeout_rate=0.0)
    await scene.charge(intent_id, MP)

    [payment] = charges_of(scene, intent_id)
    assert payment["create_requests"] == 2
    expected = "succeeded" if method == "card" else "requires_action"
    assert scene.intent(intent_id)["status"] == expected
    assert scene.attempt(intent_id)["outcome"] == "succeeded"


async def test_an_empty_search_does_not_settle_an_unknown_try(scene: Scene) -> None:
    intent_id = await scene.new_pix_intent()
    scene.sim.faults(
        "mercadopago", timeout_rate=1.0, search_lag_seconds=SEARCH_NEVER_CATCHES_UP_SECONDS
    )
    await scene.charge(intent_id, MP)
    scene.sim.faults("mercadopago", timeout_rate=0.0)

    await resolve_stuck_intents(scene.context(stuck_after=NOW), 50)

    assert scene.attempt(intent_id)["outcome"] == "unknown"
    assert scene.intent(intent_id)["status"] == "processing"


# --- late card authorizations are given back, as late PIX payments are ---------------------


async def test_a_card_hold_found_after_the_intent_ended_is_canceled(scene: Scene) -> None:
    # An authorization the intent can no longer take holds the payer's money: it is
    # cancelled (PUT /v1/payments/{id} status=cancelled frees an authorized payment,
    # developers/en/docs/checkout-api-payments/payment-management/cancellations-and-refunds).
    intent_id = await scene.new_intent(real_card_intent() | {"capture_method": "manual"})
    await scene.charge(intent_id, MP)
    reference = scene.attempt(intent_id)["reference"]
    scene.rows(  # the intent ended meanwhile (as a crash or an operator could leave it)
        "UPDATE payment_intents SET status = 'failed' WHERE id = %s RETURNING id", (intent_id,)
    )
    charge = await adapter(scene).get_charge(reference)
    assert charge is not None
    assert charge.status is ChargeStatus.AUTHORIZED
    async with SqlUnitOfWork(scene.sessions) as uow:
        intent = await uow.repository(IntentRepository).get_for_update(intent_id)
        assert intent is not None
        [attempt] = await uow.repository(AttemptRepository).for_intent(intent_id)
        applied = await apply_attempt_charge(uow, intent, attempt, charge)
        await uow.commit()

    assert applied is ChargeApplied.LATE_PAYMENT
    assert await refund_late_payments(scene.context(), 50) == 1
    assert scene.sim_charge(reference)["status"] == "cancelled"
    assert scene.attempt(intent_id)["late_payment"] == "refunded"


async def late_card_payment(scene: Scene) -> tuple[str, str]:
    """A card payment taken by a try whose intent had ended: marked to be refunded."""
    intent_id = await scene.new_intent(real_card_intent())
    await scene.charge(intent_id, MP)
    reference = scene.attempt(intent_id)["reference"]
    scene.rows(
        "UPDATE payment_intents SET status = 'failed' WHERE id = %s RETURNING id", (intent_id,)
    )
    charge = await adapter(scene).get_charge(reference)
    assert charge is not None
    async with SqlUnitOfWork(scene.sessions) as uow:
        intent = await uow.repository(IntentRepository).get_for_update(intent_id)
        assert intent is not None
        [attempt] = await uow.repository(AttemptRepository).for_intent(intent_id)
        assert (
            await apply_attempt_charge(uow, intent, attempt, charge) is ChargeApplied.LATE_PAYMENT
        )
        await uow.commit()
    return intent_id, reference


def refunds_of(scene: Scene, reference: str) -> list[dict[str, Any]]:
    return [r for r in scene.sim.ledger()["refunds"] if r["reference"] == reference]


async def test_a_refund_in_process_is_read_back_never_sent_again(scene: Scene) -> None:
    # Refund status approved / in_process / rejected (sdk-nodejs src/clients/paymentRefund/
    # commonTypes.ts), read with GET …/refunds/{id} (sdk-nodejs src/clients/paymentRefund/get).
    intent_id, reference = await late_card_payment(scene)
    scene.sim.faults("mercadopago", refund_status="in_process")

    assert await refund_late_payments(scene.context(), 50) == 0
    assert scene.attempt(intent_id)["late_payment"] == "refund_due"
    assert await refund_late_payments(scene.context(), 50) == 1

    assert scene.attempt(intent_id)["late_payment"] == "refunded"
    [refund] = refunds_of(scene, reference)
    assert refund["requests"] == 1


async def test_a_rejected_refund_ends_failed_and_alerts(scene: Scene) -> None:
    intent_id, reference = await late_card_payment(scene)
    scene.sim.faults("mercadopago", refund_status="rejected")

    assert await refund_late_payments(scene.context(), 50) == 1

    assert scene.attempt(intent_id)["late_payment"] == "refund_failed"
    assert "alert.reconciliation_mismatch" in scene.events(f"alr_{intent_id}")
    assert scene.sim_charge(reference)["status"] == "approved"  # the money is still there


async def test_disputes_chargebacks_and_expiry_read_as_such(scene: Scene) -> None:
    # status table: in_mediation, charged_back, cancelled/expired (query-results page).
    card = (
        await adapter(scene).create_charge(
            pix_request(
                method=PaymentMethodType.CARD, card_token=REAL_TOKEN, payment_method_id="visa"
            )
        )
    ).charge
    pix = (await adapter(scene).create_charge(pix_request())).charge
    assert card is not None
    assert pix is not None

    seen = {}
    for event, charge in (("dispute", card), ("chargeback", card), ("expire", pix)):
        scene.sim.admin("POST", f"/mercadopago/payments/{charge.reference}/{event}")
        read = await adapter(scene).get_charge(charge.reference)
        assert read is not None
        seen[event] = read.status

    assert seen == {
        "dispute": ChargeStatus.DISPUTED,
        "chargeback": ChargeStatus.CHARGED_BACK,
        "expire": ChargeStatus.EXPIRED,
    }


async def test_notifications_are_asked_for_as_webhooks_only(scene: Scene) -> None:
    # Without source_news=webhooks an IPN twin follows each notification, and its
    # x-signature cannot be validated (devsite-docs .../your-integrations/ipn.en.md).
    url = "https://pixwave.example/v1/callbacks/mercadopago?shop=1"
    result = await adapter(scene).create_charge(pix_request(notification_url=url))
    assert result.charge is not None

    async with httpx.AsyncClient(base_url=scene.sim.url) as client:
        response = await client.get(
            f"/mercadopago/v1/payments/{result.charge.reference}",
            headers={"Authorization": "Bearer TEST-sim-token"},
        )
    payment = response.json()
    assert payment["notification_url"] == f"{url}&source_news=webhooks"


async def test_a_merchant_refund_mercado_pago_rejects_fails_and_frees_its_amount(
    scene: Scene,
) -> None:
    # Refund status "rejected" (sdk-nodejs src/clients/paymentRefund/commonTypes.ts): the
    # money stays with the merchant, so the refund fails and its amount is refundable again.
    intent_id = await scene.new_intent(real_card_intent())
    await scene.charge(intent_id, MP)
    scene.sim.faults("mercadopago", refund_status="rejected")
    refund_id = await new_refund(scene, intent_id)

    assert await deliver_refund_created(scene, refund_id)

    failed = refund_row(scene, refund_id)
    assert (failed["status"], failed["amount_refunded"]) == ("failed", 0)
    assert "rejected" in str(failed["failure_reason"])


async def test_a_full_refund_whose_callback_came_first_still_succeeds(scene: Scene) -> None:
    # Found by the realistic chaos run: the refund's own notification re-fetches the
    # payment as "refunded" while the refund is still in process at PixWave; the
    # follow-up then found no paid charge, failed the refund and freed its amount
    # while Mercado Pago had returned the money (a second refund could follow).
    intent_id = await scene.new_intent(real_card_intent())
    await scene.charge(intent_id, MP)
    scene.sim.faults("mercadopago", refund_status="in_process")
    refund_id = await new_refund(scene, intent_id)
    assert await deliver_refund_created(scene, refund_id)
    reference = scene.attempt(intent_id)["reference"]
    await adapter(scene).get_refund(reference, refunds_of(scene, reference)[0]["refund_id"])
    refunded = await adapter(scene).get_charge(reference)
    assert refunded is not None
    assert refunded.status is ChargeStatus.REFUNDED
    async with SqlUnitOfWork(scene.sessions) as uow:
        intent = await uow.repository(IntentRepository).get_for_update(intent_id)
        [attempt] = await uow.repository(AttemptRepository).for_intent(intent_id)
        assert intent is not None
        await apply_attempt_charge(uow, intent, attempt, refunded)
        await uow.commit()

    assert await follow_up_refunds(scene.context(refund_follow_up_after=timedelta(0)), 50) == 1

    done = refund_row(scene, refund_id)
    assert (done["status"], done["amount_refunded"]) == ("succeeded", 5000)
