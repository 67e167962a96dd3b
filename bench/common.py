"""What every benchmark shares: percentiles, CPU time, the machine, the commit,
and where results go."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil  # type: ignore[import-untyped]
import psycopg

from devtools.demo.report import percentile

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"


def percentile_ms(seconds: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile, in milliseconds."""
    value = percentile(seconds, fraction)
    return None if value is None else round(value * 1000, 2)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=ROOT, check=False
        ).stdout.strip()

    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
    }


def write_result(name: str, started_at: datetime, result: dict[str, Any]) -> Path:
    """bench/results/<name>-<UTC time>.json, with the machine and commit added."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-{started_at.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps({**result, "machine": machine(), "git": git_commit()}, indent=2))
    return path


CpuReading = dict[str, dict[int, float]]


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to ``database``, by pid."""
    seconds: dict[int, float] = {}
    for process in psutil.process_iter(["cmdline"]):
        with suppress(psutil.Error):
            command = " ".join(process.info["cmdline"] or ())
            if command.startswith("postgres: ") and f" {database} " in command:
                seconds[process.pid] = cpu_seconds(process)
    return seconds


def ms_per(before: CpuReading, after: CpuReading, count: int) -> dict[str, float]:
    """CPU ms per unit of work by group, process by process: a process that started in
    between counts in full; one that exited in between (a pool's overflow connection's
    backend) is lost, so a group's figure is a lower bound, never negative."""
    used = {
        group: sum(max(0.0, s - before.get(group, {}).get(pid, 0.0)) for pid, s in pids.items())
        for group, pids in after.items()
    }
    return {group: round(seconds * 1000 / count, 4) for group, seconds in used.items()}


def listening_process(url: str) -> psutil.Process | None:
    """The local process listening on ``url``'s port (moto's or LocalStack's server)."""
    port = urlsplit(url).port
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            return psutil.Process(connection.pid) if connection.pid else None
    return None


def libpq_url(url: str) -> str:
    """asyncpg and psycopg take postgresql://; SQLAlchemy's driver suffix is dropped."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def drop_named_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
