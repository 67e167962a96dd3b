"""What every `pixwave` command shares: loading settings, saying when they differ from
the running `pixwave up`'s, and one-line answers to failures an operator fixes."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import redis
import typer
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from dotenv import dotenv_values
from pydantic import ValidationError

from app.domain.errors import OperatorError
from app.lifecycle import running_up_pid
from app.settings import RUNTIME_ENV_FILE, Settings, get_settings

DEFAULT_NAME_PREFIX = Settings.model_fields["name_prefix"].default


def load_settings(*, beside_up: bool = True) -> Settings:
    """Bad configuration refuses to start, naming the variable and the rule. Beside
    `up`: over what a running `pixwave up` wrote; `up` itself reads only the
    environment and .env (a killed one's runtime.env names services now gone)."""
    try:
        settings = get_settings() if beside_up else Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "PIXWAVE_" + "_".join(str(part) for part in error["loc"]).upper()
            typer.echo(f"error: {name}: {error['msg']}", err=True)
        raise typer.Exit(2) from exc
    warning = topology_warning(settings) if beside_up else None
    if warning is not None:
        typer.echo(f"warning: {warning}", err=True)
    return settings


def settings_with(*required: str) -> Settings:
    """Missing configuration refuses to start, naming the variable."""
    settings = load_settings()
    missing = [f"PIXWAVE_{name.upper()}" for name in required if getattr(settings, name) is None]
    if missing:
        typer.echo(f"error: set {', '.join(missing)} (or run `pixwave up`)", err=True)
        raise typer.Exit(2)
    return settings


def _topology(prefix: str, fifo: bool, endpoint: str | None) -> str:
    kind = "FIFO" if fifo else "standard"
    return f"{kind} queues {prefix}-* at {endpoint or 'AWS'}"


def topology_warning(settings: Settings) -> str | None:
    """When a `pixwave up` runs on this data directory and this command would look at
    other queues than its own: which, and why."""
    pid = running_up_pid(settings.data_dir)
    if pid is None or pid == os.getppid():  # none, or this is one of its roles
        return None
    path = settings.data_dir / RUNTIME_ENV_FILE
    recorded = dotenv_values(path)
    if not recorded:
        return None
    theirs = _topology(
        recorded.get("PIXWAVE_NAME_PREFIX") or DEFAULT_NAME_PREFIX,
        (recorded.get("PIXWAVE_FIFO") or "").lower() == "true",
        recorded.get("PIXWAVE_AWS_ENDPOINT_URL"),
    )
    ours = _topology(settings.name_prefix, settings.fifo, settings.aws_endpoint_url)
    if theirs == ours:
        return None
    return (
        f"the `pixwave up` running here (pid {pid}) uses {theirs}; this command uses {ours}"
        f" (a PIXWAVE_* variable or .env overrides {Path(path)})"
    )


def operator_message(exc: BaseException) -> str | None:
    """One line naming the fix, for failures outside the code; None for the rest
    (a bug keeps its traceback)."""
    for cause in _chain(exc):
        message = _explained(cause)
        if message is not None:
            return message
    return None


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _explained(exc: BaseException) -> str | None:
    if isinstance(exc, OperatorError):
        return exc.message
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials: set PIXWAVE_AWS_ACCESS_KEY_ID and"
            " PIXWAVE_AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
        )
    if isinstance(exc, EndpointConnectionError):
        return f"{_first_line(exc)}: start it or fix PIXWAVE_AWS_ENDPOINT_URL"
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return f"the database is not migrated ({_first_line(exc)}): run `pixwave db upgrade`"
    if isinstance(exc, psycopg.OperationalError):
        return (
            f"cannot connect to the database ({_first_line(exc)}):"
            " start PostgreSQL or fix PIXWAVE_DATABASE_URL"
        )
    if isinstance(exc, redis.ConnectionError):
        return f"cannot connect to Redis ({_first_line(exc)}): start it or fix PIXWAVE_REDIS_URL"
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return f"{_first_line(exc)}: stop what listens there or configure another port"
    return None
