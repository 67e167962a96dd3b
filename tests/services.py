"""The PostgreSQL and Redis the tests run against, and a wrapper that runs a command with them.

``PIXWAVE_TEST_DATABASE_URL`` (any database on a server we may create databases on) and
``PIXWAVE_TEST_REDIS_URL`` name existing services, as CI does; without them embedded
ones start under ``.pixwave/test``. Either way the tests get a fresh, migrated
``pixwave_test`` database and an empty Redis database.

    python -m tests.services sh -c 'alembic check && pytest'
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import redis
from psycopg import sql
from sqlalchemy.engine import make_url

from app.db import migrate
from app.embedded import EmbeddedServices

TEST_DATABASE = "pixwave_test"
# A fixed test key: payer documents in the test database are fake.
TEST_DOCUMENT_KEY = "dGVzdC1vbmx5LWtleS1wYWRkZWQtdG8tMzItYnl0ZXM="
PREPARED_MARKER = "PIXWAVE_TEST_PREPARED"
EMBEDDED_DIR = Path(".pixwave/test")
# Databases named so are the tests' own (tests/integration/world.py) and are dropped.
THROWAWAY_PREFIXES = ("pixwave\\_relay\\_", "pixwave\\_worker\\_", "pixwave\\_scheduler\\_")


def fresh_database(server_url: str, name: str = TEST_DATABASE) -> str:
    """Drop and create ``name`` on the server ``server_url`` points at, and migrate it."""
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return url


def drop_throwaway_databases(server_url: str) -> None:
    """Relay and worker tests make a database each; the next run drops them."""
    with psycopg.connect(server_url, autocommit=True) as connection:
        names = connection.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE ANY (%s)",
            ([f"{prefix}%" for prefix in THROWAWAY_PREFIXES],),
        ).fetchall()
        for (name,) in names:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def prepare(embedded: EmbeddedServices) -> dict[str, str]:
    server_url = os.environ.get("PIXWAVE_TEST_DATABASE_URL") or embedded.start_postgres("postgres")
    drop_throwaway_databases(server_url)
    database_url = fresh_database(server_url)
    redis_url = os.environ.get("PIXWAVE_TEST_REDIS_URL") or embedded.start_redis()
    redis.Redis.from_url(redis_url).flushdb()
    return {
        "PIXWAVE_DATABASE_URL": database_url,
        "PIXWAVE_REDIS_URL": redis_url,
        "PIXWAVE_DOCUMENT_KEY": TEST_DOCUMENT_KEY,
        "PIXWAVE_LOG_JSON": "true",
        # Tests send bad keys and forged callbacks on purpose, all from 127.0.0.1; the
        # tests of that limit set their own.
        "PIXWAVE_AUTH_FAILURES_PER_MINUTE": "100000",
        # Every test pays with one CPF; the risk tests write the rules they test.
        "PIXWAVE_RISK_DEFAULT_RULES": "false",
        PREPARED_MARKER: "1",
    }


def main(argv: list[str]) -> int:
    embedded = EmbeddedServices(EMBEDDED_DIR)
    try:
        env = {**os.environ, **prepare(embedded)}
        return subprocess.call(argv, env=env)
    finally:
        embedded.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
