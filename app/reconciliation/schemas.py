"""What a run is shown as (`pixwave reconcile --json`, `show`), and the unmatched
records it stores, one JSON object each."""

from __future__ import annotations

from typing import Any

from app.db.money_models import ReconciliationRun
from app.domain.reconciliation import OurRecord, Pair, Reconciliation, RunStatus
from app.gateways.port import GatewayRecord

COUNTS = (
    "matched",
    "missing_ours",
    "missing_theirs",
    "amount_mismatch",
    "duplicates",
    "outside_window",
    "difference",
)


def _ours(category: str, record: OurRecord) -> dict[str, Any]:
    return {
        "category": category,
        "kind": record.kind.value,
        "reference": record.reference,
        "ours": record.amount,
        "theirs": None,
        "occurred_at": record.occurred_at.isoformat(),
        "our_id": record.our_id,
        "gateway_status": None,
    }


def _theirs(category: str, record: GatewayRecord) -> dict[str, Any]:
    return {
        "category": category,
        "kind": record.kind.value,
        "reference": record.reference,
        "ours": None,
        "theirs": record.amount,
        "occurred_at": record.occurred_at.isoformat(),
        "our_id": record.our_id,
        "gateway_status": record.status,
    }


def _pair(category: str, pair: Pair[GatewayRecord]) -> dict[str, Any]:
    return _theirs(category, pair.theirs) | {"ours": pair.ours.amount, "our_id": pair.ours.our_id}


def unmatched_items(result: Reconciliation[GatewayRecord]) -> list[dict[str, Any]]:
    """Every record that did not match, with its category, for operators."""
    return [
        *(_theirs("missing_ours", r) for r in result.missing_ours),
        *(_ours("missing_theirs", r) for r in result.missing_theirs),
        *(_pair("amount_mismatch", p) for p in result.amount_mismatch),
        *(_ours("duplicate_ours", r) for r in result.duplicate_ours),
        *(_theirs("duplicate_theirs", r) for r in result.duplicate_theirs),
    ]


def run_view(run: ReconciliationRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "gateway": run.gateway,
        "day": run.day.isoformat(),
        "status": run.status,
        "clean": run.status == RunStatus.CLEAN,
        "window": {"start": run.window_start.isoformat(), "end": run.window_end.isoformat()},
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "counts": {name: getattr(run, name) for name in COUNTS},
        "error": run.error,
        "items": run.items,
    }
