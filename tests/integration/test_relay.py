"""The relay against moto's server over HTTP: delivery, crashes, rivals, outages."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from typing import Any

import httpx
import psycopg
import pytest

from devtools.chaos.outage import OutageProxy
from outbox.topology import CHARGE_EVENTS, WEBHOOK_EVENTS, declare
from tests.aws import drain, sqs_client
from tests.conftest import LOCALSTACK_URL
from tests.integration.relay_support import (
    RelayWorld,
    new_world,
    running_relay,
    write_intents,
)
from tests.support import wait_for

DRAIN_TIMEOUT_SECONDS = 60.0
PUBLISH_TIMEOUT_SECONDS = 60.0


def _drained(world: RelayWorld) -> bool:
    return world.lag()["unpublished"] == 0


def _published(world: RelayWorld) -> int:
    [(count,)] = world.rows("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL")
    return int(count)


def _event_ids(messages: list[dict[str, Any]]) -> list[str]:
    return [json.loads(m["Body"])["id"] for m in messages]


def _outbox(world: RelayWorld) -> list[tuple[str, str, str, int]]:
    return [
        (row[0], row[1], row[2], row[3])
        for row in world.rows(
            "SELECT id, event_type, aggregate_id, aggregate_sequence FROM outbox ORDER BY position"
        )
    ]


async def test_each_queue_gets_exactly_its_events_with_attributes(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_world(service_env, aws_endpoint)
    await write_intents(world, 5, cancel=True)
    with running_relay(world):
        wait_for(lambda: _drained(world), timeout=PUBLISH_TIMEOUT_SECONDS)

    events = _outbox(world)
    by_type = Counter(event_type for _, event_type, _, _ in events)
    assert by_type == {"payment_intent.created": 5, "payment_intent.canceled": 5}
    charge = drain(aws_endpoint, world.queue("charge"), expected=10, timeout=DRAIN_TIMEOUT_SECONDS)
    webhooks = drain(
        aws_endpoint, world.queue("webhooks"), expected=10, timeout=DRAIN_TIMEOUT_SECONDS
    )
    expected_charge = {e[0] for e in events if e[1] in {c.value for c in CHARGE_EVENTS}}
    expected_webhooks = {e[0] for e in events if e[1] in {w.value for w in WEBHOOK_EVENTS}}
    assert sorted(_event_ids(charge)) == sorted(expected_charge)
    assert sorted(_event_ids(webhooks)) == sorted(expected_webhooks)

    message = charge[0]
    envelope = json.loads(message["Body"])
    assert set(envelope) == {
        "id",
        "type",
        "api_version",
        "created",
        "merchant_id",
        "livemode",
        "aggregate",
        "data",
    }
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["event_type"] == envelope["type"]
    assert attributes["merchant_id"] == envelope["merchant_id"]
    # Sampled; OTel's SDK also sets W3C level 2's "random trace id" bit (03).
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[13]", attributes["traceparent"])


async def test_capture_requests_reach_only_the_charge_queue(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_world(service_env, aws_endpoint)
    [intent_id] = await write_intents(world, 1, cancel=False)
    world.rows(
        "INSERT INTO outbox (id, topic, event_type, merchant_id, aggregate_type, aggregate_id, "
        "aggregate_sequence, payload) SELECT 'evt_capture', 'events', "
        "'payment_intent.capture_requested', merchant_id, aggregate_type, aggregate_id, 2, "
        "jsonb_set(jsonb_set(payload, '{type}', '\"payment_intent.capture_requested\"'), "
        "'{id}', '\"evt_capture\"') "
        "FROM outbox WHERE aggregate_id = %s RETURNING id",
        (intent_id,),
    )
    with running_relay(world):
        wait_for(lambda: _drained(world), timeout=PUBLISH_TIMEOUT_SECONDS)
    charge = drain(aws_endpoint, world.queue("charge"), expected=2, timeout=DRAIN_TIMEOUT_SECONDS)
    webhooks = drain(
        aws_endpoint, world.queue("webhooks"), expected=1, timeout=DRAIN_TIMEOUT_SECONDS
    )
    assert "evt_capture" in _event_ids(charge)
    assert "evt_capture" not in _event_ids(webhooks)
    assert len(webhooks) == 1


async def test_sigkilled_relays_lose_nothing(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_world(service_env, aws_endpoint)
    writing = asyncio.create_task(write_intents(world, 120, cancel=False))
    kills = 0
    while not writing.done() or kills < 3:
        with running_relay(world) as (relay, _):
            published = _published(world)
            # Kill it mid-stream: as soon as it has published something more.
            await asyncio.to_thread(
                wait_for,
                lambda: _published(world) > published or (writing.done() and _drained(world)),  # noqa: B023
                timeout=PUBLISH_TIMEOUT_SECONDS,
            )
            relay.send_signal(signal.SIGKILL)
            relay.wait()
            kills += 1
    await writing
    with running_relay(world):
        wait_for(lambda: _drained(world), timeout=PUBLISH_TIMEOUT_SECONDS)

    expected = {event_id for event_id, *_ in _outbox(world)}
    received = drain(
        aws_endpoint, world.queue("webhooks"), expected=len(expected), timeout=DRAIN_TIMEOUT_SECONDS
    )
    assert kills >= 3
    assert set(_event_ids(received)) == expected


async def test_two_relays_side_by_side_publish_each_event_once(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_world(service_env, aws_endpoint)
    await write_intents(world, 150, cancel=False)
    with running_relay(world), running_relay(world):
        wait_for(lambda: _drained(world), timeout=PUBLISH_TIMEOUT_SECONDS)
    received = drain(
        aws_endpoint, world.queue("webhooks"), expected=150, timeout=DRAIN_TIMEOUT_SECONDS
    )
    counts = Counter(_event_ids(received))
    assert len(counts) == 150
    assert max(counts.values()) == 1


async def test_an_outage_delays_but_loses_nothing_and_keeps_order(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_world(service_env, aws_endpoint)
    proxy = OutageProxy(int(aws_endpoint.rsplit(":", 1)[1]))
    with running_relay(world, endpoint=proxy.url) as (_, metrics_url):
        # The outage starts once the relay runs: a first intent's events are out.
        await write_intents(world, 1, cancel=True)
        wait_for(lambda: _drained(world), timeout=PUBLISH_TIMEOUT_SECONDS)
        proxy.cut()
        await write_intents(world, 20, cancel=True)
        wait_for(lambda: world.lag()["unpublished"] == 40, timeout=PUBLISH_TIMEOUT_SECONDS)
        wait_for(
            lambda: _gauge(metrics_url, "pixwave_outbox_unpublished") == 40,
            timeout=PUBLISH_TIMEOUT_SECONDS,
        )
        aged = world.lag()["oldest_age_seconds"]
        wait_for(
            lambda: world.lag()["oldest_age_seconds"] > aged + 1,
            timeout=PUBLISH_TIMEOUT_SECONDS,
        )
        assert world.lag()["unpublished"] == 40
        proxy.restore()
        wait_for(lambda: _drained(world), timeout=PUBLISH_TIMEOUT_SECONDS)

    received = drain(
        aws_endpoint, world.queue("webhooks"), expected=42, timeout=DRAIN_TIMEOUT_SECONDS
    )
    assert len(set(_event_ids(received))) == 42
    out_of_order = world.rows(
        "SELECT a.id FROM outbox a JOIN outbox b ON a.aggregate_id = b.aggregate_id "
        "AND a.aggregate_sequence < b.aggregate_sequence WHERE a.published_at > b.published_at"
    )
    assert out_of_order == []
    # Failed calls during the outage are not the rows' fault: none counts toward parking.
    assert world.rows("SELECT max(publish_attempts), count(parked_at) FROM outbox") == [(1, 0)]


def _gauge(metrics_url: str, name: str) -> float:
    for line in httpx.get(metrics_url).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1.0


async def test_fifo_topology_end_to_end_keeps_group_order(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_world(service_env, aws_endpoint, fifo=True)
    await write_intents(world, 10, cancel=True)
    with running_relay(world):
        wait_for(lambda: _drained(world), timeout=PUBLISH_TIMEOUT_SECONDS)
    received = drain(
        aws_endpoint, world.queue("webhooks"), expected=20, timeout=DRAIN_TIMEOUT_SECONDS
    )
    bodies = [json.loads(m["Body"]) for m in received]
    assert len({b["id"] for b in bodies}) == 20
    sequences: dict[str, list[int]] = {}
    for body in bodies:
        sequences.setdefault(body["aggregate"]["id"], []).append(body["aggregate"]["sequence"])
    assert all(seq == [1, 2] for seq in sequences.values())
    assert all(m["Attributes"]["MessageGroupId"] in sequences for m in received)


async def test_an_unpublishable_event_is_parked_with_an_alert_and_blocks_its_aggregate(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_world(service_env, aws_endpoint)
    [intent_id] = await write_intents(world, 1, cancel=True)
    huge = json.dumps({"blob": "x" * 300_000})
    world.rows(
        "UPDATE outbox SET payload = payload || %s::jsonb "
        "WHERE aggregate_id = %s AND aggregate_sequence = 1 RETURNING id",
        (huge, intent_id),
    )
    with running_relay(world):
        wait_for(lambda: world.lag()["parked"] == 1, timeout=PUBLISH_TIMEOUT_SECONDS)
        wait_for(
            lambda: (
                world.rows(
                    "SELECT 1 FROM outbox WHERE event_type = 'alert.outbox_event_parked' "
                    "AND published_at IS NOT NULL"
                )
                != []
            ),
            timeout=PUBLISH_TIMEOUT_SECONDS,
        )
    [(reason, later_published)] = world.rows(
        "SELECT p.last_error, l.published_at FROM outbox p JOIN outbox l "
        "ON l.aggregate_id = p.aggregate_id AND l.aggregate_sequence = 2 "
        "WHERE p.aggregate_id = %s AND p.aggregate_sequence = 1",
        (intent_id,),
    )
    assert reason.startswith("TooLarge")
    assert later_published is None

    assert json.loads(world.pixwave("outbox", "status", "--json"))["parked"] == 1
    world.pixwave("outbox", "replay", "--aggregate", intent_id)
    assert world.lag()["parked"] == 0


def test_topology_apply_twice_changes_nothing_and_dlqs_take_only_their_sources(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    for fifo in (False, True):
        world = new_world(service_env, aws_endpoint, fifo=fifo)
        second = world.pixwave("topology", "apply")
        lines = second.strip().splitlines()
        assert len(lines) == 8
        assert all(line.startswith("unchanged") for line in lines), second
        _assert_dlqs_take_only_their_sources(world, aws_endpoint, second)


def test_topology_destroy_deletes_what_apply_made_and_asks_first(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_world(service_env, aws_endpoint)
    refused = subprocess.run(
        [sys.executable, "-m", "app.cli", "topology", "destroy"],
        env={**os.environ, **world.env},
        capture_output=True,
        timeout=120,
    )
    assert refused.returncode == 2
    sqs = sqs_client(aws_endpoint)
    queues = [q.name for q in declare(prefix=world.prefix).queues]
    assert sqs.get_queue_url(QueueName=queues[0])["QueueUrl"]

    deleted = world.pixwave("topology", "destroy", "--yes").strip().splitlines()
    assert len(deleted) == 6
    assert all(line.startswith("deleted") for line in deleted), deleted
    for name in queues:
        with pytest.raises(sqs.exceptions.QueueDoesNotExist):
            sqs.get_queue_url(QueueName=name)
    again = world.pixwave("topology", "destroy", "--yes").strip().splitlines()
    assert all(line.startswith("absent") for line in again), again


def _assert_dlqs_take_only_their_sources(world: RelayWorld, endpoint: str, applied: str) -> None:
    sqs = sqs_client(endpoint)
    for queue in declare(prefix=world.prefix, fifo=world.fifo).queues:
        dlq_url = sqs.get_queue_url(QueueName=queue.dlq_name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])
        if endpoint != LOCALSTACK_URL:
            # moto drops the attribute; apply must say so instead of reporting an update.
            assert "RedriveAllowPolicy" not in attributes["Attributes"]
            assert f"{queue.dlq_name} (endpoint ignores RedriveAllowPolicy)" in applied
            continue
        source_url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        source_arn = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["QueueArn"])
        assert json.loads(attributes["Attributes"]["RedriveAllowPolicy"]) == {
            "redrivePermission": "byQueue",
            "sourceQueueArns": [source_arn["Attributes"]["QueueArn"]],
        }


async def test_published_rows_past_the_retention_are_deleted(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_world(service_env, aws_endpoint)
    await write_intents(world, 3, cancel=False)
    with running_relay(world):
        wait_for(lambda: _drained(world), timeout=PUBLISH_TIMEOUT_SECONDS)
    world.rows(
        "UPDATE outbox SET published_at = now() - interval '31 days' "
        "WHERE position IN (SELECT position FROM outbox ORDER BY position LIMIT 2) RETURNING 1"
    )
    with running_relay(world):  # the cleanup runs as the relay starts, then every minute
        wait_for(
            lambda: world.rows("SELECT count(*) FROM outbox") == [(1,)],
            timeout=PUBLISH_TIMEOUT_SECONDS,
        )
    assert world.rows(
        "SELECT count(*) FROM outbox WHERE published_at > now() - interval '1 day'"
    ) == [(1,)]


async def test_a_lane_whose_connection_dies_takes_a_new_one_and_publishes_once(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    world = new_world(service_env, aws_endpoint)
    with running_relay(world):
        await write_intents(world, 1, cancel=False)
        wait_for(lambda: _drained(world), timeout=PUBLISH_TIMEOUT_SECONDS)
        # Every connection the relay holds but its LISTEN: the lanes' own among them.
        killed = world.rows(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend' AND query NOT LIKE 'LISTEN %%'"
        )
        assert killed
        assert all(terminated for (terminated,) in killed)
        await write_intents(world, 1, cancel=False)
        wait_for(lambda: _drained(world), timeout=PUBLISH_TIMEOUT_SECONDS)

    expected = {event_id for event_id, *_ in _outbox(world)}
    received = drain(
        aws_endpoint, world.queue("webhooks"), expected=2, timeout=DRAIN_TIMEOUT_SECONDS
    )
    assert len(expected) == 2
    assert Counter(_event_ids(received)) == dict.fromkeys(expected, 1)


async def test_a_failure_is_recorded_in_the_claims_transaction(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    """The mark of the published event and the park and alert of the unpublishable one
    roll back together while the alert cannot be written, and commit together after."""
    world = new_world(service_env, aws_endpoint)
    [published, unpublishable] = await write_intents(world, 2, cancel=False)
    world.rows(
        "UPDATE outbox SET payload = payload || %s::jsonb WHERE aggregate_id = %s RETURNING id",
        (json.dumps({"blob": "x" * 300_000}), unpublishable),
    )
    _execute(
        world,
        "ALTER TABLE outbox ADD CONSTRAINT no_parked_alerts"
        " CHECK (event_type <> 'alert.outbox_event_parked') NOT VALID",
    )
    sqs = sqs_client(aws_endpoint)
    url = sqs.get_queue_url(QueueName=world.queue("webhooks"))["QueueUrl"]
    sent: list[str] = []

    def sent_twice() -> bool:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sent.append(json.loads(message["Body"])["data"]["object"]["id"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(sent) >= 2

    state = (
        "SELECT bool_or(published_at IS NOT NULL) FILTER (WHERE aggregate_id = %s),"
        " bool_or(parked_at IS NOT NULL) FILTER (WHERE aggregate_id = %s),"
        " count(*) FILTER (WHERE event_type = 'alert.outbox_event_parked'),"
        " (SELECT count(*) FROM alert_sequences), max(publish_attempts) FROM outbox"
    )
    with running_relay(world):
        # Sent again: the claim that sent it first was rolled back.
        wait_for(sent_twice, timeout=PUBLISH_TIMEOUT_SECONDS)
        assert set(sent) == {published}
        assert world.rows(state, (published, unpublishable)) == [(False, False, 0, 0, 0)]
        _execute(world, "ALTER TABLE outbox DROP CONSTRAINT no_parked_alerts")
        wait_for(
            lambda: world.rows(state, (published, unpublishable))[0][:4] == (True, True, 1, 1),
            timeout=PUBLISH_TIMEOUT_SECONDS,
        )
    [(attempts,)] = world.rows(
        "SELECT publish_attempts FROM outbox WHERE aggregate_id = %s", (published,)
    )
    assert attempts == 1


def _execute(world: RelayWorld, statement: str) -> None:
    with psycopg.connect(world.database_url, autocommit=True) as connection:
        connection.execute(statement)
