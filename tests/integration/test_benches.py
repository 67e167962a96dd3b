"""The peer benchmarks, run tiny: what they count adds up. Nothing
here times anything; the figures themselves are in docs/performance.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
BENCH_TIMEOUT_SECONDS = 180


@pytest.fixture(scope="module")
def database_server(database_url: str) -> str:
    return make_url(database_url).set(database="postgres").render_as_string(hide_password=False)


def run_bench(script: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    output = tmp_path / f"{script}.json"
    completed = subprocess.run(
        [sys.executable, f"bench/{script}", *args, "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result: dict[str, Any] = json.loads(output.read_text())
    return result


def test_relay_peers_publish_every_row_once(database_server: str, tmp_path: Path) -> None:
    result = run_bench(
        "peers_relay.py",
        tmp_path,
        *("--rows", "20", "--rounds", "1", "--rate", "20", "--seconds", "1"),
        *("--database-server", database_server),
    )
    published = {"published": 40, "parked_or_dead": 0}
    assert result["checks"] == {"pixwave": published, "txoutbox": published}
    backlog = result["phases"]
    assert backlog["txoutbox_backlog"][0]["aws_requests_per_event"] == {"Publish": 1.0}
    ours = backlog["pixwave_backlog"][0]["aws_requests_per_event"]
    assert set(ours) == {"PublishBatch"}
    assert 0.1 <= ours["PublishBatch"] <= 0.2  # 20 rows, 10 a call, split between two lanes


def test_worker_peers_handle_and_delete_every_message(database_server: str, tmp_path: Path) -> None:
    result = run_bench(
        "peers_worker.py",
        tmp_path,
        *("--messages", "20", "--rounds", "1", "--wait-seconds", "1"),
        *("--database-server", database_server),
    )
    (ours,) = result["phases"]["pixwave"]
    (celery,) = result["phases"]["celery"]
    assert ours["handled"] == celery["handled"] == 20
    # Ours deletes in batches of up to 10 (workers/runtime/deletes.py), Celery one by one.
    assert "DeleteMessage" not in ours["sqs_requests_per_message"]
    assert 0.1 <= ours["sqs_requests_per_message"]["DeleteMessageBatch"] <= 1.0
    assert celery["sqs_requests_per_message"]["DeleteMessage"] == 1.0


def test_the_risk_bench_evaluates_every_intent_with_the_default_set(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    result = run_bench("risk.py", tmp_path, "--intents", "40", "--payers", "4")

    assert result["rules"][0] == "default_pix_amount"
    rules_only, with_velocity = (
        result["phases"]["rules_only"],
        result["phases"]["rules_and_velocity"],
    )
    assert rules_only["evaluations"] == with_velocity["evaluations"] == 40
    # 4 payers, 10 intents each: card payers pass the card window's 5, PIX ones stay
    # within the document window's 10.
    assert with_velocity["decisions"] == {"allow": 30, "review": 10}
