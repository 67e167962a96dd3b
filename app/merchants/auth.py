"""Bearer API keys, the per-key rate limit, and the per-client limit on failed
authentications (counted in Redis, or in memory while Redis is away)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.ratelimit import Window
from app.api.resources import UowDep, resources_of
from app.domain.caller import Caller
from app.domain.errors import AuthenticationFailed, RateLimited
from app.merchants.service import authenticate

RATE_WINDOW_SECONDS = 1
FAILED_AUTH_WINDOW_SECONDS = 60

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer sk_test_…`")


async def current_caller(
    request: Request,
    uow: UowDep,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Caller:
    await refuse_a_guessing_client(request)
    try:
        if credentials is None or not credentials.credentials.startswith("sk_"):
            raise AuthenticationFailed("Send your API key as `Authorization: Bearer sk_…`.")
        caller = await authenticate(uow, credentials.credentials)
    except AuthenticationFailed:
        await note_failed_authentication(request)
        raise
    await _enforce_rate_limit(request, caller.api_key_id)
    return caller


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def refuse_a_guessing_client(request: Request) -> None:
    """429 while this client has failed to authenticate too often in the last window:
    no key, callback signature or token can be guessed by trying them all."""
    resources = resources_of(request)
    window = Window.now(FAILED_AUTH_WINDOW_SECONDS)
    failures = await resources.rates.count(f"auth_failures:{_client(request)}", window)
    if failures >= resources.settings.auth_failures_per_minute:
        raise RateLimited(retry_after_seconds=window.remaining_seconds)


async def note_failed_authentication(request: Request) -> None:
    window = Window.now(FAILED_AUTH_WINDOW_SECONDS)
    await resources_of(request).rates.hit(f"auth_failures:{_client(request)}", window)


async def _enforce_rate_limit(request: Request, api_key_id: str) -> None:
    resources = resources_of(request)
    window = Window.now(RATE_WINDOW_SECONDS)
    if await resources.rates.hit(api_key_id, window) > resources.settings.rate_limit_per_second:
        raise RateLimited(retry_after_seconds=window.remaining_seconds)


CallerDep = Annotated[Caller, Depends(current_caller)]
