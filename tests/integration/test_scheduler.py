"""The scheduler's jobs on real PostgreSQL, against the gateway simulator over HTTP.

Jobs are called directly (with short ages) on intents charged through the charge
service itself (tests/integration/charge_scene.py); the simulator sends no callbacks
here, so only the jobs move money.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta

import httpx
import pytest

from app.db.session import create_engine, session_factory
from app.db.uow import unit_of_work_factory
from app.domain.events import EventType
from app.embedded import free_port
from app.gateways.port import GatewayName
from app.payments.jobs import expire_pix_intents, poll_awaiting_payments, resolve_stuck_intents
from app.scheduler.jobs import Job, JobContext, purge_idempotency_keys, purge_inbox
from app.scheduler.runner import JobRun, RunResult, Scheduler
from app.settings import Settings
from tests.integration.charge_scene import Scene
from tests.support import wait_for

NOW = timedelta(0)  # "older than now": every stuck intent is due
CANCELED_AT_GATEWAY = {"mercadopago": "cancelled", "efi": "REMOVIDA_PELO_USUARIO_RECEBEDOR"}
PROCESS_TIMEOUT_SECONDS = 30.0


@pytest.fixture(autouse=True)
def healthy_gateways(scene: Scene) -> None:
    scene.heal_gateways()


def expire_now(scene: Scene, intent_id: str) -> None:
    scene.rows(
        "UPDATE payment_intents SET expires_at = now() - interval '1 second' "
        "WHERE id = %s RETURNING id",
        (intent_id,),
    )


@pytest.mark.parametrize("gateway", [GatewayName.MERCADOPAGO, GatewayName.EFI])
async def test_an_expired_pix_intent_is_canceled_at_the_gateway_and_here(
    scene: Scene, gateway: GatewayName
) -> None:
    intent_id = await scene.charged_pix_intent(gateway)
    reference = scene.attempt(intent_id)["reference"]
    assert scene.intent(intent_id)["status"] == "requires_action"
    assert await expire_pix_intents(scene.context(), 100) == 0  # not expired yet

    expire_now(scene, intent_id)
    assert await expire_pix_intents(scene.context(), 100) == 1

    assert scene.intent(intent_id)["status"] == "canceled"
    assert scene.intent(intent_id)["cancellation_reason"] == "expired"
    assert scene.events(intent_id)[-1] == EventType.PAYMENT_INTENT_CANCELED.value
    assert scene.attempt(intent_id)["charge_status"] == "canceled"
    assert scene.sim_charge(reference)["status"] == CANCELED_AT_GATEWAY[gateway.value]
    assert await expire_pix_intents(scene.context(), 100) == 0  # nothing left to expire


async def test_a_pix_charge_paid_just_before_expiry_succeeds(scene: Scene) -> None:
    intent_id = await scene.charged_pix_intent(GatewayName.MERCADOPAGO)
    reference = scene.attempt(intent_id)["reference"]
    scene.sim.admin("POST", f"/pay/mercadopago/{reference}")  # no callback reaches us
    expire_now(scene, intent_id)

    assert await expire_pix_intents(scene.context(), 100) == 1

    assert scene.intent(intent_id) == {
        "status": "succeeded",
        "cancellation_reason": None,
        "amount_received": 1990,
    }
    assert EventType.PAYMENT_INTENT_CANCELED.value not in scene.events(intent_id)
    assert scene.sim_charge(reference)["status"] == "approved"


def poll_row(scene: Scene, intent_id: str) -> list[tuple[object, ...]]:
    return scene.rows(
        "SELECT polls, next_poll_at > now() FROM payment_polls WHERE payment_intent_id = %s",
        (intent_id,),
    )


def make_polls_due(scene: Scene) -> None:
    scene.rows("UPDATE payment_polls SET next_poll_at = now() RETURNING 1")


@pytest.mark.parametrize("gateway", [GatewayName.MERCADOPAGO, GatewayName.EFI])
async def test_a_pix_payment_whose_notifications_were_lost_is_found_by_polling(
    scene: Scene, gateway: GatewayName
) -> None:
    intent_id = await scene.charged_pix_intent(gateway)
    reference = scene.attempt(intent_id)["reference"]
    scene.sim.admin("POST", f"/pay/{gateway.value}/{reference}")  # no callback reaches us
    assert await poll_awaiting_payments(scene.context(), 50) == 0  # quiet for under a minute
    assert scene.intent(intent_id)["status"] == "requires_action"

    assert await poll_awaiting_payments(scene.context(poll_after=NOW), 50) == 1

    assert scene.intent(intent_id)["status"] == "succeeded"
    assert scene.events(intent_id)[-1] == EventType.PAYMENT_INTENT_SUCCEEDED.value
    assert poll_row(scene, intent_id) == []


async def test_an_unpaid_pix_code_is_asked_after_on_a_backoff_and_forgotten_once_paid(
    scene: Scene,
) -> None:
    intent_id = await scene.charged_pix_intent(GatewayName.MERCADOPAGO)
    reference = scene.attempt(intent_id)["reference"]
    due_now = scene.context(poll_after=NOW)

    assert await poll_awaiting_payments(due_now, 50) == 0
    assert poll_row(scene, intent_id) == [(1, True)]  # unpaid: asked again in a minute
    assert await poll_awaiting_payments(due_now, 50) == 0
    assert poll_row(scene, intent_id) == [(1, True)]  # not due: not asked
    make_polls_due(scene)
    assert await poll_awaiting_payments(due_now, 50) == 0
    assert poll_row(scene, intent_id) == [(2, True)]
    assert not scene.rows("SELECT 1 FROM outbox WHERE aggregate_id = %s", (f"alr_{intent_id}",))

    scene.sim.admin("POST", f"/pay/mercadopago/{reference}")
    make_polls_due(scene)
    assert await poll_awaiting_payments(due_now, 50) == 1
    assert scene.intent(intent_id)["status"] == "succeeded"
    assert poll_row(scene, intent_id) == []


async def test_a_poll_of_an_intent_that_moved_on_otherwise_is_dropped(scene: Scene) -> None:
    intent_id = await scene.charged_pix_intent(GatewayName.MERCADOPAGO)
    assert await poll_awaiting_payments(scene.context(poll_after=NOW), 50) == 0
    assert poll_row(scene, intent_id) == [(1, True)]
    expire_now(scene, intent_id)
    assert await poll_awaiting_payments(scene.context(poll_after=NOW), 50) == 0  # expiry's
    assert await expire_pix_intents(scene.context(), 100) == 1

    assert await poll_awaiting_payments(scene.context(poll_after=NOW), 50) == 0
    assert poll_row(scene, intent_id) == []


async def test_an_unknown_attempt_is_resolved_from_the_gateway(scene: Scene) -> None:
    scene.sim.faults("mercadopago", timeout_rate=1.0)  # charges, then the answer is lost
    intent_id = await scene.charged_pix_intent(GatewayName.MERCADOPAGO)
    scene.sim.faults("mercadopago", timeout_rate=0.0)
    assert scene.intent(intent_id)["status"] == "processing"
    assert scene.attempt(intent_id)["outcome"] == "unknown"
    # Not stuck yet: a worker may still be on it.
    assert await resolve_stuck_intents(scene.context(), 50) == 0
    assert scene.intent(intent_id)["status"] == "processing"

    assert await resolve_stuck_intents(scene.context(stuck_after=NOW), 50) == 1

    assert scene.intent(intent_id)["status"] == "requires_action"
    attempt = scene.attempt(intent_id)
    assert (attempt["outcome"], attempt["charge_status"]) == ("succeeded", "awaiting_payment")
    assert scene.sim_charge(attempt["reference"])["create_requests"] == 1
    assert scene.rows("SELECT * FROM stuck_checks WHERE payment_intent_id = %s", (intent_id,)) == []


async def test_an_intent_stuck_past_the_schedule_raises_one_alert(scene: Scene) -> None:
    scene.sim.faults("mercadopago", outage=True)  # the try does nothing: stuck in processing
    intent_id = await scene.charged_pix_intent(GatewayName.MERCADOPAGO)
    assert scene.attempt(intent_id)["outcome"] == "not_attempted"
    context = scene.context(stuck_after=NOW, stuck_backoff=(NOW,))

    for _ in range(3):  # a check, the last check of the schedule, then nothing more
        assert await resolve_stuck_intents(context, 50) == 0

    [(checks, alerted_at)] = scene.rows(
        "SELECT checks, alerted_at FROM stuck_checks WHERE payment_intent_id = %s", (intent_id,)
    )
    assert checks == 2
    assert alerted_at is not None
    alerts = scene.rows(
        "SELECT payload->'data'->'object' FROM outbox WHERE event_type = %s AND aggregate_id = %s",
        (EventType.ALERT_PAYMENT_INTENT_STUCK.value, f"alr_{intent_id}"),
    )
    assert [alert["status"] for (alert,) in alerts] == ["processing"]


async def test_purges_delete_only_expired_rows_in_full_batches(scene: Scene) -> None:
    merchant = scene.caller.merchant_id
    for key, expires in (("gone-1", "-1 hour"), ("gone-2", "-1 second"), ("kept", "1 hour")):
        scene.rows(
            "INSERT INTO idempotency_keys (merchant_id, key, request_hash, response_status, "
            "response_body, expires_at) VALUES (%s, %s, 'h', 200, '', now() + %s::interval) "
            "RETURNING 1",
            (merchant, key, expires),
        )
    for event_id, age in (("evt_gone_1", "31 days"), ("evt_gone_2", "30 days 1 hour")):
        scene.rows(
            "INSERT INTO inbox (consumer, event_id, processed_at) "
            "VALUES ('charge', %s, now() - %s::interval) RETURNING 1",
            (event_id, age),
        )
    scene.rows("INSERT INTO inbox (consumer, event_id) VALUES ('charge', 'evt_kept') RETURNING 1")
    scheduler = Scheduler([], scene.context())
    one_row_batches = [
        Job("purge_idempotency_keys", 1, 1.0, 1, purge_idempotency_keys),
        Job("purge_inbox", 2, 1.0, 1, purge_inbox),
    ]

    runs = [await scheduler.run_once(job) for job in one_row_batches]

    assert runs == [JobRun(RunResult.RAN, 2), JobRun(RunResult.RAN, 2)]
    keys = scene.rows("SELECT key FROM idempotency_keys WHERE merchant_id = %s", (merchant,))
    assert keys == [("kept",)]
    assert scene.rows("SELECT event_id FROM inbox") == [("evt_kept",)]


async def test_two_replicas_never_run_one_job_at_once(scene: Scene) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    runs = 0

    async def slow(context: JobContext, limit: int) -> int:
        """The first run holds on until released; any later one returns at once."""
        nonlocal runs
        runs += 1
        if runs == 1:
            entered.set()
            await release.wait()
        return 0

    job = Job("slow", 3, 1.0, 1, slow)
    engine = create_engine(Settings(database_url=scene.database_url))  # another replica's pool
    try:
        first = Scheduler([job], scene.context())
        second = Scheduler(
            [job], scene.context(new_uow=unit_of_work_factory(session_factory(engine)))
        )
        running = asyncio.create_task(first.run_once(job))
        await entered.wait()
        assert await second.run_once(job) == JobRun(RunResult.SKIPPED)
        release.set()
        assert await running == JobRun(RunResult.RAN, 0)
        assert await second.run_once(job) == JobRun(RunResult.RAN, 0)  # the lock went with it
        assert runs == 2
    finally:
        await engine.dispose()


def test_the_scheduler_process_runs_its_jobs_and_stops_on_sigterm(scene: Scene) -> None:
    scene.rows(
        "INSERT INTO inbox (consumer, event_id, processed_at) "
        "VALUES ('charge', 'evt_process', now() - interval '400 days') RETURNING 1"
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "scheduler"],
        env={
            **os.environ,
            "PIXWAVE_DATABASE_URL": scene.database_url,
            "PIXWAVE_SCHEDULER_METRICS_PORT": str(port),
        },
    )
    try:
        # Every job runs as the process starts; this one deletes the old inbox row.
        wait_for(
            lambda: scene.rows("SELECT 1 FROM inbox WHERE event_id = 'evt_process'") == [],
            timeout=PROCESS_TIMEOUT_SECONDS,
        )
        ran = 'pixwave_scheduler_job_runs_total{job="purge_inbox",result="ran"} 1.0'
        wait_for(
            lambda: ran in httpx.get(f"http://127.0.0.1:{port}/metrics").text,
            timeout=PROCESS_TIMEOUT_SECONDS,
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=PROCESS_TIMEOUT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
