"""With an SDK installed (export on), the spans app/tracing.py opens are recorded, under
the traceparent it keeps: checked with OTel's in-memory exporter.

OTel takes one tracer provider per process: once this module has set it, the rest of
the process records spans too (nothing exports them), as a role with export on does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from app.tracing import (
    continue_trace,
    current_traceparent,
    record_span,
    trace_id,
    traced,
)

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
EXPORTER = InMemorySpanExporter()


@pytest.fixture
def recorded() -> Iterator[InMemorySpanExporter]:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)
    EXPORTER.clear()
    yield EXPORTER
    EXPORTER.clear()


def _ids(span: ReadableSpan) -> tuple[str, str]:
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def test_a_span_is_the_child_of_the_traceparent_and_becomes_it(
    recorded: InMemorySpanExporter,
) -> None:
    with continue_trace(PARENT, "process q", kind=SpanKind.CONSUMER) as own:
        with traced("mercadopago POST /v1/payments", kind=SpanKind.CLIENT) as inner:
            assert current_traceparent.get() == inner
        assert current_traceparent.get() == own
    client, consumer = recorded.get_finished_spans()
    assert _ids(consumer) == (TRACE, own.split("-")[2])
    assert consumer.parent is not None
    assert f"{consumer.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert consumer.kind is SpanKind.CONSUMER
    assert _ids(client) == (TRACE, inner.split("-")[2])
    assert client.parent is not None
    assert client.parent.span_id == consumer.context.span_id


def test_without_a_valid_parent_a_span_starts_a_trace(recorded: InMemorySpanExporter) -> None:
    with continue_trace("garbage") as own:
        pass
    [span] = recorded.get_finished_spans()
    assert span.parent is None
    assert trace_id(own) == f"{span.context.trace_id:032x}" != TRACE


def test_a_failure_is_named_never_quoted(recorded: InMemorySpanExporter) -> None:
    with pytest.raises(ValueError, match="document"), continue_trace(PARENT):
        raise ValueError("the payer's document 52998224725")
    [span] = recorded.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "ValueError"
    assert span.events == ()  # no exception event, with its message and stack


def test_a_batch_span_links_what_it_carried_in_its_own_trace(
    recorded: InMemorySpanExporter,
) -> None:
    record_span("receive q", started_ns=1, links_to=[PARENT, None, "garbage"])
    [span] = recorded.get_finished_spans()
    assert span.parent is None
    assert f"{span.context.trace_id:032x}" != TRACE
    assert [
        (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") for link in span.links
    ] == [(TRACE, "00f067aa0ba902b7")]
