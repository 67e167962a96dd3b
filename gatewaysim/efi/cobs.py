"""A simulated Efí cob (immediate charge), the pix that pays it, its devoluções, and the
moves each may make."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from gatewaysim.efi.wire import (
    IN_PROGRESS,
    NOT_RETURNED,
    RETURNED,
    bcb_error,
    cob_not_active,
    error,
)

OVER_THE_PIX = "A soma das devoluções excederia o valor do pix."


class CobStatus(StrEnum):
    ATIVA = "ATIVA"
    CONCLUIDA = "CONCLUIDA"
    REMOVIDA_PELO_USUARIO_RECEBEDOR = "REMOVIDA_PELO_USUARIO_RECEBEDOR"


@dataclass
class Devolucao:
    """Asked for EM_PROCESSAMENTO; settles later as DEVOLVIDO or NAO_REALIZADO."""

    id: str
    rtr_id: str
    amount_cents: int
    requested_at: datetime
    requests: int = 1
    status: str = IN_PROGRESS
    settled_at: datetime | None = None

    def settle(self, status: str, at: datetime) -> bool:
        """Move to its final status; False when it had one already."""
        if self.status != IN_PROGRESS:
            return False
        self.status, self.settled_at = status, at
        return True


@dataclass
class Pix:
    end_to_end_id: str
    txid: str
    chave: str
    amount_cents: int
    paid_at: datetime
    devolucoes: dict[str, Devolucao] = field(default_factory=dict)

    def give_back(self, devolucao: Devolucao) -> None:
        """The sum of devoluções (but those not made) stays within the pix; Efí lists no
        error for more, so the Banco Central's PixDevolucaoInvalida answers it."""
        returned = sum(d.amount_cents for d in self.devolucoes.values() if d.status != NOT_RETURNED)
        if returned + devolucao.amount_cents > self.amount_cents:
            raise bcb_error(
                HTTPStatus.BAD_REQUEST,
                "PixDevolucaoInvalida",
                "Devolução inválida.",
                "A presente requisição de devolução não respeita o schema ou não faz sentido "
                "semanticamente.",
                [
                    {
                        "razao": "A soma das devoluções excederia o valor do pix.",
                        "propriedade": "valor",
                    }
                ],
            )
        self.devolucoes[devolucao.id] = devolucao

    def returned(self) -> list[Devolucao]:
        return [d for d in self.devolucoes.values() if d.status == RETURNED]


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
            raise cob_not_active()
