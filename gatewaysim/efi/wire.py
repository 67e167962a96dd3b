"""Efí's wire forms: error bodies, timestamps, cob, pix and devolução objects.

Sources (docs/gateways/efi.md has the whole contract): efipay/documentacao-tecnica-efi
docs/APIPix/{CobrancasImediatas,Pix,Webhooks,Endpoints}/index.html for Efí's own
`{"nome", "mensagem"}` errors and bodies; bacen/pix-api openapi.yaml for the RFC 7807
errors (`type`, `title`, `status`, `detail`, `violacoes`) Efí also answers with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from app.gateways.amounts import to_pix_value
from gatewaysim.errors import SimulatorError

if TYPE_CHECKING:
    from gatewaysim.efi.cobs import Cob, Devolucao, Pix
    from gatewaysim.efi.sends import SentPix

IN_PROGRESS = "EM_PROCESSAMENTO"
RETURNED = "DEVOLVIDO"
NOT_RETURNED = "NAO_REALIZADO"
SENT = "REALIZADO"
NOT_SENT = "NAO_REALIZADO"

PAYER_INFO = "pago pelo simulador"
PAYEE_NAME = "Favorecido do Simulador"
BCB_ERROR_BASE = "https://pix.bcb.gov.br/api/v2/error/"
# Efí's example of a devolução that was not made (docs/APIPix/Pix, "Consultar devolução").
NOT_RETURNED_REASON = "Negado por timeout"
_SERVER_ERRORS = {
    HTTPStatus.INTERNAL_SERVER_ERROR: ("erro_interno_servidor", "Erro interno do servidor."),
    HTTPStatus.SERVICE_UNAVAILABLE: ("servico_indisponivel", "Serviço indisponível."),
}


def error(status: HTTPStatus, nome: str, mensagem: str) -> SimulatorError:
    return SimulatorError(status, {"nome": nome, "mensagem": mensagem})


def bcb_error(
    status: HTTPStatus, kind: str, title: str, detail: str, violations: list[dict[str, str]]
) -> SimulatorError:
    """An RFC 7807 error as the Banco Central's Pix API defines them."""
    body = {"type": BCB_ERROR_BASE + kind, "title": title, "status": int(status), "detail": detail}
    return SimulatorError(status, body | ({"violacoes": violations} if violations else {}))


def unauthorized() -> SimulatorError:
    return error(HTTPStatus.UNAUTHORIZED, "nao_autorizado", "Token de acesso inválido ou expirado.")


def cob_not_found() -> SimulatorError:
    """A 400, not a 404: GET and PATCH /v2/cob/:txid list 200 and 400 only."""
    return error(
        HTTPStatus.BAD_REQUEST,
        "cobranca_nao_encontrada",
        "Nenhuma cobrança encontrada para o txid informado",
    )


def pix_not_found() -> SimulatorError:
    return error(
        HTTPStatus.BAD_REQUEST,
        "pix_nao_encontrado",
        "Nenhum pix encontrado para o identificador informado",
    )


def devolucao_not_found() -> SimulatorError:
    return error(
        HTTPStatus.BAD_REQUEST,
        "devolucao_nao_encontrada",
        "Nenhuma devolução encontrada para o identificador informado",
    )


def devolucao_id_taken() -> SimulatorError:
    return error(
        HTTPStatus.CONFLICT,
        "devolucao_id_duplicado",
        "O id informado já foi utilizado em outra devolução",
    )


def cob_not_active() -> SimulatorError:
    return error(
        HTTPStatus.BAD_REQUEST,
        "status_cobranca_invalido",
        "A cobrança não está mais com o status ATIVA",
    )


def webhook_invalid(message: str) -> SimulatorError:
    return error(HTTPStatus.BAD_REQUEST, "webhook_invalido", message)


def server_error(status: HTTPStatus) -> SimulatorError:
    return error(status, *_SERVER_ERRORS[status])


def invalid_request(errors: Sequence[Any]) -> SimulatorError:
    """FastAPI's validation errors as Efí's 400 json_invalido, with its "erros" list
    (docs/APIPix/Endpoints, "Criar location do payload")."""
    failure = error(HTTPStatus.BAD_REQUEST, "json_invalido", "Valores ou tipos de campo inválidos")
    failure.body["erros"] = [
        {"chave": e["type"], "caminho": f".{'.'.join(map(str, e['loc']))}", "mensagem": e["msg"]}
        for e in errors
    ]
    return failure


def timestamp(moment: datetime) -> str:
    """UTC with milliseconds and a Z, as Efí writes them: 2026-01-05T13:00:00.000Z."""
    return moment.astimezone(UTC).isoformat("T", "milliseconds").replace("+00:00", "Z")


def cob_json(cob: Cob) -> dict[str, Any]:
    body: dict[str, Any] = {
        "calendario": {"criacao": timestamp(cob.created_at), "expiracao": cob.expires_in_seconds},
        "txid": cob.txid,
        "revisao": cob.revisao,
        "loc": {"id": cob.loc_id, "location": cob.location, "tipoCob": "cob"},
        "location": cob.location,
        "status": cob.status,
    }
    if cob.devedor is not None:
        body["devedor"] = cob.devedor
    body |= {"valor": {"original": to_pix_value(cob.amount_cents)}, "chave": cob.chave}
    if cob.solicitacao_pagador is not None:
        body["solicitacaoPagador"] = cob.solicitacao_pagador
    body["pixCopiaECola"] = cob.pix_copia_e_cola
    if cob.pix is not None:
        devolucoes = [devolucao_json(d) for d in cob.pix.devolucoes.values()]
        body["pix"] = [{**_pix_json(cob.pix), "devolucoes": devolucoes}]
    return body


def pix_callback_json(pix: Pix, devolucoes: Sequence[Devolucao] = ()) -> dict[str, Any]:
    """One entry of a callback's "pix" list; a devolução's callback repeats its pix with
    a "devolucoes" list (docs/APIPix/Webhooks, "Exemplo-Devolução")."""
    entry = {**_pix_json(pix), "chave": pix.chave, "infoPagador": PAYER_INFO}
    if devolucoes:
        entry["devolucoes"] = [devolucao_json(d) for d in devolucoes]
    return entry


def pix_sent_callback_json(send: SentPix) -> dict[str, Any]:
    """A Pix our account sent: no txid, ``gnExtras.idEnvio``; one not made has no
    horario and ``gnExtras.erro`` (envio-pagamento-pix/webhooks.md, "Exemplo-Pix-enviado",
    "Pix rejeitado")."""
    extras: dict[str, Any] = {"idEnvio": send.id_envio}
    if send.error is not None:
        extras["erro"] = send.error
    return {
        "endToEndId": send.end_to_end_id,
        "chave": send.payer_key,
        "tipo": "SOLICITACAO",
        "status": send.status,
        "valor": to_pix_value(send.amount_cents),
        "horario": timestamp(send.settled_at) if send.status == SENT and send.settled_at else None,
        "gnExtras": extras,
    }


@dataclass(frozen=True, slots=True)
class Paging:
    """``paginacao`` of a list: only the last page may be short (bacen/pix-api Paginacao)."""

    page: int
    page_size: int
    total: int

    def json(self) -> dict[str, int]:
        return {
            "paginaAtual": self.page,
            "itensPorPagina": self.page_size,
            "quantidadeDePaginas": math.ceil(self.total / self.page_size),
            "quantidadeTotalDeItens": self.total,
        }


def received_json(
    start: datetime, end: datetime, paging: Paging, pix: Sequence[Pix]
) -> dict[str, Any]:
    """A page of ``GET /v2/pix``: ``parametros`` then the ``pix`` list, each with its
    devoluções (bacen/pix-api ``PixConsultados``; Efí's gestao-de-pix example)."""
    parametros = {"inicio": timestamp(start), "fim": timestamp(end), "paginacao": paging.json()}
    return {
        "parametros": parametros,
        "pix": [pix_callback_json(p, list(p.devolucoes.values())) for p in pix],
    }


def send_answer_json(send: SentPix) -> dict[str, Any]:
    """The 201 of `PUT /v3/gn/pix/:idEnvio`: queued, and ``e2eId``, not ``endToEndId``."""
    return {
        "idEnvio": send.id_envio,
        "e2eId": send.end_to_end_id,
        "valor": to_pix_value(send.amount_cents),
        "horario": {"solicitacao": timestamp(send.requested_at)},
        "status": IN_PROGRESS,
    }


def sent_pix_json(send: SentPix) -> dict[str, Any]:
    """A send as `GET /v2/gn/pix/enviados/id-envio/:idEnvio` shows it."""
    horario = {"solicitacao": timestamp(send.requested_at)}
    if send.settled_at is not None and send.status == SENT:
        horario["liquidacao"] = timestamp(send.settled_at)
    identification: dict[str, str] = {"nome": PAYEE_NAME}
    if send.payee_document is not None:
        identification[send.payee_document.type] = send.payee_document.masked
    body: dict[str, Any] = {
        "endToEndId": send.end_to_end_id,
        "idEnvio": send.id_envio,
        "valor": to_pix_value(send.amount_cents),
        "chave": send.payer_key,
        "status": send.status,
        "horario": horario,
        "favorecido": {"chave": send.payee_key, "identificacao": identification},
    }
    if send.payer_info is not None:
        body["infoPagador"] = send.payer_info
    return body


def id_envio_taken() -> SimulatorError:
    return error(
        HTTPStatus.CONFLICT,
        "id_envio_duplicado",
        "O id de envio informado já foi utilizado em outro pagamento",
    )


def send_not_found() -> SimulatorError:
    return bcb_error(
        HTTPStatus.NOT_FOUND,
        "PixEnviadoNaoEncontrado",
        "Pix enviado não encontrado",
        "Pix enviado não encontrado para o idEnvio informado.",
        [],
    )


def key_invalid() -> SimulatorError:
    return error(HTTPStatus.BAD_REQUEST, "chave_invalida", "A chave informada é inválida")


def key_not_of_document() -> SimulatorError:
    return error(
        HTTPStatus.BAD_REQUEST,
        "chave_nao_pertence_ao_documento",
        "O cpf do favorecido é diferente do documento em posse da chave",
    )


def payment_denied() -> SimulatorError:
    return error(
        HTTPStatus.UNPROCESSABLE_ENTITY, "pagamento_negado", "Pagamento negado por análises"
    )


# Sends answer their own 500 (envio-pagamento-pix.md): the error_rate fault gives it there.
SEND_PATH_PREFIX = "/efi/v3/gn/pix/"


def send_failed() -> SimulatorError:
    return error(
        HTTPStatus.INTERNAL_SERVER_ERROR, "erro_aplicacao", "Ocorreu um erro ao validar a chave"
    )


def throttled() -> SimulatorError:
    return bcb_error(
        HTTPStatus.TOO_MANY_REQUESTS,
        "BaldeFichasVazio",
        "Balde de fichas vazio",
        "Não há fichas no balde a serem consumidas",
        [],
    )


def devolucao_json(devolucao: Devolucao) -> dict[str, Any]:
    """Its state now: EM_PROCESSAMENTO, then DEVOLVIDO (with the settlement time) or
    NAO_REALIZADO (with a "motivo"), as GET /v2/pix/:e2eId/devolucao/:id shows it."""
    horario = {"solicitacao": timestamp(devolucao.requested_at)}
    if devolucao.settled_at is not None and devolucao.status == RETURNED:
        horario["liquidacao"] = timestamp(devolucao.settled_at)
    body = {
        "id": devolucao.id,
        "rtrId": devolucao.rtr_id,
        "valor": to_pix_value(devolucao.amount_cents),
        "horario": horario,
        "status": devolucao.status,
    }
    if devolucao.status == NOT_RETURNED:
        body["motivo"] = NOT_RETURNED_REASON
    return body


def _pix_json(pix: Pix) -> dict[str, Any]:
    return {
        "endToEndId": pix.end_to_end_id,
        "txid": pix.txid,
        "valor": to_pix_value(pix.amount_cents),
        "horario": timestamp(pix.paid_at),
    }
