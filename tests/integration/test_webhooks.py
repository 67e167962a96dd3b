"""Merchant webhooks along the whole path: API → outbox → relay → SNS → SQS → webhook
worker → a small HTTP receiver standing in for the merchant."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.db.session import create_engine, session_factory
from app.db.uow import SqlUnitOfWork
from app.domain.caller import Caller
from app.domain.events import EventType
from app.embedded import free_port, moto_server
from app.payments.intents import create_intent
from app.payments.schemas import CreatePaymentIntent
from app.settings import Settings
from devtools.demo.receiver import Receiver, new_receiver, serving
from tests.integration.relay_support import CIPHER, POLICY, RelayWorld, new_world, running_relay
from tests.support import ApiProcess, Merchant, card_intent, start_api, start_role, wait_for

DELIVERY_TIMEOUT_SECONDS = 60.0
RETRY_BASE_SECONDS = 1  # tries after 1 s, 3 s, 9 s …
RETRY_HORIZON_SECONDS = 3  # the try at 4 s that fails disables the endpoint
MAX_IN_FLIGHT_PER_ENDPOINT = 2
PATIENT_RETRY_BASE_SECONDS = 600
PATIENT_RETRY_HORIZON_SECONDS = 3600
TOLERANCE_SECONDS = 300


@dataclass
class Stack:
    world: RelayWorld
    api: ApiProcess
    merchants: tuple[Merchant, Merchant]

    def delete_endpoints(self) -> None:
        for merchant in self.merchants:
            for endpoint in self.call(merchant, "GET", "/v1/webhook_endpoints").json()["data"]:
                self.call(merchant, "DELETE", f"/v1/webhook_endpoints/{endpoint['id']}")

    def call(self, merchant: Merchant, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.api.url}{path}", headers=merchant.headers, timeout=10, **kwargs
        )

    def endpoint(
        self,
        merchant: Merchant,
        receiver: Receiver,
        events: tuple[str, ...] = ("payment_intent.created",),
    ) -> dict[str, Any]:
        response = self.call(
            merchant,
            "POST",
            "/v1/webhook_endpoints",
            json={"url": receiver.url, "enabled_events": list(events)},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def new_event(self, merchant: Merchant) -> str:
        """Create an intent; its payment_intent.created event is what gets delivered."""
        response = self.call(merchant, "POST", "/v1/payment_intents", json=card_intent())
        assert response.status_code == 201, response.text
        intent_id = response.json()["id"]
        events = self.call(merchant, "GET", "/v1/events", params={"object_id": intent_id})
        return str(events.json()["data"][0]["id"])

    def deliveries(self, merchant: Merchant, endpoint_id: str) -> list[dict[str, Any]]:
        path = f"/v1/webhook_endpoints/{endpoint_id}/deliveries"
        data: list[dict[str, Any]] = self.call(merchant, "GET", path).json()["data"]
        return data


@contextmanager
def running_stack(
    service_env: dict[str, str],
    *,
    fifo: bool = False,
    retry_base_seconds: int = RETRY_BASE_SECONDS,
    retry_horizon_seconds: int = RETRY_HORIZON_SECONDS,
) -> Iterator[Stack]:
    with ExitStack() as stack:
        world = new_world(service_env, stack.enter_context(moto_server()), fifo=fifo)
        env = {
            **world.env,
            "PIXWAVE_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
            "PIXWAVE_WEBHOOK_RETRY_BASE_SECONDS": str(retry_base_seconds),
            "PIXWAVE_WEBHOOK_RETRY_HORIZON_SECONDS": str(retry_horizon_seconds),
            "PIXWAVE_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT": str(MAX_IN_FLIGHT_PER_ENDPOINT),
            "PIXWAVE_WEBHOOK_TIMEOUT_SECONDS": "30",
        }
        api = stack.enter_context(start_api(env))
        stack.enter_context(running_relay(world))
        metrics_port = free_port()
        worker_env = {
            **env,
            "PIXWAVE_WORKER_METRICS_PORT": str(metrics_port),
            "PIXWAVE_WORKER_RECEIVE_WAIT_SECONDS": "1",
        }
        stack.enter_context(
            start_role(
                ["worker", "webhooks"], worker_env, f"http://127.0.0.1:{metrics_port}/metrics"
            )
        )
        merchants = tuple(
            Merchant(**json.loads(world.pixwave("merchants", "create", "--name", name, "--json")))
            for name in ("Loja Azul", "Loja Verde")
        )
        yield Stack(world, api, (merchants[0], merchants[1]))


@pytest.fixture(scope="module")
def stack(service_env: dict[str, str]) -> Iterator[Stack]:
    with running_stack(service_env) as stack:
        yield stack


@pytest.fixture
def merchant(stack: Stack) -> Iterator[Merchant]:
    """Each test starts with no endpoints, so earlier receivers hear nothing more."""
    yield stack.merchants[0]
    stack.delete_endpoints()


def verify_independently(header: str, body: bytes, secret: str, now: int) -> bool:
    """The recipe in docs/webhooks.md, written from the text, not from PixWave's code."""
    fields = [item.split("=", 1) for item in header.split(",")]
    timestamps = [value for name, value in fields if name == "t"]
    signatures = [value for name, value in fields if name == "v1"]
    if len(timestamps) != 1 or abs(now - int(timestamps[0])) > TOLERANCE_SECONDS:
        return False
    signed = timestamps[0].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def test_an_event_arrives_signed_with_a_stable_id(stack: Stack, merchant: Merchant) -> None:
    with serving(new_receiver()) as receiver:
        endpoint = stack.endpoint(merchant, receiver)
        event_id = stack.new_event(merchant)
        wait_for(lambda: event_id in receiver.event_ids(), timeout=DELIVERY_TIMEOUT_SECONDS)

    received = receiver.received[0]
    header = received.headers["PixWave-Signature"]
    now = int(time.time())
    assert verify_independently(header, received.body, endpoint["secret"], now)
    assert received.headers["PixWave-Event-Id"] == event_id
    assert received.headers["User-Agent"].startswith("PixWave-Webhooks/")
    assert received.event["type"] == EventType.PAYMENT_INTENT_CREATED.value
    assert not verify_independently(header, received.body + b" ", endpoint["secret"], now)
    assert not verify_independently(header, received.body, "whsec_other", now)
    assert not verify_independently(header, received.body, endpoint["secret"], now + 301)
    [delivery] = stack.deliveries(merchant, endpoint["id"])
    assert delivery["status"] == "delivered"
    assert (delivery["attempts"], delivery["last_status_code"]) == (1, 200)


def test_two_failures_then_the_third_try_is_delivered(stack: Stack, merchant: Merchant) -> None:
    receiver = new_receiver()
    receiver.answers = [500, 500]
    with serving(receiver):
        endpoint = stack.endpoint(merchant, receiver)
        event_id = stack.new_event(merchant)
        wait_for(
            lambda: stack.deliveries(merchant, endpoint["id"])[0]["status"] == "delivered",
            timeout=DELIVERY_TIMEOUT_SECONDS,
        )
    assert receiver.event_ids() == [event_id] * 3
    [delivery] = stack.deliveries(merchant, endpoint["id"])
    assert (delivery["attempts"], delivery["last_status_code"]) == (3, 200)


def test_a_receiver_down_for_a_while_gets_the_event_once_it_is_up(
    stack: Stack, merchant: Merchant
) -> None:
    receiver = new_receiver()  # not serving yet: connections are refused
    endpoint = stack.endpoint(merchant, receiver)
    event_id = stack.new_event(merchant)

    def refused_twice() -> bool:
        [delivery] = stack.deliveries(merchant, endpoint["id"]) or [{"attempts": 0}]
        return int(delivery["attempts"]) >= 2

    wait_for(refused_twice, timeout=DELIVERY_TIMEOUT_SECONDS, interval=0.1)
    [delivery] = stack.deliveries(merchant, endpoint["id"])
    assert delivery["status"] == "pending"
    assert "ConnectError" in delivery["last_error"]
    with serving(receiver):
        wait_for(lambda: event_id in receiver.event_ids(), timeout=DELIVERY_TIMEOUT_SECONDS)
    assert stack.deliveries(merchant, endpoint["id"])[0]["status"] == "delivered"


def test_past_the_retry_horizon_the_endpoint_is_disabled_with_an_alert(
    stack: Stack, merchant: Merchant
) -> None:
    receiver = new_receiver()
    receiver.answers = [503] * 10
    with serving(receiver):
        endpoint = stack.endpoint(merchant, receiver)
        stack.new_event(merchant)
        path = f"/v1/webhook_endpoints/{endpoint['id']}"
        wait_for(
            lambda: stack.call(merchant, "GET", path).json()["status"] == "disabled",
            timeout=DELIVERY_TIMEOUT_SECONDS,
        )
    [delivery] = stack.deliveries(merchant, endpoint["id"])
    assert delivery["status"] == "failed"
    assert delivery["last_status_code"] == 503
    assert "HTTP 503" in stack.call(merchant, "GET", path).json()["disabled_reason"]
    alerts = stack.world.rows(
        "SELECT payload FROM outbox WHERE event_type = %s AND aggregate_id = %s",
        (EventType.ALERT_WEBHOOK_ENDPOINT_DISABLED.value, f"alr_{endpoint['id']}"),
    )
    assert len(alerts) == 1
    [(alert,)] = alerts
    assert endpoint["id"] in alert["data"]["object"]["summary"]
    # A disabled endpoint gets no new deliveries.
    stack.new_event(merchant)
    assert len(stack.deliveries(merchant, endpoint["id"])) == 1


def test_during_a_rotation_both_secrets_sign(stack: Stack, merchant: Merchant) -> None:
    with serving(new_receiver()) as receiver:
        endpoint = stack.endpoint(merchant, receiver)
        path = f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret"
        rotated = stack.call(merchant, "POST", path).json()
        event_id = stack.new_event(merchant)
        wait_for(lambda: event_id in receiver.event_ids(), timeout=DELIVERY_TIMEOUT_SECONDS)

    assert rotated["secret"] != endpoint["secret"]
    received = receiver.received[0]
    header, now = received.headers["PixWave-Signature"], int(time.time())
    assert header.count("v1=") == 2
    for secret in (endpoint["secret"], rotated["secret"]):
        assert verify_independently(header, received.body, secret, now)


def test_redeliver_sends_the_same_event_again(stack: Stack, merchant: Merchant) -> None:
    with serving(new_receiver()) as receiver:
        endpoint = stack.endpoint(merchant, receiver)
        event_id = stack.new_event(merchant)
        wait_for(lambda: event_id in receiver.event_ids(), timeout=DELIVERY_TIMEOUT_SECONDS)
        response = stack.call(
            merchant, "POST", f"/v1/events/{event_id}/redeliver", json={"endpoint": endpoint["id"]}
        )
        assert response.status_code == 202, response.text
        assert response.json()["webhook_endpoints"] == [endpoint["id"]]
        wait_for(lambda: receiver.event_ids() == [event_id] * 2, timeout=DELIVERY_TIMEOUT_SECONDS)
    [delivery] = stack.deliveries(merchant, endpoint["id"])
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)


def test_a_stuck_endpoint_does_not_hold_up_other_merchants(
    stack: Stack, merchant: Merchant
) -> None:
    slow_merchant, other_merchant = stack.merchants
    slow, fast = new_receiver(), new_receiver()
    slow.hold()  # every request to it waits until released
    with serving(slow), serving(fast):
        stack.endpoint(slow_merchant, slow)
        stack.endpoint(other_merchant, fast)
        slow_events = [stack.new_event(slow_merchant) for _ in range(6)]
        wait_for(lambda: slow.in_flight >= MAX_IN_FLIGHT_PER_ENDPOINT, timeout=30)
        fast_events = [stack.new_event(other_merchant) for _ in range(3)]
        wait_for(
            lambda: sorted(fast.event_ids()) == sorted(fast_events),
            timeout=DELIVERY_TIMEOUT_SECONDS,
        )
        assert slow.received == []  # still holding: the fast merchant did not wait for it
        assert slow.most_in_flight <= MAX_IN_FLIGHT_PER_ENDPOINT
        slow.release()
        wait_for(
            lambda: set(slow.event_ids()) == set(slow_events),
            timeout=DELIVERY_TIMEOUT_SECONDS,
        )
    assert slow.most_in_flight <= MAX_IN_FLIGHT_PER_ENDPOINT


@pytest.fixture(scope="module", params=[False, True], ids=["standard", "fifo"])
def patient_stack(request: pytest.FixtureRequest, service_env: dict[str, str]) -> Iterator[Stack]:
    """A failed try is retried after 10 minutes here (the default is 1): a test sees
    whether anything else waits for that retry."""
    with running_stack(
        service_env,
        fifo=request.param,
        retry_base_seconds=PATIENT_RETRY_BASE_SECONDS,
        retry_horizon_seconds=PATIENT_RETRY_HORIZON_SECONDS,
    ) as stack:
        yield stack


def test_a_failing_endpoint_holds_back_none_of_the_merchants_other_endpoints(
    patient_stack: Stack,
) -> None:
    """On FIFO topics too: the intent's next event reaches the working endpoint while
    the dead one's delivery of the first still waits for its retry."""
    stack, merchant = patient_stack, patient_stack.merchants[0]
    refused = new_receiver()  # never served: every connection is refused
    with serving(new_receiver()) as working:
        dead = stack.endpoint(merchant, refused, ("*",))
        stack.endpoint(merchant, working, ("*",))
        created = stack.call(merchant, "POST", "/v1/payment_intents", json=card_intent()).json()
        wait_for(
            lambda: [d["attempts"] for d in stack.deliveries(merchant, dead["id"])] == [1],
            timeout=DELIVERY_TIMEOUT_SECONDS,
        )
        path = f"/v1/payment_intents/{created['id']}/cancel"
        assert stack.call(merchant, "POST", path, json={}).status_code == 200
        wait_for(
            lambda: (
                sorted(r.event["type"] for r in working.received)
                == ["payment_intent.canceled", "payment_intent.created"]
            ),
            timeout=DELIVERY_TIMEOUT_SECONDS,
        )
    first_try = {d["event_type"]: d for d in stack.deliveries(merchant, dead["id"])}[
        "payment_intent.created"
    ]
    assert first_try["status"] == "pending"  # its retries go on, on its own schedule
    assert "ConnectError" in first_try["last_error"]


def test_a_new_endpoint_hears_only_of_events_created_after_it(
    stack: Stack, merchant: Merchant
) -> None:
    """An event written before the endpoint existed, though it reaches the worker after."""
    caller = Caller(merchant.merchant_id, livemode=False, api_key_id=merchant.key_id)
    with serving(new_receiver()) as receiver:
        older = asyncio.run(
            _create_intent_around(stack, caller, lambda: stack.endpoint(merchant, receiver))
        )
        [(older_event,)] = stack.world.rows(
            "SELECT id FROM outbox WHERE aggregate_id = %s", (older,)
        )
        wait_for(
            lambda: stack.world.rows(
                "SELECT 1 FROM inbox WHERE consumer = 'webhooks' AND event_id = %s",
                (older_event,),
            ),
            timeout=DELIVERY_TIMEOUT_SECONDS,
        )
        newer = stack.new_event(merchant)
        wait_for(lambda: newer in receiver.event_ids(), timeout=DELIVERY_TIMEOUT_SECONDS)
    assert receiver.event_ids() == [newer]


async def _create_intent_around(stack: Stack, caller: Caller, meanwhile: Any) -> str:
    """Create an intent in a transaction that commits only after ``meanwhile`` ran."""
    engine = create_engine(Settings(database_url=stack.world.database_url))
    try:
        async with SqlUnitOfWork(session_factory(engine)) as uow:
            intent = await create_intent(
                uow, caller, CreatePaymentIntent(**card_intent()), POLICY, CIPHER
            )
            await uow.flush()
            await asyncio.to_thread(meanwhile)
            await uow.commit()
        return intent.id
    finally:
        await engine.dispose()
