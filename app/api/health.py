"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from sqlalchemy import text
from starlette.responses import Response

from app.api.problems import json_response, problem_response
from app.api.resources import resources_of
from app.api.schemas import problem_responses
from app.domain.errors import ServiceUnavailable

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", responses=problem_responses(503))
async def readyz(request: Request) -> Response:
    """Ready while PostgreSQL answers: it holds every change of money. Without Redis the
    API still works on in-memory limits, so that is `degraded`, not down."""
    resources = resources_of(request)
    try:
        async with resources.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure of the database means "not ready"
        logger.warning("http.not_ready", error=repr(exc))
        return problem_response(ServiceUnavailable("PostgreSQL is unreachable."))
    try:
        await resources.redis.ping()
    except (RedisError, OSError) as exc:
        logger.warning("http.degraded", error=repr(exc))
        return json_response({"status": "degraded", "postgres": "ok", "redis": "unavailable"})
    return json_response({"status": "ready", "postgres": "ok", "redis": "ok"})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
