"""Create-intent throughput and latency against the running API, with its ceiling.

For each concurrency level this measures POST /v1/payment_intents through the API
(throughput, p50/p99 latency), then, in the same run and database, the raw rate of
the same transaction (intent insert + outbox insert, committed) issued straight
through psycopg. The ratio api/raw is the figure to compare across commits; the
absolute numbers depend on the machine. Results go to bench/results/ as JSON.

    make bench                                        # fresh database, own API process
    python bench/api.py --api-url URL --api-key KEY   # an API that is already running

A running API keeps its own rate limit (PIXWAVE_RATE_LIMIT_PER_SECOND): raise it
there, or the 429s are counted as errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]
import psycopg
import uvloop
from psycopg.types.json import Jsonb

# `python bench/api.py` puts bench/, not the root, on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.domain.events import Aggregate, EventType, build_envelope
from app.domain.ids import new_id
from app.settings import Settings
from bench.common import (
    ROOT,
    cpu_seconds,
    percentile_ms,
    write_result,
)
from tests.support import pix_intent, start_api

DEFAULT_LEVELS = "1,8,32"
DEFAULT_SECONDS = 10.0
DEFAULT_WARMUP_SECONDS = 2.0
REQUEST_TIMEOUT_SECONDS = 30.0
# High enough that the per-key limiter never answers 429 during the run.
UNTHROTTLED_RATE_PER_SECOND = "1000000000"
# The same column values the API writes for a PIX intent (see app/payments/intents.py).
PAYER_NAME = "Maria Silva"
MASKED_CPF = "***.982.247-**"
SEALED_DOCUMENT_BYTES = 1 + 12 + 11 + 16  # version + nonce + 11 digits + GCM tag

INSERT_INTENT = """
INSERT INTO payment_intents (
    id, merchant_id, livemode, amount, currency, status, capture_method, method_type,
    payer_name, payer_document_type, payer_document_encrypted, payer_document_masked,
    metadata, amount_capturable, amount_received, amount_refunded, expires_at,
    sequence, version, created_at
) VALUES (
    %s, %s, false, 1990, 'BRL', 'pending', 'automatic', 'pix',
    %s, 'cpf', %s, %s, '{}'::jsonb, 0, 0, 0, %s, 1, 1, %s
) RETURNING updated_at
"""
INSERT_OUTBOX = """
INSERT INTO outbox (
    id, topic, event_type, merchant_id, aggregate_type, aggregate_id,
    aggregate_sequence, payload, traceparent
) VALUES (%s, 'events', 'payment_intent.created', %s, 'payment_intent', %s, 1, %s, NULL)
RETURNING position
"""


@dataclass(frozen=True, slots=True)
class CpuUse:
    """CPU seconds spent during a level, as a share of one core per second of wall time."""

    api_process_cores: float | None
    bench_process_cores: float
    machine_busy_percent: float


@dataclass(frozen=True, slots=True)
class ApiLevel:
    clients: int
    requests: int
    errors: int
    throughput_rps: float
    p50_ms: float | None
    p99_ms: float | None
    api_cpu_ms_per_request: float | None
    cpu: CpuUse


@dataclass(frozen=True, slots=True)
class RawLevel:
    clients: int
    tx: int
    throughput_tps: float
    cpu: CpuUse


@dataclass(slots=True)
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # by status code or exception

    def fail(self, reason: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1


class CpuMeter:
    def __init__(self, api_pid: int | None) -> None:
        self._bench = psutil.Process()
        self._api = psutil.Process(api_pid) if api_pid is not None else None

    @contextmanager
    def measure(self) -> Iterator[list[CpuUse]]:
        out: list[CpuUse] = []
        started = time.perf_counter()
        bench0 = cpu_seconds(self._bench)
        api0 = cpu_seconds(self._api) if self._api is not None else None
        psutil.cpu_percent()
        yield out
        wall = time.perf_counter() - started
        busy = psutil.cpu_percent()
        api_cores = None
        if self._api is not None and api0 is not None:
            api_cores = round((cpu_seconds(self._api) - api0) / wall, 2)
        bench_cores = round((cpu_seconds(self._bench) - bench0) / wall, 2)
        out.append(CpuUse(api_cores, bench_cores, busy))


async def run_workers(
    clients: int, seconds: float, work: Callable[[int], Awaitable[None]]
) -> float:
    """Run ``clients`` loops of ``work`` until ``seconds`` have passed; return the wall time."""
    deadline = time.perf_counter() + seconds

    async def loop(index: int) -> None:
        while time.perf_counter() < deadline:
            await work(index)

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(clients)))
    return time.perf_counter() - started


async def api_level(
    api_url: str, api_key: str, clients: int, seconds: float, warmup: float, cpu: CpuMeter
) -> ApiLevel:
    body = json.dumps(pix_intent(1990)).encode()  # encoded once: the generator shares the CPUs
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=api_url, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT_SECONDS
    ) as client:
        tally = Tally()

        async def create(_: int) -> None:
            key = {"Idempotency-Key": f"bench-{uuid.uuid4().hex}"}
            started = time.perf_counter()
            try:
                response = await client.post("/v1/payment_intents", content=body, headers=key)
            except httpx.HTTPError as exc:
                tally.fail(type(exc).__name__)
                return
            elapsed = time.perf_counter() - started
            if response.status_code == 201:
                tally.latencies.append(elapsed)
            else:
                tally.fail(str(response.status_code))

        await run_workers(clients, warmup, create)
        tally = Tally()
        with cpu.measure() as used:
            wall = await run_workers(clients, seconds, create)
    if tally.errors:
        print(f"api errors at {clients} clients: {tally.errors}", file=sys.stderr)
    latencies = sorted(tally.latencies)
    errors = sum(tally.errors.values())
    api_cores = used[0].api_process_cores
    return ApiLevel(
        clients=clients,
        requests=len(latencies) + errors,
        errors=errors,
        throughput_rps=round(len(latencies) / wall, 1),
        p50_ms=percentile_ms(latencies, 0.50),
        p99_ms=percentile_ms(latencies, 0.99),
        api_cpu_ms_per_request=(
            round(api_cores * wall * 1000 / len(latencies), 2) if api_cores and latencies else None
        ),
        cpu=used[0],
    )


def sample_envelope(merchant_id: str, intent_id: str, event_id: str) -> dict[str, Any]:
    """The payment_intent.created envelope the API writes, with its real shape and size."""
    now = int(time.time())
    view = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": 1990,
        "currency": "BRL",
        "status": "pending",
        "capture_method": "automatic",
        "payment_method": {
            "type": "pix",
            "pix": {"payer": {"name": PAYER_NAME, "document": MASKED_CPF, "document_type": "cpf"}},
        },
        "description": None,
        "metadata": {},
        "amount_capturable": 0,
        "amount_received": 0,
        "amount_refunded": 0,
        "next_action": None,
        "last_payment_error": None,
        "cancellation_reason": None,
        "expires_at": now + 3600,
        "created": now,
        "livemode": False,
    }
    return build_envelope(
        event_id=event_id,
        event_type=EventType.PAYMENT_INTENT_CREATED,
        created=now,
        merchant_id=merchant_id,
        livemode=False,
        aggregate=Aggregate("payment_intent", intent_id, 1),
        data_object=view,
    )


async def raw_level(
    database_url: str, merchant_id: str, clients: int, seconds: float, warmup: float, cpu: CpuMeter
) -> RawLevel:
    sealed = os.urandom(SEALED_DOCUMENT_BYTES)
    connections = [
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) for _ in range(clients)
    ]
    done = 0

    async def transaction(index: int) -> None:
        nonlocal done
        connection = connections[index]
        intent_id, event_id = new_id("pi"), new_id("evt")
        now = datetime.now(UTC)
        async with connection.transaction():
            await connection.execute(
                INSERT_INTENT,
                (
                    intent_id,
                    merchant_id,
                    PAYER_NAME,
                    sealed,
                    MASKED_CPF,
                    now + timedelta(hours=1),
                    now,
                ),
            )
            payload = Jsonb(sample_envelope(merchant_id, intent_id, event_id))
            await connection.execute(INSERT_OUTBOX, (event_id, merchant_id, intent_id, payload))
        done += 1

    try:
        await run_workers(clients, warmup, transaction)
        done = 0
        with cpu.measure() as used:
            wall = await run_workers(clients, seconds, transaction)
    finally:
        for connection in connections:
            await connection.close()
    return RawLevel(clients=clients, tx=done, throughput_tps=round(done / wall, 1), cpu=used[0])


def create_merchant() -> tuple[str, str]:
    """A merchant and API key through the CLI, as an operator would make one."""
    completed = subprocess.run(
        [sys.executable, "-m", "app.cli", "merchants", "create", "--name", "Bench", "--json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    created = json.loads(completed.stdout.strip().splitlines()[-1])
    return str(created["merchant_id"]), str(created["api_key"])


def raw_merchant(database_url: str) -> str:
    """A merchant row for the raw inserts' foreign key, apart from the API's."""
    merchant_id = new_id("mer")
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO merchants (id, name) VALUES (%s, 'Bench raw')", (merchant_id,)
        )
    return merchant_id


async def measure(
    args: argparse.Namespace, api_url: str, api_key: str, api_pid: int | None, database_url: str
) -> list[dict[str, Any]]:
    cpu = CpuMeter(api_pid)
    merchant_id = raw_merchant(database_url)
    levels: list[dict[str, Any]] = []
    for clients in args.clients:
        api = await api_level(api_url, api_key, clients, args.seconds, args.warmup, cpu)
        raw = await raw_level(database_url, merchant_id, clients, args.seconds, args.warmup, cpu)
        ratio = api.throughput_rps / raw.throughput_tps if raw.throughput_tps else None
        levels.append(
            {
                "clients": clients,
                "api": asdict(api),
                "raw": asdict(raw),
                "ratio": None if ratio is None else round(ratio, 3),
            }
        )
        print(f"  {clients} clients done", file=sys.stderr)
    return levels


def _cell(value: float | None, width: int, digits: int = 1) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def table(levels: list[dict[str, Any]]) -> str:
    """The human summary, on stderr."""
    lines = [
        f"{'clients':>7} {'api rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
        f" {'raw tps':>8} {'ratio':>6} {'api cpu ms/req':>14} {'loadgen cores':>13}"
    ]
    for level in levels:
        api, raw = level["api"], level["raw"]
        lines.append(
            f"{level['clients']:>7} {_cell(api['throughput_rps'], 8)} {_cell(api['p50_ms'], 8, 2)}"
            f" {_cell(api['p99_ms'], 8, 2)} {api['errors']:>6} {_cell(raw['throughput_tps'], 8)}"
            f" {_cell(level['ratio'], 6, 3)} {_cell(api['api_cpu_ms_per_request'], 14, 2)}"
            f" {_cell(api['cpu']['bench_process_cores'], 13, 2)}"
        )
    return "\n".join(lines)


def run(main: Coroutine[Any, Any, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """On uvloop, as uvicorn runs the API: the load generator should cost as little as it can."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", default=DEFAULT_LEVELS, help="comma-separated levels")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="per level")
    parser.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_SECONDS, help="per level")
    parser.add_argument("--api-url", help="an API that is already running")
    parser.add_argument("--api-key", help="a secret key for --api-url")
    args = parser.parse_args(argv)
    args.clients = [int(part) for part in args.clients.split(",") if part.strip()]
    if (args.api_url is None) != (args.api_key is None):
        parser.error("--api-url and --api-key go together")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    settings = Settings()
    if settings.database_url is None:
        print("error: set PIXWAVE_DATABASE_URL (or run under tests.services)", file=sys.stderr)
        return 2
    database_url = settings.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    started_at = datetime.now(UTC)
    if args.api_url is not None:
        print(f"benchmarking {args.api_url}", file=sys.stderr)
        levels = run(measure(args, args.api_url, args.api_key, None, database_url))
    else:
        _, api_key = create_merchant()
        overrides = {"PIXWAVE_RATE_LIMIT_PER_SECOND": UNTHROTTLED_RATE_PER_SECOND}
        with start_api(overrides) as api:
            print(f"benchmarking own API at {api.url}", file=sys.stderr)
            levels = run(measure(args, api.url, api_key, api.process.pid, database_url))
    result = {
        "benchmark": "api.create_intent",
        "started_at": started_at.isoformat(),
        "seconds_per_level": args.seconds,
        "warmup_seconds_per_level": args.warmup,
        "api_url": args.api_url or "own process (tests.support.start_api)",
        "payload": {
            "request": pix_intent(1990),
            "outbox_envelope_bytes": len(
                json.dumps(sample_envelope(new_id("mer"), new_id("pi"), new_id("evt")))
            ),
        },
        "levels": levels,
    }
    path = write_result("api", started_at, result)
    print(path.read_text())
    print(f"\n{table(levels)}\nwritten to {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
