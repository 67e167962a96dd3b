"""The problem+json shape and the helpers every area's routes declare answers with;
each area's own shapes are in its ``schemas.py``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str
    param: str | None
    request_id: str | None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }


def ok(status: int, model: object) -> dict[int | str, dict[str, Any]]:
    """An answer of ``model``: a pydantic model or a TypedDict."""
    return {status: {"model": model}}


WRITE_ERRORS = problem_responses(400, 401, 404, 409, 413, 415, 422, 429)
READ_ERRORS = problem_responses(400, 401, 404, 429)
