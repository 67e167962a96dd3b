"""Create → terminal across the whole system: `pixwave up` in a scratch directory (embedded
PostgreSQL, Redis and moto, or LocalStack with --localstack), then card (auto-approved)
and PIX (auto-paid) intents at a set rate, with the primary gateway healthy and failing.
Each intent is timed from its create request to the webhook that ends it.

Beside throughput and latency, each scenario reports counts that do not wobble: CPU ms
per intent by process group, AWS requests per intent by action and PostgreSQL statements
and transactions per intent, counted by proxies in front of the servers
(bench/instruments.py). The bench starts PostgreSQL, Redis and moto itself so that
`pixwave up` reaches them through those proxies.

    .venv/bin/python -m bench.e2e --count 300 --rate 100 [--localstack http://127.0.0.1:4566]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from app.embedded import EmbeddedServices, free_port
from app.supervisor import DEMO_KEY_FILE, UP_FILE
from bench.common import write_result
from bench.instruments import (
    ProcessCpu,
    Proxy,
    counting_proxy,
    cpu_ms_per_intent,
    per_intent,
    redis_server_pid,
)
from devtools.demo.driver import Method, Plan, run
from devtools.demo.report import summarize

UP_START_SECONDS = 120.0
UP_STOP_SECONDS = 60.0
# After the last webhook of a scenario, for the counters to take in what is still in flight.
SETTLE_SECONDS = 2.0
DATABASE = "pixwave"
POSTGRES_PORT = 5432  # pgserver's: it listens on a unix socket under its data directory
SCENARIOS: tuple[tuple[Method, float], ...] = (
    ("card", 0.0),
    ("card", 30.0),
    ("pix", 0.0),
    ("pix", 30.0),
)


METRICS_PORT_VARIABLES = (
    "PIXWAVE_RELAY_METRICS_PORT",
    "PIXWAVE_WORKER_METRICS_PORT",
    "PIXWAVE_SCHEDULER_METRICS_PORT",
)


@dataclass(frozen=True, slots=True)
class Instruments:
    cpu: ProcessCpu
    aws: Proxy
    postgres: Proxy

    def snapshot(self) -> dict[str, Any]:
        return {
            "cpu": self.cpu.snapshot(),
            "aws": self.aws.counts(),
            "postgres": self.postgres.counts(),
        }

    def per_intent(self, before: dict[str, Any], after: dict[str, Any], count: int) -> Any:
        return {
            "cpu_ms_per_intent": cpu_ms_per_intent(before["cpu"], after["cpu"], count),
            "aws_requests_per_intent": _with_total(per_intent(before["aws"], after["aws"], count)),
            "postgres_per_intent": per_intent(before["postgres"], after["postgres"], count),
        }


def _with_total(counts: dict[str, float]) -> dict[str, float]:
    return {**counts, "total": round(sum(counts.values()), 3)}


@contextmanager
def instrumented_services(
    workdir: Path, localstack: str | None
) -> Iterator[tuple[dict[str, str], Instruments]]:
    """PostgreSQL, Redis and the AWS server started here, PostgreSQL and AWS behind
    counting proxies: the environment `pixwave up` gets, and the instruments."""
    embedded = EmbeddedServices(workdir / "services")
    try:
        database = make_url(embedded.start_postgres(DATABASE))
        socket_dir = str(database.query["host"])
        aws_url = localstack or embedded.start_aws()
        redis_url = embedded.start_redis()
        with (
            counting_proxy("postgres", f"{socket_dir}/.s.PGSQL.{POSTGRES_PORT}") as postgres,
            counting_proxy("aws", urlsplit(aws_url).netloc) as aws,
        ):
            env = {
                "PIXWAVE_DATABASE_URL": f"postgresql://{database.username}@127.0.0.1:"
                f"{postgres.listen_port}/{DATABASE}?sslmode=disable",
                "PIXWAVE_REDIS_URL": redis_url,
                "PIXWAVE_AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws.listen_port}",
                "PIXWAVE_AWS_ACCESS_KEY_ID": "test",
                "PIXWAVE_AWS_SECRET_ACCESS_KEY": "test",
                "PIXWAVE_NAME_PREFIX": f"bench{uuid.uuid4().hex[:8]}",
            }
            postmaster = int(Path(socket_dir, "postmaster.pid").read_text().split()[0])
            redis = redis_server_pid(redis_url.removeprefix("unix://"))
            cpu = ProcessCpu(roots=[os.getpid()], watched={postmaster: "postgres", redis: "redis"})
            yield env, Instruments(cpu, aws, postgres)
    finally:
        embedded.close()


@contextmanager
def running_up(workdir: Path, services: dict[str, str]) -> Iterator[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXWAVE_")}
    env |= services | {
        "PIXWAVE_API_PORT": str(free_port()),
        "PIXWAVE_GATEWAY_SIM_PORT": str(free_port()),
        # `up` serves metrics where configured and refuses taken ports: none here.
        **dict.fromkeys(METRICS_PORT_VARIABLES, "0"),
        "PIXWAVE_LOG_LEVEL": "WARNING",
        # The bench is one merchant far above a merchant's default 100 requests/s.
        "PIXWAVE_RATE_LIMIT_PER_SECOND": "100000",
        # and one webhook endpoint: its default 4 deliveries in flight would cap the
        # whole run at 4 / (the receiver's answer time).
        "PIXWAVE_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT": "64",
    }
    up = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "up"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield _wait_for_up(workdir / ".pixwave", up)
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=UP_STOP_SECONDS)


def _wait_for_up(data_dir: Path, up: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + UP_START_SECONDS
    while not (data_dir / UP_FILE).exists():
        if up.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("pixwave up did not start")
        time.sleep(0.2)
    key = json.loads((data_dir / DEMO_KEY_FILE).read_text())["secret"]
    return {**json.loads((data_dir / UP_FILE).read_text()), "api_key": key}


def measure(
    running: dict[str, Any],
    instruments: Instruments,
    count: int,
    rate: float,
    scenarios: tuple[tuple[Method, float], ...] = SCENARIOS,
) -> list[dict[str, Any]]:
    results = []
    for method, fail in scenarios:
        plan = Plan(
            api_url=running["api_url"],
            api_key=running["api_key"],
            sim_url=running["gateway_sim_url"],
            count=count,
            method=method,
            fail_primary_percent=fail,
            concurrency=50,
            rate_per_second=rate,
        )
        before = instruments.snapshot()
        summary = summarize(asyncio.run(run(plan, lambda done, total: None)))
        time.sleep(SETTLE_SECONDS)
        costs = instruments.per_intent(before, instruments.snapshot(), count)
        results.append({"method": method, "primary_failure_percent": fail, **summary, **costs})
        print(json.dumps(results[-1]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300, help="intents per scenario")
    parser.add_argument("--rate", type=float, default=100.0, help="intents created per second")
    parser.add_argument("--localstack", help="LocalStack URL instead of the embedded moto")
    parser.add_argument(
        "--only",
        choices=[f"{method}-{fail:g}" for method, fail in SCENARIOS],
        help="run this one scenario (method-primary failure percent), e.g. card-0",
    )
    args = parser.parse_args()
    scenarios = tuple(s for s in SCENARIOS if args.only in (None, f"{s[0]}-{s[1]:g}"))
    started_at = datetime.now(UTC)
    with (
        tempfile.TemporaryDirectory() as scratch,
        instrumented_services(Path(scratch), args.localstack) as (services, instruments),
        running_up(Path(scratch), services) as up,
    ):
        results = measure(up, instruments, args.count, args.rate, scenarios)
    path = write_result(
        "e2e",
        started_at,
        {
            "aws": "localstack" if args.localstack else "moto (embedded)",
            "count": args.count,
            "rate_per_second": args.rate,
            "scenarios": results,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
