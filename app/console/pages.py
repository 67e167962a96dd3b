"""Rendering the console's pages: Jinja2 with autoescape on for every template, the
filters they share, the headers every page carries, and the HTML error page."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse, Response

from app.console.sessions import OperatorSession
from app.operators.cli import age_text

TEMPLATES = Path(__file__).parent / "templates"
# Every script and style is a file of ours: no inline code, no other origin, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class PageError(Exception):
    """An answer as an HTML page with this status, saying what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def money(amount: int, currency: str) -> str:
    """Centavos as ``19.90 BRL``, in integers all the way."""
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 100)
    return f"{sign}{major}.{minor:02d} {currency}"


def moment(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")


def ago(epoch_seconds: float) -> str:
    return age_text(time.time() - epoch_seconds)


_environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
)
_environment.filters.update(money=money, moment=moment, age=age_text, ago=ago)


def render(
    request: Request,
    template: str,
    session: OperatorSession | None,
    *,
    status: int = 200,
    **context: Any,
) -> Response:
    page = _environment.get_template(template).render(
        request=request,
        session=session,
        path=request.url.path,
        problem=context.pop("problem", None),
        error=context.pop("error", None),
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)


def install_page_errors(app: FastAPI) -> None:
    async def on_page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return render(request, "error.html", None, status=exc.status, error=exc.message)

    app.add_exception_handler(PageError, on_page_error)
