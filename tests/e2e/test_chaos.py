"""The chaos suite, short: a few hundred PIX intents, and card intents captured amid
resent gateway notifications, while the relay and workers are SIGKILLed, the AWS API
and Redis are cut and the primary gateway is down. `pixwave chaos` runs the long
version (docs/reliability.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from devtools.chaos.fleet import Fleet, new_prefix
from devtools.chaos.run import ChaosPlan, run_chaos

PLAN = ChaosPlan(
    intents=200,
    rate_per_second=20.0,
    captures=20,
    kill_every_seconds=2.0,
    aws_outage_seconds=5.0,
    primary_outage_seconds=5.0,
    redis_outage_seconds=5.0,
    settle_timeout_seconds=300.0,
)


def test_no_money_is_lost_or_moved_twice_while_the_fleet_is_broken(tmp_path: Path) -> None:
    with Fleet(tmp_path, prefix=new_prefix()) as fleet:
        report = asyncio.run(run_chaos(fleet, PLAN))
    assert report.kills >= 3, report
    assert report.violations == [], report
    assert sum(report.by_status.values()) == PLAN.intents + PLAN.captures
    assert report.captures_answered > 0, report
    assert set(report.by_status) <= {"succeeded", "failed", "canceled"}
