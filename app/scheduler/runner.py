"""Running each job on its interval, under its advisory lock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from loguru import logger

from app.roles import sleep_unless
from app.scheduler import metrics
from app.scheduler.jobs import Job, JobContext

MILLISECONDS_PER_SECOND = 1000


class RunResult(StrEnum):
    RAN = "ran"
    SKIPPED = "skipped"  # another replica holds the job's lock
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class JobRun:
    result: RunResult
    rows: int = 0


class Scheduler:
    def __init__(self, jobs: Sequence[Job], context: JobContext) -> None:
        self._jobs = jobs
        self._context = context

    async def run(self) -> None:
        """Every job on its own interval until the context's stop is set; a job stops
        between items, so the run in progress ends cleanly."""
        logger.info("scheduler.started", jobs=[job.name for job in self._jobs])
        await asyncio.gather(*(self._every(job) for job in self._jobs))
        logger.info("scheduler.stopped")

    async def _every(self, job: Job) -> None:
        while not self._context.stop.is_set():
            await self.run_once(job)
            await sleep_unless(self._context.stop, job.interval_seconds)

    async def run_once(self, job: Job) -> JobRun:
        started = time.perf_counter()
        try:
            rows = await self._locked(job)
        except Exception:  # a bug or an outage in one job must not stop the others
            logger.exception("scheduler.job_failed", job=job.name)
            metrics.RUNS.labels(job.name, RunResult.FAILED.value).inc()
            return JobRun(RunResult.FAILED)
        if rows is None:
            logger.debug("scheduler.job_skipped", job=job.name)
            metrics.RUNS.labels(job.name, RunResult.SKIPPED.value).inc()
            return JobRun(RunResult.SKIPPED)
        seconds = time.perf_counter() - started
        logger.info(
            "scheduler.job_ran",
            job=job.name,
            rows=rows,
            duration_ms=round(seconds * MILLISECONDS_PER_SECOND, 1),
        )
        metrics.RUNS.labels(job.name, RunResult.RAN.value).inc()
        metrics.ROWS.labels(job.name).inc(rows)
        metrics.DURATION.labels(job.name).observe(seconds)
        metrics.LAST_SUCCESS.labels(job.name).set(time.time())
        return JobRun(RunResult.RAN, rows)

    async def _locked(self, job: Job) -> int | None:
        """Batches until one comes back short, holding the job's lock in a transaction
        of its own (it only takes the lock: no snapshot, no row locks, no vacuum held
        back); None if another replica holds it."""
        async with self._context.new_uow() as lock:
            if not await lock.job_locks.try_lock(job.lock_key):
                return None
            rows = 0
            while True:
                batch = await job.run(self._context, job.batch_size)
                rows += batch
                if batch < job.batch_size or self._context.stop.is_set():
                    return rows
