"""Efí's Pix send (payouts), the wire forms: the PUT's body, a send as PixWave reads it,
and the send's callback entries. docs/gateways/payouts-and-reconciliation.md §1 is the
contract, a source on every row; app/gateways/efi.py makes the calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain.errors import GatewayOutcomeUnknown, InvalidRequest
from app.domain.pix_keys import parse_pix_key
from app.gateways.amounts import to_centavos, to_pix_value
from app.gateways.identifiers import efi_id_envio
from app.gateways.port import GatewayName, PixSend, PixSendCallback, PixSendRequest, PixSendStatus

NAME = GatewayName.EFI
# The route both official SDKs call today; the reads are still v2 (§1, The request).
SEND_PATH = "/v3/gn/pix/{}"
READ_PATH = "/v2/gn/pix/enviados/id-envio/{}"
ID_ENVIO_TAKEN = "id_envio_duplicado"
SEND_NOT_FOUND = frozenset({"PixEnviadoNaoEncontrado"})
PAYER_INFO_MAX_CHARS = 139  # "< 140"
SEND_STATUSES = {
    "EM_PROCESSAMENTO": PixSendStatus.PENDING,
    "REALIZADO": PixSendStatus.PAID,
    "NAO_REALIZADO": PixSendStatus.FAILED,
}


def send_path(id_envio: str) -> str:
    return SEND_PATH.format(efi_id_envio(id_envio))


def read_path(id_envio: str) -> str:
    return READ_PATH.format(efi_id_envio(id_envio))


def send_body(request: PixSendRequest, payer_key: str) -> dict[str, Any]:
    """The PUT's body; the payee's key is checked again (§2), so a malformed one never
    leaves PixWave, and the document goes beside it so Efí checks the key is theirs."""
    if request.amount <= 0:
        raise InvalidRequest("A Pix send takes more than 0 centavos.", param="amount")
    key = parse_pix_key(request.payee_key.type, request.payee_key.value)
    payer: dict[str, str] = {"chave": payer_key}
    if request.payer_info:
        payer["infoPagador"] = request.payer_info[:PAYER_INFO_MAX_CHARS]
    payee = {"chave": key.value}
    if request.payee_document is not None:
        payee[request.payee_document.type] = request.payee_document.number
    return {"valor": to_pix_value(request.amount), "pagador": payer, "favorecido": payee}


def pix_send(body: Any) -> PixSend:
    """A send from the PUT's 201 (``e2eId``) or a read (``endToEndId``); a word of
    status we do not know is unknown; a body we cannot read is an unknown outcome."""
    try:
        status = str(body["status"])
        horario = body.get("horario") or {}
        erro = (body.get("gnExtras") or {}).get("erro") or {}
        end_to_end_id = body.get("endToEndId") or body.get("e2eId")
        return PixSend(
            id_envio=str(body["idEnvio"]),
            status=SEND_STATUSES.get(status, PixSendStatus.UNKNOWN),
            gateway_status=status,
            amount=to_centavos(body["valor"]),
            end_to_end_id=str(end_to_end_id) if end_to_end_id else None,
            failure_reason=erro.get("motivo"),
            requested_at=_moment(horario.get("solicitacao")),
            settled_at=_moment(horario.get("liquidacao")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GatewayOutcomeUnknown(NAME, f"unreadable Pix send: {exc!r}") from exc


def send_callbacks(entries: list[Any]) -> tuple[PixSendCallback, ...]:
    """The sends a callback names: entries with ``gnExtras.idEnvio`` (and no txid). Each
    only says "read this send again"; its status goes into the key, never into a state."""
    notices = []
    for entry in entries:
        id_envio = (entry.get("gnExtras") or {}).get("idEnvio")
        if entry.get("txid") or not id_envio:
            continue
        erro = entry["gnExtras"].get("erro") or {}
        key = f"{efi_id_envio(str(id_envio))}={entry.get('status')}"
        notices.append(PixSendCallback(key, str(id_envio), erro.get("motivo")))
    return tuple(notices)


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
