"""Payouts on real PostgreSQL and the gateway simulator over HTTP: a payout reserves its
amount, is sent once under its idEnvio (even when the answer is lost after the simulator
did the work), and its end leaves the books right: paid out through Efí's clearing
account, or given back to available by an entry. Over HTTP: bad input names its field,
an Idempotency-Key makes one payout, cancel only while pending, and concurrent payouts
never take the available balance below zero."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest

from app.db.uow import SqlUnitOfWork
from app.domain.caller import Caller
from app.domain.errors import IllegalTransition, InvalidRequest
from app.domain.ledger import MerchantAccount, clearing_account
from app.ledger import service as ledger
from app.ledger.repository import LedgerRepository
from app.payouts.jobs import follow_up_payouts
from app.payouts.service import cancel_payout
from devtools.demo.driver import Plan, pay_out
from devtools.demo.receiver import new_receiver
from tests.integration.charge_scene import Scene
from tests.integration.payout_support import (
    EMAIL_KEY,
    WAIT_SECONDS,
    followed_up_until_final,
    funded_api_merchant,
    funded_merchant,
    new_payout,
    payout_status,
    send_payout_once,
)
from tests.integration.relay_support import CIPHER
from tests.support import ApiProcess, Merchant

FUNDS = 10_000
AMOUNT = 3_000


@pytest.fixture(autouse=True)
def healthy_gateways(scene: Scene) -> None:
    scene.heal_gateways()


def _sim_sends(scene: Scene, payout_id: str) -> list[dict[str, Any]]:
    [(id_envio,)] = scene.rows(
        "SELECT id_envio FROM payout_attempts WHERE payout_id = %s", (payout_id,)
    )
    return [s for s in scene.sim.ledger()["pix_sends"] if s["id_envio"] == id_envio]


async def _books(scene: Scene, caller: Caller) -> dict[str, int]:
    async with SqlUnitOfWork(scene.sessions) as uow:
        balance = await ledger.balance_of(uow, caller.merchant_id, caller.livemode)
        clearing = await uow.repository(LedgerRepository).account_balance(
            clearing_account("efi"), False, "BRL"
        )
        assert await ledger.check_books(uow) == []
    books = {kind.value: balance.amounts.get(kind, {}).get("BRL", 0) for kind in MerchantAccount}
    return {**books, "clearing": clearing}


def _transactions(scene: Scene, payout_id: str) -> list[tuple[str, int]]:
    rows = scene.rows(
        "SELECT type, amount FROM balance_transactions WHERE source = %s ORDER BY created_at",
        (payout_id,),
    )
    return [(str(kind), int(amount)) for kind, amount in rows]


async def test_a_payout_is_sent_once_and_paid_with_the_books_right(scene: Scene) -> None:
    caller = await funded_merchant(scene, FUNDS)
    clearing_before = (await _books(scene, caller))["clearing"]
    payout_id = await new_payout(scene, caller, AMOUNT)
    reserved = await _books(scene, caller)
    assert (reserved["available"], reserved["reserved"]) == (FUNDS - AMOUNT, AMOUNT)

    assert not await send_payout_once(scene, payout_id)
    assert payout_status(scene, payout_id) == "in_transit"  # queued at Efí (EM_PROCESSAMENTO)
    await followed_up_until_final(scene, payout_id)
    assert not await send_payout_once(scene, payout_id)  # a redelivery sends nothing more

    assert payout_status(scene, payout_id) == "paid"
    [sent] = _sim_sends(scene, payout_id)
    assert (sent["amount_cents"], sent["payee_key"], sent["requests"]) == (
        AMOUNT,
        "maria@example.com",
        1,
    )
    books = await _books(scene, caller)
    assert (books["available"], books["reserved"]) == (FUNDS - AMOUNT, 0)
    assert books["clearing"] == clearing_before + AMOUNT
    assert _transactions(scene, payout_id) == [("payout", -AMOUNT)]
    assert scene.events(payout_id) == ["payout.created", "payout.paid"]


async def test_a_send_whose_answer_is_lost_is_read_back_and_made_once(scene: Scene) -> None:
    """The simulator makes the send, then holds the answer past our timeout: the payout
    stays in transit under the same idEnvio, and the redelivery reads it back."""
    caller = await funded_merchant(scene, FUNDS)
    payout_id = await new_payout(scene, caller, AMOUNT)
    scene.sim.faults("efi", timeout_rate=1.0)

    assert await send_payout_once(scene, payout_id)  # RetryLater: the outcome is unknown
    assert payout_status(scene, payout_id) == "in_transit"
    scene.heal_gateways()
    await send_payout_once(scene, payout_id)  # the redelivery
    await followed_up_until_final(scene, payout_id)

    assert payout_status(scene, payout_id) == "paid"
    [sent] = _sim_sends(scene, payout_id)
    assert sent["requests"] == 1
    [(attempts,)] = scene.rows(
        "SELECT count(*) FROM payout_attempts WHERE payout_id = %s", (payout_id,)
    )
    assert attempts == 1
    assert (await _books(scene, caller))["reserved"] == 0


async def test_the_scheduler_makes_the_send_a_worker_never_got_to_make(scene: Scene) -> None:
    """The attempt is stored and the payout in transit, but no PUT reached Efí (here a
    503 before any work; a crash after the commit leaves the same): follow_up_payouts
    reads by idEnvio, finds nothing, makes the same PUT once, then reads it paid."""
    caller = await funded_merchant(scene, FUNDS)
    payout_id = await new_payout(scene, caller, AMOUNT)
    scene.sim.faults("efi", outage=True)
    assert await send_payout_once(scene, payout_id)
    assert payout_status(scene, payout_id) == "in_transit"
    assert _sim_sends(scene, payout_id) == []
    scene.heal_gateways()
    with psycopg.connect(scene.database_url, autocommit=True) as connection:
        # As if the payout had been quiet for longer than the job waits.
        connection.execute(
            "UPDATE payouts SET updated_at = now() - interval '1 hour' WHERE id = %s",
            (payout_id,),
        )

    context = scene.context(cipher=CIPHER)
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while payout_status(scene, payout_id) == "in_transit":
        assert asyncio.get_running_loop().time() < deadline
        await follow_up_payouts(context, 50)
        await asyncio.sleep(0.1)

    assert payout_status(scene, payout_id) == "paid"
    [sent] = _sim_sends(scene, payout_id)
    assert sent["requests"] == 1
    assert (await _books(scene, caller))["reserved"] == 0


async def test_a_send_not_made_gives_the_reserved_funds_back_by_an_entry(scene: Scene) -> None:
    caller = await funded_merchant(scene, FUNDS)
    payout_id = await new_payout(scene, caller, AMOUNT)
    scene.sim.faults("efi", send_failure_rate=1.0)

    await send_payout_once(scene, payout_id)
    await followed_up_until_final(scene, payout_id)

    assert payout_status(scene, payout_id) == "failed"
    [(code, message)] = scene.rows(
        "SELECT failure_code, failure_message FROM payouts WHERE id = %s", (payout_id,)
    )
    assert code == "send_failed"
    assert message
    books = await _books(scene, caller)
    assert (books["available"], books["reserved"]) == (FUNDS, 0)
    assert _transactions(scene, payout_id) == [("payout", -AMOUNT), ("payout_failure", AMOUNT)]
    [(entries,)] = scene.rows(
        "SELECT count(*) FROM ledger_entries WHERE source_id = %s AND kind = 'payout_failure'",
        (payout_id,),
    )
    assert entries == 1
    assert scene.events(payout_id) == ["payout.created", "payout.failed"]


async def test_a_send_efi_refuses_fails_the_payout_and_gives_the_funds_back(scene: Scene) -> None:
    """422 pagamento_negado: no send exists under the idEnvio, so the payout fails."""
    caller = await funded_merchant(scene, FUNDS)
    payout_id = await new_payout(scene, caller, AMOUNT)
    scene.sim.faults("efi", send_denied_rate=1.0)

    assert not await send_payout_once(scene, payout_id)

    assert payout_status(scene, payout_id) == "failed"
    [(code,)] = scene.rows("SELECT failure_code FROM payouts WHERE id = %s", (payout_id,))
    assert code == "send_refused"
    assert _sim_sends(scene, payout_id) == []
    books = await _books(scene, caller)
    assert (books["available"], books["reserved"]) == (FUNDS, 0)


async def test_two_deliveries_at_once_make_onesend_payout_once(scene: Scene) -> None:
    """The same message in two workers: the row lock lets one record the attempt; the
    other finds it in transit and reads (or repeats the same PUT under the send lock,
    which Efí answers 409): one send either way."""
    caller = await funded_merchant(scene, FUNDS)
    payout_id = await new_payout(scene, caller, AMOUNT)

    await asyncio.gather(send_payout_once(scene, payout_id), send_payout_once(scene, payout_id))
    await followed_up_until_final(scene, payout_id)

    assert payout_status(scene, payout_id) == "paid"
    assert len(_sim_sends(scene, payout_id)) == 1
    books = await _books(scene, caller)
    assert (books["available"], books["reserved"]) == (FUNDS - AMOUNT, 0)
    assert scene.events(payout_id) == ["payout.created", "payout.paid"]


async def test_cancel_gives_the_funds_back_while_pending_and_is_refused_once_sent(
    scene: Scene,
) -> None:
    caller = await funded_merchant(scene, FUNDS)
    first = await new_payout(scene, caller, AMOUNT)
    second = await new_payout(scene, caller, AMOUNT)
    async with SqlUnitOfWork(scene.sessions) as uow:
        canceled = await cancel_payout(uow, caller, first)
        await uow.commit()
    assert canceled.status == "canceled"
    scene.sim.faults("efi", send_settle_seconds=None)  # the send stays EM_PROCESSAMENTO
    await send_payout_once(scene, second)
    assert payout_status(scene, second) == "in_transit"

    async with SqlUnitOfWork(scene.sessions) as uow:
        with pytest.raises(IllegalTransition) as refused:
            await cancel_payout(uow, caller, second)
    assert refused.value.code == "payout_unexpected_state"
    books = await _books(scene, caller)
    assert (books["available"], books["reserved"]) == (FUNDS - AMOUNT, AMOUNT)
    assert _transactions(scene, first) == [("payout", -AMOUNT), ("payout_cancel", AMOUNT)]


async def test_a_payout_the_available_balance_cannot_cover_writes_nothing(scene: Scene) -> None:
    caller = await funded_merchant(scene, amount=AMOUNT - 1)
    with pytest.raises(InvalidRequest) as refused:
        await new_payout(scene, caller, AMOUNT)
    assert (refused.value.code, refused.value.param) == ("balance_insufficient", "amount")
    assert scene.rows("SELECT id FROM payouts WHERE merchant_id = %s", (caller.merchant_id,)) == []


# Over HTTP, against the API process and its database.


def _available(api: ApiProcess, merchant: Merchant) -> int:
    balance = httpx.get(f"{api.url}/v1/balance", headers=merchant.headers).json()
    return sum(a["amount"] for a in balance["available"])


def _post(api: ApiProcess, merchant: Merchant, body: dict[str, Any], **headers: str) -> Any:
    return httpx.post(f"{api.url}/v1/payouts", json=body, headers={**merchant.headers, **headers})


@pytest.mark.parametrize(
    ("destination", "param", "code"),
    [
        ({"type": "cpf", "key": "123.456.789-00"}, "destination.key", "pix_key_invalid"),
        ({"type": "phone", "key": "31999998888"}, "destination.key", "pix_key_invalid"),
        ({"type": "evp", "key": "not-a-uuid"}, "destination.key", "pix_key_invalid"),
        ({"type": "bitcoin", "key": "x"}, "destination.type", "parameter_invalid"),
        ({"type": "email"}, "destination.key", "parameter_missing"),
        (
            {"type": "cpf", "key": "52998224725", "document": "52998224725"},
            "destination.document",
            "parameter_invalid",
        ),
        (
            {"type": "email", "key": "a@b.com", "document": "111.111.111-11"},
            "destination.document",
            "invalid_tax_id",
        ),
    ],
)
def test_bad_destinations_are_problems_naming_the_field(
    api: ApiProcess, merchant: Merchant, destination: dict[str, str], param: str, code: str
) -> None:
    response = _post(api, merchant, {"amount": 100, "currency": "brl", "destination": destination})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (response.json()["param"], response.json()["code"]) == (param, code)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"currency": "brl", "destination": EMAIL_KEY}, "amount"),
        ({"amount": 100, "destination": EMAIL_KEY}, "currency"),
        ({"amount": 100, "currency": "brl"}, "destination"),
        ({"amount": 0, "currency": "brl", "destination": EMAIL_KEY}, "amount"),
        ({"amount": 100, "currency": "usd", "destination": EMAIL_KEY}, "currency"),
    ],
)
def test_missing_or_bad_fields_are_problems_naming_the_field(
    api: ApiProcess, merchant: Merchant, body: dict[str, Any], param: str
) -> None:
    response = _post(api, merchant, body)
    assert response.status_code == 400
    assert response.json()["param"] == param


def test_one_idempotency_key_makes_one_payout_and_cancel_only_while_pending(
    api: ApiProcess, db: psycopg.Connection[Any], database_url: str
) -> None:
    merchant = asyncio.run(funded_api_merchant(api, db, database_url, FUNDS))
    body = {"amount": AMOUNT, "currency": "brl", "destination": EMAIL_KEY}
    first = _post(api, merchant, body, **{"Idempotency-Key": "payout-once"})
    again = _post(api, merchant, body, **{"Idempotency-Key": "payout-once"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    listed = httpx.get(f"{api.url}/v1/payouts", headers=merchant.headers).json()
    assert [p["id"] for p in listed["data"]] == [first.json()["id"]]
    assert _available(api, merchant) == FUNDS - AMOUNT

    payout_url = f"{api.url}/v1/payouts/{first.json()['id']}"
    canceled = httpx.post(f"{payout_url}/cancel", headers=merchant.headers)
    twice = httpx.post(f"{payout_url}/cancel", headers=merchant.headers)
    assert canceled.json()["status"] == "canceled"
    assert (twice.status_code, twice.json()["code"]) == (409, "payout_unexpected_state")
    assert _available(api, merchant) == FUNDS
    shown = httpx.get(payout_url, headers=merchant.headers).json()
    assert shown == canceled.json()
    pending = httpx.get(
        f"{api.url}/v1/payouts", params={"status": "pending"}, headers=merchant.headers
    ).json()
    assert pending["data"] == []


def test_concurrent_payouts_never_overdraw_the_available_balance(
    api: ApiProcess, db: psycopg.Connection[Any], database_url: str
) -> None:
    merchant = asyncio.run(funded_api_merchant(api, db, database_url, FUNDS))
    amount, tries = 700, 20
    body = {"amount": amount, "currency": "brl", "destination": EMAIL_KEY}

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=api.url, headers=merchant.headers) as client:
            return await asyncio.gather(
                *(client.post("/v1/payouts", json=body) for _ in range(tries))
            )

    answers = asyncio.run(race())
    made = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert len(made) == FUNDS // amount
    assert {(a.status_code, a.json()["code"]) for a in refused} == {(400, "balance_insufficient")}
    assert _available(api, merchant) == FUNDS - len(made) * amount >= 0


async def test_the_demo_settles_then_pays_out_and_reads_the_balance_around_it(
    api: ApiProcess, db: psycopg.Connection[Any], database_url: str
) -> None:
    """`pixwave demo --payout`: here no worker runs, so the payout stays pending and no
    webhook ends it; the demo says so, after settling the funds it paid out from."""
    merchant = await funded_api_merchant(api, db, database_url, FUNDS, settled=False)
    plan = Plan(
        api_url=api.url,
        api_key=merchant.api_key,
        sim_url=None,
        count=0,
        method="pix",
        timeout_seconds=0.2,
        payout_amount=AMOUNT,
        database_url=database_url,
    )
    async with httpx.AsyncClient(base_url=api.url, headers=merchant.headers) as client:
        payout = await pay_out(client, new_receiver(), plan)

    assert (payout.available_before, payout.available_after) == (FUNDS, FUNDS - AMOUNT)
    assert payout.status == "pending (no webhook)"
    assert payout.id.startswith("po_")
