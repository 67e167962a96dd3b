"""The Efí adapter's Pix-send wire forms: the PUT's body, a send read back, and the send's
callback (docs/gateways/payouts-and-reconciliation.md §1; its examples from
envio-pagamento-pix.md and webhooks.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.domain.documents import PayerDocument
from app.domain.errors import GatewayOutcomeUnknown, InvalidRequest
from app.domain.pix_keys import PixKey, PixKeyType, parse_pix_key
from app.gateways.efi import Efi
from app.gateways.efi_sends import pix_send, send_body
from app.gateways.identifiers import EFI_ID_ENVIO, InvalidGatewayIdentifier, id_envio_for
from app.gateways.port import (
    IncomingCallback,
    PixSendCallback,
    PixSender,
    PixSendRequest,
    PixSendStatus,
)

HMAC_TOKEN = "efi-hmac-token"
OUR_KEY = "pixwave@example.com"
ID_ENVIO = "01234567890123456789012345678901"
E2E = "E09089356202011251226APIff82f2e5"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
# "Exemplo-Pix-enviado" and "Pix rejeitado" (webhooks.md).
SENT = {
    "endToEndId": E2E,
    "chave": OUR_KEY,
    "tipo": "SOLICITACAO",
    "status": "REALIZADO",
    "valor": "0.01",
    "horario": "2021-03-04T20:39:47.000Z",
    "gnExtras": {"idEnvio": ID_ENVIO},
}
REJECTED = {
    **SENT,
    "status": "NAO_REALIZADO",
    "horario": None,
    "gnExtras": {
        "idEnvio": ID_ENVIO,
        "erro": {"codigo": "AC03", "origem": "PSP do usuário recebedor", "motivo": "Conta"},
    },
}
RECEIVED = {
    "endToEndId": "E1803615022211340s08793XPJ000000",
    "txid": "fc9a43k6ff384ryP5f41719a2b3c4d5",
    "chave": OUR_KEY,
    "valor": "0.01",
    "horario": "2020-12-21T13:40:34.000Z",
}


def efi() -> Efi:
    return Efi(
        httpx.AsyncClient(),
        client_id="id",
        client_secret="secret",
        pix_key=OUR_KEY,
        webhook_hmac=HMAC_TOKEN,
    )


def callback(entries: list[dict[str, Any]]) -> IncomingCallback:
    body = json.dumps({"pix": entries}).encode()
    return IncomingCallback(body, {}, {"hmac": HMAC_TOKEN, "ignorar": "/pix"})


def test_the_efi_adapter_is_a_pix_sender() -> None:
    assert isinstance(efi(), PixSender)


def test_an_id_envio_is_derived_from_the_attempt_and_has_efis_form() -> None:
    first = id_envio_for("po_01HX-efi-1")
    assert first == id_envio_for("po_01HX-efi-1")
    assert first != id_envio_for("po_01HX-efi-2")
    assert EFI_ID_ENVIO.fullmatch(first)


def test_a_send_callback_names_its_send_by_id_envio_and_status() -> None:
    notice = efi().verify_callback(callback([SENT, RECEIVED]), NOW)
    assert [event.reference for event in notice.events] == [RECEIVED["txid"]]  # the cob still
    assert notice.pix_sends == (PixSendCallback(f"{ID_ENVIO}=REALIZADO", ID_ENVIO),)


def test_a_send_not_made_is_a_new_notice_with_its_reason() -> None:
    [done] = efi().verify_callback(callback([SENT]), NOW).pix_sends
    [failed] = efi().verify_callback(callback([REJECTED]), NOW).pix_sends
    assert failed.key != done.key
    assert (failed.id_envio, failed.reason) == (ID_ENVIO, "Conta")


def test_a_send_callback_naming_a_path_instead_of_an_id_envio_is_refused() -> None:
    forged = {**SENT, "gnExtras": {"idEnvio": "../../oauth/token"}}
    with pytest.raises(InvalidGatewayIdentifier):
        efi().verify_callback(callback([forged]), NOW)


def request(**changes: Any) -> PixSendRequest:
    values: dict[str, Any] = {
        "id_envio": ID_ENVIO,
        "amount": 1234,
        "payee_key": parse_pix_key("phone", "+5531999998888"),
        **changes,
    }
    return PixSendRequest(**values)


def test_the_body_names_our_key_the_payees_key_and_document() -> None:
    document = PayerDocument("cpf", "52998224725")
    body = send_body(request(payee_document=document, payer_info="x" * 200), OUR_KEY)
    assert body == {
        "valor": "12.34",
        "pagador": {"chave": OUR_KEY, "infoPagador": "x" * 139},
        "favorecido": {"chave": "+5531999998888", "cpf": "52998224725"},
    }


@pytest.mark.parametrize(
    "changes",
    [{"payee_key": PixKey(PixKeyType.EMAIL, "not a key")}, {"amount": 0}],
    ids=["bad-key", "no-amount"],
)
def test_a_request_that_breaks_a_rule_never_makes_a_body(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        send_body(request(**changes), OUR_KEY)


def test_the_put_answer_is_a_pending_send() -> None:
    answer = {
        "idEnvio": ID_ENVIO,
        "e2eId": E2E,
        "valor": "12.34",
        "horario": {"solicitacao": "2021-03-04T20:39:47.000Z"},
        "status": "EM_PROCESSAMENTO",
    }
    send = pix_send(answer)
    assert (send.status, send.amount, send.end_to_end_id) == (PixSendStatus.PENDING, 1234, E2E)
    assert send.requested_at == datetime(2021, 3, 4, 20, 39, 47, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("REALIZADO", PixSendStatus.PAID),
        ("NAO_REALIZADO", PixSendStatus.FAILED),
        ("CONCLUIDA", PixSendStatus.UNKNOWN),  # a word we do not know: read again
    ],
)
def test_a_read_send_maps_its_status(status: str, expected: PixSendStatus) -> None:
    read = {"endToEndId": E2E, "idEnvio": ID_ENVIO, "valor": "0.01", "status": status}
    assert pix_send(read).status is expected


def test_an_unreadable_send_is_an_unknown_outcome() -> None:
    with pytest.raises(GatewayOutcomeUnknown):
        pix_send({"idEnvio": ID_ENVIO, "status": "REALIZADO", "valor": "0.001"})
