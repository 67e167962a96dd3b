"""Every answer carries its request id, a 500 from an unexpected error too: in the
problem body and the X-Request-Id header, so an operator can find its log lines."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from app.api.middleware import RequestContextMiddleware
from app.api.problems import install_problem_handlers
from app.domain.errors import ServiceUnavailable

MAX_BODY_BYTES = 1024


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug of ours")

    @app.get("/down")
    async def down() -> None:
        raise ServiceUnavailable("PostgreSQL is away.")

    app.add_middleware(RequestContextMiddleware, max_body_bytes=MAX_BODY_BYTES)
    return app


async def _get(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        return await client.get(path, headers=headers)


async def test_an_unexpected_error_is_a_500_problem_with_the_request_id() -> None:
    response = await _get("/bug", {"X-Request-Id": "req_from_the_caller"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "internal_error"
    assert response.json()["request_id"] == "req_from_the_caller"
    assert response.headers["x-request-id"] == "req_from_the_caller"
    assert "a bug of ours" not in response.text


async def test_every_5xx_problem_names_a_generated_request_id() -> None:
    for path in ("/bug", "/down"):
        response = await _get(path)
        assert response.status_code >= 500
        request_id = response.json()["request_id"]
        assert str(request_id).startswith("req_")
        assert response.headers["x-request-id"] == request_id
