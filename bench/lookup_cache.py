"""GET /v1/payment_intents/{id} with and without a Redis lookup cache, in one run.

    .venv/bin/python bench/lookup_cache.py [--clients 8,32] [--seconds 10] [--repeats 3]

The cache was a prototype (commit eb51a6a, PIXWAVE_INTENT_CACHE_SECONDS), measured and
not kept: docs/decisions.md, "No lookup cache", has the figures. To measure it again,
run this file at that commit. On any other commit the "on" API ignores the variable and
both modes run the same code: the comparison then shows this machine's noise floor.

Two `pixwave api` processes, one per mode (PIXWAVE_INTENT_CACHE_SECONDS=0 and 300), on
the same database (own, on --database-server) and an embedded Redis. For each client
count, two access patterns: hot (every GET one of 16 intents, so a cache hits) and cold
(every GET an intent never read before, so a cache misses and fills); the two modes run
next to each other, which goes first alternating between repeats. Figures per GET:
requests/s, p50/p99, CPU ms of the api process, of the database's PostgreSQL backends
and of Redis, PostgreSQL statements and transactions (a counting proxy between the api
and PostgreSQL, bench/counting_proxy.py) and Redis commands (INFO's
total_commands_processed, which counts those a script runs too). The comparison is the
median over repeats. Results: bench/results/lookup_cache-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import psycopg
import redis
import uvloop
from sqlalchemy.engine import URL, make_url

# `python bench/lookup_cache.py` puts bench/, not the root, on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain.ids import new_id
from app.embedded import EmbeddedServices
from bench.api import INSERT_INTENT, MASKED_CPF, PAYER_NAME, SEALED_DOCUMENT_BYTES, run_workers
from bench.common import (
    ROOT,
    CpuReading,
    backend_cpu,
    cpu_seconds,
    ms_per,
    percentile_ms,
    write_result,
)
from bench.counting_proxy import read_counts
from bench.instruments import counting_proxy, per_intent, redis_server_pid
from tests.services import TEST_DOCUMENT_KEY, fresh_database
from tests.support import pix_intent, start_api

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
HOT_INTENTS = 16
CACHE_SECONDS = "300"
UNTHROTTLED = "1000000000"
REQUEST_TIMEOUT_SECONDS = 30.0
# Cold GETs each read an intent nobody read before: enough rows for the fastest level.
COLD_ROWS_PER_SECOND = 800


def create_merchant(env: dict[str, str]) -> tuple[str, str]:
    completed = subprocess.run(
        [sys.executable, "-m", "app.cli", "merchants", "create", "--name", "Bench", "--json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
    )
    created = json.loads(completed.stdout.strip().splitlines()[-1])
    return str(created["merchant_id"]), str(created["api_key"])


def insert_cold(database_url: str, merchant_id: str, count: int) -> list[str]:
    """Intents with the columns the API writes for a PIX intent, straight into the table."""
    sealed = os.urandom(SEALED_DOCUMENT_BYTES)
    now = datetime.now(UTC)
    ids = [new_id("pi") for _ in range(count)]
    rows = [
        (i, merchant_id, PAYER_NAME, sealed, MASKED_CPF, now + timedelta(hours=1), now) for i in ids
    ]
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.executemany(INSERT_INTENT, rows)
    return ids


class Meter:
    def __init__(self, api_pid: int, database: str, redis_pid: int) -> None:
        self._api = psutil.Process(api_pid)
        self._redis = psutil.Process(redis_pid)
        self._database = database

    def read(self) -> CpuReading:
        return {
            "api": {self._api.pid: cpu_seconds(self._api)},
            "postgres_backends": backend_cpu(self._database),
            "redis": {self._redis.pid: cpu_seconds(self._redis)},
        }


def redis_commands(client: redis.Redis) -> int:
    return int(client.info("stats")["total_commands_processed"])


async def level(
    api_url: str,
    api_key: str,
    clients: int,
    seconds: float,
    warmup: float,
    ids: Any,
    snapshot: Callable[[], Awaitable[dict[str, Any]]],
) -> tuple[int, list[float], dict[str, int], float, dict[str, Any], dict[str, Any]]:
    headers = {"Authorization": f"Bearer {api_key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    async with httpx.AsyncClient(
        base_url=api_url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:

        async def get(_: int) -> None:
            started = time.perf_counter()
            response = await client.get(f"/v1/payment_intents/{next(ids)}")
            if response.status_code == 200:
                latencies.append(time.perf_counter() - started)
            else:
                errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1

        await run_workers(clients, warmup, get)
        latencies.clear()
        errors.clear()
        before = await snapshot()
        wall = await run_workers(clients, seconds, get)
        after = await snapshot()
    return len(latencies), sorted(latencies), errors, wall, before, after


async def one_level(
    context: dict[str, Any], api: dict[str, Any], clients: int, pattern: str, args: Any
) -> dict[str, Any]:
    if pattern == "hot":
        ids: Any = iter(lambda hot=api["hot"]: random.choice(hot), None)
    else:
        ids = context["cold"]
    meter: Meter = api["meter"]

    async def snapshot() -> dict[str, Any]:
        return {
            "cpu": meter.read(),
            "postgres": await read_counts(context["postgres"].control_port),
            "redis": redis_commands(context["redis"]),
        }

    done, latencies, errors, wall, before, after = await level(
        api["url"], context["api_key"], clients, args.seconds, args.warmup, ids, snapshot
    )
    counted = max(1, done + sum(errors.values()))
    cpu = ms_per(before["cpu"], after["cpu"], counted)
    cpu["total"] = round(sum(cpu.values()), 4)
    return {
        "clients": clients,
        "ids": pattern,
        "requests": counted,
        "errors": errors,
        "requests_per_second": round(done / wall, 1),
        "p50_ms": percentile_ms(latencies, 0.50),
        "p99_ms": percentile_ms(latencies, 0.99),
        "cpu_ms_per_request": cpu,
        "postgres_per_request": per_intent(before["postgres"], after["postgres"], counted),
        "redis_commands_per_request": round((after["redis"] - before["redis"]) / counted, 2),
    }


async def measure(
    context: dict[str, Any], apis: dict[str, dict[str, Any]], args: Any
) -> dict[str, list[dict[str, Any]]]:
    """Level by level, pattern by pattern, the cache off and on next to each other in time
    (which goes first alternates between repeats)."""
    modes: dict[str, list[dict[str, Any]]] = {mode: [] for mode in apis}
    for repeat in range(args.repeats):
        order = list(apis) if repeat % 2 == 0 else list(reversed(apis))
        for clients, pattern, mode in itertools.product(args.clients, ("hot", "cold"), order):
            result = await one_level(context, apis[mode], clients, pattern, args)
            result["repeat"] = repeat + 1
            modes[mode].append(result)
            print(
                f"cache {mode}, {clients} clients, {pattern}:"
                f" {result['requests_per_second']} req/s,"
                f" {result['cpu_ms_per_request']['total']} CPU ms/request",
                file=sys.stderr,
            )
    return modes


def compare(modes: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per client count and pattern: the median over repeats of each mode, and on / off."""
    picks: dict[str, Any] = {
        "requests_per_second": lambda r: r["requests_per_second"],
        "cpu_ms_per_request_total": lambda r: r["cpu_ms_per_request"]["total"],
        "cpu_ms_per_request_api": lambda r: r["cpu_ms_per_request"]["api"],
        "cpu_ms_per_request_postgres": lambda r: r["cpu_ms_per_request"]["postgres_backends"],
        "cpu_ms_per_request_redis": lambda r: r["cpu_ms_per_request"]["redis"],
        "postgres_statements_per_request": lambda r: r["postgres_per_request"]["statements"],
        "redis_commands_per_request": lambda r: r["redis_commands_per_request"],
    }
    rows = []
    for case in dict.fromkeys((r["clients"], r["ids"]) for r in modes["off"]):
        row: dict[str, Any] = {"clients": case[0], "ids": case[1]}
        for name, pick in picks.items():
            off, on = (
                statistics.median(pick(r) for r in modes[m] if (r["clients"], r["ids"]) == case)
                for m in ("off", "on")
            )
            row[name] = {
                "off": round(off, 3),
                "on": round(on, 3),
                "ratio_on_to_off": round(on / off, 3) if off else None,
            }
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    database = f"pixwave_bench_lookup_{suffix}"
    server = make_url(args.database_server)
    with ExitStack() as stack:
        embedded = EmbeddedServices(Path(tempfile.mkdtemp(prefix="bench-lookup-")))
        stack.callback(embedded.close)
        redis_url = embedded.start_redis()
        database_url = fresh_database(args.database_server, name=database)
        stack.callback(drop_database, args.database_server, database)
        postgres = stack.enter_context(counting_proxy("postgres", upstream_of(server)))
        proxied = (
            make_url(database_url)
            .set(host="127.0.0.1", port=postgres.listen_port)
            .difference_update_query(["host"])
        )
        env = {
            "PIXWAVE_DATABASE_URL": proxied.render_as_string(hide_password=False),
            "PIXWAVE_REDIS_URL": redis_url,
            "PIXWAVE_DOCUMENT_KEY": TEST_DOCUMENT_KEY,
            "PIXWAVE_RATE_LIMIT_PER_SECOND": UNTHROTTLED,
            "PIXWAVE_LOG_LEVEL": "WARNING",
        }
        merchant_id, api_key = create_merchant({**env, "PIXWAVE_DATABASE_URL": database_url})
        per_mode = (
            COLD_ROWS_PER_SECOND * (args.seconds + args.warmup) * len(args.clients) * args.repeats
        )
        cold = iter(insert_cold(database_url, merchant_id, round(per_mode) * 2))
        client = redis.Redis.from_url(redis_url)
        context: dict[str, Any] = {
            "api_key": api_key,
            "cold": cold,
            "postgres": postgres,
            "redis": client,
        }
        apis: dict[str, dict[str, Any]] = {}
        redis_pid = redis_server_pid(redis_url.removeprefix("unix://"))
        for mode, seconds in (("off", "0"), ("on", CACHE_SECONDS)):
            overrides = {**env, "PIXWAVE_INTENT_CACHE_SECONDS": seconds}
            api = stack.enter_context(start_api(overrides))
            apis[mode] = {
                "url": api.url,
                "hot": hot_intents(api.url, api_key),
                "meter": Meter(api.process.pid, database, redis_pid),
            }
        modes = uvloop_run(measure(context, apis, args))
    return {"modes": modes, "comparison": compare(modes)}


def upstream_of(server: URL) -> str:
    """host:port, or the unix socket of an embedded server (its directory in ?host=)."""
    socket_dir = server.query.get("host")
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        return f"{socket_dir}/.s.PGSQL.{server.port or 5432}"
    return f"{server.host or '127.0.0.1'}:{server.port or 5432}"


def hot_intents(api_url: str, api_key: str) -> list[str]:
    headers = {"Authorization": f"Bearer {api_key}"}
    ids = []
    with httpx.Client(base_url=api_url, headers=headers) as client:
        for number in range(HOT_INTENTS):
            response = client.post(
                "/v1/payment_intents",
                json=pix_intent(1990),
                headers={"Idempotency-Key": f"hot-{number}-{uuid.uuid4().hex}"},
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
    return ids


def uvloop_run(main: Any) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", default="8,32", help="comma-separated levels")
    parser.add_argument("--seconds", type=float, default=10.0, help="per level and pattern")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3, help="of every level, both modes")
    parser.add_argument("--database-server", default=DEFAULT_SERVER)
    parser.add_argument("--output", type=Path, help="write the JSON here, not bench/results/")
    args = parser.parse_args(argv)
    args.clients = [int(part) for part in args.clients.split(",") if part.strip()]
    started_at = datetime.now(UTC)
    result = {
        "benchmark": "api.lookup_cache",
        "started_at": started_at.isoformat(),
        "seconds_per_level": args.seconds,
        "hot_intents": HOT_INTENTS,
        "cache_seconds_when_on": int(CACHE_SECONDS),
        **run(args),
    }
    if args.output:
        args.output.write_text(json.dumps(result, indent=2))
        print(args.output.read_text())
        return 0
    path = write_result("lookup_cache", started_at, result)
    print(path.read_text())
    print(f"written to {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
