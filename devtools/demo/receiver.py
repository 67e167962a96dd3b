"""A merchant's webhook receiver on this machine, for `pixwave demo` and the tests: it
records what arrives (checking signatures when given the secret), answers with the
status codes it is told to, or holds requests until released."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from app.domain.webhooks import SIGNATURE_HEADER, SignatureMismatch, verify
from app.embedded import free_port

HOLD_LIMIT_SECONDS = 60.0


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    port: int
    # Set once the endpoint exists: deliveries are then checked, and bad ones answered 400.
    secret: str | None = None
    # Answers for the next requests, first to last; 200 once they run out.
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    held: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    most_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def hold(self) -> None:
        self.held.clear()

    def release(self) -> None:
        self.held.set()

    def event_ids(self) -> list[str]:
        with self._lock:
            return [r.event["id"] for r in self.received]

    def take(self, received: Received) -> int:
        if self.secret is not None and not self._signed(received):
            with self._lock:
                self.bad_signatures += 1
            return 400
        with self._lock:
            self.received.append(received)
            return self.answers.pop(0) if self.answers else 200

    def _signed(self, received: Received) -> bool:
        assert self.secret is not None
        header = received.headers.get(SIGNATURE_HEADER, "")
        try:
            verify(header, received.body, self.secret, now=int(time.time()))
        except SignatureMismatch:
            return False
        return True

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.enter()
            try:
                receiver.held.wait(HOLD_LIMIT_SECONDS)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.take(Received(dict(self.headers.items()), body, time.monotonic()))
            finally:
                receiver.leave()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: callers read `received`."""

    return Handler


@contextmanager
def serving(receiver: Receiver) -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), _handler(receiver))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release()
        server.shutdown()
        server.server_close()


def new_receiver() -> Receiver:
    receiver = Receiver(port=free_port())
    receiver.release()
    return receiver
