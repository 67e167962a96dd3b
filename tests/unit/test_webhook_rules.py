"""Webhook signatures, the retry schedule, event matching and URL rules (pure logic)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from app.domain.errors import IllegalTransition, InvalidRequest
from app.domain.webhooks import (
    MAX_RETRY_DELAY_SECONDS,
    DeliveryStatus,
    SignatureMismatch,
    address_refusal,
    check_url,
    new_secret,
    next_delivery_status,
    retry_delay_seconds,
    signature_header,
    takes,
    verify,
)
from outbox.topology import WEBHOOK_MAX_RETRIES

BODY = b'{"id":"evt_1","type":"payment_intent.succeeded"}'
NOW = 1_763_700_000


def test_the_header_is_t_then_one_v1_per_secret_as_documented() -> None:
    header = signature_header(["whsec_new", "whsec_old"], NOW, BODY)
    t, v1_new, v1_old = header.split(",")
    assert t == f"t={NOW}"
    for part, secret in ((v1_new, "whsec_new"), (v1_old, "whsec_old")):
        expected = hmac.new(secret.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256)
        assert part == f"v1={expected.hexdigest()}"


def test_verify_accepts_any_matching_v1_within_the_tolerance() -> None:
    header = signature_header(["whsec_new", "whsec_old"], NOW, BODY)
    assert verify(header, BODY, "whsec_old", now=NOW + 300) == NOW
    assert verify(header, BODY, "whsec_new", now=NOW - 300) == NOW


@pytest.mark.parametrize(
    ("header_body", "body", "secret", "now"),
    [
        (BODY, BODY + b" ", "whsec_a", NOW),  # tampered body
        (BODY, BODY, "whsec_b", NOW),  # another secret
        (BODY, BODY, "whsec_a", NOW + 301),  # too old
        (BODY, BODY, "whsec_a", NOW - 301),  # from the future
    ],
)
def test_verify_refuses(header_body: bytes, body: bytes, secret: str, now: int) -> None:
    header = signature_header(["whsec_a"], NOW, header_body)
    with pytest.raises(SignatureMismatch):
        verify(header, body, secret, now=now)


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", f"t={NOW}", "v1=00", "garbage"])
def test_verify_refuses_malformed_headers(header: str) -> None:
    with pytest.raises(SignatureMismatch, match="must read"):
        verify(header, BODY, "whsec_a", now=NOW)


def test_secrets_are_prefixed_and_random() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(first) == len("whsec_") + 64
    assert first != second


def test_the_schedule_grows_threefold_and_is_capped_below_twelve_hours() -> None:
    delays = [retry_delay_seconds(n, base_seconds=60) for n in range(1, 12)]
    assert delays[:6] == [60, 180, 540, 1620, 4860, 14580]
    assert delays[6:] == [MAX_RETRY_DELAY_SECONDS] * 5
    assert retry_delay_seconds(1000, base_seconds=60) == MAX_RETRY_DELAY_SECONDS
    assert retry_delay_seconds(1, base_seconds=0.1) == 1


def test_the_default_schedule_keeps_trying_for_three_days_in_fewer_tries_than_sqs_allows() -> None:
    elapsed, attempts = 0, 1
    while elapsed < 3 * 24 * 3600:
        elapsed += retry_delay_seconds(attempts, base_seconds=60)
        attempts += 1
    assert attempts < WEBHOOK_MAX_RETRIES


def test_takes_matches_the_type_or_the_wildcard() -> None:
    assert takes(["*"], "refund.failed")
    assert takes(["refund.failed", "payment_intent.succeeded"], "refund.failed")
    assert not takes(["payment_intent.succeeded"], "refund.failed")


@pytest.mark.parametrize(
    ("url", "livemode", "message"),
    [
        ("http://shop.example/hooks", True, "https"),
        ("ftp://shop.example/hooks", False, "https or http"),
        ("https:///hooks", True, "host"),
        ("https://user:pw@shop.example/", True, "credentials"),
        ("https://shop.example/" + "a" * 2048, True, "longer"),
    ],
)
def test_check_url_refuses(url: str, livemode: bool, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_url(url, livemode=livemode)


def test_check_url_returns_the_host() -> None:
    assert check_url("https://Shop.Example:8443/h?x=1", livemode=True) == "shop.example"
    assert check_url("http://127.0.0.1:9000/h", livemode=False) == "127.0.0.1"


@pytest.mark.parametrize(
    ("address", "refusal"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.100.100.200", "metadata"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("2002:a9fe:a9fe::1", "metadata address in IPv6 form"),
        ("2002:0a00:0001::1", "private address in IPv6 form"),
        ("64:ff9b::a9fe:a9fe", "metadata address in IPv6 form"),
        ("64:ff9b::7f00:1", "loopback address in IPv6 form"),
        ("64:ff9b:1::808:808", "NAT64"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "IPv6 form"),
        ("::a9fe:a9fe", "metadata address in IPv6 form"),
        ("::808:808", "reserved"),
        ("192.0.2.1", "private"),
        ("198.18.0.1", "private"),
    ],
)
def test_address_refusals(address: str, refusal: str) -> None:
    reason = address_refusal(address)
    assert reason is not None
    assert refusal in reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "2001:4860:4860::8888",
        "200.147.3.157",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(address) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_passes_only_where_allowed(address: str) -> None:
    assert address_refusal(address, allow_loopback=True) is None
    assert address_refusal(address) is not None


@pytest.mark.parametrize(
    "address",
    ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.1.1", "fe80::1", "10.0.0.1"],
)
def test_allowing_loopback_allows_nothing_else(address: str) -> None:
    assert address_refusal(address, allow_loopback=True) is not None


def test_a_delivery_ends_once_and_only_a_redelivery_starts_it_again() -> None:
    pending, delivered, failed = (
        DeliveryStatus.PENDING,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
    )
    assert next_delivery_status(pending, delivered) is delivered
    assert next_delivery_status(pending, failed) is failed
    assert next_delivery_status(failed, pending) is pending
    for ended in (delivered, failed):
        for other in (delivered, failed):
            with pytest.raises(IllegalTransition):
                next_delivery_status(ended, other)
