"""`pixwave dlq` and `pixwave queues stats` against an AWS API server over HTTP, with
the failure ledger in real PostgreSQL and real workers filling and draining queues."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from typing import Any

import psycopg
import pytest
from click.testing import Result
from typer.testing import CliRunner

from app.aws import sync_client
from app.cli import cli
from app.db.uow import UnitOfWork
from app.operators.queues import locate
from app.settings import Settings, get_settings
from outbox.service import apply_topology, topology_of
from tests.aws import drain
from tests.integration.probe_consumers import EFFECTS_TABLE, PROBE_EVENT, record_effect
from tests.integration.worker_support import (
    SETTLE_TIMEOUT_SECONDS,
    QueueWorld,
    probe_event,
    running_worker,
    until,
)
from tests.integration.world import isolated
from tests.support import wait_for
from workers.runtime.consumer import Consumer, Handler
from workers.runtime.envelope import Event

LOCALSTACK_URL = os.environ.get("PIXWAVE_TEST_LOCALSTACK_URL")
BROKEN_EVENT = "probe.broken"
UNPARSEABLE = "{not json"


@pytest.fixture(scope="module")
def ledger_database(service_env: dict[str, str]) -> str:
    """One migrated database for the module; each test has its own queues."""
    database_url, _ = isolated(service_env, "worker")
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(EFFECTS_TABLE)
    return database_url


def charge_world(database_url: str, endpoint: str) -> QueueWorld:
    """The declared topology under a fresh prefix; the world's queue is `<prefix>-charge`."""
    prefix = f"d{uuid.uuid4().hex[:10]}"
    settings = Settings(aws_endpoint_url=endpoint, name_prefix=prefix)
    apply_topology(settings)
    pair = locate(sync_client("sqs", settings), topology_of(settings).queues[0])
    return QueueWorld(database_url, endpoint, prefix, pair.source_url, pair.dlq_url, "charge")


def pixwave(world: QueueWorld, *args: str, **env: str | None) -> Result:
    """`pixwave …` in this process, as from a shell configured for the world."""
    get_settings.cache_clear()  # read once per process: each call here is a new shell
    try:
        return CliRunner().invoke(cli, list(args), env={**world.base_env, **env})
    finally:
        get_settings.cache_clear()


def _consumer(**handlers: Handler) -> Consumer:
    return Consumer("probe", "charge", handlers, backoff_base_seconds=1, backoff_cap_seconds=1)


async def _always_fails(event: Event, uow: UnitOfWork) -> None:
    raise RuntimeError("handler bug")


def _dead_letter_at_second_receive(world: QueueWorld) -> None:
    """So a failing handler's message reaches the DLQ through the redrive policy at once."""
    dlq_arn = world.sqs.get_queue_attributes(QueueUrl=world.dlq_url, AttributeNames=["QueueArn"])
    policy = {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": 1}
    world.sqs.set_queue_attributes(
        QueueUrl=world.queue_url, Attributes={"RedrivePolicy": json.dumps(policy)}
    )


def _by_event(peeked: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {message["event_id"]: message for message in peeked["messages"]}


async def test_poison_is_explained_and_only_the_chosen_messages_go_back(
    ledger_database: str, aws_endpoint: str
) -> None:
    world = charge_world(ledger_database, aws_endpoint)
    _dead_letter_at_second_receive(world)
    first, first_body = probe_event()
    second, second_body = probe_event()
    broken, broken_body = probe_event(BROKEN_EVENT)
    for body in (first_body, second_body, UNPARSEABLE, broken_body):
        world.send(body)

    # This release of the consumer cannot handle probe.ran: poison, dead-lettered at once.
    async with running_worker(world, _consumer(**{BROKEN_EVENT: _always_fails})):
        await until(lambda: world.depth(world.dlq_url) == {"visible": 4, "in_flight": 0})

    peeked = await asyncio.to_thread(pixwave, world, "dlq", "peek", "charge", "-n", "10", "--json")
    assert peeked.exit_code == 0, peeked.output
    letters = _by_event(json.loads(peeked.stdout))
    assert set(letters) == {first, second, broken, None}
    for event_id in (first, second):
        assert letters[event_id]["reason_source"] == "ledger"
        assert "probe has no handler for probe.ran" in letters[event_id]["reason"]
    # Moved by the redrive policy: same message id as in the source, found in the ledger by it.
    assert letters[broken]["reason"] == "RuntimeError: handler bug"
    assert letters[broken]["message_id"] == letters[broken]["source_message_id"]
    assert "body is not JSON" in letters[None]["reason"]
    assert world.depth(world.dlq_url) == {"visible": 4, "in_flight": 0}  # peeking kept nothing

    blind = await asyncio.to_thread(
        pixwave, world, "dlq", "peek", world.dlq_name, "--json", PIXWAVE_DATABASE_URL=None
    )
    without_ledger = _by_event(json.loads(blind.stdout))
    assert json.loads(blind.stdout)["ledger_unavailable"] == "no database configured"
    assert without_ledger[first]["reason_source"] == "message attribute"
    assert "no handler for probe.ran" in without_ledger[first]["reason"]
    assert without_ledger[broken]["reason"] == "unknown (no database configured)"

    readable = await asyncio.to_thread(pixwave, world, "dlq", "peek", "charge")
    assert "reason (ledger, failures 1): RuntimeError: handler bug" in readable.stdout

    dry = await asyncio.to_thread(
        pixwave, world, "dlq", "redrive", "charge", "--event-type", PROBE_EVENT, "--dry-run"
    )
    assert dry.exit_code == 0, dry.output
    assert sorted(_events_listed(dry.stdout, "would move")) == sorted([first, second])
    assert "dry run, nothing changed: skipped 2, would move 2" in dry.stdout
    assert world.depth(world.dlq_url) == {"visible": 4, "in_flight": 0}
    assert world.depth() == {"visible": 0, "in_flight": 0}

    # Chosen by the DLQ message id of one and the event id of the other.
    chosen = await asyncio.to_thread(
        pixwave,
        world,
        "dlq",
        "redrive",
        world.dlq_name,
        "--id",
        letters[first]["message_id"],
        "--id",
        second,
    )
    assert chosen.exit_code == 0, chosen.output
    assert sorted(_events_listed(chosen.stdout, "moved")) == sorted([first, second])
    assert world.depth(world.dlq_url) == {"visible": 2, "in_flight": 0}

    # The fixed release handles them.
    fixed = _consumer(**{PROBE_EVENT: record_effect, BROKEN_EVENT: _always_fails})
    async with running_worker(world, fixed):
        await until(lambda: _effects_of(world, first, second, broken) == sorted([first, second]))
        await until(lambda: world.depth() == {"visible": 0, "in_flight": 0})
    assert world.depth(world.dlq_url) == {"visible": 2, "in_flight": 0}


def _effects_of(world: QueueWorld, *events: str) -> list[str]:
    """Handler runs for these events (the module's tests share a database)."""
    return sorted(event for event in world.effects() if event in events)


def _events_listed(output: str, outcome: str) -> list[str]:
    """Event ids of the result lines `<outcome>  <message id>  <type>  <event id>`."""
    return [line.split()[-1] for line in output.splitlines() if line.startswith(f"{outcome}  ")]


def test_redrive_of_everything_uses_a_move_task_where_the_endpoint_has_them(
    ledger_database: str, aws_endpoint: str
) -> None:
    world = charge_world(ledger_database, aws_endpoint)
    bodies = [probe_event()[1] for _ in range(3)]
    for body in bodies:
        world.sqs.send_message(
            QueueUrl=world.dlq_url,
            MessageBody=body,
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": PROBE_EVENT}},
        )
    stats = {s["queue"]: s for s in json.loads(pixwave(world, "queues", "stats", "--json").stdout)}
    dlq_stats = stats[world.dlq_name]
    assert (dlq_stats["visible"], dlq_stats["sampled"]) == (3, 3)
    assert dlq_stats["oldest_age_seconds"] >= 0
    assert dlq_stats["dead_letter_for"] == world.queue_name
    assert stats[world.queue_name]["oldest_age_seconds"] is None  # never received from
    listed = json.loads(pixwave(world, "dlq", "ls", "--json").stdout)
    assert {s["queue"]: s["visible"] for s in listed}[world.dlq_name] == 3

    redriven = pixwave(world, "dlq", "redrive", "charge")

    assert redriven.exit_code == 0, redriven.output
    if aws_endpoint == LOCALSTACK_URL:
        assert "move task completed: 3 moved" in redriven.stdout
    else:  # moto has no message move tasks
        assert "no message move tasks: moving one by one" in redriven.stderr
        assert "moved 3" in redriven.stdout
    back = drain(aws_endpoint, world.queue_name, expected=3, timeout=SETTLE_TIMEOUT_SECONDS)
    assert sorted(m["Body"] for m in back) == sorted(bodies)
    assert all(m["MessageAttributes"]["event_type"]["StringValue"] == PROBE_EVENT for m in back)
    assert world.depth(world.dlq_url) == {"visible": 0, "in_flight": 0}


def test_purge_wants_yes_and_unknown_queues_are_named(
    ledger_database: str, aws_endpoint: str
) -> None:
    world = charge_world(ledger_database, aws_endpoint)
    world.sqs.send_message(QueueUrl=world.dlq_url, MessageBody=UNPARSEABLE)

    unknown = pixwave(world, "dlq", "peek", "pixwave-charge-dlq")
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        "error: unknown dead-letter queue 'pixwave-charge-dlq'; known: "
        f"{world.prefix}-charge-dlq (charge), {world.prefix}-webhooks-dlq (webhooks)\n"
    )
    unconfirmed = pixwave(world, "dlq", "purge", "charge")
    assert unconfirmed.exit_code == 2
    assert "add --yes" in unconfirmed.stderr
    assert world.depth(world.dlq_url)["visible"] == 1

    purged = pixwave(world, "dlq", "purge", "charge", "--yes")
    assert purged.exit_code == 0, purged.output
    wait_for(
        lambda: world.depth(world.dlq_url) == {"visible": 0, "in_flight": 0},
        timeout=SETTLE_TIMEOUT_SECONDS,
    )


@pytest.mark.localstack  # moto has no message move tasks
def test_ctrl_c_cancels_the_move_task(ledger_database: str) -> None:
    assert LOCALSTACK_URL is not None
    world = charge_world(ledger_database, LOCALSTACK_URL)
    messages = 20
    for _ in range(messages):
        world.sqs.send_message(QueueUrl=world.dlq_url, MessageBody=probe_event()[1])
    redrive = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dlq", "redrive", "charge", "--max-per-second", "1"],
        env={**os.environ, **world.base_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: world.depth()["visible"] >= 1, timeout=SETTLE_TIMEOUT_SECONDS)
    redrive.send_signal(signal.SIGINT)
    stdout, _ = redrive.communicate(timeout=SETTLE_TIMEOUT_SECONDS)

    assert redrive.returncode == 130, stdout
    assert "move task cancelled" in stdout
    moved = world.depth()["visible"]
    assert world.depth(world.dlq_url)["visible"] == messages - moved > 0


def _redrive_process(world: QueueWorld, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dlq", "redrive", "charge", *args],
        env={**os.environ, **world.base_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _park_in_dlq(world: QueueWorld, count: int) -> None:
    for _ in range(count):
        world.sqs.send_message(
            QueueUrl=world.dlq_url,
            MessageBody=probe_event()[1],
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": PROBE_EVENT}},
        )


@pytest.mark.parametrize("selection", [(), ("--event-type", PROBE_EVENT)], ids=["all", "chosen"])
async def test_a_redrive_ends_while_the_consumer_still_fails_each_message_moved_once(
    ledger_database: str, aws_endpoint: str, selection: tuple[str, ...]
) -> None:
    """The consumer dead-letters each copy again under a new message id; the run must
    not take those for new messages (it once moved one message 9,613 times)."""
    world = charge_world(ledger_database, aws_endpoint)
    parked = 3
    _park_in_dlq(world, parked)
    # This release still has no handler for probe.ran: every copy is poison again.
    async with running_worker(world, _consumer(**{BROKEN_EVENT: _always_fails})):
        redrive = _redrive_process(world, *selection)
        stdout, stderr = await asyncio.to_thread(
            redrive.communicate, timeout=2 * SETTLE_TIMEOUT_SECONDS
        )
        assert redrive.returncode == 0, stderr
        await until(lambda: world.depth() == {"visible": 0, "in_flight": 0})
        await until(lambda: world.depth(world.dlq_url) == {"visible": parked, "in_flight": 0})
    if aws_endpoint == LOCALSTACK_URL and not selection:  # a move task
        assert f"move task completed: {parked} moved" in stdout
    else:  # by hand
        assert len(_events_listed(stdout, "moved")) == parked
        assert f"moved {parked}" in stdout
    # Each went back once and failed once more: one more ledger row each, no more.
    failures = world.rows(
        "SELECT count(*) FROM message_failures WHERE queue = %s", (world.queue_name,)
    )
    assert failures == [(parked,)]


def test_ctrl_c_leaves_no_duplicate_and_nothing_hidden(
    ledger_database: str, aws_endpoint: str
) -> None:
    world = charge_world(ledger_database, aws_endpoint)
    parked = 20
    _park_in_dlq(world, parked)
    # A selection goes by hand on every endpoint.
    redrive = _redrive_process(world, "--event-type", PROBE_EVENT, "--max-per-second", "2")
    wait_for(lambda: world.depth()["visible"] >= 1, timeout=SETTLE_TIMEOUT_SECONDS)
    redrive.send_signal(signal.SIGINT)
    stdout, stderr = redrive.communicate(timeout=SETTLE_TIMEOUT_SECONDS)

    assert redrive.returncode == 130, stderr
    assert "interrupted" in stderr
    moved = len(_events_listed(stdout, "moved"))
    assert 0 < moved < parked
    assert world.depth() == {"visible": moved, "in_flight": 0}
    # Nothing it held stays hidden for the rest of its 300 s hold.
    assert world.depth(world.dlq_url) == {"visible": parked - moved, "in_flight": 0}
