"""W3C trace context (https://www.w3.org/TR/trace-context/) carried through every hop:
a request, the events it writes, the handlers of those events, the gateway calls and
webhook POSTs they make, and the gateway callbacks that come back.

``current_traceparent`` is the span of the work in hand, and the one source of truth:
every span here is an OpenTelemetry span whose parent is read from it (through OTel's
W3C propagator) and whose own context is written back to it, so what a hop sends on
(an outbox row, a message attribute, a header) names a span that exists. With no SDK
configured (export off, the default) OTel's API is a no-op: the span ids are then drawn
here, one new span per hop as before, and nothing is recorded (docs/decisions.md).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection, ExceptionContext

TRACEPARENT_HEADER = "traceparent"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_INVALID_TRACE_ID = "0" * 32
_INVALID_SPAN_ID = "0" * 16
_SAMPLED = "01"
# Span attributes PixWave adds to OTel's semantic conventions; docs/operations.md, Traces.
EVENT_ID = "pixwave.event.id"
EVENT_TYPE = "pixwave.event.type"
AGGREGATE_ID = "pixwave.aggregate.id"
OUTCOME = "pixwave.outcome"
_STATEMENT_SPANS = "pixwave.statement_spans"
MAX_STATEMENT_CHARS = 2000

current_traceparent: ContextVar[str | None] = ContextVar("current_traceparent", default=None)

_TRACER = trace.get_tracer("pixwave")
_PROPAGATOR = TraceContextTextMapPropagator()


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-{_SAMPLED}"


def _valid(header: str | None) -> re.Match[str] | None:
    found = _TRACEPARENT.match(header) if header is not None else None
    if found is None or found[1] == _INVALID_TRACE_ID or found[2] == _INVALID_SPAN_ID:
        return None
    return found


def child_of(parent: str | None) -> str:
    """A new span in ``parent``'s trace (its flags kept); a new trace without one."""
    found = _valid(parent)
    if found is None:
        return new_traceparent()
    return f"00-{found[1]}-{secrets.token_hex(8)}-{found[3]}"


def trace_id(traceparent: str | None) -> str | None:
    found = _valid(traceparent)
    return found[1] if found else None


def _context_of(parent: str | None) -> Context:
    """OTel's context for a ``traceparent``: empty (a new trace) without a valid one."""
    return _PROPAGATOR.extract({TRACEPARENT_HEADER: parent} if _valid(parent) else {})


def _traceparent_of(span: Span, parent: str | None) -> str:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    own = carrier.get(TRACEPARENT_HEADER)
    # The no-op API hands back the parent itself (or nothing): the new span id is drawn here.
    return own if own is not None and own != parent else child_of(parent)


def start_span(
    name: str,
    parent: str | None,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> tuple[Span, str]:
    """A span (the caller ends it) under ``parent``, and the ``traceparent`` naming it."""
    span = _TRACER.start_span(name, _context_of(parent), kind, attributes)
    return span, _traceparent_of(span, parent)


@contextmanager
def continue_trace(
    parent: str | None,
    name: str = "work",
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[str]:
    """Run the block as a new span of ``parent``'s trace (a new trace without one)."""
    if not _exporting():  # OTel's no-op would still cost ten times the ids themselves
        token = current_traceparent.set(child_of(parent))
        try:
            yield current_traceparent.get() or ""
        finally:
            current_traceparent.reset(token)
        return
    span, traceparent = start_span(name, parent, kind=kind, attributes=attributes)
    token = current_traceparent.set(traceparent)
    try:
        # Exceptions are named, never recorded: their text may quote a gateway's answer.
        with trace.use_span(
            span, end_on_exit=True, record_exception=False, set_status_on_exception=False
        ):
            try:
                yield traceparent
            except BaseException as exc:
                failed(type(exc).__name__)
                raise
    finally:
        current_traceparent.reset(token)


def _exporting() -> bool:
    """Whether a tracer provider is set (app/telemetry.py): until then, OTel's API is a
    proxy for a no-op."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


@contextmanager
def traced(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[str]:
    """Run the block as a child span of the work in hand."""
    with continue_trace(
        current_traceparent.get(), name, kind=kind, attributes=attributes
    ) as traceparent:
        yield traceparent


def annotate(attributes: Mapping[str, AttributeValue], *, name: str | None = None) -> None:
    """Add to the span of the work in hand what is known only once it is done."""
    span = trace.get_current_span()
    span.set_attributes(attributes)
    if name is not None:
        span.update_name(name)


def failed(reason: str) -> None:
    """Mark the span of the work in hand as failed."""
    trace.get_current_span().set_status(Status(StatusCode.ERROR, reason))


def record_span(
    name: str,
    *,
    started_ns: int,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
    links_to: Iterable[str | None] = (),
) -> None:
    """A span of its own trace, ended now, linked to the traces of what it carried (a
    claimed batch, a received one): started only once there was something to carry, so
    idle polls leave no trace."""
    if not _exporting():
        return
    links = [
        Link(context)
        for context in (
            trace.get_current_span(_context_of(tp)).get_span_context() for tp in links_to
        )
        if context.is_valid
    ]
    span = _TRACER.start_span(name, Context(), kind, attributes, links=links, start_time=started_ns)
    span.end(time.time_ns())


def event_attributes(event_id: str, event_type: str, aggregate_id: str) -> dict[str, str]:
    return {EVENT_ID: event_id, EVENT_TYPE: event_type, AGGREGATE_ID: aggregate_id}


async def send_traceparent(request: httpx.Request) -> None:
    """An httpx request hook: every outbound call carries the span it is made in."""
    request.headers[TRACEPARENT_HEADER] = current_traceparent.get() or new_traceparent()


def trace_statements(engine: Engine) -> None:
    """A client span per SQL statement run inside a recorded span: the statement's text
    with its placeholders, never its parameters (card data and documents stay out).
    Statements outside any span (the relay's polls, the pool's checks) start no trace."""
    event.listen(engine, "before_cursor_execute", _statement_started)
    event.listen(engine, "after_cursor_execute", _statement_ended)
    event.listen(engine, "handle_error", _statement_failed)


def _statement_started(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    if not trace.get_current_span().is_recording():
        return
    span = _TRACER.start_span(
        statement.split(None, 1)[0].upper() if statement.strip() else "SQL",
        kind=SpanKind.CLIENT,
        attributes={
            "db.system.name": "postgresql",
            "db.query.text": statement[:MAX_STATEMENT_CHARS],
        },
    )
    connection.info.setdefault(_STATEMENT_SPANS, []).append(span)


def _statement_ended(connection: Connection, *_: Any) -> None:
    spans: list[Span] = connection.info.get(_STATEMENT_SPANS, [])
    if spans:
        spans.pop().end()


def _statement_failed(context: ExceptionContext) -> None:
    connection = context.connection
    spans: list[Span] = connection.info.get(_STATEMENT_SPANS, []) if connection else []
    if spans:
        span = spans.pop()
        span.set_status(Status(StatusCode.ERROR, type(context.original_exception).__name__))
        span.end()
