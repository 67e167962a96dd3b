"""`/efi`: the routes of the simulated Efí Pix API and its OAuth2 token endpoint."""

from __future__ import annotations

import base64
import binascii
import json
from http import HTTPStatus
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime

from gatewaysim.efi.schemas import CobIn, CobPatchIn, DevolucaoIn, PixSendIn, WebhookIn
from gatewaysim.efi.tokens import TOKEN_LIFETIME_SECONDS
from gatewaysim.efi.wire import (
    cob_json,
    devolucao_json,
    error,
    send_answer_json,
    sent_pix_json,
    timestamp,
    unauthorized,
)
from gatewaysim.errors import SimulatorError
from gatewaysim.state import SimulatorDep

SCOPES = (
    "cob.write cob.read pix.write pix.read webhook.write webhook.read pix.send gn.pix.send.read"
)
MAX_PAGE_ITEMS = 1000
DEFAULT_PAGE_ITEMS = 100
GRANT_TYPE = "client_credentials"
# paginacao.itensPorPagina: 1 to 1000, 100 when absent (bacen/pix-api Paginacao).
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _require_token(
    sim: SimulatorDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not sim.efi.tokens.valid(token):
        raise unauthorized()


oauth_router = APIRouter(prefix="/efi/oauth")
router = APIRouter(prefix="/efi/v2", dependencies=[Depends(_require_token)])
# Efí's own extensions (`/v3/gn/pix`, `/v2/gn/pix/enviados`): sending Pix.
send_router = APIRouter(prefix="/efi", dependencies=[Depends(_require_token)])


@oauth_router.post("/token")
async def issue_token(request: Request, sim: SimulatorDep) -> JSONResponse:
    _require_client(request.headers.get("authorization"))
    if await _grant_type(request) != GRANT_TYPE:
        raise SimulatorError(HTTPStatus.BAD_REQUEST, {"error": "unsupported_grant_type"})
    body = {
        "access_token": sim.efi.tokens.issue(),
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECONDS,
        "scope": SCOPES,
    }
    return JSONResponse(body)


@router.put("/cob/{txid}")
async def create_cob(txid: str, body: CobIn, sim: SimulatorDep, request: Request) -> JSONResponse:
    cob = sim.efi.create(txid, body, host=request.url.netloc)
    return JSONResponse(cob_json(cob), status_code=HTTPStatus.CREATED)


@router.get("/cob/{txid}")
async def get_cob(txid: str, sim: SimulatorDep) -> JSONResponse:
    return JSONResponse(cob_json(sim.efi.get(txid)))


@router.patch("/cob/{txid}")
async def patch_cob(txid: str, body: CobPatchIn, sim: SimulatorDep) -> JSONResponse:
    return JSONResponse(cob_json(sim.efi.remove(txid)))


@router.put("/pix/{e2eid}/devolucao/{devolucao_id}")
async def create_devolucao(
    e2eid: str, devolucao_id: str, body: DevolucaoIn, sim: SimulatorDep
) -> JSONResponse:
    devolucao = sim.efi.give_back(e2eid, devolucao_id, body.valor)
    return JSONResponse(devolucao_json(devolucao), status_code=HTTPStatus.CREATED)


@router.get("/pix")
async def list_received(
    sim: SimulatorDep,
    inicio: str,
    fim: str,
    page: Annotated[int, Query(alias="paginacao.paginaAtual", ge=0)] = 0,
    page_size: Annotated[
        int, Query(alias="paginacao.itensPorPagina", ge=1, le=MAX_PAGE_SIZE)
    ] = DEFAULT_PAGE_SIZE,
) -> JSONResponse:
    """The received Pix of a window, paged (bacen/pix-api ``GET /pix``)."""
    return JSONResponse(sim.efi.received(inicio, fim, page, page_size))


@router.get("/pix/{e2eid}/devolucao/{devolucao_id}")
async def get_devolucao(e2eid: str, devolucao_id: str, sim: SimulatorDep) -> JSONResponse:
    return JSONResponse(devolucao_json(sim.efi.devolucao(e2eid, devolucao_id)))


@router.put("/webhook/{chave}")
async def register_webhook(chave: str, body: WebhookIn, sim: SimulatorDep) -> JSONResponse:
    """Efí calls the URL first and takes it only if it answers 2xx (docs/APIPix/Webhooks,
    "Configurar o webhook Pix"). The simulator takes http too: it serves loopback."""
    await sim.efi.notifier.register(chave, body.webhook_url)
    return JSONResponse(body.model_dump(by_alias=True), status_code=HTTPStatus.CREATED)


@router.get("/webhook/{chave}")
async def get_webhook(chave: str, sim: SimulatorDep) -> JSONResponse:
    registered = sim.efi.notifier.webhook(chave)
    if registered is None:
        raise error(HTTPStatus.NOT_FOUND, "webhook_nao_encontrado", "Webhook não encontrado")
    url, created = registered
    return JSONResponse({"webhookUrl": url, "chave": chave, "criacao": timestamp(created)})


@send_router.put("/v3/gn/pix/{id_envio}")
async def send_pix(id_envio: str, body: PixSendIn, sim: SimulatorDep) -> JSONResponse:
    send = sim.efi.sends.send(id_envio, body)
    return JSONResponse(send_answer_json(send), status_code=HTTPStatus.CREATED)


@send_router.get("/v2/gn/pix/enviados/id-envio/{id_envio}")
async def get_send(id_envio: str, sim: SimulatorDep) -> JSONResponse:
    return JSONResponse(sent_pix_json(sim.efi.sends.get(id_envio)))


@send_router.get("/v2/gn/pix/enviados/{e2eid}")
async def get_send_by_end_to_end_id(e2eid: str, sim: SimulatorDep) -> JSONResponse:
    return JSONResponse(sent_pix_json(sim.efi.sends.by_end_to_end_id(e2eid)))


@send_router.get("/v2/gn/pix/enviados")
async def list_sends(
    sim: SimulatorDep,
    inicio: AwareDatetime,
    fim: AwareDatetime,
    status: str | None = None,
    page: Annotated[int, Query(alias="paginacao.paginaAtual", ge=0)] = 0,
    per_page: Annotated[
        int, Query(alias="paginacao.itensPorPagina", ge=1, le=MAX_PAGE_ITEMS)
    ] = DEFAULT_PAGE_ITEMS,
) -> JSONResponse:
    """Sends created between ``inicio`` and ``fim``: a bare list, the envelope the Node
    SDK types (the pages show bare items; the envelope is not settled)."""
    sends = sim.efi.sends.between(inicio, fim, status)
    return JSONResponse([sent_pix_json(s) for s in sends[page * per_page : (page + 1) * per_page]])


def _require_client(authorization: str | None) -> None:
    """HTTP Basic with a non-empty client_id and client_secret; any values will do."""
    scheme, _, encoded = (authorization or "").partition(" ")
    try:
        client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        client_id = secret = ""
    if scheme.lower() != "basic" or not client_id or not secret:
        raise SimulatorError(
            HTTPStatus.UNAUTHORIZED,
            {"error": "invalid_client", "error_description": "client credentials are invalid"},
        )


async def _grant_type(request: Request) -> object:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    return body.get("grant_type") if isinstance(body, dict) else None
