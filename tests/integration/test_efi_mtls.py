"""Efí demands a client certificate (mTLS): the adapter presents the one configured,
and without it the call fails before Efí could do anything."""

from __future__ import annotations

import ipaddress
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.domain.charges import AttemptOutcome
from app.domain.intents import PaymentMethodType
from app.gateways.port import ChargeRequest, GatewayName
from tests.gateway_sim import Simulator, running_simulator

CERT_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: Path  # certificate and key in one PEM
    client: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    server: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = issuer or (_name(subject), key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + CERT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if server:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _pem(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None) -> Path:
    data = cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key = _issue("PixWave test CA", None)
    issuer = (ca_cert.subject, ca_key)
    server = _issue("127.0.0.1", issuer, server=True)
    client = _issue("pixwave-efi-client", issuer)
    return Pki(
        ca=_pem(folder / "ca.pem", ca_cert, None),
        server=_pem(folder / "server.pem", *server),
        client=_pem(folder / "client.pem", *client),
    )


@pytest.fixture(scope="module")
def mtls_sim(pki: Pki) -> Iterator[Simulator]:
    probe = ssl.create_default_context(cafile=str(pki.ca))
    probe.load_cert_chain(pki.client)
    args = ("--tls-cert", str(pki.server), "--client-ca", str(pki.ca))
    with running_simulator(extra_args=args, tls=probe) as simulator:
        yield simulator


def _pix_request() -> ChargeRequest:
    return ChargeRequest(
        intent_id=f"pi_{uuid.uuid4().hex}",
        idempotency_key=f"key-{uuid.uuid4().hex}",
        amount=1990,
        method=PaymentMethodType.PIX,
    )


@pytest.mark.parametrize("with_certificate", [True, False])
async def test_efi_calls_carry_the_configured_client_certificate(
    mtls_sim: Simulator, pki: Pki, monkeypatch: pytest.MonkeyPatch, with_certificate: bool
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))  # trust the test CA, as a real one
    gateways = mtls_sim.open_gateways(efi_certificate_path=pki.client if with_certificate else None)
    efi = gateways.get(GatewayName.EFI)
    assert efi is not None
    charges_before = len(mtls_sim.ledger()["charges"])
    try:
        result = await efi.create_charge(_pix_request())
    finally:
        await gateways.close()
    charges_after = len(mtls_sim.ledger()["charges"])
    if with_certificate:
        assert result.outcome is AttemptOutcome.SUCCEEDED, result.reason
        assert charges_after == charges_before + 1
    else:
        # TLS 1.3 refuses the missing certificate only after the client sent its
        # request, so the adapter cannot tell it from a lost answer: unknown, the
        # safe reading. Nothing was charged.
        assert result.outcome is AttemptOutcome.UNKNOWN, result.reason
        assert charges_after == charges_before
