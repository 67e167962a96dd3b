"""Bad input: a problem+json with a stable code and param, never a 500, never a write."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tests.support import ApiProcess, Merchant, card_intent, pix_intent

BIG_METADATA = {f"k{i}": "v" for i in range(51)}


def _with_method(**pix_payer: str) -> dict[str, Any]:
    return pix_intent(
        payment_method={"type": "pix", "pix": {"payer": {"name": "Ana", **pix_payer}}}
    )


JSON_CASES = [
    ("unknown currency", pix_intent(currency="XYZ"), 400, "currency_unsupported", "currency"),
    ("float amount", pix_intent(amount=19.9), 400, "parameter_invalid", "amount"),
    ("string amount", pix_intent(amount="1990"), 400, "parameter_invalid", "amount"),
    ("zero amount", pix_intent(amount=0), 400, "amount_too_small", "amount"),
    ("negative amount", pix_intent(amount=-5), 400, "amount_too_small", "amount"),
    ("amount over maximum", pix_intent(amount=10**12), 400, "amount_too_large", "amount"),
    (
        "PIX in USD",
        pix_intent(currency="USD"),
        400,
        "currency_not_supported_for_method",
        "currency",
    ),
    (
        "bad CPF check digits",
        _with_method(document="529.982.247-26"),
        400,
        "invalid_tax_id",
        "payment_method.pix.payer.document",
    ),
    (
        "bad CNPJ check digits",
        _with_method(document="11.222.333/0001-82"),
        400,
        "invalid_tax_id",
        "payment_method.pix.payer.document",
    ),
    (
        "metadata over 50 keys",
        pix_intent(metadata=BIG_METADATA),
        400,
        "metadata_too_many_keys",
        "metadata",
    ),
    (
        "metadata value over 500 chars",
        pix_intent(metadata={"note": "x" * 501}),
        400,
        "metadata_value_too_long",
        "metadata.note",
    ),
    ("missing amount", {"currency": "BRL"}, 400, "parameter_missing", "amount"),
    ("unknown field", pix_intent(colour="blue"), 400, "parameter_unknown", "colour"),
    (
        "raw card number",
        card_intent(payment_method={"type": "card", "card": {"token": "4242424242424242"}}),
        400,
        "card_number_not_allowed",
        "payment_method.card.token",
    ),
    (
        "method details of the wrong type",
        pix_intent(
            payment_method={"type": "card", "pix": {"payer": {"name": "A", "document": "1"}}}
        ),
        400,
        "parameter_invalid",
        "payment_method",
    ),
    (
        "NUL in a string",
        pix_intent(description="a\u0000b"),
        400,
        "parameter_invalid",
        "description",
    ),
    (
        "manual capture for PIX",
        pix_intent(capture_method="manual"),
        400,
        "parameter_invalid",
        "capture_method",
    ),
    ("expires_in on a card", card_intent(expires_in=600), 400, "parameter_invalid", "expires_in"),
    ("body is a list", [1, 2], 400, "parameter_invalid", None),
]


def _intent_count(db: psycopg.Connection[Any]) -> tuple[int, int]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM payment_intents), (SELECT count(*) FROM outbox)"
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def _assert_problem(response: httpx.Response, status: int, code: str, param: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["param"], problem["status"]) == (code, param, status)
    assert problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [case[1:] for case in JSON_CASES],
    ids=[case[0] for case in JSON_CASES],
)
def test_bad_json_input(
    api: ApiProcess,
    merchant: Merchant,
    db: psycopg.Connection[Any],
    body: Any,
    status: int,
    code: str,
    param: str | None,
) -> None:
    before = _intent_count(db)
    response = httpx.post(f"{api.url}/v1/payment_intents", json=body, headers=merchant.headers)
    _assert_problem(response, status, code, param)
    assert _intent_count(db) == before


RAW_CASES = [
    ("malformed JSON", b'{"amount": 19', "application/json", 400, "malformed_json"),
    (
        "wrong content type",
        b"amount=1990",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_media_type",
    ),
    (
        "oversized body",
        b'{"description": "' + b"x" * 70_000 + b'"}',
        "application/json",
        413,
        "payload_too_large",
    ),
]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [case[1:] for case in RAW_CASES],
    ids=[case[0] for case in RAW_CASES],
)
def test_bad_raw_bodies(
    api: ApiProcess,
    merchant: Merchant,
    db: psycopg.Connection[Any],
    content: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    before = _intent_count(db)
    response = httpx.post(
        f"{api.url}/v1/payment_intents",
        content=content,
        headers={**merchant.headers, "Content-Type": content_type},
    )
    _assert_problem(response, status, code, None)
    assert _intent_count(db) == before


def test_oversized_chunked_body_is_413(api: ApiProcess, merchant: Merchant) -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1024

    response = httpx.post(
        f"{api.url}/v1/payment_intents",
        content=chunks(),
        headers={**merchant.headers, "Content-Type": "application/json"},
    )
    _assert_problem(response, 413, "payload_too_large", None)


def test_bad_query_parameters(api: ApiProcess, merchant: Merchant) -> None:
    url = f"{api.url}/v1/payment_intents"
    _assert_problem(
        httpx.get(url, params={"limit": 0}, headers=merchant.headers),
        400,
        "parameter_invalid",
        "limit",
    )
    _assert_problem(
        httpx.get(url, params={"starting_after": "x"}, headers=merchant.headers),
        400,
        "parameter_invalid",
        "starting_after",
    )


def test_unknown_route_and_method(api: ApiProcess, merchant: Merchant) -> None:
    _assert_problem(httpx.get(f"{api.url}/v1/nothing"), 404, "resource_missing", None)
    response = httpx.delete(f"{api.url}/v1/payment_intents", headers=merchant.headers)
    _assert_problem(response, 405, "http_405", None)
    assert response.headers["allow"] == "GET, POST"


def test_a_405_allows_every_method_of_the_path(api: ApiProcess, merchant: Merchant) -> None:
    """The path's methods live on several routes; Allow names them all, not the first's."""
    url = f"{api.url}/v1/webhook_endpoints/we_00000000000000000000000000"
    response = httpx.request("PUT", url, headers=merchant.headers)
    _assert_problem(response, 405, "http_405", None)
    assert response.headers["allow"] == "DELETE, GET"
