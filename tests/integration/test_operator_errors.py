"""Failures an operator fixes outside the code are one `error:` line naming the fix and
a non-zero exit, never a traceback: the real CLI, as a subprocess, in an empty directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from app.embedded import free_port

COMMAND_TIMEOUT_SECONDS = 60.0
NOWHERE = "127.0.0.1"


def _pixwave(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """No PIXWAVE_ or AWS_ variable from this shell, and no AWS profile either."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PIXWAVE_", "AWS_"))}
    nothing = str(workdir / "none")
    aws_none = {
        "AWS_SHARED_CREDENTIALS_FILE": nothing,
        "AWS_CONFIG_FILE": nothing,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=workdir,
        env=clean | aws_none | env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )


def _one_error_line(result: subprocess.CompletedProcess[str], *fix: str) -> str:
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for words in fix:
        assert words in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def unmigrated_database(service_env: dict[str, str]) -> Iterator[str]:
    server = make_url(service_env["PIXWAVE_DATABASE_URL"]).set(database="postgres")
    name = f"pixwave_unmigrated_{uuid.uuid4().hex[:8]}"
    server_url = server.render_as_string(hide_password=False)
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_database_not_migrated_names_db_upgrade(tmp_path: Path, unmigrated_database: str) -> None:
    result = _pixwave(
        tmp_path, "merchants", "create", "--name", "Loja", PIXWAVE_DATABASE_URL=unmigrated_database
    )
    _one_error_line(result, "not migrated", "pixwave db upgrade")


def test_a_database_unreachable_names_its_variable(tmp_path: Path) -> None:
    unreachable = f"postgresql://pixwave@{NOWHERE}:{free_port()}/pixwave"
    result = _pixwave(
        tmp_path, "merchants", "create", "--name", "Loja", PIXWAVE_DATABASE_URL=unreachable
    )
    _one_error_line(result, "cannot connect to the database", "PIXWAVE_DATABASE_URL")


def test_an_endpoint_without_credentials_names_them(tmp_path: Path, aws_endpoint: str) -> None:
    for command in (("dlq", "ls"), ("up",)):
        result = _pixwave(tmp_path, *command, PIXWAVE_AWS_ENDPOINT_URL=aws_endpoint)
        _one_error_line(result, "no AWS credentials", "PIXWAVE_AWS_ACCESS_KEY_ID")


def test_up_with_redis_unreachable_names_its_variable(
    tmp_path: Path, service_env: dict[str, str]
) -> None:
    result = _pixwave(
        tmp_path,
        "up",
        PIXWAVE_DATABASE_URL=service_env["PIXWAVE_DATABASE_URL"],
        PIXWAVE_REDIS_URL=f"redis://{NOWHERE}:{free_port()}/0",
    )
    _one_error_line(result, "cannot connect to Redis", "PIXWAVE_REDIS_URL")


def test_up_on_a_taken_port_names_it_and_its_variable(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((NOWHERE, 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _pixwave(tmp_path, "up", PIXWAVE_API_PORT=str(port))
    _one_error_line(result, f"port {port} (PIXWAVE_API_PORT) is taken")
