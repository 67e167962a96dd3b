"""The gateway simulator over real HTTP: Mercado Pago and Efí wire behaviour, callbacks to a
local receiver, faults, the ledger and the CLI."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import uvicorn

from app.embedded import free_port
from app.gateways import brcode
from gatewaysim import SimulatorConfig, create_simulator_app
from gatewaysim.mercadopago.issuing import (
    DECLINED_TOKEN,
    GATEWAY_ERROR_TOKEN,
    INSUFFICIENT_FUNDS_TOKEN,
)
from tests.integration.receiver import FAILING_PATH, Received, Receiver, running_receiver
from tests.support import ANOTHER_CARD_TOKEN, CARD_TOKEN, start_role, wait_for

MP_SECRET = "test-mp-secret"
EFI_HMAC = "test-efi-hmac"
CALLBACK_ATTEMPTS = 3
HANG_SECONDS = 1.0
CLIENT_TIMEOUT_SECONDS = 0.2  # shorter than HANG_SECONDS: the client gives up first
WAIT_SECONDS = 10.0
TXID = "abcdefghijklmnopqrstuvwxyz0123"
OTHER_TXID = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123"
MP_AUTH = {"Authorization": "Bearer TEST-token"}


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as received:
        yield received


@contextmanager
def serve(config: SimulatorConfig) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_simulator_app(config),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(HANG_SECONDS) + 1,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=WAIT_SECONDS)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT_SECONDS)


@pytest.fixture(scope="module")
def sim_url(receiver: Receiver) -> Iterator[str]:
    config = SimulatorConfig(
        mercadopago_webhook_secret=MP_SECRET,
        efi_webhook_url=f"{receiver.url}/v1/callbacks/efi",
        efi_webhook_hmac=EFI_HMAC,
        seed=7,
        callback_retry_seconds=0.05,
        callback_attempts=CALLBACK_ATTEMPTS,
        timeout_hang_seconds=HANG_SECONDS,
    )
    with serve(config) as url:
        yield url


@pytest.fixture
def sim(sim_url: str, receiver: Receiver) -> Iterator[httpx.Client]:
    """A client of a simulator with an empty ledger and no faults."""
    with httpx.Client(base_url=sim_url, timeout=WAIT_SECONDS) as client:
        assert client.delete("/_sim/ledger").status_code == 200
        assert client.delete("/_sim/faults").status_code == 200
        receiver.clear()
        yield client


# --- helpers -----------------------------------------------------------------------------


def mp_payment(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transaction_amount": 19.9,
        "description": "Pedido 42",
        "payment_method_id": "pix",
        "payer": {
            "email": "maria@example.com",
            "first_name": "Maria",
            "identification": {"type": "CPF", "number": "52998224725"},
        },
        "external_reference": "pi_123",
        "date_of_expiration": mp_date(datetime.now(UTC) + timedelta(hours=1)),
    }
    return body | overrides


def mp_date(moment: datetime) -> str:
    """yyyy-MM-dd'T'HH:mm:ss.SSSz, as Mercado Pago documents its dates (e.g.
    2020-05-30T23:59:59.000-04:00 in developers/en/docs/checkout-pro/additional-settings/
    expiration-date)."""
    return moment.astimezone(timezone(timedelta(hours=-3))).isoformat(timespec="milliseconds")


def webhooks_only(url: str) -> str:
    """A notification_url asking for Webhooks and no IPN twins (devsite-docs
    guides/additional-content/your-integrations/webhooks.en.md: source_news=webhooks)."""
    return f"{url}{'&' if '?' in url else '?'}source_news=webhooks"


def mp_card(token: str, **overrides: Any) -> dict[str, Any]:
    body = mp_payment(token=token, transaction_amount=50)
    del body["payment_method_id"], body["date_of_expiration"]
    return body | overrides


def mp_create(sim: httpx.Client, body: dict[str, Any], key: str) -> httpx.Response:
    return sim.post(
        "/mercadopago/v1/payments", json=body, headers={**MP_AUTH, "X-Idempotency-Key": key}
    )


def mp_refund(sim: httpx.Client, payment_id: int, key: str, body: dict[str, Any]) -> httpx.Response:
    return sim.post(
        f"/mercadopago/v1/payments/{payment_id}/refunds",
        json=body,
        headers={**MP_AUTH, "X-Idempotency-Key": key},
    )


def mp_put(sim: httpx.Client, payment_id: int, body: dict[str, Any]) -> httpx.Response:
    return sim.put(f"/mercadopago/v1/payments/{payment_id}", json=body, headers=MP_AUTH)


def efi_auth(sim: httpx.Client) -> dict[str, str]:
    response = sim.post(
        "/efi/oauth/token", json={"grant_type": "client_credentials"}, auth=("client", "secret")
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def cob_body(value: str = "19.90") -> dict[str, Any]:
    return {
        "calendario": {"expiracao": 3600},
        "devedor": {"cpf": "52998224725", "nome": "Maria Silva"},
        "valor": {"original": value},
        "chave": "pix@loja.example",
        "solicitacaoPagador": "Pedido 42",
    }


def efi_cob(sim: httpx.Client, auth: dict[str, str], txid: str = TXID) -> httpx.Response:
    return sim.put(f"/efi/v2/cob/{txid}", json=cob_body(), headers=auth)


def ledger(sim: httpx.Client) -> dict[str, Any]:
    return sim.get("/_sim/ledger").json()


def mp_signature_ok(callback: Received, secret: str) -> bool:
    parts = dict(p.split("=", 1) for p in callback.headers["x-signature"].split(","))
    data_id = callback.query["data.id"][0]
    manifest = f"id:{data_id};request-id:{callback.headers['x-request-id']};ts:{parts['ts']};"
    expected = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def mp_error_shape(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"message", "error", "status", "cause"}
    assert body["status"] == status
    return body


def efi_error(response: httpx.Response, status: int) -> str:
    """The ``nome`` of an Efí error, after checking its status and shape."""
    assert response.status_code == status, response.text
    assert set(response.json()) == {"nome", "mensagem"}
    return str(response.json()["nome"])


# --- Mercado Pago ------------------------------------------------------------------------


def test_mp_pix_has_a_valid_br_code_and_a_repeated_key_creates_nothing(
    sim: httpx.Client,
) -> None:
    body = mp_payment()
    first = mp_create(sim, body, "key-1")
    again = mp_create(sim, body, "key-1")

    assert first.status_code == again.status_code == 201, first.text
    payment = first.json()
    assert again.json()["id"] == payment["id"]
    assert (payment["status"], payment["status_detail"]) == ("pending", "pending_waiting_transfer")
    assert payment["transaction_amount"] == 19.9
    assert payment["payment_type_id"] == "bank_transfer"
    assert payment["date_approved"] is None
    data = payment["point_of_interaction"]["transaction_data"]
    code = brcode.parse(data["qr_code"])
    assert code.amount_cents == 1990
    assert code.location_url is not None
    assert code.single_use
    assert base64.b64decode(data["qr_code_base64"]).decode() == data["qr_code"]
    charges = ledger(sim)["charges"]
    assert [(c["idempotency_key"], c["create_requests"]) for c in charges] == [("key-1", 2)]
    assert charges[0]["amount_cents"] == 1990


def test_mp_refuses_missing_auth_key_and_bad_input(sim: httpx.Client) -> None:
    no_auth = sim.post(
        "/mercadopago/v1/payments", json=mp_payment(), headers={"X-Idempotency-Key": "k"}
    )
    assert mp_error_shape(no_auth, 401)["error"] == "unauthorized"
    no_key = sim.post("/mercadopago/v1/payments", json=mp_payment(), headers=MP_AUTH)
    assert mp_error_shape(no_key, 400)["error"] == "bad_request"
    for bad in (
        mp_card("4242424242424242"),
        mp_payment(transaction_amount="19.90"),
        mp_payment(transaction_amount=19.999),
        mp_payment(transaction_amount=0),
    ):
        body = mp_error_shape(mp_create(sim, bad, f"bad-{bad}"), 400)
        assert body["cause"]
        assert {"code", "description"} <= set(body["cause"][0])
    assert ledger(sim)["charges"] == []


@pytest.mark.parametrize(
    ("token", "capture", "status", "detail"),
    [
        (CARD_TOKEN, True, "approved", "accredited"),
        (ANOTHER_CARD_TOKEN, True, "approved", "accredited"),
        (CARD_TOKEN, False, "authorized", "pending_capture"),
        (DECLINED_TOKEN, True, "rejected", "cc_rejected_other_reason"),
        (INSUFFICIENT_FUNDS_TOKEN, True, "rejected", "cc_rejected_insufficient_amount"),
    ],
)
def test_mp_card_tokens_decide_the_answer(
    sim: httpx.Client, token: str, capture: bool, status: str, detail: str
) -> None:
    response = mp_create(sim, mp_card(token, capture=capture), f"card-{token}-{capture}")

    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["status"], payment["status_detail"]) == (status, detail)
    assert payment["payment_type_id"] == "credit_card"
    assert payment["captured"] is (status == "approved")


def test_mp_gateway_error_token_is_a_500_that_records_nothing(sim: httpx.Client) -> None:
    response = mp_create(sim, mp_card(GATEWAY_ERROR_TOKEN), "boom")

    assert mp_error_shape(response, 500)["error"] == "internal_server_error"
    assert ledger(sim)["charges"] == []


def test_mp_capture_and_cancel_follow_the_rules(sim: httpx.Client) -> None:
    authorized = mp_create(sim, mp_card(CARD_TOKEN, capture=False), "auth").json()
    pix = mp_create(sim, mp_payment(), "pix").json()

    too_much = mp_put(sim, authorized["id"], {"capture": True, "transaction_amount": 50.01})
    assert mp_error_shape(too_much, 400)
    assert mp_error_shape(mp_put(sim, pix["id"], {"capture": True}), 400)
    captured = mp_put(sim, authorized["id"], {"capture": True, "transaction_amount": 40})
    assert captured.status_code == 200, captured.text
    assert captured.json()["status"] == "approved"
    assert captured.json()["captured"] is True
    assert captured.json()["transaction_amount"] == 40
    assert mp_error_shape(mp_put(sim, authorized["id"], {"status": "cancelled"}), 400)
    cancelled = mp_put(sim, pix["id"], {"status": "cancelled"}).json()
    assert (cancelled["status"], cancelled["status_detail"]) == ("cancelled", "by_collector")
    assert sim.post(f"/_sim/pay/mercadopago/{pix['id']}").status_code == 400


def test_mp_expired_pix_cannot_be_paid(sim: httpx.Client) -> None:
    expired = mp_date(datetime.now(UTC) - timedelta(minutes=1))
    payment = mp_create(sim, mp_payment(date_of_expiration=expired), "late").json()

    refused = sim.post(f"/_sim/pay/mercadopago/{payment['id']}")

    assert mp_error_shape(refused, 400)["cause"][0]["code"] == "payment_expired"


def test_mp_refunds_are_idempotent_and_bounded(sim: httpx.Client) -> None:
    payment = mp_create(sim, mp_card(CARD_TOKEN), "card").json()

    first = mp_refund(sim, payment["id"], "r-1", {"amount": 7.5})
    again = mp_refund(sim, payment["id"], "r-1", {"amount": 7.5})
    assert first.status_code == again.status_code == 201, first.text
    assert first.json() == again.json()
    assert first.json()["amount"] == 7.5
    assert first.json()["payment_id"] == payment["id"]
    assert mp_error_shape(mp_refund(sim, payment["id"], "r-2", {"amount": 42.51}), 400)
    rest = mp_refund(sim, payment["id"], "r-3", {})
    assert rest.json()["amount"] == 42.5
    fetched = sim.get(f"/mercadopago/v1/payments/{payment['id']}", headers=MP_AUTH).json()
    assert (fetched["status"], fetched["status_detail"]) == ("refunded", "refunded")
    assert fetched["transaction_amount_refunded"] == 50
    assert mp_error_shape(mp_refund(sim, payment["id"], "r-4", {"amount": 1}), 400)
    no_key = sim.post(f"/mercadopago/v1/payments/{payment['id']}/refunds", headers=MP_AUTH)
    assert mp_error_shape(no_key, 400)
    refunds = ledger(sim)["refunds"]
    assert [(r["refund_id"], r["amount_cents"], r["requests"]) for r in refunds] == [
        (str(first.json()["id"]), 750, 2),
        (str(rest.json()["id"]), 4250, 1),
    ]


def test_mp_search_by_external_reference_and_not_found(sim: httpx.Client) -> None:
    mine = mp_create(sim, mp_payment(external_reference="pi_a"), "a").json()
    mp_create(sim, mp_payment(external_reference="pi_b"), "b")

    found = sim.get(
        "/mercadopago/v1/payments/search", params={"external_reference": "pi_a"}, headers=MP_AUTH
    ).json()
    assert found["paging"] == {"total": 1, "limit": 30, "offset": 0}
    assert [p["id"] for p in found["results"]] == [mine["id"]]
    missing = sim.get("/mercadopago/v1/payments/999", headers=MP_AUTH)
    assert mp_error_shape(missing, 404)["message"] == "Payment not found"


def test_mp_callbacks_are_signed_and_replayable(sim: httpx.Client, receiver: Receiver) -> None:
    url = webhooks_only(f"{receiver.url}/mp?source=sim")
    payment = mp_create(sim, mp_payment(notification_url=url), "notified").json()
    paid = sim.post(f"/_sim/pay/mercadopago/{payment['id']}").json()
    assert (paid["status"], paid["status_detail"]) == ("approved", "accredited")
    assert paid["date_approved"] is not None

    wait_for(lambda: len(receiver.under("/mp")) == 2, timeout=WAIT_SECONDS)
    created, updated = sorted(receiver.under("/mp"), key=lambda r: r.json()["id"])
    assert [created.json()["action"], updated.json()["action"]] == [
        "payment.created",
        "payment.updated",
    ]
    for callback in (created, updated):
        assert callback.query == {
            "source": ["sim"],
            "source_news": ["webhooks"],
            "data.id": [str(payment["id"])],
            "type": ["payment"],
        }
        assert callback.json()["data"] == {"id": str(payment["id"])}
        assert callback.headers["content-type"] == "application/json"
        assert mp_signature_ok(callback, MP_SECRET)
    assert not mp_signature_ok(created, "another-secret")

    resend = f"/_sim/callbacks/mercadopago/{payment['id']}/resend"
    assert sim.post(resend).status_code == 202
    wait_for(lambda: len(receiver.under("/mp")) == 3, timeout=WAIT_SECONDS)
    replay = receiver.under("/mp")[2]
    assert (replay.body, replay.headers["x-signature"]) == (
        updated.body,
        updated.headers["x-signature"],
    )

    sim.post(resend, json={"stale_seconds": 600})
    wait_for(lambda: len(receiver.under("/mp")) == 4, timeout=WAIT_SECONDS)
    sim.post(resend, json={"bad_signature": True})
    wait_for(lambda: len(receiver.under("/mp")) == 5, timeout=WAIT_SECONDS)
    stale, bad = receiver.under("/mp")[3:]
    assert mp_signature_ok(stale, MP_SECRET)
    ts = int(dict(p.split("=", 1) for p in stale.headers["x-signature"].split(","))["ts"])
    assert ts <= datetime.now(UTC).timestamp() - 600
    assert not mp_signature_ok(bad, MP_SECRET)
    assert stale.body == bad.body == updated.body


def test_callbacks_are_retried_and_recorded(sim: httpx.Client, receiver: Receiver) -> None:
    failing = webhooks_only(f"{receiver.url}{FAILING_PATH}")
    mp_create(sim, mp_payment(notification_url=failing), "failing")

    def attempts_recorded() -> bool:
        callbacks = ledger(sim)["callbacks"]
        return len(callbacks) == 1 and callbacks[0]["attempts"] == CALLBACK_ATTEMPTS

    wait_for(attempts_recorded, timeout=WAIT_SECONDS)
    assert ledger(sim)["callbacks"][0]["status_code"] == 500
    assert ledger(sim)["callbacks"][0]["gateway"] == "mercadopago"
    assert len(receiver.under(FAILING_PATH)) == CALLBACK_ATTEMPTS


# --- Efí -----------------------------------------------------------------------------------


def test_efi_requires_a_token_and_counts_those_issued(sim: httpx.Client) -> None:
    no_token = sim.get(f"/efi/v2/cob/{TXID}")
    assert efi_error(no_token, 401) == "nao_autorizado"
    forged = sim.get(f"/efi/v2/cob/{TXID}", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401
    no_client = sim.post("/efi/oauth/token", json={"grant_type": "client_credentials"})
    assert no_client.status_code == 401
    assert no_client.json()["error"] == "invalid_client"

    auth = efi_auth(sim)
    efi_auth(sim)
    token = sim.post(
        "/efi/oauth/token", json={"grant_type": "client_credentials"}, auth=("c", "s")
    ).json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    # An unknown cob is a 400, not a 404 (docs/APIPix/CobrancasImediatas, GET /v2/cob/:txid).
    assert sim.get(f"/efi/v2/cob/{TXID}", headers=auth).status_code == 400
    assert ledger(sim)["tokens_issued"] == {"efi": 3}


def test_efi_cob_create_read_remove(sim: httpx.Client) -> None:
    auth = efi_auth(sim)
    created = efi_cob(sim, auth)

    assert created.status_code == 201, created.text
    cob = created.json()
    assert (cob["txid"], cob["status"], cob["revisao"]) == (TXID, "ATIVA", 0)
    assert cob["valor"] == {"original": "19.90"}
    assert cob["chave"] == "pix@loja.example"
    assert cob["calendario"]["criacao"].endswith("Z")
    assert cob["calendario"]["expiracao"] == 3600
    assert cob["loc"]["tipoCob"] == "cob"
    assert cob["loc"]["location"] == cob["location"]
    code = brcode.parse(cob["pixCopiaECola"])
    assert (code.location_url, code.amount_cents, code.txid) == (cob["location"], 1990, None)
    assert sim.get(f"/efi/v2/cob/{TXID}", headers=auth).json() == cob

    duplicate = efi_cob(sim, auth)
    assert efi_error(duplicate, 409) == "txid_duplicado"
    assert ledger(sim)["charges"][0]["create_requests"] == 2
    bad_txid = efi_cob(sim, auth, txid="short")
    assert efi_error(bad_txid, 400) == "valor_invalido"
    # docs/APIPix/Endpoints ("Criar location do payload"): json_invalido lists "erros".
    bad_value = sim.put(f"/efi/v2/cob/{OTHER_TXID}", json=cob_body("19.9"), headers=auth)
    assert bad_value.status_code == 400
    assert bad_value.json()["nome"] == "json_invalido"
    assert bad_value.json()["erros"][0]["caminho"] == ".body.valor.original"
    long_request = {**cob_body(), "solicitacaoPagador": "x" * 141}  # bacen/pix-api: ≤ 140
    assert sim.put(f"/efi/v2/cob/{OTHER_TXID}", json=long_request, headers=auth).status_code == 400
    no_expiry = {**cob_body(), "calendario": {"expiracao": 0}}  # "deve ser maior que zero"
    assert sim.put(f"/efi/v2/cob/{OTHER_TXID}", json=no_expiry, headers=auth).status_code == 400

    removal = {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"}
    removed = sim.patch(f"/efi/v2/cob/{TXID}", json=removal, headers=auth)
    assert removed.status_code == 200
    assert removed.json()["status"] == removal["status"]
    # docs/APIPix/CobrancasImediatas, PATCH /v2/cob/:txid: InvalidOperationError.
    again = sim.patch(f"/efi/v2/cob/{TXID}", json=removal, headers=auth)
    assert efi_error(again, 400) == "status_cobranca_invalido"
    unknown = sim.get(f"/efi/v2/cob/{OTHER_TXID}", headers=auth)
    assert efi_error(unknown, 400) == "cobranca_nao_encontrada"


def paid_e2e(sim: httpx.Client, auth: dict[str, str], txid: str = TXID) -> str:
    efi_cob(sim, auth, txid)
    paid = sim.post(f"/_sim/pay/efi/{txid}").json()
    assert paid["status"] == "CONCLUIDA"
    return str(paid["pix"][0]["endToEndId"])


def devolucao_status(sim: httpx.Client, auth: dict[str, str], path: str) -> str:
    return str(sim.get(path, headers=auth).json()["status"])


def test_efi_devolucoes_answer_in_processing_and_an_id_is_used_once(sim: httpx.Client) -> None:
    """docs/APIPix/Pix, "Solicitar devolução": 201 EM_PROCESSAMENTO; 409
    devolucao_id_duplicado for a repeated id; 400 pix_nao_encontrado."""
    auth = efi_auth(sim)
    e2e = paid_e2e(sim, auth)
    assert (len(e2e), e2e[0], e2e.isalnum()) == (32, "E", True)
    path = f"/efi/v2/pix/{e2e}/devolucao/dev1"

    created = sim.put(path, json={"valor": "7.50"}, headers=auth)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "EM_PROCESSAMENTO"
    assert (created.json()["rtrId"][0], len(created.json()["rtrId"])) == ("D", 32)
    wait_for(
        lambda: sim.get(path, headers=auth).json()["status"] == "DEVOLVIDO", timeout=WAIT_SECONDS
    )
    settled = sim.get(path, headers=auth).json()
    assert "liquidacao" in settled["horario"]

    repeat = sim.put(path, json={"valor": "7.50"}, headers=auth)
    assert efi_error(repeat, 409) == "devolucao_id_duplicado"
    # The sum of devoluções stays within the pix (bacen/pix-api, PixDevolucaoInvalida).
    too_much = sim.put(f"/efi/v2/pix/{e2e}/devolucao/dev2", json={"valor": "12.41"}, headers=auth)
    assert too_much.status_code == 400
    assert too_much.json()["type"].endswith("/PixDevolucaoInvalida")
    assert too_much.json()["violacoes"][0]["propriedade"] == "valor"
    cob = sim.get(f"/efi/v2/cob/{TXID}", headers=auth).json()
    assert [d["valor"] for d in cob["pix"][0]["devolucoes"]] == ["7.50"]
    unknown_pix = f"/efi/v2/pix/E{'0' * 31}/devolucao/dev1"
    assert efi_error(sim.put(unknown_pix, json={"valor": "1.00"}, headers=auth), 400) == (
        "pix_nao_encontrado"
    )
    unknown = sim.get(f"/efi/v2/pix/{e2e}/devolucao/nope", headers=auth)
    assert efi_error(unknown, 400) == "devolucao_nao_encontrada"
    assert [(r["refund_id"], r["requests"], r["status"]) for r in ledger(sim)["refunds"]] == [
        ("dev1", 2, "DEVOLVIDO")
    ]


def test_efi_devolucoes_may_stay_in_processing_then_settle_or_fail(
    sim: httpx.Client, receiver: Receiver
) -> None:
    """bacen/pix-api openapi.yaml, Devolucao.status: EM_PROCESSAMENTO, DEVOLVIDO or
    NAO_REALIZADO (with a "motivo"); a devolução made is called back
    (docs/APIPix/Webhooks, "Exemplo-Devolução")."""
    sim.put("/_sim/faults/efi", json={"refund_settle_seconds": None})
    auth = efi_auth(sim)
    e2e = paid_e2e(sim, auth)
    for devolucao in ("dev1", "dev2"):
        sim.put(f"/efi/v2/pix/{e2e}/devolucao/{devolucao}", json={"valor": "1.00"}, headers=auth)
    assert sim.get(f"/efi/v2/pix/{e2e}/devolucao/dev1", headers=auth).json()["status"] == (
        "EM_PROCESSAMENTO"
    )

    made = sim.post("/_sim/efi/devolucoes/dev1/settle", json={"status": "DEVOLVIDO"})
    failed = sim.post("/_sim/efi/devolucoes/dev2/settle", json={"status": "NAO_REALIZADO"})
    assert (made.json()["status"], failed.json()["status"]) == ("DEVOLVIDO", "NAO_REALIZADO")
    assert sim.post("/_sim/efi/devolucoes/dev2/settle").status_code == 409
    not_made = sim.get(f"/efi/v2/pix/{e2e}/devolucao/dev2", headers=auth).json()
    assert (not_made["status"], bool(not_made["motivo"])) == ("NAO_REALIZADO", True)
    # A devolução not made returns nothing: the whole pix can still be returned.
    rest = sim.put(f"/efi/v2/pix/{e2e}/devolucao/dev3", json={"valor": "18.90"}, headers=auth)
    assert rest.status_code == 201, rest.text

    wait_for(lambda: len(receiver.under("/v1/callbacks/efi")) == 2, timeout=WAIT_SECONDS)
    returned = receiver.under("/v1/callbacks/efi")[1].json()["pix"][0]
    assert returned["endToEndId"] == e2e
    assert [(d["id"], d["status"]) for d in returned["devolucoes"]] == [("dev1", "DEVOLVIDO")]


def test_efi_refund_failure_rate_ends_devolucoes_not_made(sim: httpx.Client) -> None:
    sim.put("/_sim/faults/efi", json={"refund_failure_rate": 1.0})
    auth = efi_auth(sim)
    path = f"/efi/v2/pix/{paid_e2e(sim, auth)}/devolucao/dev1"
    assert sim.put(path, json={"valor": "1.00"}, headers=auth).json()["status"] == (
        "EM_PROCESSAMENTO"
    )
    wait_for(
        lambda: sim.get(path, headers=auth).json()["status"] == "NAO_REALIZADO",
        timeout=WAIT_SECONDS,
    )


def test_efi_webhook_registration_calls_the_url_first(
    sim: httpx.Client, receiver: Receiver
) -> None:
    """docs/APIPix/Webhooks, "Configurar o webhook Pix": Efí calls the URL and refuses it
    (400 webhook_invalido) unless it answers 2xx; callbacks then go to it plus "/pix"."""
    auth = efi_auth(sim)
    refused = sim.put(
        "/efi/v2/webhook/pix@loja.example",
        json={"webhookUrl": f"{receiver.url}{FAILING_PATH}?hmac=t&ignorar="},
        headers={**auth, "x-skip-mtls-checking": "false"},
    )
    assert efi_error(refused, 400) == "webhook_invalido"
    assert refused.json()["mensagem"] == "A URL informada respondeu com o código HTTP 500"
    url = f"{receiver.url}/registered?hmac=t&ignorar="
    taken = sim.put("/efi/v2/webhook/pix@loja.example", json={"webhookUrl": url}, headers=auth)
    assert taken.status_code == 201, taken.text
    [probe] = receiver.under("/registered")
    assert probe.path == "/registered?hmac=t&ignorar="  # the URL as registered, no "/pix"
    assert probe.json() == {"evento": "teste_webhook"}
    shown = sim.get("/efi/v2/webhook/pix@loja.example", headers=auth).json()
    assert (shown["webhookUrl"], shown["chave"]) == (url, "pix@loja.example")

    paid_e2e(sim, auth)
    wait_for(lambda: len(receiver.under("/registered")) == 2, timeout=WAIT_SECONDS)
    assert receiver.under("/registered")[1].path == "/registered?hmac=t&ignorar=/pix"
    assert receiver.under("/v1/callbacks/efi") == []


def test_efi_callbacks_resend_out_of_order_twice_and_for_pix_sent(
    sim: httpx.Client, receiver: Receiver
) -> None:
    auth = efi_auth(sim)
    e2e = paid_e2e(sim, auth)
    sim.put(f"/efi/v2/pix/{e2e}/devolucao/dev1", json={"valor": "1.00"}, headers=auth)
    wait_for(lambda: len(receiver.under("/v1/callbacks/efi")) == 2, timeout=WAIT_SECONDS)

    assert sim.post(f"/_sim/efi/callbacks/{TXID}/resend/0").status_code == 202  # the payment
    sim.post("/_sim/efi/callbacks/pix-sent", json={"chave": "pix@loja.example"})
    sim.put("/_sim/faults/efi", json={"callback_duplicate_rate": 1.0})
    sim.post(f"/_sim/pay/efi/{OTHER_TXID}")  # unknown cob: no callback
    efi_cob(sim, auth, OTHER_TXID)
    sim.post(f"/_sim/pay/efi/{OTHER_TXID}")

    wait_for(lambda: len(receiver.under("/v1/callbacks/efi")) == 6, timeout=WAIT_SECONDS)
    bodies = [r.json()["pix"][0] for r in receiver.under("/v1/callbacks/efi")]
    assert "devolucoes" in bodies[1]
    assert "devolucoes" not in bodies[2]
    assert bodies[2]["endToEndId"] == e2e
    assert "txid" not in bodies[3]  # "Pix enviado"
    assert bodies[3]["status"] == "REALIZADO"
    assert bodies[4] == bodies[5]
    assert sim.post(f"/_sim/efi/callbacks/{TXID}/resend/9").status_code == 404


def test_efi_callback_batches_pix_at_url_plus_pix(sim: httpx.Client, receiver: Receiver) -> None:
    auth = efi_auth(sim)
    efi_cob(sim, auth, TXID)
    efi_cob(sim, auth, OTHER_TXID)

    paid = sim.post("/_sim/pay-many/efi", json={"references": [TXID, OTHER_TXID]})
    assert paid.status_code == 200, paid.text

    wait_for(lambda: len(receiver.under("/v1/callbacks/efi")) == 1, timeout=WAIT_SECONDS)
    callback = receiver.under("/v1/callbacks/efi")[0]
    assert callback.path == f"/v1/callbacks/efi?hmac={EFI_HMAC}&ignorar=/pix"
    assert callback.query["hmac"] == [EFI_HMAC]
    pix = callback.json()["pix"]
    assert [p["txid"] for p in pix] == [TXID, OTHER_TXID]
    assert {p["valor"] for p in pix} == {"19.90"}
    assert pix[0]["endToEndId"] == paid.json()[0]["pix"][0]["endToEndId"]
    assert set(pix[0]) == {"endToEndId", "txid", "chave", "valor", "horario", "infoPagador"}


def test_a_payer_may_pay_a_different_amount(sim: httpx.Client, receiver: Receiver) -> None:
    auth = efi_auth(sim)
    efi_cob(sim, auth)

    cob = sim.post(f"/_sim/pay/efi/{TXID}", json={"amount_cents": 1500}).json()

    assert cob["valor"]["original"] == "19.90"
    assert cob["pix"][0]["valor"] == "15.00"
    wait_for(lambda: len(receiver.under("/v1/callbacks/efi")) == 1, timeout=WAIT_SECONDS)
    assert receiver.under("/v1/callbacks/efi")[0].json()["pix"][0]["valor"] == "15.00"
    mp = mp_create(sim, mp_payment(), "mismatch").json()
    paid = sim.post(f"/_sim/pay/mercadopago/{mp['id']}", json={"amount_cents": 1500}).json()
    assert paid["transaction_amount"] == 15


SEND_ID = "payout01"


def pix_send_body(value: str = "1.00") -> dict[str, Any]:
    return {
        "valor": value,
        "pagador": {"chave": "pix@loja.example"},
        "favorecido": {"chave": "maria@example.com", "cpf": "52998224725"},
    }


def test_efi_pix_send_is_queued_then_read_and_a_repeat_is_409(
    sim: httpx.Client, receiver: Receiver
) -> None:
    """payouts-and-reconciliation.md §1: 201 EM_PROCESSAMENTO with e2eId; the read by
    idEnvio says endToEndId and masks the payee's document; a used idEnvio is 409
    id_envio_duplicado; unknown sends are a 404 PixEnviadoNaoEncontrado."""
    auth = efi_auth(sim)
    sim.put("/_sim/faults/efi", json={"send_settle_seconds": None})

    sent = sim.put(f"/efi/v3/gn/pix/{SEND_ID}", json=pix_send_body(), headers=auth)
    again = sim.put(f"/efi/v3/gn/pix/{SEND_ID}", json=pix_send_body("2.00"), headers=auth)
    read = sim.get(f"/efi/v2/gn/pix/enviados/id-envio/{SEND_ID}", headers=auth).json()
    unknown = sim.get("/efi/v2/gn/pix/enviados/id-envio/nope", headers=auth)

    assert sent.status_code == 201, sent.text
    assert (sent.json()["status"], sent.json()["e2eId"]) == ("EM_PROCESSAMENTO", read["endToEndId"])
    assert (again.status_code, again.json()["nome"]) == (409, "id_envio_duplicado")
    assert read["favorecido"]["identificacao"]["cpf"] == "***.982.247-**"
    by_e2e = sim.get(f"/efi/v2/gn/pix/enviados/{read['endToEndId']}", headers=auth)
    assert by_e2e.json()["idEnvio"] == SEND_ID
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/PixEnviadoNaoEncontrado")
    [row] = ledger(sim)["pix_sends"]
    assert (row["requests"], row["amount_cents"], row["status"]) == (2, 100, "EM_PROCESSAMENTO")
    assert receiver.under("/v1/callbacks/efi") == []  # not settled yet: no callback


def test_efi_pix_send_not_made_is_told_to_the_payer_keys_webhook(
    sim: httpx.Client, receiver: Receiver
) -> None:
    """§1, the callback of a send: "Pix rejeitado" has horario null and gnExtras.erro; a
    send settled already cannot be settled again."""
    auth = efi_auth(sim)
    sim.put("/_sim/faults/efi", json={"send_settle_seconds": None})
    sim.put(f"/efi/v3/gn/pix/{SEND_ID}", json=pix_send_body(), headers=auth)

    settled = sim.post(f"/_sim/efi/envios/{SEND_ID}/settle", json={"status": "NAO_REALIZADO"})
    twice = sim.post(f"/_sim/efi/envios/{SEND_ID}/settle")

    assert settled.json() == {"idEnvio": SEND_ID, "status": "NAO_REALIZADO"}
    assert twice.status_code == 409
    wait_for(lambda: len(receiver.under("/v1/callbacks/efi")) == 1, timeout=WAIT_SECONDS)
    [entry] = receiver.under("/v1/callbacks/efi")[0].json()["pix"]
    assert (entry["status"], entry["horario"], entry["tipo"]) == (
        "NAO_REALIZADO",
        None,
        "SOLICITACAO",
    )
    assert entry["gnExtras"]["idEnvio"] == SEND_ID
    assert entry["gnExtras"]["erro"]["codigo"] == "AC03"


def test_efi_pix_send_callbacks_can_be_dropped(sim: httpx.Client, receiver: Receiver) -> None:
    auth = efi_auth(sim)
    sim.put("/_sim/faults/efi", json={"callback_drop_rate": 1.0})
    sim.put(f"/efi/v3/gn/pix/{SEND_ID}", json=pix_send_body(), headers=auth)
    read = f"/efi/v2/gn/pix/enviados/id-envio/{SEND_ID}"
    wait_for(
        lambda: sim.get(read, headers=auth).json()["status"] == "REALIZADO", timeout=WAIT_SECONDS
    )
    assert ledger(sim)["callbacks"] == []  # a callback sent is listed at once
    assert receiver.under("/v1/callbacks/efi") == []


# --- faults --------------------------------------------------------------------------------


def test_outage_refuses_at_once_and_does_nothing(sim: httpx.Client) -> None:
    assert sim.put("/_sim/faults/mercadopago", json={"outage": True}).json()["outage"] is True
    sim.put("/_sim/faults/efi", json={"outage": True})

    assert mp_error_shape(mp_create(sim, mp_payment(), "down"), 503)
    auth = efi_auth(sim)  # getting a token is not affected
    down = efi_cob(sim, auth)
    assert efi_error(down, 503) == "servico_indisponivel"
    assert ledger(sim)["charges"] == []
    assert sim.delete("/_sim/faults").json()["efi"]["outage"] is False
    assert efi_cob(sim, auth).status_code == 201


def test_error_rate_fails_without_work_and_updates_keep_other_faults(sim: httpx.Client) -> None:
    sim.put("/_sim/faults/mercadopago", json={"latency_ms": 1})
    faults = sim.put("/_sim/faults/mercadopago", json={"error_rate": 1}).json()
    assert (faults["error_rate"], faults["latency_ms"]) == (1, 1)

    assert mp_error_shape(mp_create(sim, mp_payment(), "err"), 500)
    assert ledger(sim)["charges"] == []
    assert sim.put("/_sim/faults/mercadopago", json={"error_rate": 2}).status_code == 422
    assert sim.get("/_sim/faults").json()["efi"]["error_rate"] == 0


def test_decline_rate_rejects_cards_as_high_risk(sim: httpx.Client) -> None:
    sim.put("/_sim/faults/mercadopago", json={"decline_rate": 1})

    payment = mp_create(sim, mp_card(CARD_TOKEN), "risky").json()

    assert (payment["status"], payment["status_detail"]) == ("rejected", "cc_rejected_high_risk")


def test_timeout_does_the_work_then_hangs(sim: httpx.Client) -> None:
    sim.put("/_sim/faults/mercadopago", json={"timeout_rate": 1})

    with pytest.raises(httpx.ReadTimeout):  # the answer comes after the client gave up
        sim.post(
            "/mercadopago/v1/payments",
            json=mp_payment(external_reference="pi_slow"),
            headers={**MP_AUTH, "X-Idempotency-Key": "slow"},
            timeout=CLIENT_TIMEOUT_SECONDS,
        )
    sim.delete("/_sim/faults")

    found = sim.get(
        "/mercadopago/v1/payments/search",
        params={"external_reference": "pi_slow"},
        headers=MP_AUTH,
    ).json()
    assert found["paging"]["total"] == 1
    assert found["results"][0]["status"] == "pending"


def test_auto_pay_pays_new_pix_and_calls_back(sim: httpx.Client, receiver: Receiver) -> None:
    sim.put("/_sim/faults/mercadopago", json={"pix_auto_pay_seconds": 0})
    sim.put("/_sim/faults/efi", json={"pix_auto_pay_seconds": 0})
    url = webhooks_only(f"{receiver.url}/auto")
    payment = mp_create(sim, mp_payment(notification_url=url), "auto").json()
    auth = efi_auth(sim)
    efi_cob(sim, auth)

    def paid() -> bool:
        mp = sim.get(f"/mercadopago/v1/payments/{payment['id']}", headers=MP_AUTH).json()
        cob = sim.get(f"/efi/v2/cob/{TXID}", headers=auth).json()
        return mp["status"] == "approved" and cob["status"] == "CONCLUIDA"

    wait_for(paid, timeout=WAIT_SECONDS)
    wait_for(lambda: len(receiver.under("/auto")) == 2, timeout=WAIT_SECONDS)
    wait_for(lambda: len(receiver.under("/v1/callbacks/efi")) == 1, timeout=WAIT_SECONDS)


def test_ledger_reset_forgets_everything(sim: httpx.Client) -> None:
    auth = efi_auth(sim)
    efi_cob(sim, auth)
    mp_create(sim, mp_card(CARD_TOKEN), "x")

    cleared = sim.delete("/_sim/ledger").json()

    assert cleared == {
        "charges": [],
        "refunds": [],
        "pix_sends": [],
        "tokens_issued": {"efi": 0},
        "callbacks": [],
    }
    assert sim.get(f"/efi/v2/cob/{TXID}", headers=auth).status_code == 400


# --- CLI -----------------------------------------------------------------------------------


def run_cli(*args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout)


def test_cli_serves_sets_faults_and_pays() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["gateway-sim", "--port", str(port), "--seed", "1", "--timeout-hang-seconds", "2"]
    with start_role(args, {}, f"{url}/_sim/faults"):
        faults = run_cli("gateway-sim-faults", "set", "mercadopago", "--outage", "--url", url)
        assert faults["outage"] is True
        lagging = ("--search-lag-seconds", "5", "--refund-status", "in_process", "--url", url)
        faults = run_cli("gateway-sim-faults", "set", "mercadopago", *lagging)
        assert (faults["search_lag_seconds"], faults["refund_status"]) == (5, "in_process")
        assert httpx.post(f"{url}/mercadopago/v1/payments", json={}).status_code == 503
        assert run_cli("gateway-sim-faults", "show", "--url", url)["mercadopago"]["outage"]
        assert not run_cli("gateway-sim-faults", "reset", "--url", url)["mercadopago"]["outage"]
        payment = httpx.post(
            f"{url}/mercadopago/v1/payments",
            json=mp_payment(),
            headers={**MP_AUTH, "X-Idempotency-Key": "cli"},
        ).json()
        paid = run_cli("gateway-sim-pay", "mercadopago", str(payment["id"]), "--url", url)
        assert paid["status"] == "approved"
