"""Our worker runtime beside a Celery worker on kombu's SQS transport, in the same run:
the same endpoint, the same inbox insert per message, each worker in its own process.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python bench/peers_worker.py                      # own moto server
    .venv/bin/python bench/peers_worker.py --endpoint-url URL   # e.g. LocalStack

Ours: ``workers.runtime.worker.Worker`` with a no-op handler, so a message costs
what every handler gets (envelope parsing, the inbox row, the commit, DeleteMessage).
Celery 5 with ``--pool threads`` and the same concurrency, ``acks_late`` (the
message is deleted after the task, as ours is after its commit), one task that
parses the envelope and inserts the same inbox row (``INSERT ... ON CONFLICT DO
NOTHING`` and a commit, psycopg, a connection per thread). Each worker has a database
of its own on the same server, so PostgreSQL's CPU is told apart by database.

Each worker starts on its empty queue and idles; then --messages messages are sent
straight to the endpoint (SendMessageBatch, not counted) and the clock runs until
the inbox holds them all and the queue is empty (every message deleted). A counting
proxy between the workers and the endpoint (bench/counting_proxy.py) counts SQS
requests by action. Rounds alternate which worker goes first. Results go to
bench/results/peers_worker-*.json, with the ratios ours / Celery.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import psutil  # type: ignore[import-untyped]
import psycopg

# `python bench/peers_worker.py` puts bench/, not the root, on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.aws import async_client
from app.db.session import create_engine, session_factory
from app.embedded import moto_server
from app.roles import run_role
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
from bench.instruments import counting_proxy, per_intent
from bench.relay import endpoint_kind, version_of
from bench.worker import EVENT_TYPE, envelope, noop
from tests.aws import CREDENTIALS
from tests.services import fresh_database
from tests.support import stop_process, wait_for
from workers.runtime.consumer import Consumer
from workers.runtime.queues import MAX_RECEIVE_BATCH
from workers.runtime.worker import Worker, WorkerOptions

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
CONSUMER = "bench"
TASK_NAME = "bench.inbox"
INSERT_INBOX = "INSERT INTO inbox (consumer, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"
STARTUP_TIMEOUT_SECONDS = 60.0
SETTLE_SECONDS = 1.0
POLL_SECONDS = 0.1
SEND_THREADS = 4
# Long polls as kombu's default; ours waits as long, so idle costs compare.
DEFAULT_WAIT_SECONDS = 10


# --- the workers' own processes --------------------------------------------------------


async def serve_pixwave(args: argparse.Namespace) -> None:
    settings = Settings(aws_endpoint_url=args.endpoint, database_url=args.dsn)
    engine = create_engine(settings)
    consumer = Consumer(name=CONSUMER, queue="probe", handlers={EVENT_TYPE: noop})
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with async_client("sqs", settings) as sqs:
        worker = Worker(
            consumer,
            sqs=sqs,
            sessions=session_factory(engine),
            queue_name=args.queue,
            options=WorkerOptions(
                concurrency=args.concurrency, receive_wait_seconds=args.wait_seconds
            ),
        )
        task = asyncio.create_task(worker.run(stop))
        await asyncio.sleep(0.5)  # describe_queue, first receive under way
        Path(args.ready_file).write_text("ready")  # noqa: ASYNC240
        await task
    await engine.dispose()


def celery_app(broker_endpoint: str, queue: str, queue_url: str, wait_seconds: int) -> Any:
    from celery import Celery

    netloc = urlsplit(broker_endpoint).netloc
    key, secret = CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    app = Celery("bench_peers", broker=f"sqs://{key}:{secret}@{netloc}")
    app.conf.update(
        broker_transport_options={
            "region": "us-east-1",
            "is_secure": False,
            "wait_time_seconds": wait_seconds,
            "visibility_timeout": 60,
            "predefined_queues": {queue: {"url": queue_url}},
        },
        task_default_queue=queue,
        task_acks_late=True,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    return app


def serve_celery(args: argparse.Namespace) -> None:
    from celery.signals import worker_ready

    app = celery_app(args.endpoint, args.queue, args.queue_url, args.wait_seconds)
    local = threading.local()

    @app.task(name=TASK_NAME)  # type: ignore[untyped-decorator, unused-ignore]
    def inbox(body: str) -> None:
        event_id = json.loads(body)["id"]
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = psycopg.connect(args.dsn)
        connection.execute(INSERT_INBOX, (CONSUMER, event_id))
        connection.commit()

    @worker_ready.connect  # type: ignore[untyped-decorator, unused-ignore]
    def ready(**_: Any) -> None:
        Path(args.ready_file).write_text("ready")

    app.worker_main(
        [
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(args.concurrency),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


def celery_template(endpoint: str, queue: str, queue_url: str) -> dict[str, Any]:
    """One task message as Celery writes it to SQS, read back raw: the others copy it."""
    app = celery_app(endpoint, queue, queue_url, 1)
    app.send_task(TASK_NAME, args=[envelope()], queue=queue)
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    message = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"][0]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    template: dict[str, Any] = json.loads(base64.b64decode(message["Body"]))
    return template


def celery_body(template: dict[str, Any], body: str) -> str:
    task_id = str(uuid.uuid4())
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    headers = {**template["headers"], "id": task_id, "root_id": task_id}
    headers["argsrepr"] = repr((body,))
    properties = {**template["properties"], "correlation_id": task_id}
    properties["delivery_tag"] = str(uuid.uuid4())
    message = {
        **template,
        "headers": headers,
        "properties": properties,
        "body": base64.b64encode(json.dumps([[body], {}, embed]).encode()).decode(),
    }
    return base64.b64encode(json.dumps(message).encode()).decode()


# --- measuring -------------------------------------------------------------------------


@dataclass
class Peer:
    name: str
    database_url: str
    database_name: str
    queue_url: str
    bodies: Callable[[int], list[str]]
    process: psutil.Process | None = None


@contextmanager
def running(peer: Peer, flag: str, extra: list[str], endpoint: str) -> Iterator[psutil.Process]:
    ready = Path(tempfile.mkdtemp(prefix=f"bench-{peer.name}-")) / "ready"
    log = tempfile.NamedTemporaryFile(prefix=f"bench-{peer.name}-", suffix=".log", delete=False)  # noqa: SIM115
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        flag,
        "--dsn",
        libpq_url(peer.database_url),
        "--endpoint",
        endpoint,
        "--ready-file",
        str(ready),
        *extra,
    ]
    process = subprocess.Popen(
        command, env={**os.environ, **CREDENTIALS}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
    )
    try:

        def started() -> bool:
            if process.poll() is not None:
                raise SystemExit(f"{peer.name} worker exited; see {log.name}")
            return ready.exists()

        wait_for(started, timeout=STARTUP_TIMEOUT_SECONDS, interval=0.1)
        time.sleep(SETTLE_SECONDS)
        yield psutil.Process(process.pid)
    finally:
        stop_process(process)
        log.close()


def cpu_of(process: psutil.Process, database: str, server: psutil.Process | None) -> CpuReading:
    reading = {
        "worker": {process.pid: cpu_seconds(process)},
        "postgres_backends": backend_cpu(database),
    }
    if server is not None:
        reading["aws_server"] = {server.pid: cpu_seconds(server)}
    return reading


def send_all(endpoint: str, queue_url: str, bodies: list[str]) -> None:
    """Straight to the endpoint, past the proxy: the load, not the workers' requests."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    chunks = [bodies[i : i + MAX_RECEIVE_BATCH] for i in range(0, len(bodies), MAX_RECEIVE_BATCH)]

    def send(chunk: list[str]) -> None:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)

    with ThreadPoolExecutor(SEND_THREADS) as pool:
        list(pool.map(send, chunks))


def wait_deleted(endpoint: str, queue_url: str, deadline: float) -> None:
    """Until the queue holds nothing, in flight or not: every message handled and deleted."""
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while time.perf_counter() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)
        if not any(int(v) for v in attributes["Attributes"].values()):
            return
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"{queue_url}: messages left in the queue")


def inbox_rows(database_url: str) -> int:
    with psycopg.connect(libpq_url(database_url)) as connection:
        row = connection.execute("SELECT count(*) FROM inbox").fetchone()
    return int(row[0]) if row else 0


def inbox_span_seconds(database_url: str) -> float:
    with psycopg.connect(libpq_url(database_url)) as connection:
        row = connection.execute(
            "SELECT extract(epoch FROM max(processed_at) - min(processed_at)) FROM inbox"
        ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def one_phase(
    peer: Peer, count: int, endpoint: str, aws: Any, server: psutil.Process | None
) -> dict[str, Any]:
    assert peer.process is not None
    with psycopg.connect(libpq_url(peer.database_url), autocommit=True) as connection:
        connection.execute("TRUNCATE inbox")
    bodies = peer.bodies(count)
    cpu0, requests0 = cpu_of(peer.process, peer.database_name, server), aws.counts()
    started = time.perf_counter()
    send_all(endpoint, peer.queue_url, bodies)
    sent = time.perf_counter()
    deadline = started + max(120.0, count / 5)
    while inbox_rows(peer.database_url) < count:
        if time.perf_counter() > deadline or not peer.process.is_running():
            raise SystemExit(f"{peer.name}: {inbox_rows(peer.database_url)} of {count} handled")
        time.sleep(POLL_SECONDS)
    handled = time.perf_counter() - started
    wait_deleted(endpoint, peer.queue_url, deadline)
    wall = time.perf_counter() - started
    cpu1, requests1 = cpu_of(peer.process, peer.database_name, server), aws.counts()
    time.sleep(SETTLE_SECONDS)  # a late duplicate would show up here
    span = inbox_span_seconds(peer.database_url)
    return {
        "messages": count,
        "handled": inbox_rows(peer.database_url),
        "send_seconds": round(sent - started, 3),
        "handled_seconds": round(handled, 3),
        "wall_seconds": round(wall, 3),
        "messages_per_second": round(count / wall, 1),
        "messages_per_second_inbox_span": round((count - 1) / span, 1) if span else None,
        "cpu_ms_per_message": ms_per(cpu0, cpu1, count),
        "sqs_requests_per_message": per_intent(requests0, requests1, count),
    }


def summarize(phases: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    def median(name: str, pick: Callable[[dict[str, Any]], float]) -> float:
        return round(statistics.median(pick(p) for p in phases[name]), 3)

    picks: dict[str, Callable[[dict[str, Any]], float]] = {
        "messages_per_second": lambda p: float(p["messages_per_second"]),
        "worker_cpu_ms_per_message": lambda p: float(p["cpu_ms_per_message"]["worker"]),
        "postgres_cpu_ms_per_message": lambda p: float(
            p["cpu_ms_per_message"]["postgres_backends"]
        ),
        "sqs_requests_per_message": lambda p: float(sum(p["sqs_requests_per_message"].values())),
    }
    if "aws_server" in phases["pixwave"][0]["cpu_ms_per_message"]:
        picks["aws_server_cpu_ms_per_message"] = lambda p: float(
            p["cpu_ms_per_message"]["aws_server"]
        )
    summary = {}
    for name, pick in picks.items():
        ours, theirs = median("pixwave", pick), median("celery", pick)
        summary[name] = {
            "pixwave": ours,
            "celery": theirs,
            "ratio_pixwave_to_celery": round(ours / theirs, 3) if theirs else None,
        }
    return summary


def run(args: argparse.Namespace, endpoint: str, server: psutil.Process | None) -> dict[str, Any]:
    suffix = uuid.uuid4().hex[:8]
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    peers: dict[str, Peer] = {}
    with ExitStack() as stack:
        aws = stack.enter_context(counting_proxy("aws", urlsplit(endpoint).netloc))
        proxied = f"http://127.0.0.1:{aws.listen_port}"
        for name in ("pixwave", "celery"):
            database = f"pixwave_bench_peers_{suffix}_{name}"
            url = fresh_database(args.database_server, name=database)
            stack.callback(drop_named_database, args.database_server, database)
            queue = f"bench{suffix}-{name}"
            queue_url = sqs.create_queue(QueueName=queue, Attributes={"VisibilityTimeout": "60"})[
                "QueueUrl"
            ]
            peers[name] = Peer(name, url, database, queue_url, lambda n: [])
        peers["pixwave"].bodies = lambda n: [envelope() for _ in range(n)]
        celery_queue = f"bench{suffix}-celery"
        template = celery_template(endpoint, celery_queue, peers["celery"].queue_url)
        peers["celery"].bodies = lambda n: [celery_body(template, envelope()) for _ in range(n)]
        concurrency = [
            "--concurrency",
            str(args.concurrency),
            "--wait-seconds",
            str(args.wait_seconds),
        ]
        peers["pixwave"].process = stack.enter_context(
            running(
                peers["pixwave"],
                "--serve-pixwave",
                ["--queue", f"bench{suffix}-pixwave", *concurrency],
                proxied,
            )
        )
        # Celery's client is told the queue's URL through the proxy, so every call is counted.
        celery_url = proxied + urlsplit(peers["celery"].queue_url).path
        peers["celery"].process = stack.enter_context(
            running(
                peers["celery"],
                "--serve-celery",
                ["--queue", celery_queue, "--queue-url", celery_url, *concurrency],
                proxied,
            )
        )
        phases: dict[str, list[dict[str, Any]]] = {"pixwave": [], "celery": []}
        for number in range(args.rounds):
            order = ["pixwave", "celery"] if number % 2 == 0 else ["celery", "pixwave"]
            for name in order:
                print(f"round {number + 1}: {name}, {args.messages} messages", file=sys.stderr)
                result = one_phase(peers[name], args.messages, endpoint, aws, server)
                print(f"  {result['messages_per_second']} msg/s", file=sys.stderr)
                phases[name].append(result)
    return {"phases": phases, "summary": summarize(phases)}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument(
        "--wait-seconds", type=int, default=DEFAULT_WAIT_SECONDS, help="long polls, both workers"
    )
    parser.add_argument("--endpoint-url", help="an SQS endpoint already running (else own moto)")
    parser.add_argument("--database-server", default=DEFAULT_SERVER)
    parser.add_argument("--output", type=Path, help="write the JSON here, not bench/results/")
    # The workers' own processes (started by the bench, not by hand).
    for flag in ("--serve-pixwave", "--serve-celery"):
        parser.add_argument(flag, action="store_true", help=argparse.SUPPRESS)
    for option in ("--dsn", "--endpoint", "--ready-file", "--queue", "--queue-url"):
        parser.add_argument(option, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    if args.serve_pixwave:
        run_role(serve_pixwave(args))
        return 0
    if args.serve_celery:
        serve_celery(args)
        return 0
    started_at = datetime.now(UTC)
    with ExitStack() as stack:
        endpoint = args.endpoint_url or stack.enter_context(moto_server())
        server = listening_process(endpoint)
        measured = run(args, endpoint, server)
        kind = endpoint_kind(endpoint, own=args.endpoint_url is None)
    result = {
        "benchmark": "peers.worker",
        "started_at": started_at.isoformat(),
        "endpoint": kind,
        "concurrency": args.concurrency,
        "pixwave": "workers.runtime.Worker, no-op handler (inbox row + commit), own process",
        "celery": {
            "versions": {p: version_of(p) for p in ("celery", "kombu", "pycurl")},
            "pool": "threads",
            "acks_late": True,
            "task": "json.loads the envelope, INSERT the inbox row ON CONFLICT DO NOTHING,"
            " commit (psycopg, one connection per thread)",
        },
        "wait_time_seconds": args.wait_seconds,
        **measured,
    }
    if args.output:
        args.output.write_text(json.dumps(result, indent=2))
        print(args.output.read_text())
        return 0
    path = write_result("peers_worker", started_at, result)
    print(path.read_text())
    print(f"written to {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
