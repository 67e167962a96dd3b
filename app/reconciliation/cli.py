"""`pixwave reconcile --date D [--gateway NAME] [--json]` and `pixwave reconcile show
RUN_ID`. Exit codes: 0 every gateway's day is clean, 1 something did not match, 2 a
gateway's books could not be read (or nothing to reconcile: no gateway configured)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

import typer

from app.cli_support import settings_with
from app.db.money_models import ReconciliationRun
from app.db.session import create_engine, open_uow, session_factory
from app.db.uow import unit_of_work_factory
from app.domain.reconciliation import RunStatus
from app.gateways.port import GatewayName
from app.gateways.registry import open_gateways
from app.reconciliation.schemas import run_view
from app.reconciliation.service import books_of, get_run, reconcile_day

reconcile_cli = typer.Typer(help="Match each gateway's books for a day against ours.")
EXIT_CODES = {RunStatus.CLEAN: 0, RunStatus.UNMATCHED: 1, RunStatus.FAILED: 2}
JsonOption = Annotated[bool, typer.Option("--json", help="JSON on stdout")]
COLUMNS = (
    ("matched", "matched"),
    ("missing ours", "missing_ours"),
    ("missing theirs", "missing_theirs"),
    ("mismatched", "amount_mismatch"),
    ("duplicates", "duplicates"),
    ("outside window", "outside_window"),
    ("difference", "difference"),
)
ITEM_COLUMNS = ("category", "kind", "reference", "ours", "theirs", "occurred_at", "our_id")


@reconcile_cli.callback(invoke_without_command=True)
def reconcile(
    context: typer.Context,
    day: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="The day (Brasília time)"),
    ] = None,
    gateway: Annotated[GatewayName | None, typer.Option(help="This gateway only")] = None,
    as_json: JsonOption = False,
) -> None:
    """Reconcile a day at every configured gateway (or one), store each run and alert
    when one is not clean; exit 0 clean, 1 unmatched, 2 a read failed."""
    if context.invoked_subcommand is not None:
        return
    if day is None:
        typer.echo("error: --date YYYY-MM-DD is required (or `show RUN_ID`)", err=True)
        raise typer.Exit(2)
    settings = settings_with("database_url")

    async def run() -> list[ReconciliationRun]:
        engine = create_engine(settings)
        gateways = open_gateways(settings)
        try:
            if not books_of(gateways, gateway):
                return []
            new_uow = unit_of_work_factory(session_factory(engine))
            return await reconcile_day(new_uow, gateways, day.date(), only=gateway)
        finally:
            await gateways.close()
            await engine.dispose()

    runs = asyncio.run(run())
    if not runs:
        typer.echo(f"error: no configured gateway reads its books ({gateway or 'any'})", err=True)
        raise typer.Exit(2)
    _print(runs, as_json)
    raise typer.Exit(max(EXIT_CODES[RunStatus(r.status)] for r in runs))


@reconcile_cli.command("show")
def show(run_id: Annotated[str, typer.Argument(help="rec_…")], as_json: JsonOption = False) -> None:
    """A stored run and its unmatched records; exit as the run did."""
    settings = settings_with("database_url")

    async def read() -> ReconciliationRun | None:
        async with open_uow(settings) as uow:
            return await get_run(uow, run_id)

    found = asyncio.run(read())
    if found is None:
        typer.echo(f"error: no reconciliation run {run_id}", err=True)
        raise typer.Exit(2)
    _print([found], as_json)
    raise typer.Exit(EXIT_CODES[RunStatus(found.status)])


def _print(runs: list[ReconciliationRun], as_json: bool) -> None:
    views = [run_view(run) for run in runs]
    if as_json:
        typer.echo(json.dumps(views, indent=2))
        return
    for view in views:
        _print_run(view)


def _print_run(view: dict[str, Any]) -> None:
    typer.echo(f"{view['gateway']} {view['day']} ({view['id']}): {view['status']}")
    if view["error"]:
        typer.echo(f"  error: {view['error']}")
        return
    counts = view["counts"]
    typer.echo("  " + "  ".join(f"{label} {counts[key]}" for label, key in COLUMNS))
    if view["items"]:
        _print_table(
            [list(ITEM_COLUMNS)] + [[_cell(i[c]) for c in ITEM_COLUMNS] for i in view["items"]]
        )


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def _print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo(("  " + "  ".join(cells)).rstrip())
