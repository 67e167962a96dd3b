"""The Efí adapter reads each callback body and cob Efí documents (the examples of
efipay/documentacao-tecnica-efi docs/APIPix/Webhooks and CobrancasImediatas)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from app.domain.charges import ChargeStatus
from app.domain.errors import CallbackRejected
from app.gateways.efi import Efi, cob_charge, webhook_url
from app.gateways.port import CallbackEvent, IncomingCallback

HMAC_TOKEN = "efi-hmac-token"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TXID = "fc9a43k6ff384ryP5f41719a2b3c4d5"
E2E = "E1803615022211340s08793XPJ000000"
RECEIVED = {
    "endToEndId": E2E,
    "txid": TXID,
    "chave": "2c3c7441-b91e-4982-3c25-6105581e18ae",
    "valor": "0.01",
    "horario": "2020-12-21T13:40:34.000Z",
    "infoPagador": "pagando o pix",
}
RETURN = {
    "id": "123ABC",
    "rtrId": "D12345678202009091221abcdf098765",
    "valor": "0.01",
    "horario": {"solicitacao": "2020-09-09T20:15:00.358Z"},
    "status": "DEVOLVIDO",
}
# "Exemplo-Pix-enviado": a pix the account sent carries no txid.
SENT = {
    "endToEndId": "E090893562021030PIf25a7868000000",
    "chave": "2c3c7441-b91e-4982-3c25-6105581e18ae",
    "tipo": "SOLICITACAO",
    "status": "REALIZADO",
    "valor": "0.01",
    "horario": "2021-03-04T20:39:47.000Z",
    "gnExtras": {"idEnvio": "1"},
}


def efi() -> Efi:
    # The client is never used: verification is pure.
    return Efi(
        httpx.AsyncClient(),
        client_id="id",
        client_secret="secret",
        pix_key="chave",
        webhook_hmac=HMAC_TOKEN,
    )


def events(body: bytes, query: dict[str, str] | None = None) -> tuple[CallbackEvent, ...]:
    callback = IncomingCallback(body, {}, query or {"hmac": HMAC_TOKEN, "ignorar": "/pix"})
    return efi().verify_callback(callback, NOW).events


def test_a_received_pix_and_one_with_a_fee_name_their_cob() -> None:
    with_fee = {**RECEIVED, "gnExtras": {"tarifa": "0.01"}}  # "…-com-tarifa-informada"
    assert events(json.dumps({"pix": [RECEIVED]}).encode()) == (CallbackEvent(E2E, TXID),)
    assert events(json.dumps({"pix": [with_fee]}).encode()) == (CallbackEvent(E2E, TXID),)


def test_a_devolucao_is_a_new_event_of_the_same_pix_and_its_resend_is_not() -> None:
    payment = events(json.dumps({"pix": [RECEIVED]}).encode())
    returned = events(json.dumps({"pix": [{**RECEIVED, "devolucoes": [RETURN]}]}).encode())
    again = events(json.dumps({"pix": [{**RECEIVED, "devolucoes": [RETURN]}]}).encode())

    assert returned[0].reference == TXID
    assert returned[0].key != payment[0].key
    assert again == returned


def test_a_pix_sent_names_no_cob() -> None:
    assert events(json.dumps({"pix": [SENT, RECEIVED]}).encode()) == (CallbackEvent(E2E, TXID),)


@pytest.mark.parametrize(
    "body", [b'{"evento": "teste_webhook"}', b"{}", b""], ids=["test-event", "empty", "no-body"]
)
def test_the_registration_call_is_accepted_and_names_nothing(body: bytes) -> None:
    """Efí calls the URL while registering it and wants a 2xx (docs/APIPix/Webhooks,
    "A URL informada respondeu com o código HTTP …"); the call is on the URL as
    registered, so ``ignorar`` is empty."""
    assert events(body, {"hmac": HMAC_TOKEN, "ignorar": ""}) == ()


def test_the_registration_call_without_the_token_is_still_refused() -> None:
    with pytest.raises(CallbackRejected):
        events(b'{"evento": "teste_webhook"}', {"ignorar": ""})


def test_the_webhook_url_carries_the_token_and_absorbs_the_pix_suffix() -> None:
    assert webhook_url("https://h.example/v1/callbacks/efi", "t") == (
        "https://h.example/v1/callbacks/efi?hmac=t&ignorar="
    )
    assert (
        webhook_url("https://h.example/cb?x=1", "t") == "https://h.example/cb?x=1&hmac=t&ignorar="
    )


def cob(**changes: Any) -> dict[str, Any]:
    # "Consultar cobrança": expiracao comes as a string there.
    body: dict[str, Any] = {
        "status": "ATIVA",
        "calendario": {"criacao": "2020-09-09T20:15:00.358Z", "expiracao": "3600"},
        "txid": TXID,
        "revisao": 1,
        "valor": {"original": "110.00"},
        "chave": "40a0932d-1918-4eee-845d-35a2da1690dc",
    }
    return body | changes


def test_a_cob_is_read_with_its_expiry_as_a_string() -> None:
    charge = cob_charge(cob(), now=datetime(2020, 9, 9, 20, 30, tzinfo=UTC))
    assert (charge.status, charge.amount) == (ChargeStatus.AWAITING_PAYMENT, 11_000)
    assert cob_charge(cob(), now=NOW).status is ChargeStatus.EXPIRED  # ATIVA past expiracao


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("CONCLUIDA", ChargeStatus.PAID),
        ("REMOVIDA_PELO_USUARIO_RECEBEDOR", ChargeStatus.CANCELED),
        ("REMOVIDA_PELO_PSP", ChargeStatus.CANCELED),
        ("NOVO_STATUS", ChargeStatus.UNKNOWN),
    ],
)
def test_cob_statuses(status: str, expected: ChargeStatus) -> None:
    """bacen/pix-api openapi.yaml, CobStatus; an unknown word is never a failure."""
    assert cob_charge(cob(status=status), now=NOW).status is expected


def test_only_devolucoes_made_count_as_returned() -> None:
    pix = {
        "endToEndId": E2E,
        "txid": TXID,
        "valor": "110.00",
        "horario": "2020-09-09T20:15:00.358Z",
        "devolucoes": [
            {**RETURN, "valor": "10.00", "status": "EM_PROCESSAMENTO"},
            {**RETURN, "id": "2", "valor": "5.00"},
            {**RETURN, "id": "3", "valor": "1.00", "status": "NAO_REALIZADO"},
        ],
    }
    charge = cob_charge(cob(status="CONCLUIDA", pix=[pix]), now=NOW)
    assert (charge.amount_paid, charge.amount_refunded, charge.end_to_end_id) == (11_000, 500, E2E)
