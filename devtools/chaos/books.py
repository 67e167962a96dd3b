"""The chaos run's end-of-run checks on the money's books: the ledger's clearing account
of each gateway holds what the simulator's books say moved through it, and every day
of the run reconciles clean at each gateway (app/reconciliation)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any

from app.db.money_models import ReconciliationRun
from app.db.session import create_engine, session_factory
from app.db.uow import unit_of_work_factory
from app.domain.reconciliation import RunStatus
from app.gateways.registry import open_gateways
from app.reconciliation.service import reconcile_day
from app.settings import Settings
from devtools.chaos.refunds import NOT_RETURNED_STATUSES

# A simulator charge that took the payer's money (refunded since, perhaps).
TAKEN_STATUSES = frozenset({"approved", "refunded", "CONCLUIDA"})
# Unmatched records a violation names, at most.
SHOWN_ITEMS = 5


def moved_by_gateway(ledger: dict[str, Any]) -> Counter[str]:
    """What came in through each gateway and stayed, by the simulator's books: charges
    that took money less the refunds that returned (or will return) it."""
    moved: Counter[str] = Counter()
    for charge in ledger["charges"]:
        if charge["status"] in TAKEN_STATUSES:
            moved[charge["gateway"]] += int(charge["amount_cents"])
    for refund in ledger["refunds"]:
        if refund.get("status") not in NOT_RETURNED_STATUSES:
            moved[refund["gateway"]] -= int(refund["amount_cents"])
    return moved


def clearing_violations(clearing: dict[str, int], moved: Counter[str]) -> list[str]:
    """``clearing``: gateway → the balance of its clearing account, which goes negative
    by what the gateway holds for us (docs/decisions.md, the ledger's sign convention)."""
    return [
        f"ledger: gateway:{gateway}:clearing says {-clearing.get(gateway, 0)} came in, "
        f"the simulator's books {moved[gateway]}"
        for gateway in sorted(set(clearing) | set(moved))
        if -clearing.get(gateway, 0) != moved[gateway]
    ]


def unclean_runs(runs: Iterable[ReconciliationRun]) -> list[str]:
    problems = []
    for run in runs:
        if run.status == RunStatus.CLEAN:
            continue
        shown = ", ".join(
            f"{i['category']} {i['kind']} {i['reference']}" for i in run.items[:SHOWN_ITEMS]
        )
        detail = run.error or f"{len(run.items)} unmatched: {shown}"
        problems.append(
            f"reconciliation of {run.gateway} {run.day} ({run.id}) {run.status}: {detail}"
        )
    return problems


async def reconcile_days(settings: Settings, days: Iterable[date]) -> list[ReconciliationRun]:
    """Each day at every gateway, as `pixwave reconcile --date` does."""
    engine = create_engine(settings)
    gateways = open_gateways(settings)
    new_uow = unit_of_work_factory(session_factory(engine))
    try:
        return [run for day in days for run in await reconcile_day(new_uow, gateways, day)]
    finally:
        await gateways.close()
        await engine.dispose()
