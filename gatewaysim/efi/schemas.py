"""Request bodies the simulated Efí accepts; Pix values arrive as integer centavos."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from app.gateways.amounts import to_centavos

PIX_VALUE = re.compile(r"^\d{1,10}\.\d{2}$")
DEFAULT_EXPIRATION_SECONDS = 86_400
PAYER_REQUEST_MAX_CHARS = 140
PIX_KEY_MAX_CHARS = 77


def _pix_value_to_centavos(value: object) -> int:
    """A Pix value string ("19.90") as centavos (1990): two decimals, greater than zero."""
    if not isinstance(value, str) or not PIX_VALUE.fullmatch(value):
        raise ValueError('must be a string with two decimals, e.g. "19.90"')
    centavos = to_centavos(value)
    if centavos <= 0:
        raise ValueError("must be greater than 0.00")
    return centavos


PixCentavos = Annotated[int, BeforeValidator(_pix_value_to_centavos)]


class Calendario(BaseModel):
    expiracao: int = Field(DEFAULT_EXPIRATION_SECONDS, gt=0)


class Devedor(BaseModel):
    cpf: str | None = Field(None, pattern=r"^\d{11}$")
    cnpj: str | None = Field(None, pattern=r"^\d{14}$")
    nome: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_document(self) -> Self:
        if (self.cpf is None) == (self.cnpj is None):
            raise ValueError("devedor takes either cpf or cnpj")
        return self


class Valor(BaseModel):
    original: PixCentavos


class CobIn(BaseModel):
    calendario: Calendario = Calendario()
    devedor: Devedor | None = None
    valor: Valor
    chave: str = Field(min_length=1, max_length=PIX_KEY_MAX_CHARS)
    solicitacao_pagador: str | None = Field(
        None, alias="solicitacaoPagador", max_length=PAYER_REQUEST_MAX_CHARS
    )


class CobPatchIn(BaseModel):
    status: Literal["REMOVIDA_PELO_USUARIO_RECEBEDOR"]


class DevolucaoIn(BaseModel):
    """`valor`; `natureza` and `descricao` are optional (bacen/pix-api openapi.yaml,
    DevolucaoSolicitada): no natureza means ORIGINAL."""

    valor: PixCentavos
    natureza: Literal["ORIGINAL", "RETIRADA"] = "ORIGINAL"
    descricao: str | None = Field(None, max_length=PAYER_REQUEST_MAX_CHARS)


class WebhookIn(BaseModel):
    webhook_url: str = Field(alias="webhookUrl", pattern=r"^https?://")


class Pagador(BaseModel):
    chave: str = Field(min_length=1, max_length=PIX_KEY_MAX_CHARS)
    info_pagador: str | None = Field(
        None, alias="infoPagador", max_length=PAYER_REQUEST_MAX_CHARS - 1
    )


class Favorecido(BaseModel):
    """A key, optionally with the document Efí then checks it belongs to. (Bank data,
    ``contaBanco``, is not simulated: docs/gateways/payouts-and-reconciliation.md §1.)"""

    chave: str = Field(min_length=1, max_length=PIX_KEY_MAX_CHARS)
    cpf: str | None = Field(None, pattern=r"^\d{11}$")
    cnpj: str | None = Field(None, pattern=r"^[0-9A-Z]{14}$")

    @model_validator(mode="after")
    def _one_document_at_most(self) -> Self:
        if self.cpf is not None and self.cnpj is not None:
            raise ValueError("favorecido takes cpf or cnpj, not both")
        return self

    @property
    def document(self) -> str | None:
        return self.cpf or self.cnpj


class PixSendIn(BaseModel):
    """`PUT /v3/gn/pix/:idEnvio` (efipay docs `Enviar_pix.md`; envio-pagamento-pix.md)."""

    valor: PixCentavos
    pagador: Pagador
    favorecido: Favorecido
