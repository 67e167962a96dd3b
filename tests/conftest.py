"""Shared fixtures: real PostgreSQL and Redis (see tests/services.py), the API as a
real process over HTTP, and merchants made with the real CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from app.embedded import moto_server
from tests import services
from tests.aws import CREDENTIALS
from tests.support import ApiProcess, Merchant, create_merchant, start_api, waive_fees


@pytest.fixture(scope="session")
def service_env() -> Iterator[dict[str, str]]:
    """Services prepared by `python -m tests.services`, or prepared here for a bare `pytest`."""
    if os.environ.get(services.PREPARED_MARKER):
        yield {k: v for k, v in os.environ.items() if k.startswith("PIXWAVE_")}
        return
    embedded = services.EmbeddedServices(services.EMBEDDED_DIR)
    prepared = services.prepare(embedded)
    os.environ.update(prepared)
    try:
        yield prepared
    finally:
        embedded.close()


@pytest.fixture(scope="session")
def database_url(service_env: dict[str, str]) -> str:
    return service_env["PIXWAVE_DATABASE_URL"]


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture(scope="session")
def merchant(service_env: dict[str, str]) -> Merchant:
    # Refunds in full in many tests: without fees, a payment's own funds cover them.
    return waive_fees(create_merchant("Loja Azul"))


@pytest.fixture(scope="session")
def other_merchant(service_env: dict[str, str]) -> Merchant:
    return create_merchant("Loja Verde")


@pytest.fixture(scope="session")
def api(service_env: dict[str, str]) -> Iterator[ApiProcess]:
    with start_api({"PIXWAVE_RATE_LIMIT_PER_SECOND": "100000"}) as process:
        yield process


# The AWS-contract tests (those using `aws_endpoint`) run against moto's server always,
# and against LocalStack too when .ci/run (or you) started it and set this variable.
LOCALSTACK_URL = os.environ.get("PIXWAVE_TEST_LOCALSTACK_URL")
AWS_SERVERS = ["moto", *(["localstack"] if LOCALSTACK_URL else [])]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `localstack` need what only LocalStack answers (message move tasks):
    without it they are left out of the run, said once, never reported as passed or
    skipped. CI always starts LocalStack (.ci/run)."""
    if LOCALSTACK_URL:
        return
    left_out = [item for item in items if item.get_closest_marker("localstack")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]


@pytest.fixture(scope="session", params=AWS_SERVERS)
def aws_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """An AWS API server over HTTP: moto's as its own process, or a running LocalStack."""
    os.environ.update(CREDENTIALS)
    if request.param == "localstack":
        assert LOCALSTACK_URL is not None
        yield LOCALSTACK_URL
        return
    with moto_server() as endpoint:
        yield endpoint
