"""What a demo or benchmark run saw: counts, fallbacks, webhooks, latency."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from rich.table import Table

from devtools.demo.driver import Outcome, PayoutRun

MILLIS = 1000.0


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(outcome: Outcome) -> dict[str, Any]:
    seconds = [run.seconds for run in outcome.runs if run.seconds is not None]
    ended = [run.ended_at for run in outcome.runs if run.ended_at is not None]
    span = (max(ended) - outcome.started_at) if ended else None
    p50, p99 = percentile(seconds, 0.50), percentile(seconds, 0.99)
    return {
        "intents": len(outcome.runs),
        "by_status": dict(Counter(run.status or "unknown" for run in outcome.runs)),
        "by_final_gateway": dict(Counter(run.gateways[-1] for run in outcome.runs if run.gateways)),
        "fallbacks": sum(1 for run in outcome.runs if len(set(run.gateways)) > 1),
        "gateway_attempts": sum(len(run.gateways) for run in outcome.runs),
        "webhooks_received": outcome.webhooks_received,
        "webhooks_with_bad_signature": outcome.bad_signatures,
        "p50_ms": None if p50 is None else round(p50 * MILLIS, 1),
        "p99_ms": None if p99 is None else round(p99 * MILLIS, 1),
        "intents_per_second": round(len(ended) / span, 1) if span else None,
        "payout": None if outcome.payout is None else _payout(outcome.payout),
    }


def _payout(payout: PayoutRun) -> dict[str, Any]:
    return {
        "id": payout.id,
        "status": payout.status,
        "available_before": payout.available_before,
        "available_after": payout.available_after,
    }


def table(summary: dict[str, Any]) -> Table:
    out = Table(title="PixWave demo", show_header=False)
    out.add_column("what")
    out.add_column("value", justify="right")
    out.add_row("intents", str(summary["intents"]))
    for status, count in sorted(summary["by_status"].items()):
        out.add_row(f"  {status}", str(count))
    for gateway, count in sorted(summary["by_final_gateway"].items()):
        out.add_row(f"  ended at {gateway}", str(count))
    out.add_row("gateway attempts", str(summary["gateway_attempts"]))
    out.add_row("fallbacks (intents tried at 2 gateways)", str(summary["fallbacks"]))
    out.add_row("webhooks received (signature checked)", str(summary["webhooks_received"]))
    out.add_row("webhooks with a bad signature", str(summary["webhooks_with_bad_signature"]))
    latency = f"{summary['p50_ms']} / {summary['p99_ms']} ms"
    out.add_row("create → ending webhook p50 / p99", latency)
    out.add_row("intents ended per second", str(summary["intents_per_second"]))
    payout = summary["payout"]
    if payout is not None:
        out.add_row(f"payout {payout['id']}", payout["status"])
        out.add_row("  available before / after (centavos)", _before_after(payout))
    return out


def _before_after(payout: dict[str, Any]) -> str:
    return f"{payout['available_before']} / {payout['available_after']}"
