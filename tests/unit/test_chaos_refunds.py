"""The chaos run's refund invariant, on made-up observations: every refund counted once."""

from __future__ import annotations

from typing import Any

from devtools.chaos.refunds import RefundRun, refund_violations

CHARGES = {"pi_mp": ("mercadopago", "1001"), "pi_efi": ("efi", "tx" + "1" * 30)}
RUNS = [RefundRun("re_1", "pi_mp", 1000), RefundRun("re_2", "pi_efi", 500)]


def _ledger(*rows: tuple[str, str, int, str | None]) -> dict[str, Any]:
    return {
        "refunds": [
            {"gateway": g, "reference": r, "amount_cents": a, "status": s} for g, r, a, s in rows
        ]
    }


def test_refunds_returned_once_agree() -> None:
    ledger = _ledger(
        ("mercadopago", "1001", 1000, None), ("efi", "tx" + "1" * 30, 500, "DEVOLVIDO")
    )
    refunds = {"re_1": ("succeeded", 1000), "re_2": ("succeeded", 500)}
    assert refund_violations(RUNS, refunds, {"pi_mp": 1000, "pi_efi": 500}, CHARGES, ledger) == []


def test_a_refund_paid_out_twice_or_still_pending_is_reported() -> None:
    ledger = _ledger(
        ("mercadopago", "1001", 1000, None),
        ("mercadopago", "1001", 1000, None),
        ("efi", "tx" + "1" * 30, 500, "EM_PROCESSAMENTO"),
    )
    refunds = {"re_1": ("succeeded", 1000), "re_2": ("pending", 500)}
    problems = refund_violations(RUNS, refunds, {"pi_mp": 1000, "pi_efi": 500}, CHARGES, ledger)
    assert problems == [
        "refund re_2 is still pending",
        "pi_mp: the gateway returned 2000, PixWave's succeeded refunds say 1000",
        "pi_efi: the gateway returned 500, PixWave's succeeded refunds say 0",
        "pi_efi: amount_refunded is 500, its succeeded refunds 0",
    ]


def test_a_refund_the_gateway_did_not_make_returns_nothing() -> None:
    ledger = _ledger(("efi", "tx" + "1" * 30, 500, "NAO_REALIZADO"))
    refunds = {"re_2": ("failed", 500)}
    runs = [RUNS[1]]
    assert refund_violations(runs, refunds, {"pi_efi": 0}, CHARGES, ledger) == []
