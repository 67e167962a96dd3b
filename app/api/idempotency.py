"""Idempotency-Key handling (../shared/DESIGN.md): a replay gets the stored status and bytes,
the same key with another body gets 422, a key still in flight gets 409.

Everything happens in the request's one transaction: a transaction-scoped
advisory lock on (merchant, key) marks the key in flight (a concurrent request
cannot take it: 409), and the answer is stored beside the business rows and
their outbox rows, so a stored answer always matches what was committed. A crash
rolls all of it back and frees the key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from app.api.problems import JSON_MEDIA_TYPE, PROBLEM_MEDIA_TYPE, json_response, problem_response
from app.api.resources import resources_of
from app.db.uow import UnitOfWork
from app.domain.caller import Caller
from app.domain.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InvalidRequest,
    PixWaveError,
)
from app.encoding import render_json

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255

Action = Callable[[UnitOfWork], Awaitable[tuple[int, Mapping[str, object]]]]


async def respond(
    request: Request, uow: UnitOfWork, caller: Caller, fingerprint: str, action: Action
) -> Response:
    """Run ``action`` and commit, once per Idempotency-Key if one was sent."""
    key = request.headers.get(HEADER)
    if key is None:
        status, body = await action(uow)
        await uow.commit()
        return json_response(body, status)
    _check_key(key)
    request_hash = hashlib.sha256(
        f"{request.method} {request.url.path} {fingerprint}".encode()
    ).hexdigest()
    replay = await _replay(uow, caller.merchant_id, key, request_hash)
    if replay is not None:
        return replay
    ttl = timedelta(hours=resources_of(request).settings.idempotency_ttl_hours)
    refusal: Response | None = None
    try:
        status, body = await action(uow)
    except PixWaveError as exc:
        if exc.retryable:
            raise
        # A final refusal (say, cancel of a succeeded intent) is kept and replayed too.
        await uow.rollback()
        refusal = problem_response(exc)
        status, rendered = refusal.status_code, bytes(refusal.body)
    else:
        rendered = render_json(body)
    await uow.idempotency.store(
        merchant_id=caller.merchant_id,
        key=key,
        request_hash=request_hash,
        status=status,
        body=rendered,
        ttl=ttl,
    )
    await uow.commit()
    return refusal or Response(rendered, status_code=status, media_type=JSON_MEDIA_TYPE)


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise InvalidRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} printable characters.",
            param=HEADER,
        )


async def _replay(
    uow: UnitOfWork, merchant_id: str, key: str, request_hash: str
) -> Response | None:
    if not await uow.idempotency.try_lock(merchant_id, key):
        raise IdempotencyKeyInProgress(
            "A request with this Idempotency-Key is still in progress.", param=HEADER
        )
    stored = await uow.idempotency.find(merchant_id, key)
    if stored is None:
        return None
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request.", param=HEADER
        )
    media_type = JSON_MEDIA_TYPE if stored.response_status < 400 else PROBLEM_MEDIA_TYPE
    return Response(
        stored.response_body,
        status_code=stored.response_status,
        media_type=media_type,
        headers={"Idempotent-Replayed": "true"},
    )
