"""Bearer API keys and the per-key rate limit (a one-second window in Redis)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.resources import UowDep, resources_of
from app.domain.caller import Caller
from app.domain.errors import AuthenticationFailed, RateLimited
from app.services.merchants import authenticate

RATE_WINDOW_SECONDS = 1
_RATE_KEY_TTL_SECONDS = 2 * RATE_WINDOW_SECONDS

bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer sk_test_…`")


async def current_caller(
    request: Request,
    uow: UowDep,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Caller:
    if credentials is None or not credentials.credentials.startswith("sk_"):
        raise AuthenticationFailed("Send your API key as `Authorization: Bearer sk_…`.")
    caller = await authenticate(uow, credentials.credentials)
    await _enforce_rate_limit(request, caller.api_key_id)
    return caller


async def _enforce_rate_limit(request: Request, api_key_id: str) -> None:
    resources = resources_of(request)
    window = int(time.time()) // RATE_WINDOW_SECONDS
    counter = f"pixwave:ratelimit:{api_key_id}:{window}"
    async with resources.redis.pipeline(transaction=False) as pipe:
        pipe.incr(counter)
        pipe.expire(counter, _RATE_KEY_TTL_SECONDS)
        count, _ = await pipe.execute()
    if int(count) > resources.settings.rate_limit_per_second:
        raise RateLimited(retry_after_seconds=RATE_WINDOW_SECONDS)


CallerDep = Annotated[Caller, Depends(current_caller)]
