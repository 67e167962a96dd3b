"""Our relay beside txoutbox (PyPI), in the same run: the same rows, the same SNS topic,
the same SNS client (app/aws/client.py), the same endpoint, each relay in its own process.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/peers_relay.py                      # own moto server
    .venv/bin/python bench/peers_relay.py --endpoint-url URL   # e.g. LocalStack

txoutbox is "bring your own table, bring your own broker": its relay claims rows from
its own PostgreSQL table (``txoutbox.adapters.postgres``, asyncpg, leases, strict
per-key order, LISTEN/NOTIFY wake-ups) and hands each message to a publish function.
Its publisher contract is one message per call, so its SNS publisher is one ``Publish``
call per event, made with our ``app.aws.async_client`` and carrying the body and
message attributes ``outbox.publisher.prepare`` gives ours. Its table lives in a
database of its own on the same server, fed with the same rows (the envelope as
payload, the aggregate id as ordering key), so PostgreSQL's CPU is told apart by
database.

Phases, per round (alternating which relay goes first): a backlog of --rows rows
committed at once, timed until nothing is pending; then --rate events/s for
--seconds, one autocommit insert each, until drained. A counting proxy in front of
the endpoint (bench/counting_proxy.py) counts SNS requests by action. Results go
to bench/results/peers_relay-*.json with the ratios ours / txoutbox.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil  # type: ignore[import-untyped]
import psycopg
import uvloop

# `python bench/peers_relay.py` puts bench/, not the root, on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.aws import async_client
from app.domain.events import visibility_of
from app.domain.ids import new_id
from app.embedded import moto_server
from app.settings import Settings
from bench.common import (
    ROOT,
    CpuReading,
    backend_cpu,
    cpu_seconds,
    drop_named_database,
    libpq_url,
    listening_process,
    ms_per,
    write_result,
)
from bench.counting_proxy import read_counts
from bench.instruments import counting_proxy, per_intent
from bench.relay import (
    INSERT_OUTBOX,
    Row,
    World,
    endpoint_kind,
    make_row,
    running_relay,
    version_of,
)
from tests.aws import CREDENTIALS
from tests.services import fresh_database
from tests.support import stop_process, wait_for

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
PEER_TABLE = "txoutbox_outbox"
PEER_BATCH_SIZE = 100  # as our relay's default batch
PEER_CONCURRENCY = 10  # Publish calls in flight: as our MAX_CALLS_IN_FLIGHT
DRAIN_POLL_SECONDS = 0.01
DRAIN_TIMEOUT_SECONDS = 300.0
STARTUP_TIMEOUT_SECONDS = 60.0
SETTLE_SECONDS = 1.0
INSERT_PEER = (
    f"INSERT INTO {PEER_TABLE} (topic, key, payload, headers) VALUES (%s, %s, %s, %s::jsonb)"
)


def attributes_of(row: Row) -> dict[str, str]:
    """The message attributes our publisher sends for this row."""
    event_type = row.payload["type"]
    return {
        "event_type": event_type,
        "merchant_id": row.merchant_id,
        "visibility": visibility_of(event_type).value,
        "traceparent": row.traceparent,
    }


def peer_params(row: Row) -> tuple[Any, ...]:
    payload = json.dumps(row.payload).encode()
    return ("events", row.aggregate_id, payload, json.dumps(attributes_of(row)))


# --- the peer's own process ------------------------------------------------------------


async def serve_txoutbox(args: argparse.Namespace) -> None:
    """txoutbox's relay as its README runs it, publishing with one SNS Publish per event."""
    import asyncpg  # type: ignore[import-not-found, unused-ignore]
    from txoutbox import OutboxMessage, Relay, RelayConfig
    from txoutbox.adapters.postgres import PostgresStorage

    settings = Settings(aws_endpoint_url=args.endpoint)
    pool = await asyncpg.create_pool(args.dsn, min_size=2, max_size=4)
    storage = PostgresStorage(pool, table=PEER_TABLE, notify_channel=PEER_TABLE)
    async with async_client("sns", settings) as sns:

        async def publish(message: OutboxMessage) -> None:
            await sns.publish(
                TopicArn=args.topic_arn,
                Message=message.payload.decode(),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in message.headers.items()
                },
            )

        config = RelayConfig(batch_size=args.batch_size, concurrency=args.concurrency)
        relay = Relay(storage, publish, config=config)
        listener = await storage.listen(relay.wake)
        Path(args.ready_file).write_text("ready")  # noqa: ASYNC240
        try:
            await relay.run(handle_signals=True)
        finally:
            await listener.close()
            await pool.close()


def create_peer_schema(database_url: str) -> None:
    import asyncpg  # type: ignore[import-not-found, unused-ignore]
    from txoutbox.adapters.postgres import PostgresStorage

    async def create() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            ddl = PostgresStorage(None, table=PEER_TABLE, notify_channel=PEER_TABLE).schema_sql()
            await connection.execute(ddl)
        finally:
            await connection.close()

    asyncio.run(create())


@dataclass
class Running:
    name: str
    process: psutil.Process
    database_url: str
    database_name: str
    insert: str
    params: Callable[[Row], tuple[Any, ...]]
    pending_sql: str


@contextmanager
def running_peer(
    database_url: str, endpoint: str, topic_arn: str, args: argparse.Namespace
) -> Iterator[psutil.Process]:
    ready = Path(tempfile.mkdtemp(prefix="bench-txoutbox-")) / "ready"
    log = tempfile.NamedTemporaryFile(prefix="bench-txoutbox-", suffix=".log", delete=False)  # noqa: SIM115
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-txoutbox",
        "--dsn",
        libpq_url(database_url),
        "--endpoint",
        endpoint,
        "--topic-arn",
        topic_arn,
        "--ready-file",
        str(ready),
        "--batch-size",
        str(args.batch_size),
        "--concurrency",
        str(args.concurrency),
    ]
    process = subprocess.Popen(
        command, env={**os.environ, **CREDENTIALS}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    try:

        def started() -> bool:
            if process.poll() is not None:
                raise SystemExit(f"txoutbox relay exited; see {log.name}")
            return ready.exists()

        wait_for(started, timeout=STARTUP_TIMEOUT_SECONDS, interval=0.1)
        yield psutil.Process(process.pid)
    finally:
        stop_process(process)
        log.close()


# --- measuring -------------------------------------------------------------------------


class Meter:
    """CPU seconds of a relay process, of its database's PostgreSQL backends, of the AWS
    server (when ours) and of the whole machine."""

    def __init__(self, relay: psutil.Process, database: str, server: psutil.Process | None):
        self._relay, self._database, self._server = relay, database, server

    def read(self) -> CpuReading:
        reading = {
            "relay": {self._relay.pid: cpu_seconds(self._relay)},
            "postgres_backends": backend_cpu(self._database),
            "machine": {0: machine_busy_seconds()},
        }
        if self._server is not None:
            reading["aws_server"] = {self._server.pid: cpu_seconds(self._server)}
        return reading


def machine_busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


async def wait_drained(relay: Running, within: float) -> float:
    deadline = time.perf_counter() + within
    async with await psycopg.AsyncConnection.connect(
        libpq_url(relay.database_url), autocommit=True
    ) as connection:
        while True:
            row = await (await connection.execute(relay.pending_sql)).fetchone()
            now = time.perf_counter()
            if row is not None and not row[0]:
                return now
            if not relay.process.is_running() or now > deadline:
                raise SystemExit(f"{relay.name}: not drained within {within:.0f} s")
            await asyncio.sleep(DRAIN_POLL_SECONDS)


def vacuum(relay: Running) -> None:
    table = "outbox" if relay.name == "pixwave" else PEER_TABLE
    with psycopg.connect(libpq_url(relay.database_url), autocommit=True) as connection:
        connection.execute(f"VACUUM (ANALYZE) {table}")


async def backlog(relay: Running, rows: list[Row], meter: Meter, aws: Any) -> dict[str, Any]:
    vacuum(relay)
    async with await psycopg.AsyncConnection.connect(libpq_url(relay.database_url)) as conn:
        async with conn.cursor() as cursor:
            await cursor.executemany(relay.insert, [relay.params(row) for row in rows])
        cpu0, requests0 = meter.read(), await read_counts(aws.control_port)
        await conn.commit()
        committed = time.perf_counter()
    drained = await wait_drained(relay, DRAIN_TIMEOUT_SECONDS)
    return _figures(
        len(rows),
        drained - committed,
        cpu0,
        meter.read(),
        requests0,
        await read_counts(aws.control_port),
    )


async def steady(
    relay: Running, rows: list[Row], rate: float, meter: Meter, aws: Any
) -> dict[str, Any]:
    vacuum(relay)
    async with await psycopg.AsyncConnection.connect(
        libpq_url(relay.database_url), autocommit=True
    ) as connection:
        cpu0, requests0 = meter.read(), await read_counts(aws.control_port)
        started = time.perf_counter()
        for index, row in enumerate(rows):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await connection.execute(relay.insert, relay.params(row))
        last_commit = time.perf_counter()
    drained = await wait_drained(relay, DRAIN_TIMEOUT_SECONDS)
    figures = _figures(
        len(rows),
        drained - started,
        cpu0,
        meter.read(),
        requests0,
        await read_counts(aws.control_port),
    )
    figures["offered_rate_per_second"] = rate
    figures["last_commit_to_drained_ms"] = round((drained - last_commit) * 1000, 1)
    return figures


def _figures(
    events: int,
    wall: float,
    cpu0: CpuReading,
    cpu1: CpuReading,
    requests0: dict[str, int],
    requests1: dict[str, int],
) -> dict[str, Any]:
    cpu = ms_per(cpu0, cpu1, events)
    return {
        "events": events,
        "wall_seconds": round(wall, 3),
        "events_per_second": round(events / wall, 1),
        "cpu_ms_per_event": cpu,
        "machine_cores_busy": round((cpu1["machine"][0] - cpu0["machine"][0]) / wall, 2),
        "aws_requests_per_event": per_intent(requests0, requests1, events),
    }


def verify(relay: Running, events: int) -> dict[str, int]:
    """Every row published once as far as the table can tell: none parked or dead."""
    if relay.name == "pixwave":
        query = (
            "SELECT count(*) FILTER (WHERE published_at IS NOT NULL),"
            " count(*) FILTER (WHERE parked_at IS NOT NULL) FROM outbox"
        )
    else:
        query = (
            "SELECT count(*) FILTER (WHERE status = 'done'),"
            f" count(*) FILTER (WHERE status = 'dead') FROM {PEER_TABLE}"
        )
    with psycopg.connect(libpq_url(relay.database_url)) as connection:
        done, failed = connection.execute(query).fetchone() or (0, 0)
    if done != events or failed:
        raise SystemExit(f"{relay.name}: {done} published of {events}, {failed} parked/dead")
    return {"published": int(done), "parked_or_dead": int(failed)}


# --- the run ---------------------------------------------------------------------------


def ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs else None


def summarize(phases: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    def median(name: str, pick: Callable[[dict[str, Any]], float]) -> float:
        return round(statistics.median(pick(p) for p in phases[name]), 4)

    def total_requests(phase: dict[str, Any]) -> float:
        return float(sum(phase["aws_requests_per_event"].values()))

    summary: dict[str, Any] = {}
    for kind in ("backlog", "steady"):
        ours, theirs = f"pixwave_{kind}", f"txoutbox_{kind}"
        figures = {
            "events_per_second": (median(ours, _eps), median(theirs, _eps)),
            "relay_cpu_ms_per_event": (median(ours, _relay_cpu), median(theirs, _relay_cpu)),
            "postgres_cpu_ms_per_event": (median(ours, _pg_cpu), median(theirs, _pg_cpu)),
            "sns_requests_per_event": (
                median(ours, total_requests),
                median(theirs, total_requests),
            ),
        }
        if all("aws_server" in p["cpu_ms_per_event"] for p in phases[ours] + phases[theirs]):
            figures["aws_server_cpu_ms_per_event"] = (
                median(ours, _aws_cpu),
                median(theirs, _aws_cpu),
            )
        summary[kind] = {
            name: {"pixwave": a, "txoutbox": b, "ratio_pixwave_to_txoutbox": ratio(a, b)}
            for name, (a, b) in figures.items()
        }
    return summary


def _eps(phase: dict[str, Any]) -> float:
    return float(phase["events_per_second"])


def _relay_cpu(phase: dict[str, Any]) -> float:
    return float(phase["cpu_ms_per_event"]["relay"])


def _pg_cpu(phase: dict[str, Any]) -> float:
    return float(phase["cpu_ms_per_event"]["postgres_backends"])


def _aws_cpu(phase: dict[str, Any]) -> float:
    return float(phase["cpu_ms_per_event"]["aws_server"])


async def measure(args: argparse.Namespace, relays: dict[str, Running], meters: dict, aws: Any):
    merchant = new_id("mer")
    phases: dict[str, list[dict[str, Any]]] = {
        f"{name}_{kind}": [] for name in relays for kind in ("backlog", "steady")
    }
    published = dict.fromkeys(relays, 0)
    steady_count = max(1, round(args.rate * args.seconds))
    for number in range(args.rounds):
        order = list(relays) if number % 2 == 0 else list(reversed(relays))
        backlog_rows = [make_row(merchant) for _ in range(args.rows)]
        steady_rows = [make_row(merchant) for _ in range(steady_count)]
        for name in order:
            print(f"round {number + 1}: {name} backlog {args.rows}", file=sys.stderr)
            result = await backlog(relays[name], backlog_rows, meters[name], aws)
            phases[f"{name}_backlog"].append(result)
            print(f"  {result['events_per_second']} ev/s", file=sys.stderr)
        for name in order:
            print(f"round {number + 1}: {name} steady {args.rate:g}/s", file=sys.stderr)
            phases[f"{name}_steady"].append(
                await steady(relays[name], steady_rows, args.rate, meters[name], aws)
            )
        for name in relays:
            published[name] += args.rows + steady_count
    checks = {name: verify(relay, published[name]) for name, relay in relays.items()}
    return phases, checks


def run(args: argparse.Namespace, endpoint: str, server: psutil.Process | None) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    ours_db, peer_db = f"pixwave_bench_peers_{suffix}", f"pixwave_bench_peers_{suffix}_txo"
    with ExitStack() as stack:
        aws = stack.enter_context(counting_proxy("aws", urlsplit(endpoint).netloc))
        proxied = f"http://127.0.0.1:{aws.listen_port}"
        ours_url = fresh_database(args.database_server, name=ours_db)
        peer_url = fresh_database(args.database_server, name=peer_db)
        for name in (ours_db, peer_db):
            stack.callback(drop_named_database, args.database_server, name)
        create_peer_schema(libpq_url(peer_url))
        world = World(proxied, ours_url, f"bench{suffix}", {})
        world.pixwave("topology", "apply")
        topic_arn = world.topic_arn()
        world.unsubscribe_all(topic_arn)
        ours = stack.enter_context(running_relay(world, None))
        peer = stack.enter_context(running_peer(peer_url, proxied, topic_arn, args))
        relays = {
            "pixwave": Running(
                "pixwave",
                ours.relay,
                ours_url,
                ours_db,
                INSERT_OUTBOX,
                lambda row: row.params,
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL)",
            ),
            "txoutbox": Running(
                "txoutbox",
                peer,
                peer_url,
                peer_db,
                INSERT_PEER,
                peer_params,
                f"SELECT EXISTS (SELECT 1 FROM {PEER_TABLE} WHERE status = 'pending')",
            ),
        }
        meters = {n: Meter(r.process, r.database_name, server) for n, r in relays.items()}
        time.sleep(SETTLE_SECONDS)
        phases, checks = asyncio.run(measure(args, relays, meters, aws))
    return {"phases": phases, "checks": checks, "summary": summarize(phases)}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=5000, help="backlog per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=100.0, help="steady events/s")
    parser.add_argument("--seconds", type=float, default=20.0, help="of steady writes")
    parser.add_argument("--endpoint-url", help="an SNS endpoint already running (else own moto)")
    parser.add_argument("--database-server", default=DEFAULT_SERVER)
    parser.add_argument("--batch-size", type=int, default=PEER_BATCH_SIZE, help="txoutbox's")
    parser.add_argument("--concurrency", type=int, default=PEER_CONCURRENCY, help="txoutbox's")
    parser.add_argument("--output", type=Path, help="write the JSON here, not bench/results/")
    # The peer's own process (started by the bench, not by hand).
    parser.add_argument("--serve-txoutbox", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--topic-arn", help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    if args.serve_txoutbox:
        uvloop.run(serve_txoutbox(args))  # the loop our relay runs on
        return 0
    started_at = datetime.now(UTC)
    with ExitStack() as stack:
        endpoint = args.endpoint_url or stack.enter_context(moto_server())
        server = listening_process(endpoint)
        measured = run(args, endpoint, server)
        kind = endpoint_kind(endpoint, own=args.endpoint_url is None)
    result = {
        "benchmark": "peers.relay",
        "started_at": started_at.isoformat(),
        "endpoint": kind,
        "topic": "no subscribers (the bench topology's subscriptions removed)",
        "pixwave": {"command": "pixwave relay", "batch_size": 100, "lanes": 2, "calls": 10},
        "txoutbox": {
            "version": version_of("txoutbox"),
            "storage": "txoutbox.adapters.postgres.PostgresStorage (asyncpg), strict ordering,"
            " LISTEN/NOTIFY wake-ups, a database of its own on the same server",
            "publisher": "one SNS Publish per event (txoutbox hands over one message per call)",
            "batch_size": args.batch_size,
            "concurrency": args.concurrency,
        },
        "rows_per_backlog": args.rows,
        "rounds": args.rounds,
        **measured,
    }
    if args.output:
        args.output.write_text(json.dumps(result, indent=2))
        print(args.output.read_text())
        return 0
    path = write_result("peers_relay", started_at, result)
    print(path.read_text())
    print(f"written to {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
