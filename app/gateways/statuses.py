"""Each gateway's statuses mapped to PixWave's, as versioned data.

A status missing from a table maps to ``unknown``: PixWave then asks the gateway
again instead of guessing, and never reads an unfamiliar word as a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.domain.charges import ChargeStatus

_C = ChargeStatus


@dataclass(frozen=True, slots=True)
class StatusMap:
    gateway: str
    version: str
    by_status: Mapping[str, ChargeStatus]
    # (status, status_detail) pairs that mean something else than the status alone.
    by_detail: Mapping[tuple[str, str], ChargeStatus] = field(default_factory=dict)

    def status_of(self, status: str, detail: str | None = None) -> ChargeStatus:
        if detail is not None and (status, detail) in self.by_detail:
            return self.by_detail[(status, detail)]
        return self.by_status.get(status, _C.UNKNOWN)


# Statuses and status_detail of a payment: developers/en/docs/checkout-api-payments/
# response-handling/query-results (the rows are in docs/gateways/mercadopago.md).
MERCADOPAGO_STATUSES = StatusMap(
    gateway="mercadopago",
    version="2026-12-01",
    by_status={
        "pending": _C.AWAITING_PAYMENT,
        "approved": _C.PAID,
        "authorized": _C.AUTHORIZED,
        "in_process": _C.PROCESSING,
        "in_mediation": _C.DISPUTED,
        "rejected": _C.DECLINED,
        "cancelled": _C.CANCELED,
        "refunded": _C.REFUNDED,
        "charged_back": _C.CHARGED_BACK,
    },
    by_detail={
        # A card payment waiting for its 3-D Secure challenge: nothing for a PIX payer to
        # pay (``pending`` alone would read as an issued PIX charge), so look again.
        ("pending", "pending_challenge"): _C.PROCESSING,
        ("cancelled", "expired"): _C.EXPIRED,
    },
)

EFI_COB_STATUSES = StatusMap(
    gateway="efi",
    version="2026-11-21",
    by_status={
        "ATIVA": _C.AWAITING_PAYMENT,
        "CONCLUIDA": _C.PAID,
        "REMOVIDA_PELO_USUARIO_RECEBEDOR": _C.CANCELED,
        "REMOVIDA_PELO_PSP": _C.CANCELED,
    },
)


def efi_cob_status(
    status: str, *, created_at: datetime, expires_in_seconds: int, now: datetime
) -> ChargeStatus:
    """Efí leaves an unpaid cob ATIVA forever; past ``criacao + expiracao`` it is expired."""
    mapped = EFI_COB_STATUSES.status_of(status)
    expired = now >= created_at + timedelta(seconds=expires_in_seconds)
    return _C.EXPIRED if mapped is _C.AWAITING_PAYMENT and expired else mapped
