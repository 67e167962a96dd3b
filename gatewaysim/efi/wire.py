"""Efí's wire forms: error bodies, timestamps, cob, pix and devolução objects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from app.gateways.amounts import to_pix_value
from gatewaysim.errors import SimulatorError, field_name

if TYPE_CHECKING:
    from gatewaysim.efi.cobs import Cob, Devolucao, Pix

PAYER_INFO = "pago pelo simulador"
_SERVER_ERRORS = {
    HTTPStatus.INTERNAL_SERVER_ERROR: ("erro_interno_servidor", "Erro interno do servidor."),
    HTTPStatus.SERVICE_UNAVAILABLE: ("servico_indisponivel", "Serviço indisponível."),
}


def error(status: HTTPStatus, nome: str, mensagem: str) -> SimulatorError:
    return SimulatorError(status, {"nome": nome, "mensagem": mensagem})


def unauthorized() -> SimulatorError:
    return error(HTTPStatus.UNAUTHORIZED, "nao_autorizado", "Token de acesso inválido ou expirado.")


def cob_not_found() -> SimulatorError:
    return error(HTTPStatus.NOT_FOUND, "cobranca_nao_encontrada", "Cobrança não encontrada.")


def server_error(status: HTTPStatus) -> SimulatorError:
    return error(status, *_SERVER_ERRORS[status])


def invalid_request(errors: Sequence[Any]) -> SimulatorError:
    """FastAPI's validation errors as Efí's 400."""
    problems = "; ".join(f"{field_name(e['loc'])}: {e['msg']}" for e in errors)
    return error(
        HTTPStatus.BAD_REQUEST, "json_invalido", f"Valor não respeita o schema: {problems}"
    )


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
        devolucoes = [devolucao_json(d, settled=True) for d in cob.pix.devolucoes.values()]
        body["pix"] = [{**_pix_json(cob.pix), "devolucoes": devolucoes}]
    return body


def pix_callback_json(pix: Pix) -> dict[str, Any]:
    """One entry of a callback's "pix" list."""
    return {**_pix_json(pix), "chave": pix.chave, "infoPagador": PAYER_INFO}


def devolucao_json(devolucao: Devolucao, *, settled: bool) -> dict[str, Any]:
    """Devoluções settle at once, but the answer to the request creating one says
    EM_PROCESSAMENTO: only later reads see DEVOLVIDO."""
    horario = {"solicitacao": timestamp(devolucao.requested_at)}
    if settled:
        horario["liquidacao"] = timestamp(devolucao.requested_at)
    return {
        "id": devolucao.id,
        "rtrId": devolucao.rtr_id,
        "valor": to_pix_value(devolucao.amount_cents),
        "horario": horario,
        "status": "DEVOLVIDO" if settled else "EM_PROCESSAMENTO",
    }


def _pix_json(pix: Pix) -> dict[str, Any]:
    return {
        "endToEndId": pix.end_to_end_id,
        "txid": pix.txid,
        "valor": to_pix_value(pix.amount_cents),
        "horario": timestamp(pix.paid_at),
    }
