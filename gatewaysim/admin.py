"""`/_sim`: faults, payer actions, callback replays and the ledger (no authentication)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from gatewaysim.efi.sends import DictEntry
from gatewaysim.faults import FaultSettings
from gatewaysim.gateways import Gateway
from gatewaysim.mercadopago.service import PayerEvent
from gatewaysim.mercadopago.wire import payment_json
from gatewaysim.state import SimulatorDep

router = APIRouter(prefix="/_sim", tags=["simulator"])


class PayIn(BaseModel):
    amount_cents: int | None = Field(None, gt=0)  # what the payer sends, if not the charge's


class PayManyIn(PayIn):
    references: list[str] = Field(min_length=1)


class ResendIn(BaseModel):
    stale_seconds: int = Field(0, ge=0)  # Mercado Pago: sign with a timestamp this old
    bad_signature: bool = False  # Mercado Pago: sign with the wrong secret


@router.get("/faults")
async def show_faults(sim: SimulatorDep) -> dict[str, dict[str, Any]]:
    return sim.faults.all()


@router.put("/faults/{gateway}")
async def set_faults(gateway: Gateway, changes: FaultSettings, sim: SimulatorDep) -> FaultSettings:
    return sim.faults.update(gateway, changes)


@router.delete("/faults")
async def reset_faults(sim: SimulatorDep) -> dict[str, dict[str, Any]]:
    sim.faults.reset()
    return sim.faults.all()


@router.post("/pay/{gateway}/{reference}")
async def pay(
    gateway: Gateway, reference: str, sim: SimulatorDep, body: PayIn | None = None
) -> dict[str, Any]:
    """The payer pays one charge now; its callback follows."""
    amount = None if body is None else body.amount_cents
    return sim.gateway(gateway).pay([reference], amount)[0]


@router.post("/mercadopago/payments/{reference}/{event}")
async def mercadopago_payer_event(
    reference: str, event: PayerEvent, sim: SimulatorDep
) -> dict[str, Any]:
    """A claim (in_mediation), a chargeback (charged_back) or expiry (cancelled/expired)
    reaches a Mercado Pago payment now; its notification follows."""
    return payment_json(sim.mercadopago.payer_event(reference, event))


@router.post("/pay-many/{gateway}")
async def pay_many(gateway: Gateway, body: PayManyIn, sim: SimulatorDep) -> list[dict[str, Any]]:
    """The payer pays several charges at once; Efí reports them in one callback."""
    return sim.gateway(gateway).pay(body.references, body.amount_cents)


@router.post("/callbacks/{gateway}/{reference}/resend", status_code=HTTPStatus.ACCEPTED)
async def resend_callback(
    gateway: Gateway, reference: str, sim: SimulatorDep, body: ResendIn | None = None
) -> dict[str, bool]:
    options = body or ResendIn()
    sim.gateway(gateway).resend(
        reference, stale_seconds=options.stale_seconds, bad_signature=options.bad_signature
    )
    return {"resent": True}


class SettleIn(BaseModel):
    status: Literal["DEVOLVIDO", "NAO_REALIZADO"] = "DEVOLVIDO"


class PixSentIn(BaseModel):
    chave: str = Field(min_length=1)
    amount_cents: int = Field(1, gt=0)


@router.post("/efi/devolucoes/{devolucao_id}/settle")
async def settle_devolucao(
    devolucao_id: str, sim: SimulatorDep, body: SettleIn | None = None
) -> dict[str, Any]:
    """End an Efí devolução still EM_PROCESSAMENTO (see the refund_settle_seconds fault)."""
    devolucao = sim.efi.settle_devolucao(devolucao_id, (body or SettleIn()).status)
    return {"id": devolucao.id, "status": devolucao.status}


@router.post("/efi/callbacks/{txid}/resend/{index}", status_code=HTTPStatus.ACCEPTED)
async def resend_efi_callback(txid: str, index: int, sim: SimulatorDep) -> dict[str, bool]:
    """Send the ``index``-th callback about a cob again (0: the first): out of order."""
    sim.efi.resend_nth(txid, index)
    return {"resent": True}


@router.post("/efi/callbacks/pix-sent", status_code=HTTPStatus.ACCEPTED)
async def send_pix_sent_callback(body: PixSentIn, sim: SimulatorDep) -> dict[str, bool]:
    """Efí's "Pix enviado" callback: a pix with no txid."""
    sim.efi.send_pix_sent_callback(body.chave, body.amount_cents)
    return {"sent": True}


class SendSettleIn(BaseModel):
    status: Literal["REALIZADO", "NAO_REALIZADO"] = "REALIZADO"


class DictKeyIn(BaseModel):
    registered: bool = True  # False: the DICT knows no such key (400 chave_invalida)
    owner: str | None = Field(None, pattern=r"^([0-9]{11}|[0-9A-Z]{14})$")


@router.post("/efi/envios/{id_envio}/settle")
async def settle_send(
    id_envio: str, sim: SimulatorDep, body: SendSettleIn | None = None
) -> dict[str, Any]:
    """End an Efí Pix send still EM_PROCESSAMENTO (see the send_settle_seconds fault);
    its callback follows."""
    send = sim.efi.sends.settle(id_envio, (body or SendSettleIn()).status)
    return {"idEnvio": send.id_envio, "status": send.status}


@router.put("/efi/keys/{chave}")
async def set_dict_key(chave: str, body: DictKeyIn, sim: SimulatorDep) -> dict[str, Any]:
    """Tell the simulated DICT about a payee key: absent, or held by a CPF/CNPJ."""
    sim.efi.sends.set_key(chave, DictEntry(body.registered, body.owner))
    return {"chave": chave, **body.model_dump()}


@router.get("/ledger")
async def ledger(sim: SimulatorDep) -> dict[str, Any]:
    return sim.ledger()


@router.delete("/ledger")
async def clear_ledger(sim: SimulatorDep) -> dict[str, Any]:
    await sim.clear_ledger()
    return sim.ledger()
