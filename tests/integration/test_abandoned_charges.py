"""PIX keeps one payable charge per intent: a fallback cancels what an earlier try left
live before issuing another, and money reaching a replaced charge goes back.

The state these guard against (an intent being charged again while an earlier try's
charge is still payable) is arranged by hand: the charge worker itself never leaves it,
but a try whose answer was lost, or a crash, could.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.db.uow import SqlUnitOfWork
from app.domain.charges import ChargeStatus
from app.domain.events import EventType
from app.gateways.port import Charge, GatewayName
from app.payments.charges import ChargeApplied, apply_attempt_charge
from app.payments.jobs import refund_late_payments
from app.payments.repository import AttemptRepository, IntentRepository
from tests.integration.charge_scene import Scene

MP, EFI = GatewayName.MERCADOPAGO, GatewayName.EFI


@pytest.fixture(autouse=True)
def healthy_gateways(scene: Scene) -> None:
    scene.heal_gateways()


async def intent_left_with_a_live_charge(scene: Scene) -> tuple[str, str]:
    """A PIX intent back in processing while its Mercado Pago charge is payable, with
    Mercado Pago's circuit open so the next try falls back to Efí."""
    intent_id = await scene.charged_pix_intent(MP)
    scene.rows(
        "UPDATE payment_intents SET status = 'processing', next_action = NULL "
        "WHERE id = %s RETURNING id",
        (intent_id,),
    )
    scene.open_circuit(MP)
    return intent_id, scene.attempt(intent_id)["reference"]


async def test_a_pix_fallback_cancels_the_charge_left_live_first(scene: Scene) -> None:
    intent_id, first = await intent_left_with_a_live_charge(scene)
    scene.sim.faults("mercadopago", outage=True)  # the cancel cannot go through yet

    await scene.charge(intent_id, MP, EFI)
    assert [a["gateway"] for a in scene.attempts(intent_id)] == ["mercadopago"]  # no new QR
    assert scene.sim_charge(first)["status"] == "pending"

    scene.sim.faults("mercadopago", outage=False)
    await scene.charge(intent_id, MP, EFI)
    earlier, fallback = scene.attempts(intent_id)
    assert earlier["charge_status"] == "canceled"
    assert scene.sim_charge(first)["status"] == "cancelled"
    assert (fallback["gateway"], fallback["charge_status"]) == ("efi", "awaiting_payment")
    assert fallback["routing"]["reason"] == "fallback"
    assert scene.intent(intent_id)["status"] == "requires_action"


async def test_a_charge_paid_before_the_fallback_is_taken_and_nothing_new_issued(
    scene: Scene,
) -> None:
    intent_id, first = await intent_left_with_a_live_charge(scene)
    scene.sim.admin("POST", f"/pay/mercadopago/{first}")

    await scene.charge(intent_id, MP, EFI)

    assert scene.intent(intent_id)["status"] == "succeeded"
    assert [(a["gateway"], a["late_payment"]) for a in scene.attempts(intent_id)] == [
        ("mercadopago", None)
    ]


async def test_money_reaching_a_replaced_charge_is_not_taken_and_goes_back(
    scene: Scene,
) -> None:
    intent_id, first = await intent_left_with_a_live_charge(scene)
    await scene.charge(intent_id, MP, EFI)  # Mercado Pago's charge canceled, Efí's issued
    # Yet Mercado Pago reports it paid (a PIX already on its way when the cob went).
    paid = Charge(MP, first, ChargeStatus.PAID, "approved", 1990, paid_at=datetime.now(UTC))
    async with SqlUnitOfWork(scene.sessions) as uow:
        intent = await uow.repository(IntentRepository).get_for_update(intent_id)
        assert intent is not None
        replaced = (await uow.repository(AttemptRepository).for_intent(intent_id))[0]
        applied = await apply_attempt_charge(uow, intent, replaced, paid)
        await uow.commit()

    assert applied is ChargeApplied.LATE_PAYMENT
    assert scene.intent(intent_id)["status"] == "requires_action"  # still Efí's QR code
    assert scene.attempts(intent_id)[0]["late_payment"] == "refund_due"
    # The simulator knows better (canceled, nothing to refund): the refund is refused,
    # and a person is told.
    assert await refund_late_payments(scene.context(), 50) == 1
    assert scene.attempts(intent_id)[0]["late_payment"] == "refund_failed"
    # Alerts have aggregates of their own: alr_<what they are about>.
    assert EventType.ALERT_RECONCILIATION_MISMATCH.value in scene.events(f"alr_{intent_id}")
    assert await refund_late_payments(scene.context(), 50) == 0
