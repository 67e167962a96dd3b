"""Cursor pages: newest first, `starting_after` an id, one row more than asked to know
whether there is a next page."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from starlette.responses import Response

from app.api.problems import json_response
from app.domain.errors import InvalidRequest
from app.domain.ids import IdPrefix, looks_like_id

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10

Row = TypeVar("Row")


def check_cursor(prefix: IdPrefix, starting_after: str | None) -> None:
    if starting_after is not None and not looks_like_id(prefix, starting_after):
        raise InvalidRequest(f"starting_after must be a {prefix}_ id.", param="starting_after")


def page_response(
    url: str, rows: Sequence[Row], limit: int, view: Callable[[Row], Mapping[str, object]]
) -> Response:
    body = {
        "object": "list",
        "url": url,
        "has_more": len(rows) > limit,
        "data": [view(row) for row in rows[:limit]],
    }
    return json_response(body)
