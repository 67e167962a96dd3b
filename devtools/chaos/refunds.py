"""Refunds in the chaos run, and the realistic gateways they meet.

In the realistic-gateway mode the simulator behaves as the real gateways' awkward
documented parts (docs/gateways/): a Mercado Pago search that lags new payments, creates
answered 409/423/424, refunds in process; Efí devoluções that stay EM_PROCESSAMENTO a
while and callbacks sent twice. Once the PIX intents have ended, some succeeded ones are
refunded (every other one partly) and their first gateway callback is sent again, out
of order. Every refund must be counted once: the gateway returned, for each charge,
exactly what PixWave's succeeded refunds of it say, and the intent says the same.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx

from app.gateways.port import GatewayName
from devtools.demo.driver import SIM_ADMIN_TIMEOUT_SECONDS, call_api

# The simulator's knobs (docs/gateways/mercadopago.md and efi.md, "Simulator knobs").
REALISTIC_FAULTS: dict[str, dict[str, Any]] = {
    GatewayName.MERCADOPAGO.value: {
        "search_lag_seconds": 5.0,
        "conflict_rate": 0.02,
        "locked_rate": 0.05,
        "dependency_failure_rate": 0.05,
        "refund_status": "in_process",
    },
    GatewayName.EFI.value: {
        "refund_settle_seconds": 3.0,
        "callback_duplicate_rate": 0.3,
    },
}
# Refunds the gateway says it will not make; any other row returns (or will) its money.
NOT_RETURNED_STATUSES = frozenset({"NAO_REALIZADO", "rejected"})


@dataclass(frozen=True, slots=True)
class RefundRun:
    id: str
    intent_id: str
    amount: int


async def realistic_gateways(sim_url: str) -> None:
    async with httpx.AsyncClient(
        base_url=f"{sim_url}/_sim", timeout=SIM_ADMIN_TIMEOUT_SECONDS
    ) as sim:
        for gateway, knobs in REALISTIC_FAULTS.items():
            (await sim.put(f"/faults/{gateway}", json=knobs)).raise_for_status()


async def refund_some(api: httpx.AsyncClient, intent_ids: list[str], count: int) -> list[RefundRun]:
    """Refund up to ``count`` of the succeeded intents: every other one half of it."""
    runs: list[RefundRun] = []
    for number, intent_id in enumerate(intent_ids):
        if len(runs) == count:
            break
        intent = await call_api(api, "GET", f"/v1/payment_intents/{intent_id}")
        if intent["status"] != "succeeded":
            continue
        amount = intent["amount_received"] // (2 if number % 2 else 1)
        refund = await call_api(
            api,
            "POST",
            "/v1/refunds",
            json={"payment_intent": intent_id, "amount": amount},
            headers={"Idempotency-Key": f"chaos-refund-{uuid.uuid4()}"},
        )
        runs.append(RefundRun(refund["id"], intent_id, amount))
    return runs


async def resend_first_callbacks(sim_url: str, charges: dict[str, tuple[str, str]]) -> None:
    """The gateway's first word on each refunded charge, again, after everything since."""
    async with httpx.AsyncClient(
        base_url=f"{sim_url}/_sim", timeout=SIM_ADMIN_TIMEOUT_SECONDS
    ) as sim:
        for gateway, reference in charges.values():
            path = (
                f"/efi/callbacks/{reference}/resend/0"
                if gateway == GatewayName.EFI.value
                else f"/callbacks/{gateway}/{reference}/resend"
            )
            await sim.post(path)


def refund_violations(
    runs: list[RefundRun],
    refunds: dict[str, tuple[str, int]],
    intents_refunded: dict[str, int],
    charges: dict[str, tuple[str, str]],
    ledger: dict[str, Any],
) -> list[str]:
    """``refunds``: refund id → (status, amount); ``intents_refunded``: intent id →
    amount_refunded; ``charges``: intent id → (gateway, reference) of its paid charge."""
    succeeded: Counter[str] = Counter()
    problems = []
    for run in runs:
        status, amount = refunds[run.id]
        if status not in ("succeeded", "failed"):
            problems.append(f"refund {run.id} is still {status}")
        if status == "succeeded":
            succeeded[run.intent_id] += amount
    returned = _returned_by_gateway(ledger)
    for intent_id in dict.fromkeys(run.intent_id for run in runs):
        if intent_id not in charges:
            problems.append(f"{intent_id}: no paying charge found for its refunds")
            continue
        gateway_returned = returned.get(charges[intent_id], 0)
        if gateway_returned != succeeded[intent_id]:
            problems.append(
                f"{intent_id}: the gateway returned {gateway_returned}, PixWave's "
                f"succeeded refunds say {succeeded[intent_id]}"
            )
        if intents_refunded[intent_id] != succeeded[intent_id]:
            problems.append(
                f"{intent_id}: amount_refunded is {intents_refunded[intent_id]}, its "
                f"succeeded refunds {succeeded[intent_id]}"
            )
    return problems


def _returned_by_gateway(ledger: dict[str, Any]) -> Counter[tuple[str, str]]:
    """Money each charge gave back at its gateway, by (gateway, reference)."""
    returned: Counter[tuple[str, str]] = Counter()
    for row in ledger["refunds"]:
        if row.get("status") not in NOT_RETURNED_STATUSES:
            returned[(row["gateway"], row["reference"])] += int(row["amount_cents"])
    return returned
