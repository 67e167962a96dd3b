"""The Mercado Pago and Efí adapters against the gateway simulator over real HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.charges import AttemptOutcome, ChargeStatus
from app.domain.errors import GatewayOutcomeUnknown
from app.domain.intents import PaymentMethodType
from app.embedded import free_port
from app.gateways import brcode
from app.gateways.efi import txid_for
from app.gateways.port import ChargeRequest, Gateway, GatewayName, Payer, RefundRequest
from app.gateways.registry import Gateways
from gatewaysim.mercadopago.issuing import (
    DECLINED_TOKEN,
    GATEWAY_ERROR_TOKEN,
    INSUFFICIENT_FUNDS_TOKEN,
)
from tests.gateway_sim import Simulator, running_simulator
from tests.support import CARD_TOKEN

PAYER = Payer(name="Maria Silva", document_type="cpf", document_number="52998224725")
# Far below the simulator's hang: a "timeout" fault must look like a lost answer.
SHORT_TIMEOUT_SECONDS = 1.0
SETTLE_TIMEOUT_SECONDS = 10.0


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with running_simulator(extra_args=("--timeout-hang-seconds", "5")) as simulator:
        yield simulator


@pytest.fixture
async def gateways(sim: Simulator) -> AsyncIterator[Gateways]:
    sim.admin("DELETE", "/faults")
    opened = sim.open_gateways(gateway_timeout_seconds=SHORT_TIMEOUT_SECONDS)
    yield opened
    await opened.close()


def gateway(gateways: Gateways, name: GatewayName) -> Gateway:
    found = gateways.get(name)
    assert found is not None
    return found


def pix_request(amount: int = 1990, **overrides: object) -> ChargeRequest:
    values: dict[str, object] = {
        "intent_id": f"pi_{uuid.uuid4().hex}",
        "idempotency_key": f"key-{uuid.uuid4().hex}",
        "amount": amount,
        "method": PaymentMethodType.PIX,
        "payer": PAYER,
        # Fixed per request: repeating it sends the same body (docs/gateways/mercadopago.md).
        "pix_expires_at": datetime.now(UTC) + timedelta(hours=1),
        **overrides,
    }
    return ChargeRequest(**values)  # type: ignore[arg-type]


def card_request(token: str, *, capture: bool = True) -> ChargeRequest:
    return pix_request(5000, method=PaymentMethodType.CARD, card_token=token, capture=capture)


def charges_with_key(sim: Simulator, key: str) -> list[dict[str, object]]:
    return [c for c in sim.ledger()["charges"] if c["idempotency_key"] == key]


@pytest.mark.parametrize("name", [GatewayName.MERCADOPAGO, GatewayName.EFI])
async def test_a_pix_charge_carries_a_valid_br_code_and_is_created_once(
    sim: Simulator, gateways: Gateways, name: GatewayName
) -> None:
    adapter = gateway(gateways, name)
    request = pix_request(1990)
    first = await adapter.create_charge(request)
    again = await adapter.create_charge(request)

    assert first.outcome is AttemptOutcome.SUCCEEDED
    assert first.charge is not None
    assert again.charge is not None
    assert first.charge.status is ChargeStatus.AWAITING_PAYMENT
    assert again.charge.reference == first.charge.reference
    assert first.charge.pix_copy_paste is not None
    assert brcode.parse(first.charge.pix_copy_paste).amount_cents == 1990
    ledger_key = (
        request.idempotency_key
        if name is GatewayName.MERCADOPAGO
        else (txid_for(request.idempotency_key))
    )
    assert len(charges_with_key(sim, ledger_key)) == 1


@pytest.mark.parametrize("name", [GatewayName.MERCADOPAGO, GatewayName.EFI])
async def test_a_paid_pix_charge_reads_as_paid_and_refunds(
    sim: Simulator, gateways: Gateways, name: GatewayName
) -> None:
    adapter = gateway(gateways, name)
    created = await adapter.create_charge(pix_request(1990))
    assert created.charge is not None
    sim.admin("POST", f"/pay/{name.value}/{created.charge.reference}")

    paid = await adapter.get_charge(created.charge.reference)
    assert paid is not None
    assert paid.status is ChargeStatus.PAID
    assert paid.paid_at is not None

    request = RefundRequest(paid, f"re_{uuid.uuid4().hex[:20]}", 750)
    refund = await adapter.refund(request)
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while not refund.settled and time.monotonic() < deadline:  # Efí: EM_PROCESSAMENTO first
        await asyncio.sleep(0.1)
        refund = await adapter.refund(request)  # reads it: the id makes no second one
    assert refund.amount == 750
    assert refund.settled
    [returned] = [r for r in sim.ledger()["refunds"] if r["reference"] == paid.reference]
    assert returned["requests"] == 1
    after = await adapter.get_charge(paid.reference)
    assert after is not None
    assert after.amount_refunded == 750


@pytest.mark.parametrize("name", [GatewayName.MERCADOPAGO, GatewayName.EFI])
async def test_a_canceled_pix_charge_reads_as_canceled(
    gateways: Gateways, name: GatewayName
) -> None:
    adapter = gateway(gateways, name)
    created = await adapter.create_charge(pix_request())
    assert created.charge is not None
    canceled = await adapter.cancel(created.charge.reference)
    assert canceled.status is ChargeStatus.CANCELED


@pytest.mark.parametrize(
    ("token", "outcome", "status"),
    [
        (CARD_TOKEN, AttemptOutcome.SUCCEEDED, ChargeStatus.PAID),
        (DECLINED_TOKEN, AttemptOutcome.DECLINED, ChargeStatus.DECLINED),
        (INSUFFICIENT_FUNDS_TOKEN, AttemptOutcome.DECLINED, ChargeStatus.DECLINED),
    ],
)
async def test_card_tokens_approve_or_decline(
    gateways: Gateways, token: str, outcome: AttemptOutcome, status: ChargeStatus
) -> None:
    result = await gateway(gateways, GatewayName.MERCADOPAGO).create_charge(card_request(token))
    assert result.outcome is outcome
    assert result.charge is not None
    assert result.charge.status is status


async def test_a_gateway_error_is_an_unknown_outcome_and_an_empty_search_proves_nothing(
    gateways: Gateways,
) -> None:
    adapter = gateway(gateways, GatewayName.MERCADOPAGO)
    request = card_request(GATEWAY_ERROR_TOKEN)
    result = await adapter.create_charge(request)
    assert result.outcome is AttemptOutcome.UNKNOWN
    # Search is not read-your-write (sdk-nodejs issue 180): "none yet" is no answer.
    with pytest.raises(GatewayOutcomeUnknown):
        await adapter.find_charge(request.idempotency_key)


async def test_a_manual_capture_card_is_authorized_then_captured(gateways: Gateways) -> None:
    adapter = gateway(gateways, GatewayName.MERCADOPAGO)
    result = await adapter.create_charge(card_request(CARD_TOKEN, capture=False))
    assert result.charge is not None
    assert result.charge.status is ChargeStatus.AUTHORIZED
    captured = await adapter.capture(result.charge.reference)
    assert captured.status is ChargeStatus.PAID


@pytest.mark.parametrize("name", [GatewayName.MERCADOPAGO, GatewayName.EFI])
async def test_a_timeout_after_charging_is_unknown_and_the_key_finds_the_charge(
    sim: Simulator, gateways: Gateways, name: GatewayName
) -> None:
    adapter = gateway(gateways, name)
    request = pix_request(4200)
    if name is GatewayName.EFI:  # its token call must not be the one hung
        await adapter.find_charge("warm-up-token")
    sim.faults(name.value, timeout_rate=1.0)
    result = await adapter.create_charge(request)
    sim.faults(name.value, timeout_rate=0.0)

    assert result.outcome is AttemptOutcome.UNKNOWN
    found = await adapter.find_charge(request.idempotency_key)
    assert found is not None
    assert found.amount == 4200


@pytest.mark.parametrize("name", [GatewayName.MERCADOPAGO, GatewayName.EFI])
async def test_an_outage_is_not_attempted(
    sim: Simulator, gateways: Gateways, name: GatewayName
) -> None:
    sim.faults(name.value, outage=True)
    result = await gateway(gateways, name).create_charge(pix_request())
    assert result.outcome is AttemptOutcome.NOT_ATTEMPTED
    assert result.charge is None


async def test_a_refused_connection_is_not_attempted(sim: Simulator) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    closed = sim.open_gateways(
        mercadopago_base_url=f"{nowhere}/mercadopago", efi_base_url=f"{nowhere}/efi"
    )
    try:
        for adapter in closed.by_name.values():
            result = await adapter.create_charge(pix_request())
            assert result.outcome is AttemptOutcome.NOT_ATTEMPTED, adapter.name
    finally:
        await closed.close()


async def test_efi_reuses_its_access_token(sim: Simulator, gateways: Gateways) -> None:
    before = sim.ledger()["tokens_issued"].get("efi", 0)
    adapter = gateway(gateways, GatewayName.EFI)
    for _ in range(3):
        await adapter.create_charge(pix_request())
    assert sim.ledger()["tokens_issued"]["efi"] == before + 1


async def test_efi_takes_no_cards(gateways: Gateways) -> None:
    adapter = gateway(gateways, GatewayName.EFI)
    assert not adapter.supports(PaymentMethodType.CARD)
    result = await adapter.create_charge(card_request(CARD_TOKEN))
    assert result.outcome is AttemptOutcome.DECLINED
