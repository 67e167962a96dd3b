"""The reconciliation reads (docs/gateways/payouts-and-reconciliation.md §3) against the
simulator over HTTP: what is charged and refunded there is listed for its window, page
after page, a devolução settled later shows settled, the Pix sent (payouts) too, and a
page that fails fails the whole read."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.errors import GatewayOutcomeUnknown
from app.domain.intents import PaymentMethodType
from app.domain.pix_keys import PixKeyType, parse_pix_key
from app.domain.reconciliation import OurRecord, RecordKind, Window, reconcile
from app.gateways.efi import Efi
from app.gateways.identifiers import id_envio_for
from app.gateways.mercadopago import MercadoPago
from app.gateways.port import (
    Charge,
    ChargeRequest,
    GatewayName,
    GatewayRecord,
    GatewayRecords,
    PixSendRequest,
    RefundRequest,
)
from app.gateways.registry import Gateways
from tests.gateway_sim import Simulator, running_simulator

CHARGES = 5
PAGE_SIZE = 2  # five charges: three pages
AMOUNT = 1990
REFUNDED = 500
SLOW_PAGE_MS = 100
CHARGE, REFUND = RecordKind.CHARGE, RecordKind.REFUND


@pytest.fixture(scope="module")
def records_sim() -> Iterator[Simulator]:
    with running_simulator() as sim:
        yield sim


@pytest.fixture
async def gateways(records_sim: Simulator) -> AsyncIterator[Gateways]:
    records_sim.admin("DELETE", "/faults")
    opened = records_sim.open_gateways()
    try:
        yield opened
    finally:
        await opened.close()


def efi(gateways: Gateways) -> Efi:
    adapter = gateways.get(GatewayName.EFI)
    assert isinstance(adapter, Efi)
    return adapter


def mercadopago(gateways: Gateways) -> MercadoPago:
    adapter = gateways.get(GatewayName.MERCADOPAGO)
    assert isinstance(adapter, MercadoPago)
    return adapter


async def paid_charge(gateways: Gateways, sim: Simulator, name: GatewayName) -> Charge:
    """A PIX charge made through the adapter and paid by the simulated payer."""
    adapter = gateways.get(name)
    assert adapter is not None
    key = f"pi_{uuid.uuid4().hex}-{name.value}-1"
    made = await adapter.create_charge(
        ChargeRequest(intent_id=key.split("-")[0], idempotency_key=key, amount=AMOUNT, method=PIX)
    )
    assert made.charge is not None
    sim.admin("POST", f"/pay/{name.value}/{made.charge.reference}")
    charge = await adapter.get_charge(made.charge.reference)
    assert charge is not None
    return charge


PIX = PaymentMethodType.PIX


def window_from(start: datetime) -> tuple[datetime, datetime]:
    return start, datetime.now(UTC) + timedelta(seconds=1)


def of_kind(records: list[GatewayRecord], kind: RecordKind) -> dict[str, GatewayRecord]:
    return {r.reference: r for r in records if r.kind is kind}


def test_both_adapters_read_records(gateways: Gateways) -> None:
    assert isinstance(efi(gateways), GatewayRecords)
    assert isinstance(mercadopago(gateways), GatewayRecords)


async def test_efi_lists_the_windows_pix_and_devolucoes_across_pages(
    gateways: Gateways, records_sim: Simulator
) -> None:
    before = await paid_charge(gateways, records_sim, GatewayName.EFI)  # outside the window
    start = datetime.now(UTC)
    charges = [await paid_charge(gateways, records_sim, GatewayName.EFI) for _ in range(CHARGES)]
    refund = await efi(gateways).refund(RefundRequest(charges[0], "re_" + uuid.uuid4().hex, 500))

    records = await efi(gateways).list_records(*window_from(start), page_size=PAGE_SIZE)

    listed = of_kind(records, CHARGE)
    assert set(listed) == {c.reference for c in charges}
    assert before.reference not in listed
    assert {r.amount for r in listed.values()} == {AMOUNT}
    assert all(r.settled and r.end_to_end_id for r in listed.values())
    [devolucao] = of_kind(records, REFUND).values()
    assert devolucao.reference == refund.gateway_reference
    assert devolucao.charge_reference == charges[0].reference
    assert (devolucao.amount, devolucao.status, devolucao.settled) == (REFUNDED, "DEVOLVIDO", True)


async def sent(gateways: Gateways, amount: int = AMOUNT) -> str:
    """A Pix sent through the adapter; its idEnvio."""
    id_envio = id_envio_for(uuid.uuid4().hex)
    key = parse_pix_key(PixKeyType.EMAIL, "maria@example.com")
    await efi(gateways).send_pix(PixSendRequest(id_envio, amount, key))
    return id_envio


async def test_efi_lists_the_windows_sends_across_pages_settled_only_when_realizado(
    gateways: Gateways, records_sim: Simulator
) -> None:
    records_sim.faults("efi", send_settle_seconds=None)  # each settled by hand below
    before = await sent(gateways)  # outside the window
    start = datetime.now(UTC)
    sends = [await sent(gateways, AMOUNT + n) for n in range(CHARGES)]
    for id_envio in [before, *sends[1:]]:
        records_sim.admin("POST", f"/efi/envios/{id_envio}/settle")

    records = await efi(gateways).list_records(*window_from(start), page_size=PAGE_SIZE)

    listed = of_kind(records, RecordKind.PAYOUT)
    assert {r: (p.amount, p.settled) for r, p in listed.items()} == {
        id_envio: (AMOUNT + n, n > 0) for n, id_envio in enumerate(sends)
    }
    assert listed[sends[0]].status == "EM_PROCESSAMENTO"
    assert all(p.occurred_at >= start - timedelta(seconds=1) for p in listed.values())


async def test_efi_lists_a_devolucao_in_processing_then_settled(
    gateways: Gateways, records_sim: Simulator
) -> None:
    records_sim.faults("efi", refund_settle_seconds=None)
    start = datetime.now(UTC)
    charge = await paid_charge(gateways, records_sim, GatewayName.EFI)
    refund_id = "re_" + uuid.uuid4().hex
    await efi(gateways).refund(RefundRequest(charge, refund_id, REFUNDED))

    pending = of_kind(await efi(gateways).list_records(*window_from(start)), REFUND)
    records_sim.admin(
        "POST", f"/efi/devolucoes/{refund_id.replace('_', '')}/settle", json={"status": "DEVOLVIDO"}
    )
    settled = of_kind(await efi(gateways).list_records(*window_from(start)), REFUND)

    [(reference, before)] = pending.items()
    assert (before.status, before.settled) == ("EM_PROCESSAMENTO", False)
    assert (settled[reference].status, settled[reference].settled) == ("DEVOLVIDO", True)


async def test_mercadopago_lists_the_windows_payments_and_refunds_across_pages(
    gateways: Gateways, records_sim: Simulator
) -> None:
    records_sim.faults("mercadopago", refund_status="in_process")  # approved when read again
    untouched = await paid_charge(gateways, records_sim, GatewayName.MERCADOPAGO)
    start = datetime.now(UTC)
    charges = [
        await paid_charge(gateways, records_sim, GatewayName.MERCADOPAGO) for _ in range(CHARGES)
    ]
    refund = await mercadopago(gateways).refund(
        RefundRequest(charges[1], "re_" + uuid.uuid4().hex, REFUNDED)
    )

    records = await mercadopago(gateways).list_records(*window_from(start), limit=PAGE_SIZE)

    listed = of_kind(records, CHARGE)
    assert set(listed) == {c.reference for c in charges}
    assert untouched.reference not in listed
    assert all(r.our_id and r.our_id.endswith("-mercadopago-1") for r in listed.values())
    assert all((r.amount, r.settled) == (AMOUNT, True) for r in listed.values())
    [listed_refund] = of_kind(records, REFUND).values()
    assert not refund.settled
    assert listed_refund.reference == refund.gateway_reference
    assert listed_refund.charge_reference == charges[1].reference
    assert (listed_refund.status, listed_refund.settled) == ("approved", True)


async def test_mercadopago_lists_a_refund_today_of_a_payment_made_before_the_window(
    gateways: Gateways, records_sim: Simulator
) -> None:
    charge = await paid_charge(gateways, records_sim, GatewayName.MERCADOPAGO)
    start = datetime.now(UTC)
    refund = await mercadopago(gateways).refund(
        RefundRequest(charge, "re_" + uuid.uuid4().hex, REFUNDED)
    )

    records = await mercadopago(gateways).list_records(*window_from(start), limit=PAGE_SIZE)

    assert set(of_kind(records, REFUND)) == {refund.gateway_reference}
    # Found by the date_last_updated sweep; its own time says it belongs to an earlier day.
    assert of_kind(records, CHARGE)[charge.reference].occurred_at < start


@pytest.mark.parametrize("gateway", [GatewayName.EFI, GatewayName.MERCADOPAGO])
async def test_a_page_that_fails_fails_the_whole_read(
    gateways: Gateways, records_sim: Simulator, gateway: GatewayName
) -> None:
    start = datetime.now(UTC)
    for _ in range(CHARGES):
        await paid_charge(gateways, records_sim, gateway)
    records_sim.faults(gateway.value, failing_list_page=1)

    with pytest.raises(GatewayOutcomeUnknown, match="500"):
        await read(gateways, gateway, start)


@pytest.mark.parametrize("gateway", [GatewayName.EFI, GatewayName.MERCADOPAGO])
async def test_slow_pages_are_still_read_whole(
    gateways: Gateways, records_sim: Simulator, gateway: GatewayName
) -> None:
    start = datetime.now(UTC)
    charges = [await paid_charge(gateways, records_sim, gateway) for _ in range(CHARGES)]
    records_sim.faults(gateway.value, latency_ms=SLOW_PAGE_MS)

    records = await read(gateways, gateway, start)

    assert set(of_kind(records, CHARGE)) == {c.reference for c in charges}


@pytest.mark.parametrize("gateway", [GatewayName.EFI, GatewayName.MERCADOPAGO])
async def test_what_we_made_reconciles_clean_and_a_lost_record_shows(
    gateways: Gateways, records_sim: Simulator, gateway: GatewayName
) -> None:
    start = datetime.now(UTC)
    charges = [await paid_charge(gateways, records_sim, gateway) for _ in range(CHARGES)]
    adapter = gateways.get(gateway)
    assert adapter is not None
    refund = await adapter.refund(RefundRequest(charges[0], "re_" + uuid.uuid4().hex, REFUNDED))
    now = datetime.now(UTC)
    ours = [OurRecord(CHARGE, c.reference, AMOUNT, now) for c in charges]
    ours.append(OurRecord(REFUND, refund.gateway_reference, REFUNDED, now))
    window = Window(start, now + timedelta(seconds=1))

    theirs = await read(gateways, gateway, window.read_start, window.read_end)
    clean = reconcile(window, ours, theirs)
    lost = reconcile(window, ours[1:], theirs)

    assert clean.clean
    assert clean.summary.matched == CHARGES + 1
    assert [r.reference for r in lost.missing_ours] == [charges[0].reference]
    assert lost.summary.difference == AMOUNT


async def read(
    gateways: Gateways, gateway: GatewayName, start: datetime, end: datetime | None = None
) -> list[GatewayRecord]:
    window = window_from(start) if end is None else (start, end)
    if gateway is GatewayName.EFI:
        return await efi(gateways).list_records(*window, page_size=PAGE_SIZE)
    return await mercadopago(gateways).list_records(*window, limit=PAGE_SIZE)
