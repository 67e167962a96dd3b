"""`pixwave demo`: against the system `pixwave up` runs, or any PixWave you point it at."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from app.settings import get_settings
from app.supervisor import DEMO_KEY_FILE, UP_FILE
from devtools.demo.driver import GATEWAYS, DemoError, Method, Plan, run
from devtools.demo.report import summarize, table


def demo(
    count: Annotated[int, typer.Option(min=1, max=100_000, help="Intents to create")] = 50,
    method: Annotated[str, typer.Option(help="pix or card")] = "pix",
    fail_primary: Annotated[
        float, typer.Option(min=0, max=100, help="Percent of primary-gateway calls that fail")
    ] = 0.0,
    primary: Annotated[str, typer.Option(help="The gateway --fail-primary breaks")] = GATEWAYS[0],
    rate: Annotated[
        float | None, typer.Option(min=0.1, help="Intents created per second (default: flat out)")
    ] = None,
    api_url: Annotated[str | None, typer.Option(help="Default: the one `pixwave up` runs")] = None,
    api_key: Annotated[str | None, typer.Option(help="Default: the demo merchant's")] = None,
    sim_url: Annotated[str | None, typer.Option(help="Gateway simulator (faults, payers)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    payout: Annotated[
        int,
        typer.Option(
            min=0,
            help="Then settle the funds and pay this many centavos out to a Pix key, "
            "showing the available balance before and after (PIX only)",
        ),
    ] = 0,
) -> None:
    """Register a local webhook receiver, create intents, let simulated payers pay PIX
    charges, and report statuses, gateways, fallbacks, webhooks and latency; with
    --payout, then pay some of the money out."""
    if method not in ("pix", "card") or primary not in GATEWAYS:
        typer.echo(f"error: --method is pix or card; --primary one of {GATEWAYS}", err=True)
        raise typer.Exit(2)
    if payout and method != "pix":
        typer.echo("error: --payout needs --method pix (card funds settle after 30 days)", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    running = _running_system(settings.data_dir)
    plan = Plan(
        api_url=api_url or _required(running, "api_url"),
        api_key=api_key or _required(running, "api_key"),
        sim_url=sim_url or running.get("gateway_sim_url"),
        count=count,
        method=_method(method),
        fail_primary_percent=fail_primary,
        primary=primary,
        rate_per_second=rate,
        payout_amount=payout,
        database_url=settings.database_url,
    )
    console = Console(stderr=as_json)
    with Progress(console=console, transient=as_json) as bar:
        task = bar.add_task("intents ended", total=count)
        try:
            outcome = asyncio.run(run(plan, lambda done, _: bar.update(task, completed=done)))
        except DemoError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    summary = summarize(outcome)
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(table(summary))


def _method(name: str) -> Method:
    return "pix" if name == "pix" else "card"


def _running_system(data_dir: Path) -> dict[str, Any]:
    """What `pixwave up` wrote for other commands: its URLs and the demo merchant's key."""
    found: dict[str, Any] = {}
    for name in (UP_FILE, DEMO_KEY_FILE):
        path = data_dir / name
        if path.exists():
            found |= json.loads(path.read_text())
    if "secret" in found:
        found["api_key"] = found.pop("secret")
    return found


def _required(running: dict[str, Any], key: str) -> str:
    if key not in running:
        option = "--" + key.replace("_", "-")
        typer.echo(f"error: no running `pixwave up` found; give {option}", err=True)
        raise typer.Exit(2)
    return str(running[key])
