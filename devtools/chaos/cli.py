"""`pixwave chaos`: the chaos run, longer than CI's, with its figures printed."""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from devtools.chaos.fleet import Fleet, new_prefix
from devtools.chaos.run import ChaosPlan, run_chaos


def chaos(
    intents: Annotated[int, typer.Option(min=1, help="PIX intents to create")] = 2000,
    rate: Annotated[float, typer.Option(min=0.1, help="Intents created per second")] = 20.0,
    captures: Annotated[
        int, typer.Option(min=1, help="Manual-capture card intents, captured amid resends")
    ] = 200,
    kill_every: Annotated[
        float, typer.Option(min=0.1, help="Mean seconds between SIGKILLs of relay/workers")
    ] = 5.0,
    aws_outage: Annotated[float, typer.Option(min=0, help="Seconds the AWS API is cut")] = 30.0,
    primary_outage: Annotated[
        float, typer.Option(min=0, help="Seconds the primary gateway is down")
    ] = 30.0,
    redis_outage: Annotated[float, typer.Option(min=0, help="Seconds Redis is cut")] = 30.0,
    settle_timeout: Annotated[float, typer.Option(min=1, help="Seconds to wait after")] = 900.0,
    realistic: Annotated[
        bool,
        typer.Option(
            help="Gateways as they really are: lagging search, 409/423/424, refunds that "
            "settle late, callbacks sent twice and again out of order (docs/reliability.md)"
        ),
    ] = False,
    refunds: Annotated[
        int, typer.Option(min=0, help="With --realistic: payments to refund afterwards")
    ] = 50,
    aws_endpoint: Annotated[
        str | None,
        typer.Option(
            help="An AWS API server of your own over http, e.g. LocalStack "
            "(localstack/run-host.sh), instead of embedded moto; credentials as for "
            "`pixwave up` (PIXWAVE_AWS_ACCESS_KEY_ID/SECRET or AWS_*)",
            metavar="URL",
            envvar="PIXWAVE_AWS_ENDPOINT_URL",
        ),
    ] = None,
    charge_workers: Annotated[
        int, typer.Option(min=1, max=16, help="Charge worker processes (as `pixwave up`)")
    ] = 2,
    webhook_workers: Annotated[
        int, typer.Option(min=1, max=16, help="Webhook worker processes (as `pixwave up`)")
    ] = 1,
) -> None:
    """Run the whole system on embedded services (or --aws-endpoint) in a scratch
    directory, the roles of `pixwave up`, under a fresh name prefix; break it while
    PIX intents flow and card intents are captured, then check: every intent ended,
    every event published and delivered, no intent paid twice, every capture answered
    200 captured with its amount, no intent moved backwards, every refund counted once
    (--realistic), no DLQ message but the injected poison."""
    plan = ChaosPlan(
        intents=intents,
        rate_per_second=rate,
        captures=captures,
        kill_every_seconds=kill_every,
        aws_outage_seconds=aws_outage,
        primary_outage_seconds=primary_outage,
        redis_outage_seconds=redis_outage,
        settle_timeout_seconds=settle_timeout,
        realistic=realistic,
        refunds=refunds,
    )
    with (
        tempfile.TemporaryDirectory() as scratch,
        Fleet(
            Path(scratch),
            prefix=new_prefix(),
            aws_endpoint=aws_endpoint,
            charge_workers=charge_workers,
            webhook_workers=webhook_workers,
        ) as fleet,
    ):
        report = asyncio.run(run_chaos(fleet, plan))
    typer.echo(json.dumps({**asdict(report), "ok": report.ok}, indent=2))
    if not report.ok:
        raise typer.Exit(1)
