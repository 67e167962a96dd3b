"""The `pixwave` command."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer
import uvicorn

from app.api.app import create_app
from app.cli_support import load_settings, operator_message, settings_with
from app.db import migrate
from app.db.session import open_uow
from app.domain.errors import InvalidRequest, NotFound
from app.gateways_cli import gateways_cli
from app.ledger.cli import ledger_cli
from app.logs import configure_logging
from app.merchants.repository import ApiKeyRepository, MerchantRepository
from app.merchants.service import (
    IssuedKey,
    create_merchant,
    issue_api_key,
    set_gateway_priority,
)
from app.operators.cli import dlq_cli, queues_cli
from app.reconciliation.cli import reconcile_cli
from app.reviews.cli import reviews_cli
from app.risk.cli import risk_cli
from app.scheduler.service import scheduler
from app.telemetry import configure_tracing
from app.webhooks.cli import webhooks_cli
from devtools.chaos.cli import chaos
from devtools.demo.cli import demo
from gatewaysim.cli import faults_cli, gateway_sim, gateway_sim_pay
from outbox.cli import outbox_cli, relay, topology_cli
from workers.cli import worker

cli = typer.Typer(help="PixWave: payment intents over a transactional outbox on SNS/SQS.")
merchants_cli = typer.Typer(help="Merchants and their API keys.")
keys_cli = typer.Typer(help="API keys.")
db_cli = typer.Typer(help="Database schema.")
cli.add_typer(merchants_cli, name="merchants")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(db_cli, name="db")
cli.add_typer(topology_cli, name="topology")
cli.add_typer(outbox_cli, name="outbox")
cli.command("relay")(relay)
cli.command("worker")(worker)
cli.command("scheduler")(scheduler)
cli.command("gateway-sim")(gateway_sim)
cli.command("gateway-sim-pay")(gateway_sim_pay)
cli.add_typer(faults_cli, name="gateway-sim-faults")
cli.add_typer(webhooks_cli, name="webhooks")
cli.command("demo")(demo)
cli.command("chaos")(chaos)
cli.add_typer(dlq_cli, name="dlq")
cli.add_typer(queues_cli, name="queues")
cli.add_typer(gateways_cli, name="gateways")
cli.add_typer(ledger_cli, name="ledger")
cli.add_typer(risk_cli, name="risk")
cli.add_typer(reviews_cli, name="reviews")
cli.add_typer(reconcile_cli, name="reconcile")


@cli.command()
def up(
    json_logs: Annotated[bool, typer.Option("--json", help="Raw JSON log lines")] = False,
    charge_workers: Annotated[
        int | None,
        typer.Option(min=1, max=16, help="Charge worker processes [PIXWAVE_UP_CHARGE_WORKERS]"),
    ] = None,
    webhook_workers: Annotated[
        int | None,
        typer.Option(min=1, max=16, help="Webhook worker processes [PIXWAVE_UP_WEBHOOK_WORKERS]"),
    ] = None,
) -> None:
    """Run the whole system; services that are not configured start embedded."""
    from app import supervisor

    supervisor.stop_on_signals()
    settings = load_settings(beside_up=False)
    counts = {"up_charge_workers": charge_workers, "up_webhook_workers": webhook_workers}
    settings = settings.model_copy(update={k: v for k, v in counts.items() if v is not None})
    configure_logging(role="up", level=settings.log_level, json_lines=json_logs)
    supervisor.run(settings, json_logs=json_logs)


@cli.command()
def api() -> None:
    """Serve the HTTP API against the configured services."""
    settings = settings_with("database_url", "redis_url", "document_key")
    configure_logging(role="api", level=settings.log_level, json_lines=settings.log_json)
    configure_tracing(settings, role="api")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration."""
    settings = settings_with("database_url")
    assert settings.database_url is not None
    migrate.upgrade(settings.database_url)


@merchants_cli.command("create")
def merchants_create(
    name: Annotated[str, typer.Option(help="Display name")],
    live: Annotated[bool, typer.Option("--live", help="Live mode: real money, https only")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a merchant and its first API key (printed once, stored only as a hash)."""
    settings = settings_with("database_url")

    async def create() -> dict[str, str]:
        async with open_uow(settings) as uow:
            issued = await create_merchant(uow, name, livemode=live)
            await uow.commit()
        return {
            "merchant_id": issued.merchant_id,
            "key_id": issued.key_id,
            "api_key": issued.secret,
        }

    result = asyncio.run(create())
    if as_json:
        typer.echo(json.dumps(result))
    else:
        typer.echo(f"merchant {result['merchant_id']}\nkey {result['key_id']}: {result['api_key']}")
        typer.echo("Store the key now: it is not shown again.")


@merchants_cli.command("priority")
def merchants_priority(
    merchant_id: str,
    gateways: Annotated[
        str | None, typer.Option("--set", help="Gateways first to last, e.g. efi,mercadopago")
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Back to PIXWAVE_GATEWAY_PRIORITY")
    ] = False,
) -> None:
    """Show or set the order in which a merchant's intents try gateways."""
    settings = settings_with("database_url")

    async def apply() -> list[str] | None:
        async with open_uow(settings) as uow:
            if gateways is None and not clear:
                merchant = await uow.repository(MerchantRepository).get(merchant_id)
                if merchant is None:
                    raise NotFound(f"No merchant {merchant_id}.", param="merchant")
                return merchant.gateway_priority
            names = gateways.split(",") if gateways is not None and not clear else None
            merchant = await set_gateway_priority(uow, merchant_id, names)
            await uow.commit()
            return merchant.gateway_priority

    try:
        priority = asyncio.run(apply())
    except (InvalidRequest, NotFound) as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    shown = ",".join(priority) if priority else f"default ({settings.gateway_priority})"
    typer.echo(f"{merchant_id} gateway priority: {shown}")


@keys_cli.command("create")
def keys_create(merchant_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Another API key for a merchant (shown once): rotate, then revoke the old one."""
    settings = settings_with("database_url")

    async def create() -> IssuedKey:
        async with open_uow(settings) as uow:
            merchant = await uow.repository(MerchantRepository).get(merchant_id)
            if merchant is None:
                raise NotFound(f"No merchant {merchant_id}.", param="merchant")
            issued = issue_api_key(uow, merchant.id, livemode=merchant.livemode)
            await uow.commit()
        return issued

    try:
        issued = asyncio.run(create())
    except NotFound as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps({"key_id": issued.key_id, "api_key": issued.secret}))
    else:
        typer.echo(
            f"key {issued.key_id}: {issued.secret}\nStore the key now: it is not shown again."
        )


@keys_cli.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key at once."""
    settings = settings_with("database_url")

    async def revoke() -> bool:
        async with open_uow(settings) as uow:
            revoked = await uow.repository(ApiKeyRepository).revoke(key_id)
            await uow.commit()
        return revoked

    if not asyncio.run(revoke()):
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


def main() -> None:
    try:
        cli()
    except Exception as exc:
        message = operator_message(exc)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
