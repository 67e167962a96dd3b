"""The rows of docs/gateways/payouts-and-reconciliation.md §1 that move money: the Efí
adapter's Pix sends against the simulator over HTTP, in the mode each row describes.

The simulator follows that contract (Efí's send endpoint, its 409 on a used idEnvio, its
404 PixEnviadoNaoEncontrado, the send's callback); these tests check that the adapter
sends each payout attempt at most once there and sorts every answer as the Answers table
says.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.domain.documents import PayerDocument
from app.domain.errors import (
    GatewayNotAttempted,
    GatewayOutcomeUnknown,
    GatewayRejected,
    InvalidRequest,
)
from app.domain.pix_keys import PixKey, PixKeyType, parse_pix_key
from app.gateways.efi import Efi
from app.gateways.identifiers import id_envio_for
from app.gateways.port import (
    GatewayName,
    IncomingCallback,
    PixSend,
    PixSendCallback,
    PixSendRequest,
    PixSendStatus,
)
from app.gateways.registry import Gateways
from tests.gateway_sim import EFI_PIX_KEY, Simulator, running_simulator
from tests.integration.receiver import Receiver, running_receiver

GATEWAY_TIMEOUT_SECONDS = 1
SIM_HANG_SECONDS = 2  # longer than the gateway timeout: a "timeout" loses the answer
WAIT_SECONDS = 10.0
CALLBACK_PATH = "/v1/callbacks/efi"
AMOUNT = 1234
PAYEE_CPF = "52998224725"
OTHER_CPF = "11144477735"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as received:
        yield received


@pytest.fixture(scope="module")
def sim(receiver: Receiver) -> Iterator[Simulator]:
    with running_simulator(
        efi_webhook_url=f"{receiver.url}{CALLBACK_PATH}",
        extra_args=("--timeout-hang-seconds", str(SIM_HANG_SECONDS)),
    ) as simulator:
        yield simulator


@pytest.fixture(scope="module")
async def gateways(sim: Simulator) -> AsyncIterator[Gateways]:
    opened = sim.open_gateways(gateway_timeout_seconds=GATEWAY_TIMEOUT_SECONDS)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def efi(gateways: Gateways, sim: Simulator, receiver: Receiver) -> Efi:
    """The adapter, with no faults and an empty ledger at the simulator."""
    sim.admin("DELETE", "/faults")
    sim.admin("DELETE", "/ledger")
    receiver.clear()
    adapter = gateways.get(GatewayName.EFI)
    assert isinstance(adapter, Efi)
    return adapter


def payout(**changes: Any) -> PixSendRequest:
    values: dict[str, Any] = {
        "id_envio": id_envio_for(f"po_{uuid.uuid4().hex}-efi-1"),
        "amount": AMOUNT,
        "payee_key": parse_pix_key("email", "Maria@Example.com"),
        "payer_info": "Repasse PixWave",
        **changes,
    }
    return PixSendRequest(**values)


def sends(sim: Simulator) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = sim.ledger()["pix_sends"]
    return rows


async def eventually(
    read: Callable[[], Awaitable[PixSend | None]], status: PixSendStatus
) -> PixSend:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        send = await read()
        if send is not None and send.status is status:
            return send
        assert asyncio.get_running_loop().time() < deadline, f"still {send}"
        await asyncio.sleep(0.05)


async def send_callbacks(efi: Efi, receiver: Receiver, count: int) -> list[PixSendCallback]:
    """The send callbacks the simulator POSTed to the payer key's webhook, verified."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while len(receiver.under(CALLBACK_PATH)) < count:
        assert asyncio.get_running_loop().time() < deadline, "no callback"
        await asyncio.sleep(0.05)
    notices: list[PixSendCallback] = []
    for received in receiver.under(CALLBACK_PATH):
        query = {name: values[0] for name, values in received.query.items()}
        callback = IncomingCallback(received.body, received.headers, query)
        notice = efi.verify_callback(callback, datetime.now(UTC))
        assert notice.events == ()  # a send names no cob
        notices.extend(notice.pix_sends)
    return notices


async def test_a_send_is_queued_and_then_paid_by_read_and_by_callback(
    efi: Efi, sim: Simulator, receiver: Receiver
) -> None:
    """§1 Answers (201 EM_PROCESSAMENTO: queued, not done), Statuses (REALIZADO: paid),
    the callback (to the payer key's webhook, gnExtras.idEnvio): it only says "read again"."""
    sim.faults("efi", send_settle_seconds=None)
    request = payout()

    queued = await efi.send_pix(request)

    assert (queued.id_envio, queued.status, queued.amount) == (
        request.id_envio,
        PixSendStatus.PENDING,
        AMOUNT,
    )
    assert queued.end_to_end_id is not None
    read = await efi.get_pix_send(request.id_envio)
    assert read is not None
    assert (read.status, read.end_to_end_id) == (PixSendStatus.PENDING, queued.end_to_end_id)

    sim.admin("POST", f"/efi/envios/{request.id_envio}/settle")
    [notice] = await send_callbacks(efi, receiver, 1)
    assert notice == PixSendCallback(f"{request.id_envio}=REALIZADO", request.id_envio)
    paid = await efi.get_pix_send(notice.id_envio)
    assert paid is not None
    assert (paid.status, paid.gateway_status) == (PixSendStatus.PAID, "REALIZADO")
    assert paid.settled_at is not None
    [row] = sends(sim)
    assert (row["requests"], row["amount_cents"], row["payee_key"]) == (
        1,
        AMOUNT,
        "maria@example.com",
    )


async def test_a_send_settles_on_its_own_and_one_not_made_fails_with_a_reason(
    efi: Efi, sim: Simulator, receiver: Receiver
) -> None:
    """§1 Statuses: NAO_REALIZADO is the only failure; its reason is in the callback's
    gnExtras.erro, kept for operators."""
    sim.faults("efi", send_failure_rate=1.0)
    request = payout()

    await efi.send_pix(request)

    failed = await eventually(lambda: efi.get_pix_send(request.id_envio), PixSendStatus.FAILED)
    assert failed.gateway_status == "NAO_REALIZADO"
    [notice] = await send_callbacks(efi, receiver, 1)
    assert notice.key == f"{request.id_envio}=NAO_REALIZADO"
    assert notice.reason


async def test_a_send_whose_answer_was_lost_is_found_by_read_and_sent_once(
    efi: Efi, sim: Simulator
) -> None:
    """§1 Idempotency: after a timeout the send is read by idEnvio first; found, its status
    decides. The simulator did the work and held the answer back."""
    sim.faults("efi", timeout_rate=1.0, send_settle_seconds=None)
    request = payout()

    with pytest.raises(GatewayOutcomeUnknown):
        await efi.send_pix(request)

    sim.faults("efi", timeout_rate=0.0)
    found = await efi.get_pix_send(request.id_envio)
    assert found is not None
    assert found.status is PixSendStatus.PENDING
    assert [row["requests"] for row in sends(sim)] == [1]


async def test_a_lost_answer_the_read_cannot_see_yet_is_settled_by_repeating_the_put(
    efi: Efi, sim: Simulator
) -> None:
    """§1 Idempotency and §5: a 404 by idEnvio right after a timeout is not proof of
    absence; only the same PUT again settles it: 409 id_envio_duplicado means it exists.
    Until the read shows it the outcome stays unknown; it is sent exactly once."""
    sim.faults("efi", timeout_rate=1.0, send_settle_seconds=None, send_read_lag_seconds=60)
    request = payout()
    with pytest.raises(GatewayOutcomeUnknown):
        await efi.send_pix(request)
    sim.faults("efi", timeout_rate=0.0)

    assert await efi.get_pix_send(request.id_envio) is None  # lagging: proves nothing
    with pytest.raises(GatewayOutcomeUnknown, match="taken but not found"):
        await efi.send_pix(request)  # 409: it exists, but cannot be read yet

    sim.faults("efi", send_read_lag_seconds=0)
    repeated = await efi.send_pix(request)
    assert (repeated.id_envio, repeated.status) == (request.id_envio, PixSendStatus.PENDING)
    [row] = sends(sim)
    assert (row["requests"], row["id_envio"]) == (3, request.id_envio)


async def test_a_reused_id_envio_returns_the_existing_send(efi: Efi, sim: Simulator) -> None:
    """§1 Answers: 409 id_envio_duplicado is not a failure; the send exists and is read."""
    sim.faults("efi", send_settle_seconds=None)
    request = payout()
    first = await efi.send_pix(request)

    again = await efi.send_pix(request)

    assert (again.id_envio, again.end_to_end_id) == (first.id_envio, first.end_to_end_id)
    assert [row["requests"] for row in sends(sim)] == [2]


@pytest.mark.parametrize(
    ("faults", "dict_key"),
    [
        ({"send_denied_rate": 1.0}, None),  # 422 pagamento_negado
        ({}, {"registered": False}),  # 400 chave_invalida
        ({}, {"owner": OTHER_CPF}),  # 400 chave_nao_pertence_ao_documento
    ],
    ids=["pagamento_negado", "chave_invalida", "chave_nao_pertence_ao_documento"],
)
async def test_a_refused_send_is_rejected_and_nothing_was_sent(
    efi: Efi, sim: Simulator, faults: dict[str, Any], dict_key: dict[str, Any] | None
) -> None:
    """§1 Answers: a 400/422 refusal whose idEnvio Efí does not know moves no money
    (declined): the payout attempt may take a new idEnvio."""
    sim.faults("efi", **faults)
    request = payout(payee_document=PayerDocument("cpf", PAYEE_CPF))
    if dict_key is not None:
        sim.admin("PUT", f"/efi/keys/{request.payee_key.value}", json=dict_key)

    with pytest.raises(GatewayRejected) as refused:
        await efi.send_pix(request)

    assert refused.value.status in (400, 422)
    assert sends(sim) == []
    assert await efi.get_pix_send(request.id_envio) is None


async def test_the_payees_own_document_goes_through(efi: Efi, sim: Simulator) -> None:
    """favorecido.cpf beside chave: Efí checks the key is that document's."""
    request = payout(payee_document=PayerDocument("cpf", PAYEE_CPF))
    sim.admin("PUT", f"/efi/keys/{request.payee_key.value}", json={"owner": PAYEE_CPF})
    assert (await efi.send_pix(request)).id_envio == request.id_envio


@pytest.mark.parametrize(
    ("faults", "error", "answer"),
    [
        # 500: not settled whether work was done
        ({"error_rate": 1.0}, GatewayOutcomeUnknown, "HTTP 500.*erro_aplicacao"),
        ({"throttle_rate": 1.0}, GatewayNotAttempted, "HTTP 429.*BaldeFichasVazio"),
        ({"outage": True}, GatewayNotAttempted, "HTTP 503"),
    ],
    ids=["500", "429", "503"],
)
async def test_server_errors_are_unknown_and_refusals_before_work_not_attempted(
    efi: Efi, sim: Simulator, faults: dict[str, Any], error: type[Exception], answer: str
) -> None:
    """§1 Answers and efi.md (transient): never a failure of the payout."""
    sim.faults("efi", **faults)
    with pytest.raises(error, match=answer):
        await efi.send_pix(payout())
    sim.admin("DELETE", "/faults")
    assert sends(sim) == []


@pytest.mark.parametrize(
    "key",
    [
        PixKey(PixKeyType.EMAIL, "maria@@example.com"),
        PixKey(PixKeyType.PHONE, "31999998888"),
        PixKey(PixKeyType.EVP, "not-a-random-key"),
    ],
    ids=["email", "phone-without-plus55", "evp"],
)
async def test_a_bad_key_is_refused_before_any_http_call(
    sim: Simulator, efi: Efi, key: PixKey
) -> None:
    """§2: a malformed key is refused before any PUT (a fresh adapter: not even a token)."""
    fresh = sim.open_gateways()
    adapter = fresh.get(GatewayName.EFI)
    assert isinstance(adapter, Efi)
    try:
        with pytest.raises(InvalidRequest):
            await adapter.send_pix(payout(payee_key=key))
    finally:
        await fresh.close()
    assert sim.ledger()["tokens_issued"]["efi"] == 0
    assert sends(sim) == []


async def test_the_sent_list_shows_each_send_of_the_window(efi: Efi, sim: Simulator) -> None:
    """§1 Reading a send: GET /v2/gn/pix/enviados?inicio=&fim= (both required, RFC 3339),
    for reconciliation only."""
    request = payout()
    await efi.send_pix(request)
    now = datetime.now(UTC)
    window = {
        "inicio": (now - timedelta(minutes=5)).isoformat(),
        "fim": (now + timedelta(minutes=5)).isoformat(),
    }
    async with httpx.AsyncClient(base_url=f"{sim.url}/efi", timeout=WAIT_SECONDS) as client:
        token = await client.post(
            "/oauth/token", json={"grant_type": "client_credentials"}, auth=("c", "s")
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        listed = await client.get("/v2/gn/pix/enviados", params=window, headers=headers)
        unbounded = await client.get("/v2/gn/pix/enviados", headers=headers)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()
    assert (item["idEnvio"], item["chave"], item["valor"]) == (
        request.id_envio,
        EFI_PIX_KEY,
        "12.34",
    )
    assert unbounded.status_code == 400
