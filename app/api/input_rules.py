"""Rules every request's input obeys before any route sees it: no control characters in
the path or query, and a JSON body whose objects name each key once."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from starlette.requests import Request

from app.domain.errors import InvalidRequest, NotFound

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _JsonObject(list[tuple[str, Any]]):
    """A decoded JSON object as the pairs it was written with, duplicates included."""


async def check_request_input(request: Request) -> None:
    """A FastAPI dependency of the whole app, so it runs before authentication and the
    route's own parameters: NUL and other control characters would otherwise reach
    PostgreSQL (which refuses NUL in text) and fail as a 500."""
    for name, value in request.path_params.items():
        if _has_control_character(str(value)):
            raise NotFound(f"No object has an id with a control character ({name}).", param="id")
    for name, value in request.query_params.multi_items():
        if _has_control_character(name) or _has_control_character(value):
            raise InvalidRequest(
                "Query parameters may not contain control characters.",
                param=None if _has_control_character(name) else name,
            )
    if request.method in _BODY_METHODS:
        duplicate = duplicate_key(await request.body())
        if duplicate is not None:
            raise InvalidRequest(
                f"The JSON body names the key {duplicate!r} twice in one object.",
                param=duplicate,
                code="duplicate_key",
            )


def duplicate_key(body: bytes) -> str | None:
    """The dotted path of the first key a JSON object repeats, or None. A body that is
    not JSON is left to the route, which says so in its own words."""
    if not body:
        return None
    try:
        document = json.loads(body, object_pairs_hook=_JsonObject)
    except (ValueError, RecursionError):
        return None
    return _first_duplicate(document, ())


def _first_duplicate(document: Any, root: tuple[str, ...]) -> str | None:
    """Walked with a stack, not recursion: the parser accepts nesting deeper than a
    recursive walk could follow."""
    pending: list[tuple[Any, tuple[str, ...]]] = [(document, root)]
    while pending:
        node, path = pending.pop()
        if isinstance(node, _JsonObject):
            repeated = _repeated_key(node)
            if repeated is not None:
                return ".".join((*path, repeated))
            pending.extend((value, (*path, key)) for key, value in reversed(node))
        elif isinstance(node, list):
            pending.extend((item, (*path, str(i))) for i, item in reversed(list(enumerate(node))))
    return None


def _repeated_key(pairs: _JsonObject) -> str | None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return None


def _has_control_character(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in text)
