"""The demo's summary: percentiles, counts and fallbacks from a run's intents."""

from __future__ import annotations

from devtools.demo.driver import IntentRun, Outcome, PayoutRun
from devtools.demo.report import percentile, summarize, table


def test_nearest_rank_percentiles() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None


def test_summary_counts_statuses_gateways_and_fallbacks() -> None:
    runs = [
        IntentRun("pi_1", 0.0, 0.2, "succeeded", ["mercadopago"]),
        IntentRun("pi_2", 0.0, 0.4, "succeeded", ["mercadopago", "mercadopago", "efi"]),
        IntentRun("pi_3", 1.0, None, "pending (no webhook)", []),
    ]
    summary = summarize(
        Outcome(runs, webhooks_received=7, bad_signatures=0, started_at=0.0, finished_at=2.0)
    )
    assert summary["by_status"] == {"succeeded": 2, "pending (no webhook)": 1}
    assert summary["by_final_gateway"] == {"mercadopago": 1, "efi": 1}
    assert summary["fallbacks"] == 1
    assert summary["gateway_attempts"] == 4
    assert (summary["p50_ms"], summary["p99_ms"]) == (200.0, 400.0)
    assert summary["intents_per_second"] == 5.0  # 2 ended within 0.4 s of the start


def test_a_payout_is_summarized_with_the_balance_around_it() -> None:
    runs = [IntentRun("pi_1", 0.0, 0.2, "succeeded", ["mercadopago"])]
    payout = PayoutRun("po_1", "paid", available_before=1980, available_after=980)
    summary = summarize(Outcome(runs, 3, 0, 0.0, 1.0, payout))
    assert summary["payout"] == {
        "id": "po_1",
        "status": "paid",
        "available_before": 1980,
        "available_after": 980,
    }
    assert table(summary).row_count == len(table({**summary, "payout": None}).rows) + 2
    assert summarize(Outcome(runs, 3, 0, 0.0, 1.0))["payout"] is None
