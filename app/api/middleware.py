"""Pure ASGI middleware: request ids, trace context, access logs, metrics and the
body rules (size and content type) that must hold before any handler runs."""

from __future__ import annotations

import time
import uuid

from loguru import logger
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import internal_error_response, problem_response
from app.domain.errors import PayloadTooLarge, PixWaveError, UnsupportedMediaType
from app.logs import current_request_id
from app.metrics import HTTP_LATENCY, HTTP_REQUESTS
from app.tracing import annotate, continue_trace, failed

REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID_CHARS = 128
_BODY_METHODS = {"POST", "PUT", "PATCH"}
FORM_MEDIA_TYPE = b"application/x-www-form-urlencoded"


class RequestContextMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, form_paths: tuple[str, ...] = ()
    ) -> None:
        """Bodies are JSON, but under ``form_paths`` (HTML pages) also URL-encoded forms."""
        self._app = app
        self._max_body_bytes = max_body_bytes
        self._form_paths = form_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = _request_id(headers.get(REQUEST_ID_HEADER))
        id_token = current_request_id.set(request_id)
        # The request's span is a child of the caller's valid traceparent, a root otherwise.
        caller = headers.get(b"traceparent", b"").decode("latin-1") or None
        attributes = {"http.request.method": scope["method"], "url.path": scope["path"]}
        with continue_trace(caller, scope["method"], kind=SpanKind.SERVER, attributes=attributes):
            try:
                await self._serve(scope, receive, send, headers, request_id)
            finally:
                current_request_id.reset(id_token)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: dict[bytes, bytes],
        request_id: str,
    ) -> None:
        started = time.perf_counter()
        status = 500
        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            refusal = self._refusal(scope["method"], scope["path"], headers)
            if refusal is None and scope["method"] in _BODY_METHODS:
                receive, refusal = await self._buffered(receive)
            if refusal is not None:
                await problem_response(refusal)(scope, receive, send_with_id)
            else:
                await self._app(scope, receive, send_with_id)
        except Exception as exc:
            # Answered here, not by Starlette's outermost handler, so the problem and
            # its header carry this request's id.
            if responded:
                raise
            logger.opt(exception=exc).error("http.unhandled_error")
            await internal_error_response()(scope, receive, send_with_id)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _refusal(self, method: str, path: str, headers: dict[bytes, bytes]) -> PixWaveError | None:
        if method not in _BODY_METHODS:
            return None
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self._max_body_bytes:
            return self._too_large()
        has_body = (length is not None and length != b"0") or b"transfer-encoding" in headers
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        a_form_here = content_type == FORM_MEDIA_TYPE and path.startswith(self._form_paths)
        if has_body and content_type != b"application/json" and not a_form_here:
            return UnsupportedMediaType("Send the body as application/json.")
        return None

    async def _buffered(self, receive: Receive) -> tuple[Receive, PixWaveError | None]:
        """Read the whole body first (Content-Length can be absent or false), so an
        oversized one is refused before any handler runs."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body_bytes:
                return receive, self._too_large()
            chunks.append(chunk)
            more = message.get("more_body", False)
        replay: list[Message] = [{"type": "http.request", "body": b"".join(chunks)}]

        async def receive_buffered() -> Message:
            return replay.pop() if replay else await receive()

        return receive_buffered, None

    def _too_large(self) -> PixWaveError:
        return PayloadTooLarge(f"The body exceeds {self._max_body_bytes} bytes.")

    @staticmethod
    def _observe(scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method = scope["method"]
        annotate(
            {"http.route": route, "http.response.status_code": status}, name=f"{method} {route}"
        )
        if status >= 500:
            failed(f"HTTP {status}")
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_LATENCY.labels(method, route).observe(seconds)
        logger.info(
            "http.request",
            method=method,
            path=scope["path"],
            route=route,
            status=status,
            duration_ms=round(seconds * 1000, 2),
        )


def _request_id(incoming: bytes | None) -> str:
    if incoming:
        text = incoming.decode("latin-1")
        if len(text) <= MAX_REQUEST_ID_CHARS and text.isprintable():
            return text
    return f"req_{uuid.uuid4().hex}"
