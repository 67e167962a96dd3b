"""`pixwave ledger …`: settle pending funds now, post payments made before the ledger,
set fees, check the books."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy.exc import IntegrityError

from app.cli_support import settings_with
from app.db.session import create_engine, open_uow, session_factory
from app.db.uow import unit_of_work_factory
from app.domain.intents import PaymentMethodType
from app.domain.ledger import Pricing
from app.ledger.repository import LedgerRepository
from app.ledger.service import backfill, check_books, settle_due_balances

ledger_cli = typer.Typer(help="The ledger: balances, settlement, fees.")
BATCH = 500


@ledger_cli.command("settle")
def settle(
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            help="Settle what is due by this moment (UTC) instead of now; a future one "
            "settles test-mode balances only (dev stacks: card funds without waiting 30 days)",
        ),
    ] = None,
) -> None:
    """Make pending funds that are due available now, as the scheduler's
    ``settle_balances`` does; safe to repeat."""
    settings = settings_with("database_url")
    now = datetime.now(UTC)
    moment = now if as_of is None else as_of.replace(tzinfo=as_of.tzinfo or UTC)

    async def run() -> int:
        engine = create_engine(settings)
        new_uow = unit_of_work_factory(session_factory(engine))
        total = 0
        try:
            while settled := await settle_due_balances(
                new_uow, moment, BATCH, test_only=moment > now
            ):
                total += settled
        finally:
            await engine.dispose()
        return total

    typer.echo(f"settled {asyncio.run(run())} balances as of {moment.isoformat()}")


@ledger_cli.command("backfill")
def backfill_command() -> None:
    """Post the entries of succeeded payments and their refunds that have none (made
    before the ledger); a second run posts nothing."""
    settings = settings_with("database_url")

    async def run() -> tuple[int, int, list[str]]:
        charges = refunds = 0
        refused: list[str] = []
        while True:
            async with open_uow(settings) as uow:
                done = await backfill(uow, BATCH)
                await uow.commit()
            charges, refunds = charges + done.charges, refunds + done.refunds
            refused = done.refused
            if done.charges == 0 and done.refunds == 0:
                return charges, refunds, refused

    charges, refunds, refused = asyncio.run(run())
    typer.echo(f"posted {charges} payments and {refunds} refunds")
    for refund in refused:
        typer.echo(f"refused {refund}: the merchant's balance does not cover it", err=True)
    if refused:
        raise typer.Exit(1)


@ledger_cli.command("fees")
def fees(
    method: Annotated[PaymentMethodType, typer.Argument(help="pix or card")],
    basis_points: Annotated[int, typer.Option("--basis-points", min=0, max=10_000)],
    fixed: Annotated[int, typer.Option("--fixed", min=0, help="Fixed fee in centavos")] = 0,
    delay_days: Annotated[
        int, typer.Option("--settlement-days", min=0, max=365, help="Days funds stay pending")
    ] = 0,
    merchant: Annotated[
        str | None, typer.Option(help="This merchant only (default: the platform's)")
    ] = None,
) -> None:
    """Set the fee and settlement delay of a method, for one merchant or the platform."""
    settings = settings_with("database_url")
    pricing = Pricing(basis_points, fixed, delay_days)

    async def run() -> None:
        async with open_uow(settings) as uow:
            await uow.repository(LedgerRepository).set_pricing(merchant, method, pricing)
            await uow.commit()

    try:
        asyncio.run(run())
    except IntegrityError as exc:
        typer.echo(f"error: no merchant {merchant}", err=True)
        raise typer.Exit(2) from exc
    who = merchant or "the platform"
    typer.echo(f"{who}: {method.value} {basis_points} bp + {fixed}, settled after {delay_days} d")


@ledger_cli.command("check")
def check() -> None:
    """Exit 1 naming what is wrong if an entry does not sum to zero or a merchant
    account is below zero."""
    settings = settings_with("database_url")

    async def run() -> list[str]:
        async with open_uow(settings) as uow:
            return await check_books(uow)

    problems = asyncio.run(run())
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("the books balance")
