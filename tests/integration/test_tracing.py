"""One W3C trace from the merchant's POST to the last webhook: through the outbox, the
relay, the charge worker and its gateway call, the gateway's callback, and every
webhook delivery."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.embedded import free_port, moto_server
from devtools.demo.receiver import Receiver, new_receiver, serving
from tests.gateway_sim import Simulator, running_simulator
from tests.integration.relay_support import RelayWorld, new_world, running_relay
from tests.support import ApiProcess, Merchant, pix_intent, start_api, start_role, wait_for

TIMEOUT_SECONDS = 90.0
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")
EVENTS_OF_A_PAID_PIX = [
    "payment_intent.created",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.succeeded",
]


@dataclass
class Stack:
    world: RelayWorld
    sim: Simulator
    api: ApiProcess
    merchant: Merchant

    def post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.post(
            f"{self.api.url}{path}",
            json=body,
            headers={**self.merchant.headers, **(headers or {})},
            timeout=10,
        )

    def status(self, intent_id: str) -> str:
        response = httpx.get(
            f"{self.api.url}/v1/payment_intents/{intent_id}", headers=self.merchant.headers
        )
        return str(response.json()["status"])


def _worker(name: str, env: dict[str, str]) -> AbstractContextManager[Any]:
    port = free_port()
    worker_env = {
        **env,
        "PIXWAVE_WORKER_METRICS_PORT": str(port),
        "PIXWAVE_WORKER_RECEIVE_WAIT_SECONDS": "1",
    }
    return start_role(["worker", name], worker_env, f"http://127.0.0.1:{port}/metrics")


@pytest.fixture(scope="module")
def stack(service_env: dict[str, str]) -> Iterator[Stack]:
    with ExitStack() as stack:
        world = new_world(service_env, stack.enter_context(moto_server()))
        api_port = free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        sim = stack.enter_context(running_simulator(efi_webhook_url=f"{api_url}/v1/callbacks/efi"))
        env = {
            **world.env,
            **sim.gateway_env(),
            "PIXWAVE_PUBLIC_BASE_URL": api_url,
            "PIXWAVE_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        }
        api = stack.enter_context(start_api(env, port=api_port))
        stack.enter_context(running_relay(world))
        for name in ("charge", "webhooks"):
            stack.enter_context(_worker(name, env))
        merchant = Merchant(
            **json.loads(world.pixwave("merchants", "create", "--name", "Loja", "--json"))
        )
        yield Stack(world, sim, api, merchant)


def _trace_and_span(header: str) -> tuple[str, str]:
    found = TRACEPARENT.match(header)
    assert found is not None, header
    return found[1], found[2]


def _types(receiver: Receiver) -> list[str]:
    return sorted(r.event["type"] for r in receiver.received)


def test_one_trace_runs_from_the_post_to_the_last_webhook(stack: Stack) -> None:
    trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    with serving(new_receiver()) as receiver:
        response = stack.post(
            "/v1/webhook_endpoints", {"url": receiver.url, "enabled_events": ["*"]}
        )
        assert response.status_code == 201, response.text
        response = stack.post(
            "/v1/payment_intents",
            pix_intent(),
            headers={"traceparent": f"00-{trace}-{caller_span}-01"},
        )
        assert response.status_code == 201, response.text
        intent_id = response.json()["id"]
        wait_for(lambda: stack.status(intent_id) == "requires_action", timeout=TIMEOUT_SECONDS)
        [(reference,)] = stack.world.rows(
            "SELECT gateway_reference FROM payment_attempts WHERE payment_intent_id = %s",
            (intent_id,),
        )
        # The payer pays; the gateway calls back, and the callback continues the trace.
        stack.sim.admin("POST", f"/pay/mercadopago/{reference}")
        wait_for(lambda: _types(receiver) == EVENTS_OF_A_PAID_PIX, timeout=TIMEOUT_SECONDS)

    stored = stack.world.rows(
        "SELECT event_type, traceparent FROM outbox WHERE aggregate_id = %s ORDER BY position",
        (intent_id,),
    )
    assert [event_type for event_type, _ in stored] == EVENTS_OF_A_PAID_PIX
    event_spans = [_trace_and_span(traceparent) for _, traceparent in stored]
    assert {t for t, _ in event_spans} == {trace}
    assert len({s for _, s in event_spans} | {caller_span}) == len(event_spans) + 1
    delivered = [_trace_and_span(r.headers["traceparent"]) for r in receiver.received]
    assert {t for t, _ in delivered} == {trace}  # every delivery, the last one too
    assert caller_span not in {s for _, s in delivered}
