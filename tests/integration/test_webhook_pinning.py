"""A webhook POST goes to the address that was checked, never to the name again (no DNS
rebinding between check and connect), while TLS still proves the name: SNI and the
certificate are the URL's host, and the Host header is too."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.webhooks.pinned_http import PinnedClients
from app.webhooks.service import CheckedUrl

# Names no resolver knows: reaching the receiver proves the name was never looked up.
RECEIVER_NAME = "hooks.pixwave-receiver.test"
OTHER_NAME = "elsewhere.pixwave-receiver.test"
CERT_LIFETIME = timedelta(days=1)
TIMEOUT_SECONDS = 5.0


def _certificate(tmp: Path) -> tuple[Path, Path]:
    """A CA and, signed by it, a server certificate for RECEIVER_NAME only."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.now(UTC)

    def build(subject: x509.Name, public: Any, *, ca: bool) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + CERT_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )

    ca = build(ca_name, ca_key.public_key(), ca=True).sign(ca_key, hashes.SHA256())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, RECEIVER_NAME)])
    san = x509.SubjectAlternativeName([x509.DNSName(RECEIVER_NAME)])
    server = (
        build(server_name, key.public_key(), ca=False)
        .add_extension(san, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, server_path = tmp / "ca.pem", tmp / "server.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    server_path.write_bytes(server.public_bytes(serialization.Encoding.PEM) + key_pem)
    return ca_path, server_path


class _Receiver(ThreadingHTTPServer):
    hosts: list[str]
    sni: list[str | None]


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.hosts.append(self.headers["Host"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def https_receiver(tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext, _Receiver]]:
    ca, server_pem = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_pem)
    receiver = _Receiver(("127.0.0.1", 0), _Handler)
    receiver.hosts, receiver.sni = [], []
    context.sni_callback = lambda sock, name, ctx: receiver.sni.append(name)  # type: ignore[assignment,func-returns-value]
    receiver.socket = context.wrap_socket(receiver.socket, server_side=True)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        yield receiver.server_address[1], ssl.create_default_context(cafile=str(ca)), receiver
    finally:
        receiver.shutdown()
        receiver.server_close()


async def test_the_post_goes_to_the_checked_address_and_tls_proves_the_name(
    https_receiver: tuple[int, ssl.SSLContext, _Receiver],
) -> None:
    port, trust, receiver = https_receiver
    checked = CheckedUrl(url=f"https://{RECEIVER_NAME}:{port}/hooks", address="127.0.0.1")
    clients = PinnedClients(TIMEOUT_SECONDS, verify=trust)
    try:
        response = await clients.post(checked, b"{}", {"Content-Type": "application/json"})
    finally:
        await clients.aclose()
    assert response.status_code == 204
    assert receiver.hosts == [f"{RECEIVER_NAME}:{port}"]
    assert receiver.sni == [RECEIVER_NAME]


async def test_a_certificate_for_another_name_is_refused(
    https_receiver: tuple[int, ssl.SSLContext, _Receiver],
) -> None:
    port, trust, receiver = https_receiver
    checked = CheckedUrl(url=f"https://{OTHER_NAME}:{port}/hooks", address="127.0.0.1")
    clients = PinnedClients(TIMEOUT_SECONDS, verify=trust)
    try:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await clients.post(checked, b"{}", {})
    finally:
        await clients.aclose()
    assert receiver.hosts == []
