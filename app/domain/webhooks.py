"""Merchant webhooks without I/O: signatures, which events an endpoint takes, the retry
schedule, and which URLs and addresses PixWave will call."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from enum import StrEnum
from urllib.parse import urlsplit

from app.domain.errors import InvalidRequest, PixWaveError

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_RANDOM_BYTES = 32
SIGNATURE_HEADER = "PixWave-Signature"
EVENT_ID_HEADER = "PixWave-Event-Id"
SIGNATURE_SCHEME = "v1"
SIGNATURE_TOLERANCE_SECONDS = 300
ALL_EVENTS = "*"
MAX_URL_CHARS = 2048
# ChangeMessageVisibility accepts at most 12 hours, so no wait between tries is longer.
MAX_RETRY_DELAY_SECONDS = 12 * 3600 - 1
RETRY_GROWTH_FACTOR = 3
# Cloud metadata services answer on these even where they are not link-local.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class SignatureMismatch(PixWaveError):
    """A webhook signature header does not match the body, secret and time."""

    code = "signature_mismatch"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(SECRET_RANDOM_BYTES)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "{t}.{raw body}", in hex (DESIGN.md)."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(signing_secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """`t=…,v1=…`, one v1 per secret: during a rotation both the new and old one sign."""
    signatures = (f"{SIGNATURE_SCHEME}={sign(s, timestamp, body)}" for s in signing_secrets)
    return ",".join((f"t={timestamp}", *signatures))


def verify(
    header: str,
    body: bytes,
    secret: str,
    *,
    now: int,
    tolerance_seconds: int = SIGNATURE_TOLERANCE_SECONDS,
) -> int:
    """Return the signed timestamp if one v1 matches and it is fresh; raise otherwise."""
    timestamp, signatures = _parse_header(header)
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureMismatch(
            f"The timestamp is {now - timestamp} s old; at most {tolerance_seconds} s is accepted."
        )
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureMismatch("No v1 signature matches this body and secret.")
    return timestamp


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == SIGNATURE_SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureMismatch(f"The header must read t=<unix>,{SIGNATURE_SCHEME}=<hex>.")
    return timestamp, signatures


def takes(enabled_events: Iterable[str], event_type: str) -> bool:
    return any(wanted in (ALL_EVENTS, event_type) for wanted in enabled_events)


def retry_delay_seconds(attempts: int, *, base_seconds: float) -> int:
    """After the n-th failed try: base·3^(n-1), capped at 12 h (1 min base: 1, 3, 9, 27,
    81 min, 4 h, then every 12 h)."""
    exponent = min(max(attempts - 1, 0), 40)
    delay = base_seconds * float(RETRY_GROWTH_FACTOR) ** exponent
    return max(1, min(MAX_RETRY_DELAY_SECONDS, round(delay)))


def check_url(url: str, *, livemode: bool) -> str:
    """The URL's host, if its form is acceptable; addresses are checked separately."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidRequest(f"url is longer than {MAX_URL_CHARS} characters.", param="url")
    parts = urlsplit(url)
    allowed_schemes = ("https",) if livemode else ("https", "http")
    if parts.scheme not in allowed_schemes:
        raise InvalidRequest(
            f"url must use {' or '.join(allowed_schemes)}"
            + (" in live mode." if livemode else "."),
            param="url",
        )
    if not parts.hostname:
        raise InvalidRequest("url must name a host.", param="url")
    if parts.username or parts.password:
        raise InvalidRequest("url must not carry credentials.", param="url")
    return parts.hostname


def address_refusal(address: str) -> str | None:
    """Why PixWave will not call this address (loopback, private …), or None when it may."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for refusal, flagged in (
        ("an unspecified address", ip.is_unspecified),
        ("a loopback address", ip.is_loopback),
        ("a link-local address", ip.is_link_local),
        ("a private address", ip.is_private),
        ("a multicast address", ip.is_multicast),
        ("a reserved address", ip.is_reserved),
    ):
        if flagged:
            return refusal
    return None
