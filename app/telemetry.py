"""Turn OpenTelemetry export on for one role, when a collector is configured.

Off (the default), OTel's API stays the no-op it is out of the box: app/tracing.py
still carries the W3C context, and nothing is recorded or sent.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from app.settings import Settings

STANDARD_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
TRACES_PATH = "/v1/traces"


def configure_tracing(settings: Settings, *, role: str) -> bool:
    """Export this role's spans as service ``pixwave-<role>``; False when export is off."""
    exporter = _exporter(settings)
    if exporter is None:
        return False
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"pixwave-{role}"}))
    # Batched in a thread of its own; OTEL_BSP_* tune it, OTEL_TRACES_SAMPLER samples.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True


def _exporter(settings: Settings) -> OTLPSpanExporter | None:
    endpoint = settings.otel_exporter_otlp_endpoint
    if endpoint:
        return OTLPSpanExporter(endpoint=endpoint.rstrip("/") + TRACES_PATH)
    if any(os.environ.get(name) for name in STANDARD_ENDPOINTS):
        return OTLPSpanExporter()  # reads them itself, as the OTel spec says
    return None
