"""Efí's books for a window: the received Pix (`GET /v2/pix?inicio=&fim=`) and the
devoluções inside each, and the sent Pix (`GET /v2/gn/pix/enviados?inicio=&fim=`, the
payouts), every page of them. docs/gateways/efi.md ("Reconciliation reads") has the
rows, docs/gateways/payouts-and-reconciliation.md §1 ("Reading a send") and §3 their
sources."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from app.domain.errors import GatewayNotAttempted, GatewayOutcomeUnknown
from app.domain.reconciliation import RecordKind
from app.gateways.amounts import to_centavos
from app.gateways.identifiers import efi_txid
from app.gateways.port import GatewayName, GatewayRecord
from app.gateways.transport import read_json, read_time

NAME = GatewayName.EFI
# paginacao.itensPorPagina is 1 to 1000 (default 100), paginaAtual counts from 0.
MAX_PAGE_SIZE = 1000
# A walk whose quantidadeTotalDeItens changed between its first and last page is walked
# again (pages may shift under it: not settled); this many times, then the read fails.
MAX_WALKS = 3
# The final status of a devolução made (efi.py's RETURNED; this module cannot import the
# adapter that uses it).
RETURNED = "DEVOLVIDO"
# The one final status of a send whose money left (efi_sends.SEND_STATUSES).
SENT = "REALIZADO"
RECEIVED_PATH, RECEIVED_SCOPE = "/v2/pix", "pix.read"
SENT_PATH, SENT_SCOPE = "/v2/gn/pix/enviados", "gn.pix.send.read"
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404

Send = Callable[..., Awaitable[httpx.Response]]  # the adapter's authenticated call


async def received_records(
    send: Send, start: datetime, end: datetime, *, page_size: int = MAX_PAGE_SIZE
) -> list[GatewayRecord]:
    """Every Pix received with ``horario`` in the window and each of its devoluções."""
    _check_page_size(page_size)
    for _ in range(MAX_WALKS):
        items = await _walk(send, start, end, page_size)
        if items is not None:
            return [record for item in items for record in _records(item)]
    raise GatewayOutcomeUnknown(NAME, f"the received-Pix list kept changing over {MAX_WALKS} walks")


async def sent_records(
    send: Send, start: datetime, end: datetime, *, page_size: int = MAX_PAGE_SIZE
) -> list[GatewayRecord]:
    """Every Pix sent (a payout) created in the window, one record per idEnvio. The
    answer's envelope is not settled (§1, "Reading a send"): a bare list of sends is
    walked until a page comes back short; ``{"parametros", "pix": []}`` by its
    ``quantidadeDePaginas``. A page that cannot be read fails the whole read."""
    _check_page_size(page_size)
    sends: dict[str, dict[str, Any]] = {}
    page, last = 0, False
    while not last:
        body = await _page(send, SENT_PATH, SENT_SCOPE, (start, end), page, page_size)
        listed, pages = _sent_page(body, page)
        known = len(sends)
        sends.update((_id_envio(item), item) for item in listed)
        page += 1
        last = page >= pages if pages is not None else len(listed) < page_size
        if not last and len(sends) == known:  # nothing new, more due: paging ignored
            raise GatewayOutcomeUnknown(NAME, f"page {page - 1} of {SENT_PATH} repeats")
    return [_payout(item) for item in sends.values()]


async def cob_records(send: Send, txids: Sequence[str]) -> list[GatewayRecord]:
    """The Pix paid to these cobs and their devoluções, from ``GET /v2/cob/:txid``
    (its ``pix[]`` carries each Pix with ``devolucoes[]``, docs/gateways/efi.md); a cob
    Efí does not know fails the read."""
    records: list[GatewayRecord] = []
    for txid in dict.fromkeys(txids):
        response = await send("GET", f"/v2/cob/{efi_txid(txid)}")
        if response.status_code == HTTP_NOT_FOUND:
            raise GatewayOutcomeUnknown(NAME, f"cob {txid} was refunded but cannot be read")
        body = read_json(NAME, response)
        pix = body.get("pix") if isinstance(body, dict) else None
        records += [record for item in pix or [] for record in _records(item)]
    return records


def devolucao_reference(devolucao: dict[str, Any]) -> str:
    """What a refund stores for a devolução (``RefundResult.gateway_reference``)."""
    return str(devolucao.get("rtrId") or devolucao["id"])


def efi_time(moment: datetime) -> str:
    """UTC with milliseconds and a Z, as Efí writes times (the SDK does not percent-encode
    query strings: a "+" offset would arrive as a space)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _walk(
    send: Send, start: datetime, end: datetime, page_size: int
) -> list[dict[str, Any]] | None:
    """One walk over every page; None when the total moved meanwhile."""
    items: list[dict[str, Any]] = []
    totals: set[int] = set()
    page, pages = 0, 1
    while page < pages:
        body = await _received_page(send, start, end, page, page_size)
        pages, total, listed = _read_page(body)
        totals.add(total)
        items.extend(listed)
        page += 1
    if len(totals) > 1:
        return None
    unique = {str(item.get("endToEndId")): item for item in items}
    if len(unique) != totals.pop():
        raise GatewayOutcomeUnknown(
            NAME, f"the pages listed {len(unique)} Pix of the {total} they announced"
        )
    return list(unique.values())


def _check_page_size(page_size: int) -> None:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"itensPorPagina is 1 to {MAX_PAGE_SIZE}")


async def _received_page(
    send: Send, start: datetime, end: datetime, page: int, page_size: int
) -> dict[str, Any]:
    body = await _page(send, RECEIVED_PATH, RECEIVED_SCOPE, (start, end), page, page_size)
    if not isinstance(body, dict):
        raise GatewayOutcomeUnknown(NAME, f"page {page} of {RECEIVED_PATH} is not an object")
    return body


async def _page(
    send: Send, path: str, scope: str, window: tuple[datetime, datetime], page: int, size: int
) -> Any:
    """One page of a list of ``path`` (read under ``scope``), as JSON."""
    params = {
        "inicio": efi_time(window[0]),
        "fim": efi_time(window[1]),
        "paginacao.paginaAtual": page,
        "paginacao.itensPorPagina": size,
    }
    try:
        response = await send("GET", path, params=params)
    except GatewayNotAttempted as exc:
        if exc.status == HTTP_FORBIDDEN:  # not "nothing listed": the scope is missing
            message = f"the {scope} scope may be missing: {exc.message}"
            raise GatewayNotAttempted(NAME, message, status=exc.status) from exc
        raise
    return read_json(NAME, response)


def _sent_page(body: Any, page: int) -> tuple[list[dict[str, Any]], int | None]:
    """(the page's sends, quantidadeDePaginas when the envelope says it)."""
    try:
        if isinstance(body, list):
            return _sends(body), None
        paging = body["parametros"]["paginacao"]
        return _sends(body.get("pix") or []), int(paging["quantidadeDePaginas"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        message = f"unreadable page {page} of {SENT_PATH}: {exc!r}"
        raise GatewayOutcomeUnknown(NAME, message) from exc


def _sends(listed: Any) -> list[dict[str, Any]]:
    if not isinstance(listed, list) or not all(isinstance(i, dict) for i in listed):
        raise TypeError("the sends are not a list of objects")
    return listed


def _id_envio(item: dict[str, Any]) -> str:
    try:
        return str(item["idEnvio"])
    except KeyError as exc:
        raise GatewayOutcomeUnknown(NAME, "a listed send has no idEnvio") from exc


def _payout(item: dict[str, Any]) -> GatewayRecord:
    """A send as a payout, named by its idEnvio (what our attempt stores). Its time is
    ``horario.solicitacao``: the list's ``inicio``/``fim`` bound that one (the creation
    date, §1), and every send has it, so a send belongs to the day whose read lists it;
    ``liquidacao`` is absent until REALIZADO and may fall past the read's end."""
    try:
        status = str(item["status"])
        return GatewayRecord(
            gateway=NAME,
            kind=RecordKind.PAYOUT,
            reference=_id_envio(item),
            amount=to_centavos(item["valor"]),
            status=status,
            settled=status == SENT,
            occurred_at=read_time(item["horario"]["solicitacao"]),
            end_to_end_id=item.get("endToEndId"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayOutcomeUnknown(NAME, f"unreadable send: {exc!r}") from exc


def _read_page(body: dict[str, Any]) -> tuple[int, int, list[dict[str, Any]]]:
    """(quantidadeDePaginas, quantidadeTotalDeItens, the page's items)."""
    try:
        paging = body["parametros"]["paginacao"]
        pix = body.get("pix") or []
        if not isinstance(pix, list):
            raise TypeError("pix is not a list")
        return int(paging["quantidadeDePaginas"]), int(paging["quantidadeTotalDeItens"]), pix
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayOutcomeUnknown(NAME, f"unreadable page of {RECEIVED_PATH}: {exc!r}") from exc


def _records(pix: dict[str, Any]) -> list[GatewayRecord]:
    """The pix as a charge (by its txid; by its endToEndId when it names no cob), then
    its devoluções as refunds. A listed pix is settled (bacen/pix-api issue 81)."""
    try:
        end_to_end_id = str(pix["endToEndId"])
        reference = str(pix.get("txid") or end_to_end_id)
        charge = GatewayRecord(
            gateway=NAME,
            kind=RecordKind.CHARGE,
            reference=reference,
            amount=to_centavos(pix["valor"]),
            status=None,
            settled=True,
            occurred_at=read_time(pix["horario"]),
            end_to_end_id=end_to_end_id,
        )
        devolucoes = pix.get("devolucoes") or []
        refunds = [_refund(d, reference, end_to_end_id) for d in devolucoes]
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayOutcomeUnknown(NAME, f"unreadable pix: {exc!r}") from exc
    return [charge, *refunds]


def _refund(devolucao: dict[str, Any], charge: str, end_to_end_id: str) -> GatewayRecord:
    status = str(devolucao["status"])
    return GatewayRecord(
        gateway=NAME,
        kind=RecordKind.REFUND,
        reference=devolucao_reference(devolucao),
        amount=to_centavos(devolucao["valor"]),
        status=status,
        settled=status == RETURNED,
        occurred_at=read_time(devolucao["horario"]["solicitacao"]),
        our_id=str(devolucao["id"]),
        charge_reference=charge,
        end_to_end_id=end_to_end_id,
    )
