"""Mercado Pago's books for a window: `GET /v1/payments/search` by date range, every
page, then each payment re-read by id with its refunds. docs/gateways/mercadopago.md
("Reconciliation reads") has the rows, docs/gateways/payouts-and-reconciliation.md §3
their sources."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from app.domain.errors import GatewayOutcomeUnknown
from app.domain.reconciliation import RecordKind
from app.gateways.amounts import to_centavos
from app.gateways.port import GatewayName, GatewayRecord
from app.gateways.transport import read_json, read_time

NAME = GatewayName.MERCADOPAGO
# Mercado Pago writes and reads dates as yyyy-MM-dd'T'HH:mm:ss.SSSz in Brasília time
# (docs/gateways/mercadopago.md, "Dates").
BRASILIA = timezone(timedelta(hours=-3))
# `limit` is at most 50, `offset` at most 10000 (MP-SEARCH): a window holding more
# than the offsets reach is split in two.
MAX_LIMIT = 50
MAX_OFFSET = 10_000
# Payments made in the window, then those changed in it (a refund of an older one may
# move it there; not settled): sorted by creation, which an update does not move.
SWEEPS = ("date_created", "date_last_updated")
SORT = {"sort": "date_created", "criteria": "asc"}
# A walk whose paging.total moved between pages is walked again, this many times.
MAX_WALKS = 3
# Re-reads by id in flight at once.
READS_IN_FLIGHT = 8
HTTP_NOT_FOUND = 404
ONE_MILLISECOND = timedelta(milliseconds=1)

Send = Callable[..., Awaitable[httpx.Response]]  # the adapter's authenticated call


def wire_date(moment: datetime) -> str:
    """2026-01-05T10:00:00.000-03:00: milliseconds and an offset, never microseconds."""
    return moment.astimezone(BRASILIA).isoformat(timespec="milliseconds")


async def payment_records(
    send: Send, start: datetime, end: datetime, *, limit: int = MAX_LIMIT
) -> list[GatewayRecord]:
    """Payments made or changed in ``[start, end)`` and all their refunds, each payment as
    ``GET /v1/payments/{id}`` answers it: the search is not read-your-write (sdk-nodejs
    issue 180), so what it lists is only a list of ids to read."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit is 1 to {MAX_LIMIT}")
    ids: dict[str, None] = {}  # ordered, de-duplicated across the sweeps
    for field in SWEEPS:
        for found in await _search(send, field, start, end - ONE_MILLISECOND, limit):
            ids[found] = None
    return await payments_by_id(send, list(ids))


async def payments_by_id(send: Send, ids: Sequence[str]) -> list[GatewayRecord]:
    """These payments and their refunds, each as ``GET /v1/payments/{id}`` answers it."""
    payments = await _read_all(send, list(dict.fromkeys(ids)))
    return [record for payment in payments for record in _records(payment)]


async def _search(send: Send, field: str, begin: datetime, end: datetime, limit: int) -> list[str]:
    """The ids of payments whose ``field`` is in ``[begin, end]`` (both ends sent)."""
    for _ in range(MAX_WALKS):
        ids = await _walk(send, field, begin, end, limit)
        if ids is not None:
            return ids
    raise GatewayOutcomeUnknown(NAME, f"the search by {field} kept changing over {MAX_WALKS} walks")


async def _walk(
    send: Send, field: str, begin: datetime, end: datetime, limit: int
) -> list[str] | None:
    total, ids = await _page(send, field, begin, end, 0, limit)
    if total > MAX_OFFSET:
        return await _split(send, field, begin, end, limit)
    totals = {total}
    for offset in range(limit, total, limit):
        page_total, page_ids = await _page(send, field, begin, end, offset, limit)
        totals.add(page_total)
        ids.extend(page_ids)
    if len(totals) > 1:
        return None
    unique = list(dict.fromkeys(ids))
    if len(unique) != total:
        raise GatewayOutcomeUnknown(NAME, f"the pages listed {len(unique)} of {total} payments")
    return unique


async def _split(send: Send, field: str, begin: datetime, end: datetime, limit: int) -> list[str]:
    middle = begin + (end - begin) // 2
    if middle <= begin:
        raise GatewayOutcomeUnknown(NAME, f"over {MAX_OFFSET} payments within one millisecond")
    first = await _search(send, field, begin, middle, limit)
    return first + await _search(send, field, middle + ONE_MILLISECOND, end, limit)


async def _page(
    send: Send, field: str, begin: datetime, end: datetime, offset: int, limit: int
) -> tuple[int, list[str]]:
    params = {
        "range": field,
        "begin_date": wire_date(begin),
        "end_date": wire_date(end),
        **SORT,
        "offset": offset,
        "limit": limit,
    }
    body = read_json(NAME, await send("GET", "/v1/payments/search", params=params))
    try:
        return int(body["paging"]["total"]), [str(p["id"]) for p in body["results"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayOutcomeUnknown(NAME, f"unreadable search page: {exc!r}") from exc


async def _read_all(send: Send, ids: list[str]) -> list[dict[str, Any]]:
    """Every payment by id; one that cannot be read fails the whole read."""
    slots = asyncio.Semaphore(READS_IN_FLIGHT)

    async def read(payment_id: str) -> dict[str, Any]:
        async with slots:
            return await _payment(send, payment_id)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(read(payment_id)) for payment_id in ids]
    except ExceptionGroup as failed:  # the first failure, typed, ends the read
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def _payment(send: Send, payment_id: str) -> dict[str, Any]:
    response = await send("GET", f"/v1/payments/{payment_id}")
    if response.status_code == HTTP_NOT_FOUND:  # the search listed it: not proof of absence
        raise GatewayOutcomeUnknown(NAME, f"payment {payment_id} was listed but cannot be read")
    body: dict[str, Any] = read_json(NAME, response)
    return body


def _records(payment: dict[str, Any]) -> list[GatewayRecord]:
    """The payment as a charge (settled once it was approved), then its refunds."""
    try:
        reference = str(payment["id"])
        charge = GatewayRecord(
            gateway=NAME,
            kind=RecordKind.CHARGE,
            reference=reference,
            amount=to_centavos(payment["transaction_amount"]),
            status=str(payment["status"]),
            settled=payment.get("date_approved") is not None,
            occurred_at=read_time(payment["date_created"]),
            our_id=payment.get("external_reference"),
        )
        refunds = [_refund(refund, reference) for refund in payment.get("refunds") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayOutcomeUnknown(NAME, f"unreadable payment: {exc!r}") from exc
    return [charge, *refunds]


def _refund(refund: dict[str, Any], charge: str) -> GatewayRecord:
    """Only an approved refund returned the money (sdk-nodejs paymentRefund/commonTypes)."""
    status = str(refund["status"])
    return GatewayRecord(
        gateway=NAME,
        kind=RecordKind.REFUND,
        reference=str(refund["id"]),
        amount=to_centavos(refund["amount"]),
        status=status,
        settled=status == "approved",
        occurred_at=read_time(refund["date_created"]),
        charge_reference=charge,
    )
