"""`pixwave risk rules …`: a merchant's risk rules, for operators."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from app.cli_support import settings_with
from app.db.session import open_uow
from app.domain.errors import InvalidRequest, NotFound
from app.redis_fallback import open_redis
from app.risk import service
from app.risk.schemas import rule_view
from app.risk.service import RiskScreen

risk_cli = typer.Typer(help="Risk rules that screen intents before money moves.")
rules_cli = typer.Typer(help="A merchant's risk rules (docs/risk.md).")
risk_cli.add_typer(rules_cli, name="rules")


def _run(work: Any) -> Any:
    try:
        return asyncio.run(work)
    except (InvalidRequest, NotFound) as exc:
        where = f" ({exc.param})" if exc.param else ""
        typer.echo(f"error{where}: {exc.message}", err=True)
        raise typer.Exit(2) from exc


async def _with_screen(merchant_id: str, work: Any) -> Any:
    settings = settings_with("database_url", "redis_url", "document_key")
    assert settings.redis_url is not None
    redis = open_redis(settings.redis_url)
    try:
        async with open_uow(settings) as uow:
            result = await work(uow, RiskScreen.of(settings, redis))
            await uow.commit()
        return result
    finally:
        await redis.aclose()


@rules_cli.command("list")
def rules_list(merchant_id: str) -> None:
    """The rules screening the merchant's intents, one JSON object a line."""

    async def read(uow: Any, screen: RiskScreen) -> tuple[list[Any], bool]:
        return await service.merchant_rules(uow, merchant_id, defaults_apply=screen.defaults_apply)

    rules, defaults = _run(_with_screen(merchant_id, read))
    if defaults:
        typer.echo("# the default set (the merchant wrote no rules)", err=True)
    for rule in rules:
        typer.echo(json.dumps(rule_view(rule)))


@rules_cli.command("add")
def rules_add(
    merchant_id: str,
    definition: Annotated[str, typer.Argument(help='A rule as JSON: {"type": "velocity", …}')],
) -> None:
    """Add a rule (the merchant's first change copies the default set in)."""
    try:
        body = json.loads(definition)
    except json.JSONDecodeError as exc:
        typer.echo(f"error: not JSON: {exc}", err=True)
        raise typer.Exit(2) from exc

    async def add(uow: Any, screen: RiskScreen) -> Any:
        return await service.add_rule(uow, screen, merchant_id, body)

    typer.echo(json.dumps(rule_view(_run(_with_screen(merchant_id, add)))))


@rules_cli.command("delete")
def rules_delete(merchant_id: str, rule_id: str) -> None:
    """Delete a rule (a default one too)."""

    async def delete(uow: Any, screen: RiskScreen) -> None:
        await service.delete_rule(uow, screen, merchant_id, rule_id)

    _run(_with_screen(merchant_id, delete))
    typer.echo(f"deleted {rule_id}")
