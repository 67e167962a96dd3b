"""Identifiers from callbacks are checked against each gateway's documented form before
any of them goes into a gateway URL; adapters check again as they build a path."""

from __future__ import annotations

import json

import httpx
import pytest

from app.api.problems import problem_response
from app.domain import errors
from app.gateways.efi import Efi
from app.gateways.identifiers import (
    InvalidGatewayIdentifier,
    check_callback_event,
    efi_txid,
    mercadopago_payment_id,
    pix_end_to_end_id,
)
from app.gateways.mercadopago import MercadoPago
from app.gateways.port import CallbackEvent, GatewayName

TRAVERSALS = ["../../oauth/token", "abc/../../v2/webhook", "%2e%2e%2foauth", "1?x=1", "1#x"]
VALID_TXID = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5"  # 30
VALID_E2E = "E12345678202611211200abcdefghijk"  # 32


@pytest.mark.parametrize("value", ["a" * 26, "Z9" * 17 + "x", VALID_TXID])
def test_txids_of_26_to_35_letters_and_digits_pass(value: str) -> None:
    assert efi_txid(value) == value


@pytest.mark.parametrize("value", [*TRAVERSALS, "a" * 25, "a" * 36, "a" * 30 + "\n", "á" * 30])
def test_other_txids_are_refused(value: str) -> None:
    with pytest.raises(InvalidGatewayIdentifier) as refused:
        efi_txid(value)
    assert refused.value.param == "txid"


@pytest.mark.parametrize("value", [*TRAVERSALS, VALID_E2E[:-1], VALID_E2E + "x", "E" + "-" * 31])
def test_end_to_end_ids_must_be_32_letters_and_digits(value: str) -> None:
    assert pix_end_to_end_id(VALID_E2E) == VALID_E2E
    with pytest.raises(InvalidGatewayIdentifier):
        pix_end_to_end_id(value)


@pytest.mark.parametrize("value", [*TRAVERSALS, "", "12a", "1" * 20, "١٢٣", "-1", "1.5"])
def test_mercadopago_payment_ids_are_digits(value: str) -> None:
    assert mercadopago_payment_id("1310000001") == "1310000001"
    with pytest.raises(InvalidGatewayIdentifier):
        mercadopago_payment_id(value)


def test_a_callback_event_is_checked_by_its_gateways_rules() -> None:
    check_callback_event(GatewayName.EFI, CallbackEvent(VALID_E2E, VALID_TXID))
    check_callback_event(GatewayName.MERCADOPAGO, CallbackEvent("req-1:123", "123"))
    with pytest.raises(InvalidGatewayIdentifier):
        check_callback_event(GatewayName.EFI, CallbackEvent(VALID_E2E, "../../oauth/token"))
    with pytest.raises(InvalidGatewayIdentifier):
        check_callback_event(GatewayName.EFI, CallbackEvent("../x", VALID_TXID))
    with pytest.raises(InvalidGatewayIdentifier):
        check_callback_event(GatewayName.MERCADOPAGO, CallbackEvent("k", "1/../../users/me"))


def _gateway_that_records(seen: list[httpx.Request]) -> httpx.AsyncClient:
    """Stands for the gateway's server: it records every request and answers 404."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(404, json={})

    return httpx.AsyncClient(base_url="https://gateway.test", transport=httpx.MockTransport(answer))


@pytest.mark.parametrize("reference", TRAVERSALS)
async def test_adapters_never_put_a_malformed_reference_in_a_path(reference: str) -> None:
    seen: list[httpx.Request] = []
    client = _gateway_that_records(seen)
    efi = Efi(client, client_id="id", client_secret="s", pix_key="k", webhook_hmac="h")
    mercadopago = MercadoPago(client, access_token="t", webhook_secret="s", tolerance_seconds=1)
    for call in (efi.get_charge, efi.cancel, mercadopago.get_charge, mercadopago.cancel):
        with pytest.raises(InvalidGatewayIdentifier):
            await call(reference)
    assert [r.url.path for r in seen if r.url.path != "/oauth/token"] == []
    await client.aclose()


def test_a_gateways_answer_never_reaches_the_caller() -> None:
    said = 'HTTP 400: {"nome": "internal", "mensagem": "stack trace at efi-core-7"}'
    for exc in (
        errors.GatewayRejected("efi", said, status=400),
        errors.GatewayOutcomeUnknown("efi", said, status=500),
        errors.GatewayNotAttempted("efi", said, status=503),
    ):
        problem = json.loads(problem_response(exc).body)
        assert "efi-core-7" not in problem["detail"]
        assert problem["code"] == exc.code
        assert "efi" in problem["detail"]
