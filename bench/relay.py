"""Relay throughput, commit→publish latency and CPU, with a bare PublishBatch loop as ceiling.

In one run, against one SNS endpoint (its own moto server unless --endpoint-url)
and its own database (``pixwave_bench_relay``, recreated each run), with one
`pixwave relay` process started on an empty outbox:

1. throughput, in --rounds rounds: K rows are committed in one transaction and
   the clock runs until none is unpublished; the relay's CPU seconds over that
   drain, divided by K, is its CPU cost per event. Around every drain, while the
   relay idles, the ceiling: the same K messages (built by
   ``outbox.publisher.prepare``) sent with ``outbox.publisher.publish_batch`` by
   MAX_CALLS_IN_FLIGHT concurrent callers, ten entries a call, to the same topic.
   Each round's ratio is relay / mean(bare before, bare after); the median counts.
   Every drain starts from the state autovacuum leaves a healthy outbox in: K rows
   of published history (more after each round), VACUUM (ANALYZE) with nothing
   unpublished — the planner statistics production has when a burst arrives
   (--no-vacuum: whatever statistics autovacuum happened to leave, often none).
2. latency: single-row transactions commit at a steady rate; commit→publish comes
   from the relay's own histogram (``pixwave_outbox_commit_to_publish_seconds``,
   observed once SNS accepted the event and the mark committed), commit→claim
   exactly from the table; the outbox is vacuumed and analyzed first, as in steady
   state, so the drains' dead index entries do not count. After the relay stops,
   single-entry PublishBatch calls at the same rate give the endpoint's own floor.

moto rescans stored messages, so SNS→SQS fan-out would make each publish slower
as the queues deepen. By default the bench topology's subscriptions are removed
after `pixwave topology apply`, so the relay and the bare loop publish to a topic
with no subscribers; --fan-out keeps them and purges the queues between phases.

    .venv/bin/python bench/relay.py                    # own moto server and database
    .venv/bin/python bench/relay.py --endpoint-url URL # e.g. LocalStack
    .venv/bin/python bench/relay.py --profile DIR      # relay under py-spy (figures perturbed)

Absolute numbers depend on the machine (every process here shares its cores);
compare the relay/bare ratio across commits. Results go to bench/results/ as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil  # type: ignore[import-untyped]
import psycopg
import uvloop
from prometheus_client.parser import text_string_to_metric_families
from psycopg.types.json import Jsonb

# `python bench/relay.py` puts bench/, not the root, on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.aws import async_client
from app.domain.events import Aggregate, EventType, build_envelope
from app.domain.ids import new_id
from app.embedded import free_port, moto_server
from app.settings import Settings
from app.tracing import new_traceparent
from bench.common import (
    ROOT,
    cpu_seconds,
    percentile_ms,
    write_result,
)
from outbox.publisher import PreparedMessage, batches, prepare, publish_batch
from outbox.relay import MAX_CALLS_IN_FLIGHT
from outbox.repository import ClaimedEvent
from tests.aws import CREDENTIALS
from tests.services import fresh_database
from tests.support import stop_process, wait_for

DATABASE_NAME = "pixwave_bench_relay"
DEFAULT_DATABASE_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_ROWS = 5_000
DEFAULT_ROUNDS = 3
DEFAULT_RATE_PER_SECOND = 100.0
DEFAULT_SECONDS = 20.0
RELAY_STARTUP_TIMEOUT_SECONDS = 60.0
SETTLE_SECONDS = 1.0  # after the relay is ready, before its CPU is read
DRAIN_POLL_SECONDS = 0.01
MIN_DRAIN_TIMEOUT_SECONDS = 120.0
WARMUP_CALLS = MAX_CALLS_IN_FLIGHT
QUIET_CHECK_SECONDS = 2.0
QUIET_CORES = 0.25  # busier than this before the run: warn that figures will be noisy
FLOOR_SECONDS = 10.0  # of single-entry calls, for the endpoint's own latency
COMMIT_TO_PUBLISH = "pixwave_outbox_commit_to_publish_seconds"
TARGET_RATIO = 0.9
TARGET_CPU_MS_PER_EVENT = 0.1

INSERT_OUTBOX = """
INSERT INTO outbox (
    id, topic, event_type, merchant_id, aggregate_type, aggregate_id,
    aggregate_sequence, payload, traceparent
) VALUES (%s, %s, %s, %s, 'payment_intent', %s, %s, %s, %s)
"""
INSERT_PUBLISHED = """
INSERT INTO outbox (
    id, topic, event_type, merchant_id, aggregate_type, aggregate_id,
    aggregate_sequence, payload, traceparent, published_at
) VALUES (%s, %s, %s, %s, 'payment_intent', %s, %s, %s, %s, now())
"""


@dataclass(frozen=True, slots=True)
class Row:
    """One outbox row as the relay will read it."""

    event_id: str
    merchant_id: str
    aggregate_id: str
    sequence: int
    payload: dict[str, Any]
    traceparent: str

    @property
    def params(self) -> tuple[Any, ...]:
        return (
            self.event_id,
            "events",
            self.payload["type"],
            self.merchant_id,
            self.aggregate_id,
            self.sequence,
            Jsonb(self.payload),
            self.traceparent,
        )

    def as_claimed(self, position: int) -> ClaimedEvent:
        """What the relay's claim would return for this row."""
        return ClaimedEvent(
            position=position,
            id=self.event_id,
            topic="events",
            event_type=self.payload["type"],
            merchant_id=self.merchant_id,
            aggregate_id=self.aggregate_id,
            traceparent=self.traceparent,
            payload_text=json.dumps(self.payload),
            created_at=datetime.now(UTC),
            publish_attempts=0,
        )


def pix_qr_code(txid: str) -> str:
    """A BR Code (EMV "copia e cola") of realistic length."""
    return (
        "00020101021226830014br.gov.bcb.pix2561qrpix.bancoexemplo.com.br/qr/v2/cobv/"
        f"{txid}5204000053039865406199.905802BR5913LOJA EXEMPLO6009SAO PAULO"
        f"62070503***6304{txid[:4].upper()}"
    )


def make_row(merchant_id: str) -> Row:
    """A payment_intent.requires_action event for a PIX intent: ~1 KB, its own aggregate."""
    now = int(time.time())
    intent_id, event_id = new_id("pi"), new_id("evt")
    txid = uuid.uuid4().hex
    view = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": 19990,
        "currency": "BRL",
        "status": "requires_action",
        "capture_method": "automatic",
        "payment_method": {
            "type": "pix",
            "pix": {
                "payer": {
                    "name": "Maria Silva",
                    "document": "***.982.247-**",
                    "document_type": "cpf",
                }
            },
        },
        "description": "Pedido 48213 - Loja Exemplo",
        "metadata": {"order_id": "48213", "channel": "checkout-web"},
        "amount_capturable": 0,
        "amount_received": 0,
        "amount_refunded": 0,
        "next_action": {
            "type": "pix_display_qr_code",
            "pix_display_qr_code": {
                "data": pix_qr_code(txid),
                "txid": txid,
                "expires_at": now + 3600,
            },
        },
        "last_payment_error": None,
        "cancellation_reason": None,
        "expires_at": now + 3600,
        "created": now,
        "livemode": False,
    }
    payload = build_envelope(
        event_id=event_id,
        event_type=EventType.PAYMENT_INTENT_REQUIRES_ACTION,
        created=now,
        merchant_id=merchant_id,
        livemode=False,
        aggregate=Aggregate("payment_intent", intent_id, 2),
        data_object=view,
    )
    return Row(event_id, merchant_id, intent_id, 2, payload, new_traceparent())


# --- measuring helpers -------------------------------------------------------------------


CpuSnapshot = dict[str, dict[int, float]]


class CpuMeter:
    """CPU seconds by role: the relay, the AWS API server (when ours), this process, the
    PostgreSQL backends of the bench database, and the whole machine (all cores)."""

    def __init__(self, server: psutil.Process | None, relay: psutil.Process | None = None) -> None:
        self._fixed = {"bench": psutil.Process()}
        if server is not None:
            self._fixed["aws_server"] = server
        if relay is not None:
            self._fixed["relay"] = relay

    def with_relay(self, relay: psutil.Process) -> CpuMeter:
        return CpuMeter(self._fixed.get("aws_server"), relay)

    def read(self) -> CpuSnapshot:
        snapshot: CpuSnapshot = {
            name: {process.pid: cpu_seconds(process)} for name, process in self._fixed.items()
        }
        backends: dict[int, float] = {}
        for process in psutil.process_iter(["cmdline"]):
            with suppress(psutil.Error):
                command = " ".join(process.info["cmdline"] or ())
                if command.startswith("postgres: ") and f" {DATABASE_NAME} " in command:
                    backends[process.pid] = cpu_seconds(process)
        snapshot["postgres"] = backends
        times = psutil.cpu_times()
        snapshot["machine"] = {0: float(sum(times) - times.idle - getattr(times, "iowait", 0.0))}
        return snapshot

    @staticmethod
    def used(before: CpuSnapshot, after: CpuSnapshot, wall: float) -> dict[str, Any]:
        """CPU seconds per role over a phase; "other" is what the machine spent elsewhere
        (PostgreSQL's shared processes, and any load that is not this benchmark's)."""
        seconds = {
            role: sum(value - before.get(role, {}).get(pid, 0.0) for pid, value in pids.items())
            for role, pids in after.items()
        }
        seconds["other"] = seconds["machine"] - sum(
            value for role, value in seconds.items() if role != "machine"
        )
        return {
            "seconds": {role: round(value, 3) for role, value in seconds.items()},
            "cores": {role: round(value / wall, 2) for role, value in seconds.items()},
        }


def per_event_ms(used: dict[str, Any], role: str, events: int) -> float | None:
    seconds = used["seconds"].get(role)
    return None if seconds is None else round(seconds * 1000 / events, 4)


def histogram(metrics_url: str) -> dict[float, float]:
    """Cumulative bucket counts of the relay's commit→publish histogram, by upper bound."""
    text = httpx.get(metrics_url, timeout=5.0).text
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != COMMIT_TO_PUBLISH:
            continue
        for sample in family.samples:
            if sample.name == f"{COMMIT_TO_PUBLISH}_bucket":
                buckets[float(sample.labels["le"])] = sample.value
    return buckets


def histogram_summary(before: dict[float, float], after: dict[float, float]) -> dict[str, Any]:
    """Quantiles by linear interpolation inside a bucket (as Prometheus'
    histogram_quantile); the share at or under each bucket bound is exact."""
    bounds = sorted(after)
    cumulative = [after[b] - before.get(b, 0.0) for b in bounds]
    total = cumulative[-1] if cumulative else 0.0

    def quantile(q: float) -> float | None:
        if not total:
            return None
        rank = q * total
        lower, below = 0.0, 0.0
        for bound, count in zip(bounds, cumulative, strict=True):
            if count >= rank:
                if bound == float("inf"):
                    return round(lower * 1000, 2)
                inside = count - below
                share = (rank - below) / inside if inside else 1.0
                return round((lower + (bound - lower) * share) * 1000, 2)
            lower, below = bound, count
        return None

    return {
        "events": int(total),
        "p50_ms_interpolated": quantile(0.50),
        "p99_ms_interpolated": quantile(0.99),
        "share_at_or_under_ms": {
            f"{bound * 1000:g}": round(count / total, 4)
            for bound, count in zip(bounds, cumulative, strict=True)
            if total and bound != float("inf") and bound <= 1.0
        },
    }


# --- the world: endpoint, database, topology, relay --------------------------------------


@dataclass(frozen=True)
class World:
    endpoint: str
    database_url: str
    prefix: str
    relay_overrides: dict[str, str]

    @property
    def env(self) -> dict[str, str]:
        return {
            **CREDENTIALS,
            "PIXWAVE_DATABASE_URL": self.database_url,
            "PIXWAVE_AWS_ENDPOINT_URL": self.endpoint,
            "PIXWAVE_NAME_PREFIX": self.prefix,
            "PIXWAVE_FIFO": "false",
            "PIXWAVE_LOG_JSON": "true",
            "PIXWAVE_LOG_LEVEL": "INFO",
            **self.relay_overrides,
        }

    def pixwave(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            cwd=ROOT,
        )
        if result.returncode != 0:
            raise SystemExit(f"pixwave {' '.join(args)} failed:\n{result.stderr[-2000:]}")
        return result.stdout

    def sns(self) -> Any:
        return boto3.client("sns", endpoint_url=self.endpoint, region_name="us-east-1")

    def sqs(self) -> Any:
        return boto3.client("sqs", endpoint_url=self.endpoint, region_name="us-east-1")

    def topic_arn(self) -> str:
        wanted = f"{self.prefix}-events"
        for page in self.sns().get_paginator("list_topics").paginate():
            for topic in page["Topics"]:
                arn: str = topic["TopicArn"]
                if arn.rsplit(":", 1)[-1] == wanted:
                    return arn
        raise SystemExit(f"topic {wanted} not found after `pixwave topology apply`")

    def unsubscribe_all(self, topic_arn: str) -> list[str]:
        sns = self.sns()
        removed = []
        pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn)
        for page in pages:
            for subscription in page["Subscriptions"]:
                sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
                removed.append(str(subscription["Endpoint"]).rsplit(":", 1)[-1])
        return removed

    def empty_queues(self) -> None:
        """Delete the subscribed queues and apply the topology again: PurgeQueue is
        allowed once a minute per queue, and receiving thousands of messages is slow."""
        sqs = self.sqs()
        for base in ("charge", "webhooks"):
            url = sqs.get_queue_url(QueueName=f"{self.prefix}-{base}")["QueueUrl"]
            sqs.delete_queue(QueueUrl=url)
        self.pixwave("topology", "apply")

    def queue_depths(self) -> dict[str, int]:
        sqs = self.sqs()
        depths = {}
        for base in ("charge", "webhooks"):
            url = sqs.get_queue_url(QueueName=f"{self.prefix}-{base}")["QueueUrl"]
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            depths[base] = int(attributes["ApproximateNumberOfMessages"])
        return depths


def endpoint_kind(endpoint: str, own: bool) -> str:
    if own:
        return f"moto server {version_of('moto')} (own process)"
    with suppress(httpx.HTTPError):
        if httpx.get(f"{endpoint}/_localstack/health", timeout=2.0).status_code == 200:
            return f"LocalStack at {endpoint}"
    return f"given endpoint {endpoint}"


def version_of(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def own_moto_process(endpoint: str) -> psutil.Process | None:
    port = endpoint.rsplit(":", 1)[-1]
    for child in psutil.Process().children(recursive=True):
        with suppress(psutil.Error):
            command = child.cmdline()
            if "moto.server" in command and port in command:
                return child
    return None


@dataclass
class RelayProcess:
    process: subprocess.Popen[bytes]
    relay: psutil.Process  # the relay itself (py-spy's child when profiling)
    metrics_url: str
    log_path: Path


def _listening(database_url: str) -> bool:
    """The relay's LISTEN connection exists only once it resolved topics and runs its lanes."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN %%'"
        ).fetchone()
    return bool(row and row[0])


@contextmanager
def running_relay(world: World, profile: Path | None) -> Iterator[RelayProcess]:
    port = free_port()
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    command = [sys.executable, "-m", "app.cli", "relay"]
    if profile is not None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        profile.mkdir(parents=True, exist_ok=True)
        command = [
            py_spy,
            "record",
            "--format",
            "raw",
            "--rate",
            "250",
            "-o",
            str(profile / "relay.collapsed.txt"),
            "--",
            *command,
        ]
    log = tempfile.NamedTemporaryFile(prefix="bench-relay-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        command,
        env={**os.environ, **world.env, "PIXWAVE_RELAY_METRICS_PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise SystemExit(f"relay exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(metrics_url, timeout=1.0).status_code != 200:
                    return False
            except httpx.TransportError:
                return False
            return _listening(world.database_url)

        wait_for(ready, timeout=RELAY_STARTUP_TIMEOUT_SECONDS, interval=0.1)
        relay = psutil.Process(process.pid)
        if profile is not None:
            relay = relay.children()[0]
        yield RelayProcess(process, relay, metrics_url, Path(log.name))
    finally:
        if profile is not None:
            # Stop the relay itself; py-spy then writes its profile and exits.
            with suppress(psutil.Error):
                for child in psutil.Process(process.pid).children():
                    child.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                stop_process(process)
        else:
            stop_process(process)
        log.close()


def outbox_state(database_url: str) -> dict[str, Any]:
    """Dead rows and (auto)vacuums of the outbox: the relay's claim scans the partial index
    ``ix_outbox_unpublished``, whose entries for published rows stay until a vacuum."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT n_live_tup, n_dead_tup, autovacuum_count, vacuum_count,"
            " pg_relation_size('ix_outbox_unpublished')"
            " FROM pg_stat_user_tables WHERE relname = 'outbox'"
        ).fetchone()
    assert row is not None
    live, dead, autovacuums, vacuums, index_bytes = row
    return {
        "live_rows": live,
        "dead_rows": dead,
        "autovacuums": autovacuums,
        "vacuums": vacuums,
        "unpublished_index_bytes": index_bytes,
    }


def insert_published_history(database_url: str, merchant_id: str, count: int) -> None:
    with psycopg.connect(database_url) as connection, connection.cursor() as cursor:
        cursor.executemany(INSERT_PUBLISHED, [make_row(merchant_id).params for _ in range(count)])


def vacuum_outbox(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM (ANALYZE) outbox")


# --- phases ------------------------------------------------------------------------------


async def wait_drained(database_url: str, relay: RelayProcess, within_seconds: float) -> float:
    """Poll until no row is unpublished; return the perf_counter time it was seen."""
    deadline = time.perf_counter() + within_seconds
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        while True:
            cursor = await connection.execute(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)"
            )
            row = await cursor.fetchone()
            now = time.perf_counter()
            if row is not None and not row[0]:
                return now
            if relay.process.poll() is not None:
                raise SystemExit(f"relay exited; see {relay.log_path}")
            if now > deadline:
                raise SystemExit(
                    f"outbox not drained within {within_seconds:.0f} s; see {relay.log_path}"
                )
            await asyncio.sleep(DRAIN_POLL_SECONDS)


async def relay_throughput(
    database_url: str, rows: list[Row], relay: RelayProcess, cpu: CpuMeter
) -> dict[str, Any]:
    count = len(rows)
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute("SELECT coalesce(max(position), 0) FROM outbox")
        first_position = int(((await cursor.fetchone()) or (0,))[0]) + 1
        await connection.commit()
        async with connection.cursor() as cursor:
            await cursor.executemany(INSERT_OUTBOX, [row.params for row in rows])
        cpu_before = cpu.read()
        await connection.commit()
        committed = time.perf_counter()
    drained = await wait_drained(database_url, relay, max(MIN_DRAIN_TIMEOUT_SECONDS, count / 20))
    wall = drained - committed
    used = CpuMeter.used(cpu_before, cpu.read(), wall)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        cursor = await connection.execute(
            "WITH batch AS (SELECT * FROM outbox WHERE position >= %(first)s)"
            " SELECT extract(epoch FROM max(published_at) - min(published_at)),"
            " count(DISTINCT published_at),"
            " count(*) FILTER (WHERE published_at = (SELECT max(published_at) FROM batch)),"
            " count(*) FILTER (WHERE parked_at IS NOT NULL), max(publish_attempts)"
            " FROM batch",
            {"first": first_position},
        )
        span, claims, last_claim_rows, parked, max_attempts = await cursor.fetchone() or ()
    span = float(span)
    return {
        "events": count,
        "wall_seconds": round(wall, 3),
        "throughput_wall_eps": round(count / wall, 1),
        "claims": claims,
        "claim_span_seconds": round(span, 3),
        "throughput_table_eps": round((count - last_claim_rows) / span, 1) if span else None,
        "parked": parked,
        "max_publish_attempts": max_attempts,
        "cpu": used,
        "relay_cpu_ms_per_event": round(used["seconds"]["relay"] * 1000 / count, 4),
        "aws_server_cpu_ms_per_event": per_event_ms(used, "aws_server", count),
    }


async def steady_latency(
    database_url: str,
    merchant_id: str,
    rate: float,
    seconds: float,
    relay: RelayProcess,
    cpu: CpuMeter,
) -> dict[str, Any]:
    total = max(1, round(rate * seconds))
    rows = [make_row(merchant_id) for _ in range(total)]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        cursor = await connection.execute("SELECT coalesce(max(position), 0) FROM outbox")
        first_position = int(((await cursor.fetchone()) or (0,))[0]) + 1
        hist_before = histogram(relay.metrics_url)
        cpu_before = cpu.read()
        phase_started = time.perf_counter()
        statement_seconds: list[float] = []
        lateness_seconds: list[float] = []
        started = time.perf_counter()
        for index, row in enumerate(rows):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            issued = time.perf_counter()
            lateness_seconds.append(max(0.0, issued - due))
            # One autocommit statement: created_at (its transaction start) is its commit, ±~1 ms.
            await connection.execute(INSERT_OUTBOX, row.params)
            statement_seconds.append(time.perf_counter() - issued)
        writing = issued - started
    drained = await wait_drained(database_url, relay, MIN_DRAIN_TIMEOUT_SECONDS)
    used = CpuMeter.used(cpu_before, cpu.read(), drained - phase_started)
    hist = histogram_summary(hist_before, histogram(relay.metrics_url))
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as connection:
        cursor = await connection.execute(
            "SELECT extract(epoch FROM published_at - created_at), published_at FROM outbox"
            " WHERE position >= %s ORDER BY position",
            (first_position,),
        )
        fetched = await cursor.fetchall()
    claim_latencies = sorted(float(latency) for latency, _ in fetched)
    events_per_claim = Counter(published for _, published in fetched)
    return {
        "events": total,
        "target_rate_per_second": rate,
        "achieved_rate_per_second": round((total - 1) / writing, 1) if writing else None,
        "writer": {
            "insert_commit_ms_p50": percentile_ms(sorted(statement_seconds), 0.50),
            "insert_commit_ms_p99": percentile_ms(sorted(statement_seconds), 0.99),
            "late_ms_p50": percentile_ms(sorted(lateness_seconds), 0.50),
            "late_ms_p99": percentile_ms(sorted(lateness_seconds), 0.99),
        },
        "commit_to_publish": {
            "source": "relay histogram pixwave_outbox_commit_to_publish_seconds: from the row's"
            " created_at to after SNS accepted the event and the mark committed",
            **hist,
        },
        "commit_to_claim": {
            "source": "table: published_at - created_at; published_at is now() of the relay's"
            " claim transaction (taken before the PublishBatch call), so this is a lower bound",
            "p50_ms": percentile_ms(claim_latencies, 0.50),
            "p99_ms": percentile_ms(claim_latencies, 0.99),
            "max_ms": percentile_ms(claim_latencies, 1.0),
        },
        "events_per_claim_mean": round(total / len(events_per_claim), 2),
        "cpu": used,
        "relay_cpu_ms_per_event": round(used["seconds"]["relay"] * 1000 / total, 4),
    }


async def bare_call_latency(
    settings: Settings, topic_arn: str, messages: list[PreparedMessage], rate: float
) -> dict[str, Any]:
    """The endpoint's own floor: one single-entry PublishBatch call at a time, at ``rate``."""
    latencies: list[float] = []
    process = psutil.Process()
    async with async_client("sns", settings) as sns:
        await publish_batch(sns, topic_arn, messages[:1])
        cpu_before = cpu_seconds(process)
        started = time.perf_counter()
        for index, message in enumerate(messages):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            issued = time.perf_counter()
            await publish_batch(sns, topic_arn, [message])
            latencies.append(time.perf_counter() - issued)
        used = cpu_seconds(process) - cpu_before
    latencies.sort()
    return {
        "calls": len(latencies),
        "rate_per_second": rate,
        "p50_ms": percentile_ms(latencies, 0.50),
        "p99_ms": percentile_ms(latencies, 0.99),
        "max_ms": percentile_ms(latencies, 1.0),
        "client_cpu_ms_per_call": round(used * 1000 / len(latencies), 3),
    }


async def bare_loop(
    settings: Settings, topic_arn: str, messages: list[PreparedMessage], cpu: CpuMeter
) -> dict[str, Any]:
    """publish_batch over the prepared messages, MAX_CALLS_IN_FLIGHT calls at a time."""
    calls = list(batches(messages))
    failures = 0
    async with async_client("sns", settings) as sns:
        warmup = calls[:WARMUP_CALLS]
        await asyncio.gather(*(publish_batch(sns, topic_arn, batch) for batch in warmup))
        pending = iter(calls)

        async def caller() -> None:
            nonlocal failures
            for batch in pending:  # one shared iterator: each call is taken once
                failures += len(await publish_batch(sns, topic_arn, batch))

        cpu_before = cpu.read()
        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(MAX_CALLS_IN_FLIGHT)))
        wall = time.perf_counter() - started
        used = CpuMeter.used(cpu_before, cpu.read(), wall)
    return {
        "events": len(messages),
        "calls": len(calls),
        "concurrency": MAX_CALLS_IN_FLIGHT,
        "failed_entries": failures,
        "wall_seconds": round(wall, 3),
        "throughput_eps": round(len(messages) / wall, 1),
        "cpu": used,
        "client_cpu_ms_per_event": per_event_ms(used, "bench", len(messages)),
        "aws_server_cpu_ms_per_event": per_event_ms(used, "aws_server", len(messages)),
    }


# --- the run -----------------------------------------------------------------------------


def targets(result: dict[str, Any]) -> dict[str, Any]:
    summary = result["throughput"]["median"]
    ratio = summary["ratio_relay_to_bare"]
    latency = result["latency"]["commit_to_publish"]
    at_15 = latency["share_at_or_under_ms"].get("15")
    cpu = summary["relay_cpu_ms_per_event"]
    return {
        "relay_at_least_0.9_of_bare": {"value": ratio, "met": ratio >= TARGET_RATIO},
        "p50_commit_to_publish_at_most_15_ms": {
            "value_ms_interpolated": latency["p50_ms_interpolated"],
            "share_at_or_under_15_ms": at_15,
            "met": at_15 is not None and at_15 >= 0.5,
        },
        "relay_cpu_at_most_0.1_ms_per_event": {
            "value_ms": cpu,
            "met": cpu <= TARGET_CPU_MS_PER_EVENT,
        },
    }


async def measure(
    args: argparse.Namespace, world: World, server: psutil.Process | None, fan_out: bool
) -> dict[str, Any]:
    topic_arn = world.topic_arn()
    settings = Settings(aws_endpoint_url=world.endpoint, database_url=world.database_url)
    merchant_id = new_id("mer")
    rounds_rows = [[make_row(merchant_id) for _ in range(args.rows)] for _ in range(args.rounds)]
    messages = [prepare(row.as_claimed(i + 1), fifo=False) for i, row in enumerate(rounds_rows[0])]

    def between_phases() -> None:
        if fan_out:
            depths.append(world.queue_depths())
            world.empty_queues()

    depths: list[dict[str, int]] = []

    meter = CpuMeter(server)
    with running_relay(world, args.profile) as relay:
        cpu = meter.with_relay(relay.relay)
        await asyncio.sleep(SETTLE_SECONDS)
        print(f"bare loop: {args.rows} events", file=sys.stderr)
        bares = [await bare_loop(settings, topic_arn, messages, cpu)]
        between_phases()
        drains = []
        # A history of published rows, so even the first drain starts like the others: from
        # an outbox that autovacuum has vacuumed and analyzed while everything was published.
        insert_published_history(world.database_url, merchant_id, args.rows)
        for number, rows in enumerate(rounds_rows, 1):
            if not args.no_vacuum:
                vacuum_outbox(world.database_url)
            print(f"relay drain {number}/{args.rounds}: {args.rows} events", file=sys.stderr)
            drain = await relay_throughput(world.database_url, rows, relay, cpu)
            drain["outbox_after"] = outbox_state(world.database_url)
            drains.append(drain)
            between_phases()
            print(f"bare loop: {args.rows} events", file=sys.stderr)
            bares.append(await bare_loop(settings, topic_arn, messages, cpu))
            between_phases()
        if not args.no_vacuum:
            vacuum_outbox(world.database_url)
        print(f"relay latency: {args.rate:g}/s for {args.seconds:g} s", file=sys.stderr)
        before = outbox_state(world.database_url)
        latency = await steady_latency(
            world.database_url, merchant_id, args.rate, args.seconds, relay, cpu
        )
        latency["outbox_before"] = before
        latency["outbox_after"] = outbox_state(world.database_url)
        latency["vacuumed_and_analyzed_before"] = not args.no_vacuum
        between_phases()
    floor_calls = messages[: max(1, min(len(messages), round(args.rate * FLOOR_SECONDS)))]
    print(f"publish call floor: {len(floor_calls)} calls at {args.rate:g}/s", file=sys.stderr)
    floor = await bare_call_latency(settings, topic_arn, floor_calls, args.rate)
    between_phases()
    rounds = []
    for drain, before, after in zip(drains, bares, bares[1:], strict=False):
        ceiling = (before["throughput_eps"] + after["throughput_eps"]) / 2
        bare_cpu = (before["client_cpu_ms_per_event"] + after["client_cpu_ms_per_event"]) / 2
        rounds.append(
            {
                "relay_eps": drain["throughput_wall_eps"],
                "bare_loop_eps": round(ceiling, 1),
                "ratio_relay_to_bare": round(drain["throughput_wall_eps"] / ceiling, 3),
                "relay_cpu_ms_per_event": drain["relay_cpu_ms_per_event"],
                "bare_client_cpu_ms_per_event": round(bare_cpu, 4),
                "relay_cpu_to_bare_client_cpu": round(
                    drain["relay_cpu_ms_per_event"] / bare_cpu, 2
                ),
                "other_load_cores": drain["cpu"]["cores"]["other"],
                "relay": drain,
            }
        )
    summarized = [key for key, value in rounds[0].items() if isinstance(value, int | float)]
    return {
        "throughput": {
            "basis": "per round: the relay's wall-clock rate (commit of the preload → nothing"
            " unpublished) over the mean rate of the bare loops just before and just after it;"
            " the bare loops run while the relay idles on an empty outbox. Unless --no-vacuum,"
            " before every drain the outbox (K published rows of history, plus earlier rounds)"
            " is VACUUMed and ANALYZEd with nothing unpublished, as autovacuum leaves a"
            " healthy outbox.",
            "vacuumed_and_analyzed_before_each_drain": not args.no_vacuum,
            "median": {
                key: round(statistics.median(r[key] for r in rounds), 4) for key in summarized
            },
            "rounds": rounds,
            "bare_loops": bares,
        },
        "fan_out_queue_depths_before_each_emptying": depths if fan_out else None,
        "latency": {**latency, "publish_call_floor": floor},
        "payload_bytes": messages[0].size_bytes,
    }


def round_line(label: str, one: dict[str, Any]) -> str:
    return (
        f"{label:<21} relay {one['relay_eps']:>7.1f} ev/s   bare {one['bare_loop_eps']:>7.1f} ev/s"
        f"   ratio {one['ratio_relay_to_bare']:.3f}   relay cpu {one['relay_cpu_ms_per_event']:.3f}"
        f" ms/event ({one['relay_cpu_to_bare_client_cpu']}x bare client)"
        f"   other load {one['other_load_cores']:.2f} cores"
    )


def table(result: dict[str, Any]) -> str:
    throughput, latency = result["throughput"], result["latency"]
    median = throughput["median"]
    publish, claim = latency["commit_to_publish"], latency["commit_to_claim"]
    floor = latency["publish_call_floor"]
    lines = [f"endpoint              {result['endpoint']['kind']}"]
    for number, one in enumerate(throughput["rounds"], 1):
        lines.append(round_line(f"round {number}", one))
    lines += [
        round_line("median", median),
        f"steady rate           {latency['achieved_rate_per_second']}/s"
        f"   relay cpu {latency['relay_cpu_ms_per_event']:.3f} ms/event"
        f"   {latency['events_per_claim_mean']} events/claim",
        f"commit→publish        p50 {publish['p50_ms_interpolated']} ms"
        f"   p99 {publish['p99_ms_interpolated']} ms"
        f"   share ≤15 ms {publish['share_at_or_under_ms'].get('15')}",
        f"commit→claim (table)  p50 {claim['p50_ms']} ms   p99 {claim['p99_ms']} ms"
        f"   max {claim['max_ms']} ms",
        f"one PublishBatch call p50 {floor['p50_ms']} ms   p99 {floor['p99_ms']} ms"
        f"   (bare, 1 entry, same rate: the endpoint's floor)",
    ]
    for name, target in result["targets"].items():
        lines.append(f"target {name:<38} {'met' if target['met'] else 'MISSED'}")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="K preloaded rows")
    parser.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS, help="drains, each between bare loops"
    )
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE_PER_SECOND, help="events/s")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="of steady writes")
    parser.add_argument("--endpoint-url", help="an SNS endpoint already running (else own moto)")
    parser.add_argument("--database-server", default=DEFAULT_DATABASE_SERVER)
    parser.add_argument(
        "--fan-out",
        action="store_true",
        help="keep the SQS subscriptions (purged between phases) instead of removing them",
    )
    parser.add_argument("--batch-size", type=int, help="PIXWAVE_RELAY_BATCH_SIZE for the relay")
    parser.add_argument("--lanes", type=int, help="PIXWAVE_RELAY_LANES for the relay")
    parser.add_argument("--profile", type=Path, help="run the relay under py-spy; write here")
    parser.add_argument(
        "--no-vacuum",
        action="store_true",
        help="skip the VACUUM (ANALYZE) of the outbox before each drain and the latency phase",
    )
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    return parser.parse_args(argv)


def drop_database(server_url: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    started_at = datetime.now(UTC)
    overrides = {}
    if args.batch_size is not None:
        overrides["PIXWAVE_RELAY_BATCH_SIZE"] = str(args.batch_size)
    if args.lanes is not None:
        overrides["PIXWAVE_RELAY_LANES"] = str(args.lanes)
    busy_before = psutil.cpu_percent(interval=QUIET_CHECK_SECONDS) / 100 * (os.cpu_count() or 1)
    if busy_before > QUIET_CORES:
        print(
            f"warning: the machine is already busy ({busy_before:.2f} cores) before the run;"
            " figures will be noisy (see each phase's cpu.cores.other)",
            file=sys.stderr,
        )
    with ExitStack() as stack:
        endpoint = args.endpoint_url or stack.enter_context(moto_server())
        server = None if args.endpoint_url else own_moto_process(endpoint)
        database_url = fresh_database(args.database_server, name=DATABASE_NAME)
        if not args.keep_database:
            stack.callback(drop_database, args.database_server)
        world = World(endpoint, database_url, f"bench{uuid.uuid4().hex[:8]}", overrides)
        world.pixwave("topology", "apply")
        topic_arn = world.topic_arn()
        removed = [] if args.fan_out else world.unsubscribe_all(topic_arn)
        print(f"benchmarking the relay against {endpoint}", file=sys.stderr)
        measured = uvloop.run(measure(args, world, server, args.fan_out))
        kind = endpoint_kind(endpoint, own=args.endpoint_url is None)
    relay_settings = Settings()  # what the relay reads from the same environment
    result: dict[str, Any] = {
        "benchmark": "outbox.relay",
        "started_at": started_at.isoformat(),
        "endpoint": {
            "kind": kind,
            "url": endpoint,
            "topic": "no subscribers: `pixwave topology apply`, then its subscriptions"
            f" ({', '.join(removed)}) removed, so no publish costs SQS inserts"
            if not args.fan_out
            else "topology as applied: fan-out to both SQS queues, emptied between phases"
            " (deleted and applied again)",
        },
        "relay": {
            "command": "pixwave relay (own process)",
            "batch_size": args.batch_size or relay_settings.relay_batch_size,
            "lanes": args.lanes or relay_settings.relay_lanes,
            "poll_seconds": relay_settings.relay_poll_seconds,
            "max_calls_in_flight": MAX_CALLS_IN_FLIGHT,
            "profiled_with_py_spy": args.profile is not None,
        },
        "rows_preloaded_per_round": args.rows,
        "rounds": args.rounds,
        **measured,
        "busy_cores_before_run": round(busy_before, 2),
    }
    result["targets"] = targets(result)
    path = write_result("relay", started_at, result)
    print(path.read_text())
    print(f"\n{table(result)}\nwritten to {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
