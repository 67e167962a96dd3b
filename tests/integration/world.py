"""An isolated corner of the shared services for one test: its own database and
its own name prefix on the shared AWS API server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from tests.aws import CREDENTIALS
from tests.services import fresh_database


@dataclass(frozen=True)
class World:
    database_url: str
    endpoint: str
    prefix: str

    @property
    def base_env(self) -> dict[str, str]:
        return {
            **CREDENTIALS,
            "PIXWAVE_DATABASE_URL": self.database_url,
            "PIXWAVE_AWS_ENDPOINT_URL": self.endpoint,
            "PIXWAVE_NAME_PREFIX": self.prefix,
        }

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            return connection.execute(query, params).fetchall()


def isolated(service_env: dict[str, str], stem: str) -> tuple[str, str]:
    """A fresh migrated database beside the test database, and a unique name prefix."""
    suffix = uuid.uuid4().hex[:10]
    server = make_url(service_env["PIXWAVE_DATABASE_URL"]).set(database="postgres")
    database_url = fresh_database(
        server.render_as_string(hide_password=False), name=f"pixwave_{stem}_{suffix}"
    )
    return database_url, f"{stem[0]}{suffix}"
