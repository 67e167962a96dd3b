"""`pixwave worker NAME`."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli_support import settings_with
from app.logs import configure_logging
from app.roles import run_role
from app.telemetry import configure_tracing
from workers.registry import known_consumers
from workers.service import serve_worker


def worker(name: Annotated[str, typer.Argument(help="The consumer to run")]) -> None:
    """Consume one queue with one registered consumer."""
    settings = settings_with("database_url")
    consumers = known_consumers(settings)
    if name not in consumers:
        known = ", ".join(sorted(consumers)) or "none registered yet"
        typer.echo(f"error: unknown consumer {name!r}; known: {known}", err=True)
        raise typer.Exit(2)
    configure_logging(role=f"worker-{name}", level=settings.log_level, json_lines=settings.log_json)
    configure_tracing(settings, role=f"worker-{name}")
    try:
        consumer = consumers[name](settings)
    except ValueError as exc:  # a setting this consumer needs is missing or wrong
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    run_role(serve_worker(settings, consumer))
