"""The reconciliation reads' paging rules, against small fake gateways (a ``send`` that
answers from a function of the request): lists that shift, pages that come up short,
windows over the offset cap, what each request asks for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.domain.errors import GatewayNotAttempted, GatewayOutcomeUnknown
from app.domain.reconciliation import RecordKind
from app.gateways.efi_records import received_records, sent_records
from app.gateways.mercadopago_records import MAX_OFFSET, payment_records

START = datetime(2026, 12, 1, 3, tzinfo=UTC)
END = START + timedelta(days=1)
Answer = Callable[[str, dict[str, Any]], httpx.Response]


class FakeGateway:
    """Records each call; ``answer(path, params)`` makes the response."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = dict(kwargs.get("params") or {})
        self.calls.append((path, params))
        return self.answer(path, params)


def ok(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def pix(number: int, txid: str | None = "t") -> dict[str, Any]:
    item: dict[str, Any] = {
        "endToEndId": f"E{number:031d}",
        "valor": "19.90",
        "horario": "2026-12-01T14:20:41.425Z",
    }
    if txid:
        item["txid"] = f"{txid}{number:027d}"
    return item


def efi_page(items: list[dict[str, Any]], *, pages: int, total: int) -> httpx.Response:
    paging = {"quantidadeDePaginas": pages, "quantidadeTotalDeItens": total}
    return ok({"parametros": {"paginacao": paging}, "pix": items})


async def test_efi_walks_again_when_the_total_moves_between_pages() -> None:
    walks: list[int] = []

    def answer(path: str, params: dict[str, Any]) -> httpx.Response:
        page = params["paginacao.paginaAtual"]
        walks.append(page)
        if len(walks) <= 2:  # the first walk: a pix arrives between its pages
            return efi_page([pix(page)], pages=2, total=2 + page)
        return efi_page([pix(page)], pages=2, total=2)

    gateway = FakeGateway(answer)
    records = await received_records(gateway.send, START, END, page_size=1)

    assert walks == [0, 1, 0, 1]
    assert len([r for r in records if r.kind is RecordKind.CHARGE]) == 2


async def test_efi_pages_that_list_fewer_pix_than_announced_fail_the_read() -> None:
    gateway = FakeGateway(lambda path, params: efi_page([pix(1)], pages=1, total=2))

    with pytest.raises(GatewayOutcomeUnknown, match="1 Pix of the 2"):
        await received_records(gateway.send, START, END)


async def test_efi_asks_in_utc_with_milliseconds_and_a_z() -> None:
    gateway = FakeGateway(lambda path, params: efi_page([], pages=0, total=0))

    assert await received_records(gateway.send, START, END, page_size=7) == []
    assert gateway.calls == [
        (
            "/v2/pix",
            {
                "inicio": "2026-12-01T03:00:00.000Z",
                "fim": "2026-12-02T03:00:00.000Z",
                "paginacao.paginaAtual": 0,
                "paginacao.itensPorPagina": 7,
            },
        )
    ]


async def test_efi_a_pix_naming_no_cob_is_listed_by_its_end_to_end_id() -> None:
    item = pix(3, txid=None) | {
        "devolucoes": [
            {
                "id": "re01",
                "rtrId": "D" + "1" * 31,
                "valor": "5.00",
                "status": "EM_PROCESSAMENTO",
                "horario": {"solicitacao": "2026-12-01T15:00:00.000Z"},
            }
        ]
    }
    gateway = FakeGateway(lambda path, params: efi_page([item], pages=1, total=1))

    charge, refund = await received_records(gateway.send, START, END)

    assert charge.reference == item["endToEndId"]
    assert (refund.reference, refund.our_id, refund.amount) == ("D" + "1" * 31, "re01", 500)
    assert (refund.charge_reference, refund.settled) == (item["endToEndId"], False)


async def test_efi_a_refused_scope_is_not_an_empty_list() -> None:
    async def forbidden(method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise GatewayNotAttempted("efi", "HTTP 403", status=403)

    with pytest.raises(GatewayNotAttempted, match=r"pix\.read"):
        await received_records(forbidden, START, END)


def sent(number: int, status: str = "REALIZADO") -> dict[str, Any]:
    horario = {"solicitacao": "2026-12-01T14:20:41.425Z"}
    if status == "REALIZADO":
        horario["liquidacao"] = "2026-12-01T14:20:44.000Z"
    return {
        "endToEndId": f"E{number:031d}",
        "idEnvio": f"env{number}",
        "valor": "12.34",
        "status": status,
        "horario": horario,
    }


def bare_pages(items: list[dict[str, Any]]) -> Answer:
    """Sends as the simulator and the Node SDK's types give them: a bare list, paged."""

    def answer(path: str, params: dict[str, Any]) -> httpx.Response:
        size = params["paginacao.itensPorPagina"]
        page = params["paginacao.paginaAtual"]
        return ok(items[page * size : (page + 1) * size])

    return answer


async def test_efi_sends_in_a_bare_list_are_walked_until_a_short_page() -> None:
    gateway = FakeGateway(bare_pages([sent(1), sent(2), sent(3, "EM_PROCESSAMENTO")]))

    records = await sent_records(gateway.send, START, END, page_size=2)

    assert [(path, params["paginacao.paginaAtual"]) for path, params in gateway.calls] == [
        ("/v2/gn/pix/enviados", 0),
        ("/v2/gn/pix/enviados", 1),
    ]
    assert [(r.kind, r.reference, r.amount, r.settled) for r in records] == [
        (RecordKind.PAYOUT, "env1", 1234, True),
        (RecordKind.PAYOUT, "env2", 1234, True),
        (RecordKind.PAYOUT, "env3", 1234, False),
    ]
    assert records[0].occurred_at == datetime(2026, 12, 1, 14, 20, 41, 425000, tzinfo=UTC)


async def test_efi_sends_in_an_envelope_are_walked_by_its_page_count() -> None:
    def answer(path: str, params: dict[str, Any]) -> httpx.Response:
        page = params["paginacao.paginaAtual"]
        return efi_page([sent(page)], pages=2, total=2)

    gateway = FakeGateway(answer)

    records = await sent_records(gateway.send, START, END, page_size=1)

    assert [r.reference for r in records] == ["env0", "env1"]
    assert len(gateway.calls) == 2


async def test_efi_a_page_of_sends_that_cannot_be_read_fails_the_whole_read() -> None:
    def answer(path: str, params: dict[str, Any]) -> httpx.Response:
        if params["paginacao.paginaAtual"] == 0:
            return ok([sent(1)])
        return ok({"pix": "nope"})

    with pytest.raises(GatewayOutcomeUnknown, match="page 1"):
        await sent_records(FakeGateway(answer).send, START, END, page_size=1)


async def test_efi_sends_paged_as_if_unpaged_fail_instead_of_looping() -> None:
    gateway = FakeGateway(lambda path, params: ok([sent(1)]))

    with pytest.raises(GatewayOutcomeUnknown, match="repeats"):
        await sent_records(gateway.send, START, END, page_size=1)


async def test_efi_a_refused_send_scope_names_it() -> None:
    async def forbidden(method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise GatewayNotAttempted("efi", "HTTP 403", status=403)

    with pytest.raises(GatewayNotAttempted, match=r"gn\.pix\.send\.read"):
        await sent_records(forbidden, START, END)


def payment(number: int) -> dict[str, Any]:
    return {
        "id": number,
        "status": "approved",
        "transaction_amount": 19.9,
        "date_created": "2026-12-01T10:00:00.000-04:00",
        "date_approved": "2026-12-01T10:00:01.000-04:00",
        "external_reference": f"pi_{number}-mercadopago-1",
        "refunds": [],
    }


def mp_page(ids: list[int], total: int) -> httpx.Response:
    return ok({"paging": {"total": total}, "results": [{"id": i} for i in ids]})


async def test_mercadopago_splits_a_window_the_offsets_cannot_reach() -> None:
    def answer(path: str, params: dict[str, Any]) -> httpx.Response:
        if path != "/v1/payments/search":
            return ok(payment(int(path.rsplit("/", 1)[1])))
        if params["range"] == "date_last_updated":
            return mp_page([], 0)
        whole = params["begin_date"] == "2026-12-01T00:00:00.000-03:00" and params[
            "end_date"
        ].startswith("2026-12-01T23:59:59.999")
        if whole:
            return mp_page([1], MAX_OFFSET + 1)
        first_half = params["begin_date"] == "2026-12-01T00:00:00.000-03:00"
        return mp_page([2 if first_half else 3], 1)

    gateway = FakeGateway(answer)
    records = await payment_records(gateway.send, START, END)

    halves = [p for path, p in gateway.calls if p.get("range") == "date_created"][1:]
    assert [(h["begin_date"], h["end_date"]) for h in halves] == [
        ("2026-12-01T00:00:00.000-03:00", "2026-12-01T11:59:59.999-03:00"),
        ("2026-12-01T12:00:00.000-03:00", "2026-12-01T23:59:59.999-03:00"),
    ]
    assert [r.reference for r in records] == ["2", "3"]


async def test_mercadopago_asks_sorted_by_creation_in_brasilia_time_at_most_50() -> None:
    def answer(path: str, params: dict[str, Any]) -> httpx.Response:
        return mp_page([], 0)

    gateway = FakeGateway(answer)
    await payment_records(gateway.send, START, END)

    assert [params for _, params in gateway.calls] == [
        {
            "range": field,
            "begin_date": "2026-12-01T00:00:00.000-03:00",
            "end_date": "2026-12-01T23:59:59.999-03:00",
            "sort": "date_created",
            "criteria": "asc",
            "offset": 0,
            "limit": 50,
        }
        for field in ("date_created", "date_last_updated")
    ]


async def test_mercadopago_a_listed_payment_that_cannot_be_read_fails_the_read() -> None:
    def answer(path: str, params: dict[str, Any]) -> httpx.Response:
        if path == "/v1/payments/search":
            return mp_page([1, 2], 2)
        return ok(payment(1)) if path.endswith("/1") else httpx.Response(404, json={})

    with pytest.raises(GatewayOutcomeUnknown, match="payment 2"):
        await payment_records(FakeGateway(answer).send, START, END)


async def test_mercadopago_reads_each_payment_once_across_both_sweeps() -> None:
    def answer(path: str, params: dict[str, Any]) -> httpx.Response:
        if path == "/v1/payments/search":
            return mp_page([7], 1)
        return ok(payment(7))

    gateway = FakeGateway(answer)
    [record] = await payment_records(gateway.send, START, END)

    assert [path for path, _ in gateway.calls].count("/v1/payments/7") == 1
    assert (record.our_id, record.amount, record.settled) == ("pi_7-mercadopago-1", 1990, True)


async def test_page_sizes_beyond_the_documented_maxima_are_refused() -> None:
    gateway = FakeGateway(lambda path, params: ok({}))
    with pytest.raises(ValueError, match="1000"):
        await received_records(gateway.send, START, END, page_size=1001)
    with pytest.raises(ValueError, match="50"):
        await payment_records(gateway.send, START, END, limit=51)
    assert gateway.calls == []
