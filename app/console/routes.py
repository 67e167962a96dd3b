"""/console: the operators' web console, server-rendered (Jinja2, autoescaped) with a
little JavaScript. Behind PIXWAVE_OPERATOR_TOKEN, never a merchant key: unset, every
/console path is a 404. Left out of the published API schema."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import SecretStr
from starlette.responses import FileResponse, RedirectResponse, Response

from app.api.resources import UowDep, resources_of
from app.console import service
from app.console.pages import PageError, install_page_errors, render
from app.console.sessions import (
    SESSION_SECONDS,
    OperatorSession,
    csrf_matches,
    open_session,
    read_session,
    token_matches,
)
from app.domain.errors import InvalidRequest, NotFound
from app.gateways.health import GatewayHealth
from app.merchants.auth import note_failed_authentication, refuse_a_guessing_client
from app.operators.dlq import Selection
from outbox.topology import QueueSpec

PREFIX = "/console"
SESSION_COOKIE = "pixwave_console"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript"}


class LoginRequired(Exception):
    """No valid session: the page sends the operator to the login form."""


def operator_token(request: Request) -> SecretStr:
    token = resources_of(request).settings.operator_token
    if token is None:
        raise NotFound("Not found.")  # the console is off: as if it did not exist
    return token


TokenDep = Annotated[SecretStr, Depends(operator_token)]
router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(operator_token)])


def current_session(request: Request, token: TokenDep) -> OperatorSession:
    """The operator's session from its cookie; an Authorization header (a merchant's
    key) is never looked at."""
    session = read_session(token, request.cookies.get(SESSION_COOKIE), time.time())
    if session is None:
        raise LoginRequired
    return session


SessionDep = Annotated[OperatorSession, Depends(current_session)]


async def form_of(request: Request) -> dict[str, list[str]]:
    """A URL-encoded form (the API's middleware lets such bodies through under /console)."""
    return parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=1000)


async def checked_form(request: Request, session: SessionDep) -> dict[str, list[str]]:
    """The form of a POST, once its CSRF token matches the session's."""
    form = await form_of(request)
    if not csrf_matches(session, _one(form, "csrf_token")):
        raise PageError(403, "This form is stale or came from another site: reload the page.")
    return form


FormDep = Annotated[dict[str, list[str]], Depends(checked_form)]


def _one(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise NotFound("Not found.")
    return FileResponse(STATIC_DIR / name, media_type=STATIC_FILES[name])


@router.get("/login")
def login_page(request: Request) -> Response:
    return render(request, "login.html", None)


@router.post("/login")
async def login(request: Request, token: TokenDep) -> Response:
    await refuse_a_guessing_client(request)
    given = _one(await form_of(request), "token") or ""
    if not token_matches(token, given):
        await note_failed_authentication(request)
        return render(request, "login.html", None, status=401, error="That is not the token.")
    session = open_session(token, time.time())
    response = RedirectResponse(PREFIX, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.cookie,
        max_age=SESSION_SECONDS,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(form: FormDep) -> Response:
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("")
async def overview(request: Request, session: SessionDep, uow: UowDep) -> Response:
    shown = await service.overview(resources_of(request).settings, uow)
    return render(request, "overview.html", session, view=shown, problem=shown.aws_problem)


def _spec(request: Request, queue: str) -> QueueSpec:
    try:
        return service.dead_letter_queue(resources_of(request).settings, queue)
    except InvalidRequest as exc:
        raise PageError(404, exc.message) from exc


@router.get("/dlq/{queue}")
async def dead_letters(request: Request, queue: str, session: SessionDep, uow: UowDep) -> Response:
    spec = _spec(request, queue)
    try:
        shown = await service.dead_letters(resources_of(request).settings, uow, spec)
    except service.AwsUnavailable as exc:
        return render(request, "dlq.html", session, spec=spec, view=None, problem=str(exc))
    return render(request, "dlq.html", session, spec=spec, view=shown)


@router.post("/dlq/{queue}/redrive")
async def redrive(request: Request, queue: str, session: SessionDep, form: FormDep) -> Response:
    spec = _spec(request, queue)
    ids = frozenset(form.get("ids", ()))
    everything = _one(form, "scope") == "all"
    if not everything and not ids:
        raise PageError(400, "Select at least one message, or redrive all of them.")
    dry_run = _one(form, "action") != "redrive"
    selection = Selection() if everything else Selection(ids=ids)
    try:
        done = await service.redrive(
            resources_of(request).settings, spec, selection, dry_run=dry_run
        )
    except service.AwsUnavailable as exc:
        raise PageError(503, str(exc)) from exc
    return render(
        request, "redrive.html", session, spec=spec, view=done, everything=everything, ids=ids
    )


@router.post("/dlq/{queue}/purge")
async def purge(request: Request, queue: str, session: SessionDep, form: FormDep) -> Response:
    spec = _spec(request, queue)
    if _one(form, "confirm") != spec.dlq_name:
        raise PageError(400, f"Type {spec.dlq_name} to purge it: nothing was deleted.")
    try:
        count = await service.purge_dead_letters(resources_of(request).settings, spec)
    except service.AwsUnavailable as exc:
        raise PageError(503, str(exc)) from exc
    return render(request, "purged.html", session, spec=spec, count=count)


def _gateway_health(request: Request) -> GatewayHealth:
    """One per process, so it knows, like a worker's, whether Redis is away."""
    state = request.app.state
    if getattr(state, "console_gateway_health", None) is None:
        state.console_gateway_health = service.gateway_health(resources_of(request))
    health: GatewayHealth = state.console_gateway_health
    return health


@router.get("/gateways")
async def gateways(request: Request, session: SessionDep, uow: UowDep) -> Response:
    resources = resources_of(request)
    shown = await service.gateways(resources, _gateway_health(request), uow)
    return render(request, "gateways.html", session, view=shown, problem=shown.redis_problem)


@router.get("/intents")
async def intent(
    request: Request,
    session: SessionDep,
    uow: UowDep,
    intent_id: Annotated[str | None, Query(alias="id")] = None,
) -> Response:
    context: dict[str, Any] = {"intent_id": intent_id, "view": None}
    if intent_id:
        context["view"] = await service.intent(uow, intent_id.strip())
        if context["view"] is None:
            return render(request, "intent.html", session, status=404, **context)
    return render(request, "intent.html", session, **context)


def install(app: FastAPI) -> None:
    """Mount the console on the API; it answers only when a token is configured."""

    async def to_login(_: Request, __: Exception) -> Response:
        return RedirectResponse(f"{PREFIX}/login", status_code=303)

    app.include_router(router)
    app.add_exception_handler(LoginRequired, to_login)
    install_page_errors(app)
