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

from app.domain.errors import IllegalTransition, InvalidRequest, PixWaveError

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
# Cloud metadata services answer on these even where they are not link-local
# (AWS 169.254.169.254 and fd00:ec2::254, Alibaba 100.100.100.200).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
# Carrier-grade NAT (RFC 6598): inside some provider, never on the internet.
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
# NAT64 (RFC 6052 well-known prefix, RFC 8215 local use): an IPv4 address in IPv6 form.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
# Deprecated IPv4-compatible form ::a.b.c.d (RFC 4291 2.5.5.1).
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_IPV4_BITS = 0xFFFFFFFF


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


# A redelivery starts a finished delivery again (a fresh retry schedule).
DELIVERY_TRANSITIONS: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    DeliveryStatus.PENDING: frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}),
    DeliveryStatus.DELIVERED: frozenset({DeliveryStatus.PENDING}),
    DeliveryStatus.FAILED: frozenset({DeliveryStatus.PENDING}),
}


def next_delivery_status(current: DeliveryStatus, target: DeliveryStatus) -> DeliveryStatus:
    """Return ``target`` if the table allows it, else raise IllegalTransition."""
    if target not in DELIVERY_TRANSITIONS[current]:
        raise IllegalTransition(f"A webhook delivery cannot go from {current} to {target}.")
    return target


class SignatureMismatch(PixWaveError):
    """A webhook signature header does not match the body, secret and time."""

    code = "signature_mismatch"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(SECRET_RANDOM_BYTES)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over "{t}.{raw body}", in hex (../shared/DESIGN.md)."""
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


def address_refusal(address: str, *, allow_loopback: bool = False) -> str | None:
    """Why PixWave will not call this address, or None when it may: only globally
    routable addresses, also when written as IPv6 around an IPv4 one (mapped, 6to4,
    NAT64, Teredo), and loopback only where the caller allows it (test mode)."""
    ip = ipaddress.ip_address(address)
    # A mapped address is the IPv4 socket itself; other forms reach some other host's.
    mapped = isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None
    for embedded in _embedded_ipv4(ip):
        refusal = address_refusal(str(embedded), allow_loopback=allow_loopback and mapped)
        if refusal is not None:
            return f"{refusal} in IPv6 form"
    if isinstance(ip, ipaddress.IPv6Address) and (
        ip.ipv4_mapped is not None or ip in NAT64_WELL_KNOWN
    ):
        return None  # only a translation of the IPv4 address judged above
    if allow_loopback and ip.is_loopback:
        return None
    return _refusal(ip)


def _refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip in SHARED_ADDRESS_SPACE:
        return "a shared (carrier-grade NAT) address"
    if isinstance(ip, ipaddress.IPv6Address) and ip in NAT64_LOCAL_USE:
        return "a local-use NAT64 address"
    for refusal, flagged in (
        ("an unspecified address", ip.is_unspecified),
        ("a loopback address", ip.is_loopback),
        ("a link-local address", ip.is_link_local),
        ("a private address", ip.is_private),
        ("a multicast address", ip.is_multicast),
        ("a reserved address", ip.is_reserved),
        ("not a globally routable address", not ip.is_global),
    ):
        if flagged:
            return refusal
    return None


def _embedded_ipv4(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for, whichever way it wraps them."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if ip in NAT64_WELL_KNOWN or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return [ipaddress.IPv4Address(int(ip) & _IPV4_BITS)]
    return []
