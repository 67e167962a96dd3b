"""Deleting handled messages in batches: only after the commit, ten to a call, all of
them at shutdown, and a worker killed before its deletes went out costs a redelivery
the inbox absorbs, never a second effect."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

from prometheus_client import REGISTRY

from tests.integration.probe_consumers import PROBE_EVENT, record_effect
from tests.integration.worker_support import (
    SETTLE_TIMEOUT_SECONDS,
    QueueWorld,
    new_queue_world,
    probe_event,
    running_worker,
    until,
)
from tests.support import wait_for
from workers.runtime.consumer import Consumer

# Far longer than any test here: only a full batch, or the shutdown, sends deletes.
HELD_DELETES_SECONDS = 30.0
EMPTY = {"visible": 0, "in_flight": 0}
PROBE = Consumer(
    name="probe",
    queue="probe",
    handlers={PROBE_EVENT: record_effect},
    backoff_base_seconds=1,
    backoff_cap_seconds=1,
)


def _count(metric: str) -> float:
    return REGISTRY.get_sample_value(metric, {"consumer": "probe"}) or 0.0


async def test_deletes_go_ten_to_a_call(service_env: dict[str, str], aws_endpoint: str) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=60, max_receive_count=5)
    events = [probe_event() for _ in range(20)]
    for _, body in events:
        world.send(body)
    calls = _count("pixwave_worker_delete_calls_total")
    async with running_worker(world, PROBE, delete_flush_seconds=HELD_DELETES_SECONDS):
        await until(lambda: world.depth() == EMPTY)
        assert _count("pixwave_worker_delete_calls_total") - calls == 2
    assert sorted(world.effects()) == sorted(event_id for event_id, _ in events)


async def test_a_shutdown_sends_the_deletes_still_waiting(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_queue_world(service_env, aws_endpoint, visibility=60, max_receive_count=5)
    for _ in range(3):
        world.send(probe_event()[1])
    calls = _count("pixwave_worker_delete_calls_total")
    async with running_worker(world, PROBE, delete_flush_seconds=HELD_DELETES_SECONDS):
        await until(lambda: len(world.effects()) == 3)
        # Handled and committed, but their deletes wait for company.
        assert world.depth() == {"visible": 0, "in_flight": 3}
        assert _count("pixwave_worker_delete_calls_total") == calls
    assert world.depth() == EMPTY
    assert _count("pixwave_worker_delete_calls_total") - calls == 1


def _handled_then_killed(world: QueueWorld, event_id: str) -> None:
    """A `pixwave worker` that commits, then dies (SIGKILL) with its delete unsent."""
    env = {
        **world.env,
        "PIXWAVE_WORKER_METRICS_PORT": "0",
        "PIXWAVE_WORKER_RECEIVE_WAIT_SECONDS": "1",
        "PIXWAVE_WORKER_DELETE_FLUSH_SECONDS": str(HELD_DELETES_SECONDS),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "probe"], env={**os.environ, **env}
    )
    try:
        wait_for(lambda: world.effects() == [event_id], timeout=SETTLE_TIMEOUT_SECONDS)
        # Committed, not deleted: the heartbeat keeps it invisible past its 2 s.
        assert world.depth() == {"visible": 0, "in_flight": 1}
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()


async def test_a_worker_killed_before_its_deletes_went_out_costs_no_second_effect(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    # Visibility 2 s: the killed worker's message comes back quickly.
    world = new_queue_world(service_env, aws_endpoint, visibility=2, max_receive_count=5)
    event_id, body = probe_event()
    world.send(body)
    await asyncio.to_thread(_handled_then_killed, world, event_id)

    duplicates = _count("pixwave_worker_duplicates_total")
    async with running_worker(world, PROBE):
        await until(lambda: _count("pixwave_worker_duplicates_total") - duplicates == 1)
    assert world.depth() == EMPTY
    assert world.effects() == [event_id]
