"""`pixwave topology …`, `pixwave outbox …` and `pixwave relay`."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated

import typer

from app.cli_support import load_settings, settings_with
from app.db.session import open_uow
from app.logs import configure_logging
from app.roles import run_role
from app.settings import Settings
from app.telemetry import configure_tracing
from outbox.apply import Change
from outbox.repository import OutboxRepository
from outbox.service import apply_topology, destroy_topology, serve_relay, topology_of

topology_cli = typer.Typer(help="The SNS/SQS topology, declared in outbox/topology.py.")
outbox_cli = typer.Typer(help="The transactional outbox.")


EndpointUrl = Annotated[str | None, typer.Option(help="SNS/SQS endpoint (moto, LocalStack)")]


def _settings_at(endpoint_url: str | None) -> Settings:
    settings = load_settings()
    if endpoint_url is None:
        return settings
    return settings.model_copy(update={"aws_endpoint_url": endpoint_url})


@topology_cli.command("apply")
def topology_apply(endpoint_url: EndpointUrl = None) -> None:
    """Create or update topics, queues, DLQs and subscriptions; a second run changes nothing."""
    _echo_changes(apply_topology(_settings_at(endpoint_url)))


@topology_cli.command("destroy")
def topology_destroy(
    yes: Annotated[bool, typer.Option("--yes", help="Really delete them")] = False,
    endpoint_url: EndpointUrl = None,
) -> None:
    """Delete the topics, queues and DLQs of this prefix, with the messages in them."""
    settings = _settings_at(endpoint_url)
    if not yes:
        typer.echo(
            f"This deletes every queue and topic named {settings.name_prefix}-*, and the "
            "messages in them; run again with --yes.",
            err=True,
        )
        raise typer.Exit(2)
    _echo_changes(destroy_topology(settings))


def _echo_changes(changes: list[Change]) -> None:
    for change in changes:
        detail = f" ({change.detail})" if change.detail else ""
        typer.echo(f"{change.action:<9} {change.kind:<12} {change.name}{detail}")


@topology_cli.command("show")
def topology_show(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the declared topology."""
    declared = topology_of(load_settings()).to_dict()
    if as_json:
        typer.echo(json.dumps(declared, indent=2))
        return
    for topic, name in declared["topics"].items():
        typer.echo(f"topic  {topic:<7} {name}")
    for queue in declared["queues"]:
        typer.echo(
            f"queue  {queue['name']} (dlq {queue['dlq_name']}, "
            f"maxReceiveCount {queue['max_receive_count']}, "
            f"visibility {queue['visibility_timeout_seconds']} s)"
        )
    for sub in declared["subscriptions"]:
        typer.echo(f"sub    {sub['topic']} -> {sub['queue']}: {', '.join(sub['event_types'])}")


@outbox_cli.command("status")
def outbox_status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Unpublished rows, the age of the oldest, and parked rows."""
    settings = settings_with("database_url")

    async def read() -> dict[str, float | int]:
        async with open_uow(settings) as uow:
            return asdict(await OutboxRepository(uow.session).lag())

    lag = asyncio.run(read())
    if as_json:
        typer.echo(json.dumps(lag))
    else:
        typer.echo(
            f"unpublished {lag['unpublished']}  oldest {lag['oldest_age_seconds']:.1f} s  "
            f"parked {lag['parked']}"
        )


@outbox_cli.command("replay")
def outbox_replay(
    aggregate: Annotated[str | None, typer.Option(help="An aggregate id (pi_…, re_…)")] = None,
    since: Annotated[datetime | None, typer.Option(help="Events created at or after (ISO)")] = None,
) -> None:
    """Publish events again (consumers deduplicate by event id); also releases parked rows."""
    if aggregate is None and since is None:
        typer.echo("error: give --aggregate or --since", err=True)
        raise typer.Exit(2)
    settings = settings_with("database_url")

    async def replay() -> int:
        async with open_uow(settings) as uow:
            count = await OutboxRepository(uow.session).replay(aggregate_id=aggregate, since=since)
            await uow.commit()
        return count

    typer.echo(f"{asyncio.run(replay())} events queued for publishing again")


def relay() -> None:
    """Publish committed outbox rows to SNS."""
    settings = settings_with("database_url")
    configure_logging(role="relay", level=settings.log_level, json_lines=settings.log_json)
    configure_tracing(settings, role="relay")
    run_role(serve_relay(settings))
