"""Operator alerts: one per state change, sequenced in aggregates of their own, with a
Subject and a summary a person can act on, published with that Subject."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from redis import Redis

from app.gateways.port import GatewayName
from tests.aws import drain, sqs_client
from tests.integration.charge_scene import Scene
from tests.integration.relay_support import new_world, running_relay
from tests.support import wait_for

MERCADOPAGO = GatewayName.MERCADOPAGO
FAILURES_TO_OPEN = 5  # app/gateways/health.py FAILURE_THRESHOLD
CIRCUIT_ALERTS = ("alert.gateway_circuit_opened", "alert.gateway_circuit_closed")
SUBJECT_LIMIT = 99  # SNS: "less than 100 characters long"
PUBLISH_TIMEOUT_SECONDS = 60.0


def circuit_alerts(scene: Scene) -> list[dict[str, Any]]:
    rows = scene.rows(
        "SELECT payload, subject FROM outbox WHERE event_type = ANY(%s) ORDER BY position",
        (list(CIRCUIT_ALERTS),),
    )
    return [{**payload, "subject": subject} for payload, subject in rows]


def end_open_period(scene: Scene) -> None:
    """As PIXWAVE_GATEWAY_CIRCUIT_OPEN_SECONDS passing would: the circuit is half-open."""
    with Redis.from_url(os.environ["PIXWAVE_REDIS_URL"]) as redis:
        redis.delete(f"{scene.prefix}:gateway:{MERCADOPAGO.value}:open")


async def test_an_outage_raises_one_alert_when_it_opens_and_one_when_it_recovers(
    scene: Scene,
) -> None:
    scene.sim.faults(MERCADOPAGO.value, outage=True)
    for _ in range(FAILURES_TO_OPEN):
        await scene.charge(await scene.new_pix_intent(), MERCADOPAGO)
    assert [a["type"] for a in circuit_alerts(scene)] == [CIRCUIT_ALERTS[0]]

    # The open period ends twice and each half-open probe fails: the same outage.
    for _ in range(2):
        end_open_period(scene)
        await scene.charge(await scene.new_pix_intent(), MERCADOPAGO)
    assert [a["type"] for a in circuit_alerts(scene)] == [CIRCUIT_ALERTS[0]]

    scene.sim.admin("DELETE", "/faults")
    end_open_period(scene)
    recovered_by = await scene.new_pix_intent()
    await scene.charge(recovered_by, MERCADOPAGO)
    await scene.charge(await scene.new_pix_intent(), MERCADOPAGO)  # closed: no more alerts

    opened, closed = circuit_alerts(scene)
    assert [opened["type"], closed["type"]] == list(CIRCUIT_ALERTS)
    assert [opened["aggregate"], closed["aggregate"]] == [
        {"type": "alert", "id": "alr_gateway_mercadopago", "sequence": 1},
        {"type": "alert", "id": "alr_gateway_mercadopago", "sequence": 2},
    ]
    facts = opened["data"]["object"]
    assert facts["gateway"] == "mercadopago"
    assert facts["error"]
    assert (facts["amount"], facts["currency"]) == (1990, "BRL")
    assert facts["payment_intent"].startswith("pi_")
    assert facts["error"] in facts["summary"]
    assert "19.90 BRL" in facts["summary"]
    assert closed["data"]["object"]["payment_intent"] == recovered_by
    for alert in (opened, closed):
        assert alert["subject"].startswith("PixWave: gateway mercadopago")
        assert len(alert["subject"]) <= SUBJECT_LIMIT
        assert "\n" not in alert["data"]["object"]["summary"]


async def test_the_relay_publishes_an_alert_with_its_subject(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    """An e-mail or chat subscriber (no raw delivery) sees the Subject first."""
    world = new_world(service_env, aws_endpoint)
    [(merchant_id,)] = world.rows(
        "INSERT INTO merchants (id, name) VALUES ('mer_alerts', 'Loja Alerta') RETURNING id"
    )
    subject = "PixWave: gateway efi circuit OPEN"
    world.rows(
        "INSERT INTO outbox (id, topic, event_type, merchant_id, aggregate_type, aggregate_id, "
        "aggregate_sequence, payload, subject) VALUES ('evt_alert', 'alerts', "
        "'alert.gateway_circuit_opened', %s, 'alert', 'alr_gateway_efi', 1, %s, %s) RETURNING id",
        (merchant_id, json.dumps({"id": "evt_alert", "livemode": False}), subject),
    )
    sqs = sqs_client(aws_endpoint)
    sns = boto3.client("sns", endpoint_url=aws_endpoint, region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName=f"{world.prefix}-pager")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    [topic_arn] = [
        topic["TopicArn"]
        for topic in sns.list_topics()["Topics"]
        if topic["TopicArn"].endswith(f":{world.prefix}-alerts")
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    with running_relay(world):
        wait_for(lambda: world.lag()["unpublished"] == 0, timeout=PUBLISH_TIMEOUT_SECONDS)
    [message] = drain(aws_endpoint, f"{world.prefix}-pager", expected=1, timeout=60)
    notification = json.loads(message["Body"])
    assert notification["Subject"] == subject
    assert json.loads(notification["Message"])["id"] == "evt_alert"
    assert notification["MessageAttributes"]["visibility"]["Value"] == "operator"
