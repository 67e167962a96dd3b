"""The consumer runtime against an AWS API server over HTTP and real PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from prometheus_client import REGISTRY

from app.aws import async_client
from app.db.session import create_engine, session_factory
from app.db.uow import UnitOfWork
from app.domain.errors import RetryLater
from app.settings import Settings
from tests.integration.probe_consumers import PROBE_EVENT, record_effect
from tests.integration.worker_support import (
    FIXED_JITTER,
    SETTLE_TIMEOUT_SECONDS,
    new_queue_world,
    probe_event,
    running_worker,
    until,
)
from tests.support import wait_for
from workers.runtime.backoff import retry_delay_seconds
from workers.runtime.consumer import Consumer, Handler
from workers.runtime.envelope import Event
from workers.runtime.worker import Worker, WorkerOptions


def _consumer(handler: Handler, *, base: float = 1, cap: float = 8) -> Consumer:
    return Consumer(
        name="probe",
        queue="probe",
        handlers={PROBE_EVENT: handler},
        backoff_base_seconds=base,
        backoff_cap_seconds=cap,
    )


def _count(metric: str) -> float:
    """A probe consumer's counter in this process (the workers under test run here)."""
    return REGISTRY.get_sample_value(metric, {"consumer": "probe"}) or 0.0


async def test_handles_raw_and_sns_wrapped_events_once_each(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=30, max_receive_count=5)
    raw_id, raw = probe_event()
    wrapped_id, body = probe_event()
    world.send(raw)
    world.send(json.dumps({"Type": "Notification", "MessageId": "m-1", "Message": body}))
    async with running_worker(world, _consumer(record_effect)):
        await until(lambda: len(world.effects()) == 2)
        await until(lambda: world.depth() == {"visible": 0, "in_flight": 0})
    assert sorted(world.effects()) == sorted([raw_id, wrapped_id])


async def test_transient_failures_come_back_after_a_growing_delay(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=30, max_receive_count=10)
    attempts: list[float] = []

    async def flaky(event: Event, uow: UnitOfWork) -> None:
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            raise RetryLater("gateway busy")
        await record_effect(event, uow)

    event_id, body = probe_event()
    world.send(body)
    async with running_worker(world, _consumer(flaky, base=1, cap=8)):
        await until(lambda: world.effects() == [event_id])

    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    expected = [
        retry_delay_seconds(n, base_seconds=1, cap_seconds=8, jitter=lambda: FIXED_JITTER)
        for n in (1, 2, 3)
    ]
    assert expected == [1, 2, 4]
    assert len(gaps) == 3
    # Never earlier than the computed delay; a poll in progress may add up to its wait.
    assert all(gap >= delay * 0.9 for gap, delay in zip(gaps, expected, strict=True)), gaps
    assert gaps[2] > gaps[0], gaps
    [(attempt_count, receive_count, error_class)] = world.rows(
        "SELECT attempts, receive_count, error_class FROM message_failures WHERE event_id = %s",
        (event_id,),
    )
    assert (attempt_count, receive_count, error_class) == (3, 3, "RetryLater")


async def test_a_retry_may_keep_the_progress_made_so_far(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=30, max_receive_count=10)

    async def step_by_step(event: Event, uow: UnitOfWork) -> None:
        await record_effect(event, uow)
        done = len(world.effects())  # committed steps of earlier runs
        if done < 2:
            raise RetryLater("one step at a time", delay_seconds=1, keep_progress=True)

    async def forgetful(event: Event, uow: UnitOfWork) -> None:
        await record_effect(event, uow)
        raise RetryLater("nothing kept")

    kept_id, kept = probe_event()
    world.send(kept)
    async with running_worker(world, _consumer(step_by_step)):
        await until(lambda: world.depth() == {"visible": 0, "in_flight": 0})
    # Three runs, each one's effect committed although the first two asked to retry.
    assert world.effects() == [kept_id] * 3

    lost_id, lost = probe_event()
    world.send(lost)
    async with running_worker(world, _consumer(forgetful, base=30, cap=30)):
        await until(
            lambda: (
                world.rows("SELECT count(*) FROM message_failures WHERE event_id = %s", (lost_id,))
                == [(1,)]
            )
        )
    assert lost_id not in world.effects()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "body is not JSON"),
        (json.dumps({"id": "evt_x", "type": "probe.ran"}), "not an event envelope"),
        (probe_event("nobody.handles.this")[1], "no handler for nobody.handles.this"),
    ],
    ids=["unparseable", "schema-invalid", "unknown-type"],
)
async def test_poison_reaches_the_dlq_at_once_with_its_reason(
    service_env: dict[str, str], aws_endpoint: str, body: str, reason: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=30, max_receive_count=10)
    world.send(body)
    async with running_worker(world, _consumer(record_effect)):
        [dead] = await asyncio.to_thread(world.receive_dlq, expected=1, timeout=15)
    assert dead["Body"] == body
    assert reason in dead["MessageAttributes"]["pixwave_failure_reason"]["StringValue"]
    [(ledger_reason, dead_lettered, attempts)] = world.rows(
        "SELECT error_message, dead_lettered, attempts FROM message_failures"
    )
    assert reason in ledger_reason
    assert (dead_lettered, attempts) == (True, 1)
    assert world.depth() == {"visible": 0, "in_flight": 0}


async def test_a_handler_that_always_fails_is_dead_lettered_after_max_receive_count(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=30, max_receive_count=3)

    async def broken(event: Event, uow: UnitOfWork) -> None:
        raise RuntimeError("bug in the handler")

    event_id, body = probe_event()
    world.send(body)
    async with running_worker(world, _consumer(broken, base=1, cap=1)):
        [dead] = await asyncio.to_thread(
            world.receive_dlq, expected=1, timeout=SETTLE_TIMEOUT_SECONDS
        )
    assert json.loads(dead["Body"])["id"] == event_id
    [(attempts, error_class)] = world.rows(
        "SELECT attempts, error_class FROM message_failures WHERE event_id = %s", (event_id,)
    )
    assert (attempts, error_class) == (3, "RuntimeError")


async def test_duplicate_deliveries_to_two_workers_have_effects_once(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=30, max_receive_count=5)
    events = [probe_event(sleep_seconds=0.2) for _ in range(10)]
    for _, body in events * 2:  # every event delivered twice
        world.send(body)
    consumer = _consumer(record_effect)
    async with running_worker(world, consumer), running_worker(world, consumer):
        await until(lambda: world.depth() == {"visible": 0, "in_flight": 0})
    assert sorted(world.effects()) == sorted(event_id for event_id, _ in events)


async def test_a_long_handler_keeps_its_message_from_other_workers(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=2, max_receive_count=5)
    runs: list[str] = []
    heartbeats_before = _count("pixwave_worker_heartbeats_total")

    async def slow(event: Event, uow: UnitOfWork) -> None:
        runs.append(event.id)
        # Held across several visibility timeouts: heartbeats must keep it hidden.
        await until(lambda: _count("pixwave_worker_heartbeats_total") >= heartbeats_before + 3)
        await record_effect(event, uow)

    event_id, body = probe_event()
    world.send(body)
    consumer = _consumer(slow)
    async with running_worker(world, consumer), running_worker(world, consumer):
        await until(lambda: world.effects() == [event_id])
    assert runs == [event_id]
    assert world.rows("SELECT count(*) FROM message_failures") == [(0,)]


async def test_heartbeats_stop_at_the_hold_bound(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=2, max_receive_count=5)

    received_before = _count("pixwave_worker_received_total")

    async def stuck(event: Event, uow: UnitOfWork) -> None:
        # Held until the bound lets the message go and the other worker receives it.
        await until(lambda: _count("pixwave_worker_received_total") >= received_before + 2)
        await record_effect(event, uow)

    event_id, body = probe_event()
    world.send(body)
    duplicates = _count("pixwave_worker_duplicates_total")
    consumer = _consumer(stuck)
    async with (
        running_worker(world, consumer, max_hold_seconds=3),
        running_worker(world, consumer, max_hold_seconds=3),
    ):
        await until(lambda: world.depth() == {"visible": 0, "in_flight": 0})
    # Past the bound the message went back to SQS and reached the other worker,
    # whose inbox check found the first one's effects: delivered twice, applied once.
    assert world.effects() == [event_id]
    assert _count("pixwave_worker_duplicates_total") - duplicates == 1


def test_sigterm_returns_unstarted_messages_at_once_and_finishes_the_rest(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=30, max_receive_count=5)
    events = [probe_event(sleep_seconds=1.0) for _ in range(8)]
    for _, body in events:
        world.send(body)
    env = {
        **world.env,
        "PIXWAVE_WORKER_CONCURRENCY": "3",
        "PIXWAVE_WORKER_METRICS_PORT": "0",
        "PIXWAVE_WORKER_RECEIVE_WAIT_SECONDS": "2",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "probe"],
        env={**os.environ, **env},
    )
    wait_for(lambda: len(world.effects()) >= 1, timeout=SETTLE_TIMEOUT_SECONDS)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0

    done = world.effects()
    # Nothing is left invisible: what this worker did not finish is back in the queue now,
    # long before the 30 s visibility timeout would have returned it.
    assert world.depth() == {"visible": len(events) - len(done), "in_flight": 0}
    finisher = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "probe"],
        env={**os.environ, **env},
    )
    try:
        wait_for(lambda: len(world.effects()) == len(events), timeout=SETTLE_TIMEOUT_SECONDS)
    finally:
        finisher.send_signal(signal.SIGTERM)
        finisher.wait(timeout=30)
    assert sorted(world.effects()) == sorted(event_id for event_id, _ in events)


async def test_messages_arriving_during_shutdown_are_not_hidden(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=30, max_receive_count=5)
    settings = Settings(aws_endpoint_url=world.endpoint, database_url=world.database_url)
    engine = create_engine(settings)
    stop = asyncio.Event()
    async with async_client("sqs", settings) as sqs:
        worker = Worker(
            _consumer(record_effect),
            sqs=sqs,
            sessions=session_factory(engine),
            queue_name=world.queue_name,
            options=WorkerOptions(receive_wait_seconds=3),
        )
        polls = _count("pixwave_worker_polls_total")
        running = asyncio.create_task(worker.run(stop))
        await until(lambda: _count("pixwave_worker_polls_total") > polls)  # in an idle poll
        stop.set()
        for _ in range(3):
            await asyncio.to_thread(world.send, probe_event()[1])
        await running
    await engine.dispose()
    # Whatever the last poll picked up was given back, not left invisible for 30 s.
    assert world.depth() == {"visible": 3 - len(world.effects()), "in_flight": 0}


def test_unknown_worker_names_list_the_known_ones(service_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "nope"],
        env={
            **os.environ,
            "PIXWAVE_WORKER_MODULES": "tests.integration.probe_consumers",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "known: charge, probe" in result.stderr


def test_the_charge_worker_refuses_an_unknown_gateway_in_its_priority(
    service_env: dict[str, str],
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "charge"],
        env={**os.environ, "PIXWAVE_GATEWAY_PRIORITY": "mercadopago,stripe"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown gateways ['stripe']" in result.stderr
