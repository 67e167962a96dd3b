"""The simulator's reconciliation lists against the contract (docs/gateways/
payouts-and-reconciliation.md §3): Efí `GET /v2/pix` and Mercado Pago's search by date
range, their paging, windows and limits. Each test names its row; none asserts what
PixWave's adapter happens to expect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.integration.test_gateway_sim import (
    MP_AUTH,
    TXID,
    efi_auth,
    efi_cob,
    mp_create,
    mp_date,
    mp_payment,
)

pytest_plugins = ["tests.integration.test_gateway_sim"]

OTHER_TXIDS = [f"{TXID[:-2]}x{n}" for n in range(1, 4)]
SEARCH = "/mercadopago/v1/payments/search"


def efi_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def received(sim: httpx.Client, auth: dict[str, str], **params: Any) -> httpx.Response:
    return sim.get("/efi/v2/pix", params=params, headers=auth)


def paid_cobs(sim: httpx.Client, auth: dict[str, str], count: int) -> None:
    for txid in [TXID, *OTHER_TXIDS][:count]:
        assert efi_cob(sim, auth, txid).status_code == 201
        assert sim.post(f"/_sim/pay/efi/{txid}").status_code == 200


def day_around_now() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"inicio": efi_time(now - timedelta(hours=1)), "fim": efi_time(now + timedelta(hours=1))}


def test_efi_lists_received_pix_by_page_with_parametros(sim: httpx.Client) -> None:
    """Paging row: paginaAtual from 0, itensPorPagina, quantidadeDePaginas,
    quantidadeTotalDeItens; only the last page is short."""
    auth = efi_auth(sim)
    paid_cobs(sim, auth, 3)
    window = day_around_now()

    pages = [
        received(
            sim, auth, **window, **{"paginacao.paginaAtual": n, "paginacao.itensPorPagina": 2}
        ).json()
        for n in (0, 1)
    ]

    assert [len(p["pix"]) for p in pages] == [2, 1]
    assert pages[1]["parametros"]["paginacao"] == {
        "paginaAtual": 1,
        "itensPorPagina": 2,
        "quantidadeDePaginas": 2,
        "quantidadeTotalDeItens": 3,
    }
    assert {p["txid"] for page in pages for p in page["pix"]} == {TXID, *OTHER_TXIDS[:2]}


def test_efi_a_pix_carries_its_devolucoes(sim: httpx.Client) -> None:
    """An item row: endToEndId, txid, valor, horario, devolucoes[] with id, rtrId, status."""
    auth = efi_auth(sim)
    paid_cobs(sim, auth, 1)
    [item] = received(sim, auth, **day_around_now()).json()["pix"]
    path = f"/efi/v2/pix/{item['endToEndId']}/devolucao/re1"
    assert sim.put(path, json={"valor": "5.00"}, headers=auth).status_code == 201

    [item] = received(sim, auth, **day_around_now()).json()["pix"]

    [devolucao] = item["devolucoes"]
    assert (devolucao["id"], devolucao["valor"]) == ("re1", "5.00")
    assert devolucao["rtrId"].startswith("D")
    assert item["horario"].endswith("Z")


def test_efi_the_window_bounds_the_pix_horario(sim: httpx.Client) -> None:
    """Call row: inicio and fim bound the Pix's time; fim before inicio is valor_invalido."""
    auth = efi_auth(sim)
    paid_cobs(sim, auth, 1)
    later = datetime.now(UTC) + timedelta(minutes=5)

    empty = received(sim, auth, inicio=efi_time(later), fim=efi_time(later + timedelta(hours=1)))
    backwards = received(
        sim, auth, inicio=efi_time(later), fim=efi_time(later - timedelta(hours=1))
    )
    no_window = received(sim, auth)

    assert empty.json()["pix"] == []
    assert empty.json()["parametros"]["paginacao"]["quantidadeTotalDeItens"] == 0
    assert (backwards.status_code, backwards.json()["nome"]) == (400, "valor_invalido")
    assert (no_window.status_code, no_window.json()["nome"]) == (400, "json_invalido")


def test_efi_at_most_1000_per_page(sim: httpx.Client) -> None:
    auth = efi_auth(sim)

    response = received(sim, auth, **day_around_now(), **{"paginacao.itensPorPagina": 1001})

    assert (response.status_code, response.json()["nome"]) == (400, "json_invalido")


def test_efi_a_failing_list_page_answers_500(sim: httpx.Client) -> None:
    auth = efi_auth(sim)
    paid_cobs(sim, auth, 3)
    assert sim.put("/_sim/faults/efi", json={"failing_list_page": 1}).status_code == 200
    window = day_around_now()

    first = received(sim, auth, **window, **{"paginacao.itensPorPagina": 2})
    second = received(
        sim, auth, **window, **{"paginacao.paginaAtual": 1, "paginacao.itensPorPagina": 2}
    )

    assert (first.status_code, second.status_code) == (200, 500)


def mp_payments(sim: httpx.Client, count: int) -> list[int]:
    ids = []
    for n in range(count):
        response = mp_create(sim, mp_payment(external_reference=f"pi_{n}"), f"key-{n}")
        assert response.status_code == 201
        ids.append(response.json()["id"])
    return ids


def search(sim: httpx.Client, **params: Any) -> httpx.Response:
    return sim.get(SEARCH, params=params, headers=MP_AUTH)


def test_mercadopago_searches_a_date_range_page_by_page(sim: httpx.Client) -> None:
    """Call, sort and paging rows: range/begin_date/end_date, sort/criteria, offset/limit,
    and the answer's paging {total, limit, offset}."""
    ids = mp_payments(sim, 3)
    now = datetime.now(UTC)
    window = {
        "range": "date_created",
        "begin_date": mp_date(now - timedelta(hours=1)),
        "end_date": mp_date(now + timedelta(hours=1)),
        "sort": "date_created",
        "criteria": "desc",
        "limit": 2,
    }

    first, second = (search(sim, **window, offset=o).json() for o in (0, 2))

    assert first["paging"] == {"total": 3, "limit": 2, "offset": 0}
    assert [p["id"] for p in first["results"] + second["results"]] == ids[::-1]


def test_mercadopago_the_range_names_the_date_field(sim: httpx.Client) -> None:
    """Call row: range=date_approved bounds the approval date; unpaid payments have none."""
    [paid, unpaid] = mp_payments(sim, 2)
    assert sim.post(f"/_sim/pay/mercadopago/{paid}").status_code == 200

    found = search(sim, range="date_approved", begin_date="NOW-1HOURS", end_date="NOW").json()

    assert [p["id"] for p in found["results"]] == [paid]
    assert unpaid not in [p["id"] for p in found["results"]]


def test_mercadopago_dates_must_be_absolute_with_milliseconds_or_relative(
    sim: httpx.Client,
) -> None:
    """Date format row: yyyy-MM-dd'T'HH:mm:ss.SSSZ (error 1001), or NOW-n<UNIT> in range."""
    mp_payments(sim, 1)

    relative = search(sim, begin_date="NOW-5MINUTES", end_date="NOW")
    no_millis = search(sim, begin_date="2026-12-01T00:00:00-03:00")
    too_many_minutes = search(sim, begin_date="NOW-61MINUTES")

    assert relative.json()["paging"]["total"] == 1
    assert [c["code"] for c in no_millis.json()["cause"]] == ["1001"]
    assert too_many_minutes.status_code == 400


def test_mercadopago_paging_maxima(sim: httpx.Client) -> None:
    """Paging row: limit at most 50, offset at most 10000 (400 code 1000)."""
    assert search(sim, limit=50).status_code == 200
    for params in ({"limit": 51}, {"offset": 10_001}):
        response = search(sim, **params)
        assert response.status_code == 400
        assert [c["code"] for c in response.json()["cause"]] == ["1000"]


def test_mercadopago_sort_and_criteria_are_checked(sim: httpx.Client) -> None:
    assert [c["code"] for c in search(sim, sort="amount").json()["cause"]] == ["1003"]
    assert [c["code"] for c in search(sim, criteria="up").json()["cause"]] == ["1004"]


def test_mercadopago_a_payment_carries_its_refunds(sim: httpx.Client) -> None:
    """Refunds row: refunds[] on the payment and GET /v1/payments/{id}/refunds."""
    [payment_id] = mp_payments(sim, 1)
    assert sim.post(f"/_sim/pay/mercadopago/{payment_id}").status_code == 200
    refund = sim.post(
        f"/mercadopago/v1/payments/{payment_id}/refunds",
        json={"amount": 5},
        headers={**MP_AUTH, "X-Idempotency-Key": "re-1"},
    ).json()

    payment = sim.get(f"/mercadopago/v1/payments/{payment_id}", headers=MP_AUTH).json()
    listed = sim.get(f"/mercadopago/v1/payments/{payment_id}/refunds", headers=MP_AUTH).json()

    assert [r["id"] for r in payment["refunds"]] == [refund["id"]]
    assert [(r["id"], r["amount"]) for r in listed] == [(refund["id"], 5)]


def test_mercadopago_a_failing_list_page_answers_500(sim: httpx.Client) -> None:
    mp_payments(sim, 3)
    assert sim.put("/_sim/faults/mercadopago", json={"failing_list_page": 1}).status_code == 200

    first, second = (search(sim, limit=2, offset=o) for o in (0, 2))

    assert (first.status_code, second.status_code) == (200, 500)
