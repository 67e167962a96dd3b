"""A simulated Efí cob (immediate charge), the pix that pays it, its devoluções, and the
moves each may make."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from gatewaysim.efi.wire import error


class CobStatus(StrEnum):
    ATIVA = "ATIVA"
    CONCLUIDA = "CONCLUIDA"
    REMOVIDA_PELO_USUARIO_RECEBEDOR = "REMOVIDA_PELO_USUARIO_RECEBEDOR"


@dataclass
class Devolucao:
    id: str
    rtr_id: str
    amount_cents: int
    requested_at: datetime
    requests: int = 1


@dataclass
class Pix:
    end_to_end_id: str
    txid: str
    chave: str
    amount_cents: int
    paid_at: datetime
    devolucoes: dict[str, Devolucao] = field(default_factory=dict)

    def give_back(self, devolucao: Devolucao) -> None:
        returned = sum(d.amount_cents for d in self.devolucoes.values())
        if returned + devolucao.amount_cents > self.amount_cents:
            raise error(
                HTTPStatus.BAD_REQUEST,
                "valor_devolucao_atingido",
                "A soma das devoluções excede o valor do Pix.",
            )
        self.devolucoes[devolucao.id] = devolucao


@dataclass
class Cob:
    txid: str
    created_at: datetime
    expires_in_seconds: int
    loc_id: int
    location: str
    amount_cents: int
    chave: str
    devedor: dict[str, Any] | None
    solicitacao_pagador: str | None
    pix_copia_e_cola: str
    status: CobStatus = CobStatus.ATIVA
    revisao: int = 0
    pix: Pix | None = None
    create_requests: int = 1

    @property
    def expires_at(self) -> datetime:
        return self.created_at + timedelta(seconds=self.expires_in_seconds)

    def remove(self) -> None:
        self._require_active()
        self.status = CobStatus.REMOVIDA_PELO_USUARIO_RECEBEDOR
        self.revisao += 1

    def pay(self, pix: Pix) -> None:
        """The payer sent ``pix``; an expired cob (by criacao + expiracao) takes no payment."""
        self._require_active()
        if pix.paid_at >= self.expires_at:
            raise error(HTTPStatus.BAD_REQUEST, "cobranca_expirada", "A cobrança expirou.")
        self.status = CobStatus.CONCLUIDA
        self.pix = pix

    def _require_active(self) -> None:
        if self.status is not CobStatus.ATIVA:
            raise error(
                HTTPStatus.BAD_REQUEST, "cobranca_nao_ativa", f"A cobrança está {self.status}."
            )
