"""What the ledger (`GET /_sim/ledger`) lists for each charge and refund."""

from __future__ import annotations

from dataclasses import dataclass

from gatewaysim.gateways import Gateway


@dataclass(frozen=True)
class ChargeRow:
    gateway: Gateway
    reference: str
    idempotency_key: str  # Mercado Pago: X-Idempotency-Key; Efí: the txid
    amount_cents: int
    status: str
    create_requests: int


@dataclass(frozen=True)
class RefundRow:
    gateway: Gateway
    reference: str  # the charge's: Mercado Pago payment id, Efí txid
    refund_id: str
    amount_cents: int
    requests: int
    status: str | None = None  # Efí: EM_PROCESSAMENTO, DEVOLVIDO or NAO_REALIZADO
