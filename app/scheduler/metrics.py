"""Prometheus metrics of the scheduler."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter(
    "pixwave_scheduler_job_runs_total",
    "Job runs: ran, skipped (another replica held the job's lock) or failed",
    ["job", "result"],
)
ROWS = Counter("pixwave_scheduler_job_rows_total", "Rows a job changed", ["job"])
DURATION = Histogram(
    "pixwave_scheduler_job_duration_seconds",
    "Time a job run took, every batch included",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
LAST_SUCCESS = Gauge(
    "pixwave_scheduler_job_last_success_timestamp_seconds",
    "Unix time this process last finished a run of the job (take the max over replicas)",
    ["job"],
)
