"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
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
    resources = resources_of(request)
    try:
        async with resources.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        await resources.redis.ping()
    except Exception as exc:  # any failure of a dependency means "not ready"
        logger.warning("http.not_ready", error=repr(exc))
        return problem_response(ServiceUnavailable("PostgreSQL or Redis is unreachable."))
    return json_response({"status": "ready"})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
