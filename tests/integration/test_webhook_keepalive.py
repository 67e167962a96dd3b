"""Webhook POSTs keep their connections alive, but a kept connection only ever carries
requests for the name and address it was opened for; the clients kept are bounded, and
the ones let go close their connections."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.webhooks.pinned_http import PinnedClients
from app.webhooks.service import CheckedUrl
from tests.support import wait_for

# Names no resolver knows, both pinned to the receiver's loopback address.
NAME = "hooks.pixwave-receiver.test"
OTHER_NAME = "elsewhere.pixwave-receiver.test"
TIMEOUT_SECONDS = 5.0
# POSTs under this path are answered only once the test releases them.
HELD_PATH = "/held"


@dataclass
class _Connections:
    """What the receiver saw: each request's Host and the peer port of its connection,
    and the peer ports of the connections that have closed."""

    requests: list[tuple[str, int]] = field(default_factory=list)
    closed: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def opened(self) -> set[int]:
        with self.lock:
            return {port for _, port in self.requests}

    def ports_of(self, host: str) -> set[int]:
        with self.lock:
            return {port for seen, port in self.requests if seen == host}

    def closed_ports(self) -> set[int]:
        with self.lock:
            return set(self.closed)


@pytest.fixture
def receiver() -> Iterator[tuple[int, _Connections]]:
    seen = _Connections()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # connections stay open between requests

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with seen.lock:
                seen.requests.append((self.headers["Host"], self.client_address[1]))
            if self.path == HELD_PATH:
                seen.held.set()
                seen.release.wait(TIMEOUT_SECONDS)
            self.send_response(204)
            self.end_headers()

        def finish(self) -> None:
            super().finish()
            with seen.lock:
                seen.closed.add(self.client_address[1])

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def _checked(name: str, port: int, path: str = "/hooks") -> CheckedUrl:
    return CheckedUrl(url=f"http://{name}:{port}{path}", address="127.0.0.1")


async def _post(clients: PinnedClients, checked: CheckedUrl) -> None:
    response = await clients.post(checked, b"{}", {"Content-Type": "application/json"})
    assert response.status_code == 204


async def test_posts_to_one_endpoint_share_one_connection(
    receiver: tuple[int, _Connections],
) -> None:
    port, seen = receiver
    clients = PinnedClients(TIMEOUT_SECONDS)
    try:
        await _post(clients, _checked(NAME, port))
        await _post(clients, _checked(NAME, port))
    finally:
        await clients.aclose()
    assert len(seen.requests) == 2
    assert len(seen.opened()) == 1


async def test_two_names_at_one_address_never_share_a_connection(
    receiver: tuple[int, _Connections],
) -> None:
    port, seen = receiver
    clients = PinnedClients(TIMEOUT_SECONDS)
    try:
        for name in (NAME, OTHER_NAME, NAME, OTHER_NAME):
            await _post(clients, _checked(name, port))
    finally:
        await clients.aclose()
    ours, theirs = seen.ports_of(f"{NAME}:{port}"), seen.ports_of(f"{OTHER_NAME}:{port}")
    assert len(ours) == len(theirs) == 1  # each name still reuses its own
    assert ours.isdisjoint(theirs)


async def test_a_client_past_the_bound_is_closed_and_all_close_at_shutdown(
    receiver: tuple[int, _Connections],
) -> None:
    port, seen = receiver
    clients = PinnedClients(TIMEOUT_SECONDS, max_clients=1)
    await _post(clients, _checked(NAME, port))
    (first,) = seen.opened()
    await _post(clients, _checked(OTHER_NAME, port))  # evicts NAME's client
    wait_for(lambda: first in seen.closed_ports(), timeout=TIMEOUT_SECONDS)
    (second,) = seen.opened() - {first}
    assert second not in seen.closed_ports()
    await clients.aclose()
    wait_for(lambda: second in seen.closed_ports(), timeout=TIMEOUT_SECONDS)


async def test_a_client_let_go_mid_post_closes_only_once_its_post_is_answered(
    receiver: tuple[int, _Connections],
) -> None:
    port, seen = receiver
    clients = PinnedClients(TIMEOUT_SECONDS, max_clients=1)
    held = asyncio.create_task(_post(clients, _checked(NAME, port, HELD_PATH)))
    assert await asyncio.to_thread(seen.held.wait, TIMEOUT_SECONDS)
    (first,) = seen.opened()
    await _post(clients, _checked(OTHER_NAME, port))  # evicts NAME's client mid-POST
    seen.release.set()
    await held  # answered, not cut off by the eviction
    wait_for(lambda: first in seen.closed_ports(), timeout=TIMEOUT_SECONDS)
    await clients.aclose()
