"""The chaos suite, short: a few hundred PIX intents, and card intents captured amid
resent gateway notifications, while the relay and workers are SIGKILLed, the AWS API
and Redis are cut and the primary gateway is down. `pixwave chaos` runs the long
version (docs/reliability.md)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from devtools.chaos.fleet import Fleet, new_prefix
from devtools.chaos.run import ChaosPlan, ChaosReport, run_chaos
from tests.aws import CREDENTIALS
from tests.conftest import LOCALSTACK_URL

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
# On LocalStack, smaller: the whole test within 3 minutes on a 2-core machine.
LOCALSTACK_PLAN = replace(
    PLAN,
    intents=100,
    captures=10,
    kill_every_seconds=1.0,
    aws_outage_seconds=2.0,
    primary_outage_seconds=2.0,
    redis_outage_seconds=2.0,
    settle_timeout_seconds=60.0,
)


def test_no_money_is_lost_or_moved_twice_while_the_fleet_is_broken(tmp_path: Path) -> None:
    with Fleet(tmp_path, prefix=new_prefix()) as fleet:
        report = asyncio.run(run_chaos(fleet, PLAN))
    assert report.kills >= 3, report
    assert_safe(report, PLAN)


@pytest.mark.localstack
def test_the_same_holds_on_localstack_with_more_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert LOCALSTACK_URL is not None
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    fleet = Fleet(
        tmp_path,
        prefix=new_prefix(),
        aws_endpoint=LOCALSTACK_URL,
        charge_workers=2,
        webhook_workers=2,
    )
    with fleet:
        report = asyncio.run(run_chaos(fleet, LOCALSTACK_PLAN))
    assert report.kills >= 2, report
    assert {"charge", "charge-2", "webhooks", "webhooks-2", "relay"} == set(fleet.killable)
    assert_safe(report, LOCALSTACK_PLAN)


def assert_safe(report: ChaosReport, plan: ChaosPlan) -> None:
    assert report.violations == [], report
    assert sum(report.by_status.values()) == plan.intents + plan.captures
    assert report.captures_answered > 0, report
    assert set(report.by_status) <= {"succeeded", "failed", "canceled"}
