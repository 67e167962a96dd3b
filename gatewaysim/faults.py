"""Faults each simulated gateway is told to show, and the draws that decide each request."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gatewaysim.dice import Dice
from gatewaysim.gateways import Gateway


class FaultSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    error_rate: float = Field(0.0, ge=0, le=1)
    decline_rate: float = Field(0.0, ge=0, le=1)
    latency_ms: int = Field(0, ge=0)
    timeout_rate: float = Field(0.0, ge=0, le=1)
    outage: bool = False
    # Every new PIX charge is paid this long after it is created; None leaves it unpaid.
    pix_auto_pay_seconds: float | None = Field(None, ge=0)
    # Mercado Pago only (docs/gateways/mercadopago.md says which source backs each):
    # a new payment shows in /v1/payments/search only this long after it was created.
    search_lag_seconds: float = Field(0.0, ge=0)
    # Creates answered 409 (idempotency conflict) or 423 (key locked) before any work,
    # or 424 (failed dependency) after the payment was made.
    conflict_rate: float = Field(0.0, ge=0, le=1)
    locked_rate: float = Field(0.0, ge=0, le=1)
    dependency_failure_rate: float = Field(0.0, ge=0, le=1)
    # What a new refund says first; "in_process" ones settle (approved) on the next read.
    refund_status: Literal["approved", "in_process", "rejected"] = "approved"
    # Efí: a new devolução answers EM_PROCESSAMENTO and settles this long after; None
    # leaves it EM_PROCESSAMENTO until POST /_sim/efi/devolucoes/{id}/settle.
    refund_settle_seconds: float | None = Field(0.0, ge=0)
    # Efí: the share of devoluções that settle as NAO_REALIZADO instead of DEVOLVIDO.
    refund_failure_rate: float = Field(0.0, ge=0, le=1)
    # The reconciliation lists (Efí GET /v2/pix, Mercado Pago /v1/payments/search): the
    # page with this index (Efí paginaAtual; Mercado Pago offset // limit) answers 500.
    failing_list_page: int | None = Field(None, ge=0)
    # Efí: the share of callbacks sent twice (a receiver's 2xx lost on the way back).
    callback_duplicate_rate: float = Field(0.0, ge=0, le=1)
    # Efí: the share of Pix-send callbacks never sent (lost for good).
    callback_drop_rate: float = Field(0.0, ge=0, le=1)
    # Efí: the share of calls answered 429 BaldeFichasVazio before any work.
    throttle_rate: float = Field(0.0, ge=0, le=1)
    # Efí Pix sends: each settles this long after the PUT; None leaves it
    # EM_PROCESSAMENTO until POST /_sim/efi/envios/{idEnvio}/settle.
    send_settle_seconds: float | None = Field(0.0, ge=0)
    # Efí Pix sends: the share that settle NAO_REALIZADO (with gnExtras.erro).
    send_failure_rate: float = Field(0.0, ge=0, le=1)
    # Efí Pix sends: the share of PUTs refused 422 pagamento_negado (risk analysis).
    send_denied_rate: float = Field(0.0, ge=0, le=1)
    # Efí Pix sends: a read by idEnvio or e2eId answers 404 this long after the PUT.
    send_read_lag_seconds: float = Field(0.0, ge=0)


class FaultBoard:
    def __init__(self, dice: Dice) -> None:
        self._dice = dice
        self._settings = {gateway: FaultSettings() for gateway in Gateway}

    def of(self, gateway: Gateway) -> FaultSettings:
        return self._settings[gateway]

    def all(self) -> dict[str, dict[str, Any]]:
        return {
            gateway.value: settings.model_dump() for gateway, settings in self._settings.items()
        }

    def update(self, gateway: Gateway, changes: FaultSettings) -> FaultSettings:
        """Apply the fields ``changes`` was given explicitly; the others keep their value."""
        updated = self._settings[gateway].model_copy(update=changes.model_dump(exclude_unset=True))
        self._settings[gateway] = updated
        return updated

    def reset(self) -> None:
        self._settings = {gateway: FaultSettings() for gateway in Gateway}

    def errs(self, gateway: Gateway) -> bool:
        return self._dice.chance(self.of(gateway).error_rate)

    def hangs(self, gateway: Gateway) -> bool:
        return self._dice.chance(self.of(gateway).timeout_rate)

    def declines(self, gateway: Gateway) -> bool:
        return self._dice.chance(self.of(gateway).decline_rate)

    def chance(self, rate: float) -> bool:
        """One draw for a rate of a gateway's own settings."""
        return self._dice.chance(rate)

    def fails_list_page(self, gateway: Gateway, page: int) -> bool:
        return self.of(gateway).failing_list_page == page

    def refund_fails(self, gateway: Gateway) -> bool:
        return self._dice.chance(self.of(gateway).refund_failure_rate)

    def duplicates_callback(self, gateway: Gateway) -> bool:
        return self._dice.chance(self.of(gateway).callback_duplicate_rate)
