"""`GET /v1/payments/search`'s date range, sort and paging, as Mercado Pago documents
them (docs/gateways/payouts-and-reconciliation.md §3, MP-SEARCH): `range` names the date
field, `begin_date`/`end_date` bound it (absolute with milliseconds and an offset, or
relative to NOW), `limit` ≤ 50, `offset` ≤ 10000, and only the last twelve months."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gatewaysim.mercadopago.payments import Payment
from gatewaysim.mercadopago.wire import bad_request

DEFAULT_LIMIT = 30
MAX_LIMIT = 50
MAX_OFFSET = 10_000
DEFAULT_BEGIN = "NOW-3MONTHS"
DEFAULT_END = "NOW"
# Searches reach the last twelve months only.
OLDEST = timedelta(days=365)
DATE_PATTERN = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
ABSOLUTE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{2}:?\d{2})$")
RELATIVE = re.compile(r"^NOW(?:-(\d+)(MINUTES|HOURS|DAYS|WEEKS|MONTHS))?$")
# The largest amount of each relative unit, and its length.
UNITS: dict[str, tuple[int, timedelta]] = {
    "MINUTES": (60, timedelta(minutes=1)),
    "HOURS": (24, timedelta(hours=1)),
    "DAYS": (365, timedelta(days=1)),
    "WEEKS": (8, timedelta(weeks=1)),
    "MONTHS": (12, timedelta(days=30)),
}
# Each `range` and `sort` field as the simulator keeps it; it releases money at approval.
DATE_FIELDS: dict[str, Callable[[Payment], datetime | None]] = {
    "date_created": lambda p: p.created_at,
    "date_approved": lambda p: p.approved_at,
    "date_last_updated": lambda p: p.updated_at,
    "money_release_date": lambda p: p.approved_at,
}
SORT_FIELDS: dict[str, Callable[[Payment], Any]] = {**DATE_FIELDS, "id": lambda p: p.id}
CRITERIA = ("asc", "desc")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    field: Callable[[Payment], datetime | None]
    begin: datetime
    end: datetime
    sort: Callable[[Payment], Any] | None
    descending: bool
    offset: int
    limit: int

    def select(self, payments: Sequence[Payment]) -> list[Payment]:
        """The payments whose range field is within ``[begin, end]``, sorted."""
        found = [p for p in payments if _within(self.field(p), self.begin, self.end)]
        if self.sort is not None:
            key = self.sort
            found.sort(key=lambda p: (key(p) is None, key(p)), reverse=self.descending)
        return found


def search_query(
    *,
    now: datetime,
    range_: str | None,
    begin_date: str | None,
    end_date: str | None,
    sort: str | None,
    criteria: str | None,
    offset: int | None,
    limit: int | None,
) -> SearchQuery:
    """The query's parameters checked as the API checks them (400 with a cause code)."""
    field = DATE_FIELDS.get(range_ or "date_created")
    if field is None:
        raise bad_request("invalid_range", f"range must be one of {', '.join(DATE_FIELDS)}")
    if sort is not None and sort not in SORT_FIELDS:
        raise bad_request("1003", f"sort must be one of {', '.join(SORT_FIELDS)}")
    if criteria is not None and criteria not in CRITERIA:
        raise bad_request("1004", "criteria must be asc or desc")
    offset = 0 if offset is None else offset
    limit = DEFAULT_LIMIT if limit is None else limit
    if not (0 <= offset <= MAX_OFFSET and 1 <= limit <= MAX_LIMIT):
        raise bad_request("1000", "Number of rows exceeded the limits")
    begin = max(_date(begin_date or DEFAULT_BEGIN, "begin_date", now), now - OLDEST)
    return SearchQuery(
        field=field,
        begin=begin,
        end=_date(end_date or DEFAULT_END, "end_date", now),
        sort=None if sort is None else SORT_FIELDS[sort],
        descending=criteria == "desc",
        offset=offset,
        limit=limit,
    )


def _date(value: str, name: str, now: datetime) -> datetime:
    relative = RELATIVE.fullmatch(value)
    if relative is not None:
        return now - _ago(relative.group(1), relative.group(2), value, name)
    if ABSOLUTE.fullmatch(value) is None:
        raise bad_request("1001", f"{name} must be in the format {DATE_PATTERN}: {value!r}")
    return datetime.fromisoformat(value)


def _ago(amount: str | None, unit: str | None, value: str, name: str) -> timedelta:
    if amount is None or unit is None:
        return timedelta(0)
    largest, length = UNITS[unit]
    if not 1 <= int(amount) <= largest:
        raise bad_request("1001", f"{name}: {unit} goes from 1 to {largest}: {value!r}")
    return int(amount) * length


def _within(moment: datetime | None, begin: datetime, end: datetime) -> bool:
    return moment is not None and begin <= moment <= end
