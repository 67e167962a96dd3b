"""Reconciliation on real PostgreSQL against the simulator over HTTP: intents paid and
refunded through PixWave's own services at both gateways reconcile clean, and so does a
payout paid through Efí; a payment PixWave never applied is missing on our side, and so
is a send made at Efí without a payout, an amount our books got wrong is a
mismatch, and a page that fails is a failed run; each of those alerts. The command's
exit codes and JSON, and the daily job's idempotency."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app.db.uow import SqlUnitOfWork, unit_of_work_factory
from app.domain.events import EventType
from app.domain.pix_keys import PixKeyType, parse_pix_key
from app.domain.reconciliation import RecordKind, RunStatus, Window, reconcile
from app.gateways.identifiers import id_envio_for
from app.gateways.port import GatewayName, GatewayRecords, PixSender, PixSendRequest
from app.payments.consumer import charge_context
from app.payments.jobs import poll_awaiting_payments
from app.reconciliation.jobs import last_closed_day, reconcile_last_day
from app.reconciliation.service import (
    BRASILIA,
    day_window,
    our_side,
    reconcile_day,
    their_side,
)
from app.refunds.jobs import follow_up_refunds
from app.refunds.schemas import CreateRefund
from app.refunds.service import create_refund, refund_charge
from tests.gateway_sim import Simulator
from tests.integration.charge_scene import Scene, open_scene
from tests.integration.ledger_support import post_payment
from tests.integration.payout_support import (
    followed_up_until_final,
    funded_merchant,
    new_payout,
    payout_status,
    send_payout_once,
)

AMOUNT = 1990
REFUNDED = 700
PAID_OUT = 1234
NOW = timedelta(0)  # "quiet since before now": every code and refund is due
BOTH = (GatewayName.MERCADOPAGO, GatewayName.EFI)
UNMATCHED_ALERT = EventType.ALERT_RECONCILIATION_UNMATCHED.value


@pytest.fixture
async def scene(service_env: dict[str, str], scene_sim: Simulator) -> AsyncIterator[Scene]:
    """A fresh database and a simulator with empty books: each test owns both sides."""
    scene_sim.admin("DELETE", "/ledger")
    async with open_scene(service_env, scene_sim) as opened:
        opened.heal_gateways()
        yield opened


def today() -> date:
    return datetime.now(BRASILIA).date()


async def paid_intent(scene: Scene, gateway: GatewayName) -> str:
    """A PIX intent charged at ``gateway``, paid there and found paid by the poll."""
    intent_id = await scene.charged_pix_intent(gateway)
    scene.sim.admin("POST", f"/pay/{gateway.value}/{scene.attempt(intent_id)['reference']}")
    await poll_awaiting_payments(scene.context(poll_after=NOW), 50)
    assert scene.intent(intent_id)["status"] == "succeeded"
    return intent_id


async def refunded(scene: Scene, intent_id: str, amount: int) -> str:
    """A refund created and returned through the gateway, as the charge worker and the
    follow-up job would."""
    async with SqlUnitOfWork(scene.sessions) as uow:
        refund = await create_refund(
            uow, scene.caller, CreateRefund(payment_intent=intent_id, amount=amount)
        )
        await uow.commit()
    context = charge_context(scene.sim.gateway_settings(database_url=scene.database_url))
    try:
        async with SqlUnitOfWork(scene.sessions) as uow:
            await refund_charge(uow, context, refund.id)
            await uow.commit()
    finally:
        await context.gateways.close()
    await follow_up_refunds(scene.context(refund_follow_up_after=NOW), 50)
    [(status,)] = scene.rows("SELECT status FROM refunds WHERE id = %s", (refund.id,))
    assert status == "succeeded"
    return refund.id


async def reconcile_today(scene: Scene, gateway: GatewayName) -> Any:
    new_uow = unit_of_work_factory(scene.sessions)
    [run] = await reconcile_day(new_uow, scene.gateways, today(), only=gateway)
    return run


def alerts(scene: Scene, gateway: GatewayName) -> list[dict[str, Any]]:
    rows = scene.rows(
        "SELECT event_type, payload FROM outbox WHERE aggregate_id = %s ORDER BY position",
        (f"alr_reconciliation_{gateway.value}",),
    )
    return [
        payload["data"]["object"] for event_type, payload in rows if event_type == UNMATCHED_ALERT
    ]


@pytest.mark.parametrize("gateway", BOTH)
async def test_payments_and_refunds_made_through_pixwave_reconcile_clean(
    scene: Scene, gateway: GatewayName
) -> None:
    intents = [await paid_intent(scene, gateway) for _ in range(2)]
    refund_id = await refunded(scene, intents[0], REFUNDED)

    run = await reconcile_today(scene, gateway)

    assert run.status == RunStatus.CLEAN
    assert (run.matched, run.missing_ours, run.missing_theirs, run.amount_mismatch) == (3, 0, 0, 0)
    assert (run.difference, run.items) == (0, [])
    [(reference,)] = scene.rows("SELECT gateway_reference FROM refunds WHERE id = %s", (refund_id,))
    assert reference  # kept from the gateway's answer
    assert alerts(scene, gateway) == []


@pytest.mark.parametrize("gateway", BOTH)
async def test_a_refund_of_a_payment_made_before_the_window_is_read_back_by_its_charge(
    scene: Scene, gateway: GatewayName
) -> None:
    intent_id = await paid_intent(scene, gateway)
    await asyncio.sleep(0.01)
    start = datetime.now(UTC)  # the payment was made before: Efí does not list its Pix
    await refunded(scene, intent_id, REFUNDED)
    window = Window(start, datetime.now(UTC) + timedelta(seconds=1), tolerance=timedelta(0))
    books = scene.gateways.get(gateway)
    assert isinstance(books, GatewayRecords)

    async with SqlUnitOfWork(scene.sessions) as uow:
        ours = await our_side(uow, gateway, window)
    result = reconcile(window, ours.records, await their_side(books, window, ours))

    assert [r.kind for r in ours.records] == [RecordKind.REFUND]
    if gateway is GatewayName.EFI:  # its list reaches neither the Pix nor the devolução
        assert await books.list_records(window.read_start, window.read_end) == []
    assert result.clean
    assert [p.theirs.amount for p in result.matched] == [REFUNDED]


@pytest.mark.parametrize("gateway", BOTH)
async def test_a_payment_pixwave_never_applied_is_missing_on_our_side_and_alerts(
    scene: Scene, gateway: GatewayName
) -> None:
    await paid_intent(scene, gateway)
    lost = await scene.charged_pix_intent(gateway)
    reference = scene.attempt(lost)["reference"]
    scene.sim.admin("POST", f"/pay/{gateway.value}/{reference}")  # nobody polls it

    run = await reconcile_today(scene, gateway)

    assert run.status == RunStatus.UNMATCHED
    assert (run.matched, run.missing_ours, run.difference) == (1, 1, AMOUNT)
    [item] = run.items
    assert (item["category"], item["kind"], item["reference"]) == (
        "missing_ours",
        "charge",
        reference,
    )
    assert (item["ours"], item["theirs"]) == (None, AMOUNT)
    [alert] = alerts(scene, gateway)
    assert (alert["run"], alert["status"], alert["missing_ours"]) == (run.id, "unmatched", 1)


async def paid_payout(scene: Scene) -> str:
    """A payout paid through Efí by PixWave's own flow, the idEnvio of its send; the
    merchant's funds came in through Mercado Pago, so Efí's day holds only the payout."""
    caller = await funded_merchant(scene, AMOUNT, GatewayName.MERCADOPAGO)
    payout_id = await new_payout(scene, caller, PAID_OUT)
    await send_payout_once(scene, payout_id)
    await followed_up_until_final(scene, payout_id)
    assert payout_status(scene, payout_id) == "paid"
    [(id_envio,)] = scene.rows(
        "SELECT id_envio FROM payout_attempts WHERE payout_id = %s AND status = 'paid'",
        (payout_id,),
    )
    return str(id_envio)


async def test_a_payout_paid_through_pixwave_reconciles_clean_at_efi(scene: Scene) -> None:
    id_envio = await paid_payout(scene)

    run = await reconcile_today(scene, GatewayName.EFI)

    assert run.status == RunStatus.CLEAN, run.items
    assert (run.matched, run.missing_ours, run.missing_theirs, run.difference) == (1, 0, 0, 0)
    books = scene.gateways.get(GatewayName.EFI)
    assert isinstance(books, GatewayRecords)
    window = day_window(today())
    [listed] = await books.list_records(window.read_start, window.read_end)
    assert (listed.kind, listed.reference, listed.amount) == (RecordKind.PAYOUT, id_envio, PAID_OUT)
    assert alerts(scene, GatewayName.EFI) == []


async def test_a_send_the_ledger_lacks_is_missing_on_our_side(scene: Scene) -> None:
    await paid_payout(scene)
    efi = scene.gateways.get(GatewayName.EFI)
    assert isinstance(efi, PixSender)
    scene.sim.faults("efi", send_settle_seconds=None)  # settled below, REALIZADO
    key = parse_pix_key(PixKeyType.EMAIL, "joao@example.com")
    stray = PixSendRequest(id_envio_for("a send no payout made"), 555, key)
    await efi.send_pix(stray)  # at Efí, not through a payout: no entry on our books
    scene.sim.admin("POST", f"/efi/envios/{stray.id_envio}/settle")

    run = await reconcile_today(scene, GatewayName.EFI)

    assert run.status == RunStatus.UNMATCHED
    assert (run.matched, run.missing_ours, run.difference) == (1, 1, 555)
    [item] = run.items
    assert (item["category"], item["kind"], item["reference"], item["theirs"]) == (
        "missing_ours",
        "payout",
        stray.id_envio,
        555,
    )
    [alert] = alerts(scene, GatewayName.EFI)
    assert alert["missing_ours"] == 1


async def test_an_amount_our_books_got_wrong_is_a_mismatch(scene: Scene) -> None:
    gateway = GatewayName.EFI
    intent_id = await scene.charged_pix_intent(gateway)
    scene.sim.admin("POST", f"/pay/efi/{scene.attempt(intent_id)['reference']}")
    # Our books take 100 centavos less than the payer paid (what a bug would do).
    scene.rows(
        "UPDATE payment_intents SET status = 'succeeded', amount_received = amount - 100 "
        "WHERE id = %s RETURNING 1",
        (intent_id,),
    )
    scene.rows(
        "UPDATE payment_attempts SET charge_status = 'paid' WHERE payment_intent_id = %s "
        "RETURNING 1",
        (intent_id,),
    )
    await post_payment(scene.database_url, intent_id, gateway.value)

    run = await reconcile_today(scene, gateway)

    assert (run.status, run.amount_mismatch, run.difference) == (RunStatus.UNMATCHED, 1, 100)
    [item] = run.items
    assert (item["category"], item["ours"], item["theirs"], item["our_id"]) == (
        "amount_mismatch",
        AMOUNT - 100,
        AMOUNT,
        intent_id,
    )
    assert len(alerts(scene, gateway)) == 1


@pytest.mark.parametrize("gateway", BOTH)
async def test_a_page_that_fails_is_a_failed_run_never_a_clean_one(
    scene: Scene, gateway: GatewayName
) -> None:
    await paid_intent(scene, gateway)
    scene.sim.faults(gateway.value, failing_list_page=0)

    run = await reconcile_today(scene, gateway)

    assert run.status == RunStatus.FAILED
    assert "500" in (run.error or "")
    assert (run.matched, run.items) == (0, [])
    [alert] = alerts(scene, gateway)
    assert (alert["status"], alert["run"]) == ("failed", run.id)


def reconcile_command(scene: Scene, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | scene.sim.gateway_env() | {"PIXWAVE_DATABASE_URL": scene.database_url}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "reconcile", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


async def test_the_command_exits_by_what_it_found_and_prints_json_or_a_table(
    scene: Scene,
) -> None:
    day = today().isoformat()
    await paid_intent(scene, GatewayName.EFI)

    clean = reconcile_command(scene, "--date", day, "--json")
    assert clean.returncode == 0, clean.stderr
    views = json.loads(clean.stdout)
    assert {v["gateway"]: (v["status"], v["counts"]["matched"]) for v in views} == {
        "efi": ("clean", 1),
        "mercadopago": ("clean", 0),
    }
    assert set(views[0]) >= {"id", "day", "window", "counts", "items", "clean", "error"}

    lost = await scene.charged_pix_intent(GatewayName.MERCADOPAGO)
    scene.sim.admin("POST", f"/pay/mercadopago/{scene.attempt(lost)['reference']}")
    unmatched = reconcile_command(scene, "--date", day, "--gateway", "mercadopago")
    assert unmatched.returncode == 1, unmatched.stderr
    assert "missing ours 1" in unmatched.stdout
    assert "missing_ours" in unmatched.stdout  # the item's row
    [(run_id,)] = scene.rows(
        "SELECT id FROM reconciliation_runs WHERE gateway = 'mercadopago' AND status = 'unmatched'"
    )
    shown = reconcile_command(scene, "show", run_id, "--json")
    assert shown.returncode == 1
    assert json.loads(shown.stdout)[0]["counts"]["missing_ours"] == 1

    scene.sim.faults("efi", failing_list_page=0)
    failed = reconcile_command(scene, "--date", day, "--gateway", "efi")
    assert failed.returncode == 2
    assert "): failed" in failed.stdout
    assert reconcile_command(scene, "show", "rec_nope").returncode == 2


async def test_the_daily_job_reconciles_each_gateway_once_and_retries_a_failure_later(
    scene: Scene,
) -> None:
    scene.sim.faults("efi", failing_list_page=0)
    day = last_closed_day(datetime.now(UTC))

    assert await reconcile_last_day(scene.context(), 10) == 2
    assert await reconcile_last_day(scene.context(), 10) == 0  # clean, or failed just now

    runs = scene.rows("SELECT gateway, status FROM reconciliation_runs WHERE day = %s", (day,))
    assert sorted(runs) == [("efi", "failed"), ("mercadopago", "clean")]
    scene.rows(
        "UPDATE reconciliation_runs SET started_at = started_at - interval '7 hours' RETURNING 1"
    )
    scene.heal_gateways()
    assert await reconcile_last_day(scene.context(), 10) == 1  # only the failed one, again
    [(status,)] = scene.rows(
        "SELECT status FROM reconciliation_runs WHERE gateway = 'efi' "
        "ORDER BY started_at DESC LIMIT 1"
    )
    assert status == "clean"
