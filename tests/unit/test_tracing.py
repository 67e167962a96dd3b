"""W3C trace context: children keep the trace, outbound calls and log lines carry it."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from loguru import logger

from app.gateways.registry import open_gateways
from app.logs import configure_logging
from app.settings import Settings
from app.tracing import (
    TRACEPARENT_HEADER,
    child_of,
    continue_trace,
    current_traceparent,
    send_traceparent,
    trace_id,
)
from workers.runtime.envelope import message_traceparent

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_child_keeps_the_trace_and_takes_a_new_span() -> None:
    child = child_of(PARENT)
    assert trace_id(child) == TRACE
    assert child != PARENT
    assert child.endswith("-01")


@pytest.mark.parametrize(
    "parent",
    [None, "", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
)
def test_without_a_valid_parent_a_new_trace_starts(parent: str | None) -> None:
    child = child_of(parent)
    assert trace_id(child) is not None
    assert trace_id(child) != TRACE


EXPORT_OFF_CHECK = f"""
from opentelemetry import trace
from app.tracing import continue_trace, trace_id
with continue_trace({PARENT!r}) as outer, continue_trace(outer) as inner:
    assert not trace.get_current_span().is_recording()
assert len({{{PARENT!r}, outer, inner}}) == 3
assert trace_id(outer) == trace_id(inner) == {TRACE!r}
"""


def test_with_export_off_nothing_is_recorded_and_each_hop_is_a_new_span() -> None:
    # In a process of its own: the tracer provider is global, and another test sets one.
    checked = subprocess.run(
        [sys.executable, "-c", EXPORT_OFF_CHECK], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr


def test_continue_trace_holds_for_the_block_only() -> None:
    with continue_trace(PARENT) as span:
        assert current_traceparent.get() == span
        assert trace_id(span) == TRACE
    assert current_traceparent.get() is None


async def test_outbound_calls_carry_the_trace_they_are_made_in() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers[TRACEPARENT_HEADER])
        return httpx.Response(200)

    hooks = {"request": [send_traceparent]}
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer), event_hooks=hooks) as c:
        with continue_trace(PARENT):
            await c.get("http://gateway.test/v1/payments")
    assert trace_id(seen[0]) == TRACE
    assert seen[0] != PARENT


async def test_every_gateway_client_sends_the_trace() -> None:
    gateways = open_gateways(
        Settings(
            mercadopago_access_token="TEST-token",
            mercadopago_webhook_secret="secret",
            efi_client_id="id",
            efi_client_secret="secret",
            efi_pix_key="key@example.com",
            efi_webhook_hmac="hmac",
        )
    )
    try:
        assert gateways.clients
        for client in gateways.clients:
            assert send_traceparent in client.event_hooks["request"]
    finally:
        await gateways.close()


def test_log_lines_carry_the_trace_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(role="test", level="INFO", json_lines=True)
    with continue_trace(PARENT):
        logger.info("traced")
    logger.info("untraced")
    traced, untraced = (
        json.loads(line)["record"]["extra"] for line in capsys.readouterr().out.splitlines()
    )
    assert traced["trace_id"] == TRACE
    assert "trace_id" not in untraced


def test_a_message_names_its_traceparent_raw_or_wrapped_by_sns() -> None:
    raw = {"Body": "{}", "MessageAttributes": {"traceparent": {"StringValue": PARENT}}}
    wrapped = {
        "Body": json.dumps(
            {
                "Type": "Notification",
                "Message": "{}",
                "MessageAttributes": {"traceparent": {"Type": "String", "Value": PARENT}},
            }
        )
    }
    assert message_traceparent(raw) == message_traceparent(wrapped) == PARENT
    assert message_traceparent({"Body": "not json"}) is None
