"""Running the scheduler as a process: `pixwave scheduler`."""

from __future__ import annotations

from datetime import timedelta

import typer

from app.cli_support import settings_with
from app.db.session import session_factory
from app.db.uow import unit_of_work_factory
from app.gateways.registry import open_gateways
from app.logs import configure_logging
from app.roles import background_role, run_role
from app.scheduler.jobs import JobContext
from app.scheduler.runner import Scheduler
from app.scheduler.schedule import JOBS
from app.security import DocumentCipher
from app.settings import Settings
from app.telemetry import configure_tracing
from outbox.topology import Topology, declare

SECONDS_PER_DAY = 86400


def check_inbox_retention(retention: timedelta, topology: Topology) -> None:
    """An inbox row must outlive every copy of its message (in the queue, then in the
    DLQ and redriven from there), or a late delivery would run its effects twice."""
    longest = topology.longest_message_life_seconds
    if retention.total_seconds() <= longest:
        raise ValueError(
            f"PIXWAVE_INBOX_RETENTION_DAYS must exceed {longest / SECONDS_PER_DAY:g} days, "
            "how long a message can live in a queue and then in its DLQ"
        )


async def serve_scheduler(settings: Settings) -> None:
    async with background_role(settings, metrics_port=settings.scheduler_metrics_port) as (
        engine,
        stop,
    ):
        gateways = open_gateways(settings)
        context = JobContext(
            new_uow=unit_of_work_factory(session_factory(engine)),
            gateways=gateways,
            stop=stop,
            inbox_retention=settings.inbox_retention,
            cipher=DocumentCipher(settings.document_key_bytes()) if settings.document_key else None,
        )
        try:
            await Scheduler(JOBS, context).run()
        finally:
            await gateways.close()


def scheduler() -> None:
    """Run the periodic jobs: expire PIX intents, follow up stuck ones, purge old rows."""
    settings = settings_with("database_url")
    try:
        check_inbox_retention(
            settings.inbox_retention, declare(prefix=settings.name_prefix, fifo=settings.fifo)
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    configure_logging(role="scheduler", level=settings.log_level, json_lines=settings.log_json)
    configure_tracing(settings, role="scheduler")
    run_role(serve_scheduler(settings))
