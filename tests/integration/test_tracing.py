"""One W3C trace from the merchant's POST to the last webhook: through the outbox, the
relay, the charge worker and its gateway call, the gateway's callback, and every
webhook delivery; and the OpenTelemetry spans every role exports of it (to an in-memory
OTLP collector in this process, tests/otlp_collector.py) form one tree."""

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
from tests.otlp_collector import CollectedSpan, Collector, running_collector
from tests.support import (
    VALID_CPF,
    ApiProcess,
    Merchant,
    pix_intent,
    start_api,
    start_role,
    wait_for,
)

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
    collector: Collector

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
    with ExitStack() as stack, pytest.MonkeyPatch.context() as environment:
        # Every role exports its spans to the collector here, soon after each ends.
        collector = stack.enter_context(running_collector())
        environment.setenv("PIXWAVE_OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        environment.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
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
        yield Stack(world, sim, api, merchant, collector)


def _trace_and_span(header: str) -> tuple[str, str]:
    found = TRACEPARENT.match(header)
    assert found is not None, header
    return found[1], found[2]


def _types(receiver: Receiver) -> list[str]:
    return sorted(r.event["type"] for r in receiver.received)


@dataclass(frozen=True)
class PaidPix:
    intent_id: str
    trace: str
    caller_span: str
    delivered: list[tuple[str, str]]  # each webhook's (trace id, span id), as received


@pytest.fixture(scope="module")
def paid(stack: Stack) -> PaidPix:
    """One PIX paid end to end, under a caller's traceparent."""
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
        delivered = [_trace_and_span(r.headers["traceparent"]) for r in receiver.received]
    return PaidPix(intent_id, trace, caller_span, delivered)


def test_one_trace_runs_from_the_post_to_the_last_webhook(stack: Stack, paid: PaidPix) -> None:
    stored = stack.world.rows(
        "SELECT event_type, traceparent FROM outbox WHERE aggregate_id = %s ORDER BY position",
        (paid.intent_id,),
    )
    assert [event_type for event_type, _ in stored] == EVENTS_OF_A_PAID_PIX
    event_spans = [_trace_and_span(traceparent) for _, traceparent in stored]
    assert {t for t, _ in event_spans} == {paid.trace}
    assert len({s for _, s in event_spans} | {paid.caller_span}) == len(event_spans) + 1
    assert {t for t, _ in paid.delivered} == {paid.trace}  # every delivery, the last one too
    assert paid.caller_span not in {s for _, s in paid.delivered}


def _in_trace(collector: Collector, trace: str) -> dict[str, CollectedSpan]:
    return {s.span_id: s for s in collector.collected() if s.trace_id == trace}


def _ancestry(span: CollectedSpan, spans: dict[str, CollectedSpan]) -> list[CollectedSpan]:
    """The span, its parent, and so on up to the trace's root."""
    chain = [span]
    while chain[-1].parent_span_id in spans:
        chain.append(spans[chain[-1].parent_span_id])
    return chain


def _hops(chain: list[CollectedSpan]) -> list[tuple[str, str]]:
    """(service, kind) of the spans that pass work on from process to process, root first."""
    passing = {"SPAN_KIND_SERVER", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER", "SPAN_KIND_CLIENT"}
    return [
        (s.service, s.kind.removeprefix("SPAN_KIND_")) for s in reversed(chain) if s.kind in passing
    ]


def test_the_spans_of_a_paid_pix_form_one_tree_across_every_role(
    stack: Stack, paid: PaidPix
) -> None:
    collector = stack.collector
    delivered_spans = {span for _, span in paid.delivered}
    # Roles export in batches: wait until the last webhook POST's span is in.
    wait_for(
        lambda: delivered_spans <= set(_in_trace(collector, paid.trace)), timeout=TIMEOUT_SECONDS
    )
    spans = _in_trace(collector, paid.trace)

    # One tree: a single root, the API's span under the caller's, every other span's
    # parent collected too.
    roots = [s for s in spans.values() if s.parent_span_id not in spans]
    assert [(r.service, r.kind, r.parent_span_id) for r in roots] == [
        ("pixwave-api", "SPAN_KIND_SERVER", paid.caller_span)
    ]
    assert roots[0].name == "POST /v1/payment_intents"
    assert roots[0].attributes["http.response.status_code"] == 201

    # API request -> outbox -> relay publish -> charge worker -> gateway call.
    [charge] = [
        s
        for s in spans.values()
        if s.attributes.get("pixwave.gateway.operation") == "POST /v1/payments"
    ]
    assert charge.kind == "SPAN_KIND_CLIENT"
    assert charge.attributes["pixwave.gateway"] == "mercadopago"
    assert charge.attributes["pixwave.outcome"] == "answered"
    assert _hops(_ancestry(charge, spans)) == [
        ("pixwave-api", "SERVER"),
        ("pixwave-api", "PRODUCER"),
        ("pixwave-relay", "PRODUCER"),
        ("pixwave-worker-charge", "CONSUMER"),
        ("pixwave-worker-charge", "CLIENT"),
    ]
    write, publish, process = (
        s
        for s in reversed(_ancestry(charge, spans))
        if s.kind in {"SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"}
    )
    assert write.name == "outbox.write payment_intent.created"
    assert write.attributes["pixwave.aggregate.id"] == paid.intent_id
    assert publish.attributes["pixwave.event.id"] == write.attributes["pixwave.event.id"]
    assert process.attributes["pixwave.outcome"] == "handled"
    # The worker's receive is a span of its own, linked to the message it brought.
    assert any(
        (paid.trace, publish.span_id) in s.links
        for s in collector.collected()
        if s.service == "pixwave-worker-charge" and s.name.startswith("receive ")
    )

    # ... and every webhook POST is a span of the tree, the one the merchant was sent.
    posts = [s for s in spans.values() if s.name == "webhook POST"]
    assert {s.span_id for s in posts} == delivered_spans
    for post in posts:
        assert post.service == "pixwave-worker-webhooks"
        assert post.attributes["http.response.status_code"] == 200
        assert _ancestry(post, spans)[-1] == roots[0]
    # The callback's effects (the last event) hang under the intent's request too.
    [succeeded] = [s for s in spans.values() if s.name == "outbox.write payment_intent.succeeded"]
    assert _ancestry(succeeded, spans)[-1] == roots[0]


def test_statements_are_spans_without_their_parameters(stack: Stack, paid: PaidPix) -> None:
    statements = [
        s
        for s in stack.collector.collected()
        if s.trace_id == paid.trace and "db.query.text" in s.attributes
    ]
    assert any(s.attributes["db.query.text"].startswith("INSERT INTO outbox") for s in statements)
    every_value = " ".join(
        str(v) for s in stack.collector.collected() for v in s.attributes.values()
    )
    assert VALID_CPF not in every_value
    assert re.sub(r"\D", "", VALID_CPF) not in every_value
    assert "Maria Silva" not in every_value
