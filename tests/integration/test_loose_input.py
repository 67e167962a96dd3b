"""Input the API used to take too loosely (issue 14: findings 3, 6 and 10), over real HTTP:
each is refused with a problem+json, and nothing is written."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from tests.support import CARD_TOKEN, ApiProcess, Merchant, card_intent, pix_intent

FULL_WIDTH_PAN = "".join(chr(ord(d) - ord("0") + 0xFF10) for d in "4242424242424242")
PAN_FORMS = [
    "4242.4242.4242.4242",
    "4242/4242/4242/4242",
    "4242_4242_4242_4242",
    "4242\t4242\t4242\t4242",
    FULL_WIDTH_PAN,
    "pan:4242424242424242",
]
# What goes in the path or the query where an id or a value is expected.
CONTROL_CHARACTERS = ["%00", "%01", "%09", "%1F", "%7F", "%C2%85"]


def _rows(db: psycopg.Connection[Any]) -> tuple[int, ...]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM payment_intents), (SELECT count(*) FROM outbox), "
        "(SELECT count(*) FROM refunds), (SELECT count(*) FROM webhook_endpoints), "
        "(SELECT count(*) FROM idempotency_keys)"
    ).fetchone()
    assert row is not None
    return tuple(row)


def _assert_problem(response: httpx.Response, status: int, code: str, param: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["code"], problem["param"]) == (status, code, param)


def _post(api: ApiProcess, merchant: Merchant, path: str, body: Any) -> httpx.Response:
    return httpx.post(f"{api.url}{path}", json=body, headers=merchant.headers)


def _card(token: str) -> dict[str, Any]:
    return card_intent(payment_method={"type": "card", "card": {"token": token}})


def _payer(name: str = "Maria Silva", document: str = "529.982.247-25") -> dict[str, Any]:
    payer = {"name": name, "document": document}
    return pix_intent(payment_method={"type": "pix", "pix": {"payer": payer}})


CARD_NUMBER_CASES = [
    *[(f"token {form!r}", _card(form), "payment_method.card.token") for form in PAN_FORMS],
    *[(f"description {form!r}", pix_intent(description=form), "description") for form in PAN_FORMS],
    ("metadata value", pix_intent(metadata={"note": "4242 4242 4242 4242"}), "metadata.note"),
    ("metadata key", pix_intent(metadata={"pan:4242424242424242": "x"}), "metadata"),
    ("payer name", _payer(name="Maria 4242-4242-4242-4242"), "payment_method.pix.payer.name"),
]


@pytest.mark.parametrize(
    ("body", "param"), [c[1:] for c in CARD_NUMBER_CASES], ids=[c[0] for c in CARD_NUMBER_CASES]
)
def test_card_numbers_are_refused_wherever_they_are_written(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any], body: Any, param: str
) -> None:
    before = _rows(db)
    response = _post(api, merchant, "/v1/payment_intents", body)
    _assert_problem(response, 400, "card_number_not_allowed", param)
    assert "4242" not in response.text
    assert _rows(db) == before


def test_a_card_number_in_refund_metadata_is_refused(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any]
) -> None:
    before = _rows(db)
    body = {"payment_intent": "pi_00000000000000000000000000", "metadata": {"card": "4242" * 4}}
    response = _post(api, merchant, "/v1/refunds", body)
    _assert_problem(response, 400, "card_number_not_allowed", "metadata.card")
    assert _rows(db) == before


def test_a_card_number_in_a_webhook_endpoint_description_is_refused(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any]
) -> None:
    before = _rows(db)
    body = {
        "url": "https://example.com/hooks",
        "enabled_events": ["*"],
        "description": "card 4242 4242 4242 4242",
    }
    response = _post(api, merchant, "/v1/webhook_endpoints", body)
    _assert_problem(response, 400, "card_number_not_allowed", "description")
    assert _rows(db) == before


@pytest.mark.parametrize(
    "token", ["tok_test_visa_4242", "FF8080814C11E237014C1FF593B57B4D", "ff8080814c11e237014c1ff5"]
)
def test_card_tokens_only_in_the_form_mercado_pago_issues(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any], token: str
) -> None:
    before = _rows(db)
    response = _post(api, merchant, "/v1/payment_intents", _card(token))
    _assert_problem(response, 400, "card_token_invalid", "payment_method.card.token")
    assert _rows(db) == before


def test_a_mercado_pago_card_token_is_stored_as_sent(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any]
) -> None:
    response = _post(api, merchant, "/v1/payment_intents", _card(CARD_TOKEN))
    assert response.status_code == 201, response.text
    row = db.execute(
        "SELECT card_token FROM payment_intents WHERE id = %s", (response.json()["id"],)
    ).fetchone()
    assert row == (CARD_TOKEN,)


@pytest.mark.parametrize(
    "document",
    [
        "CPF: 529.982.247-25 (Maria)",
        " 529.982.247-25",
        "529 982 247 25",
        "529.982.24725",
        "11.222.333.0001.81",
        "12.abc.345/01de-35",
    ],
)
def test_a_document_is_punctuated_or_bare_and_nothing_else(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any], document: str
) -> None:
    before = _rows(db)
    response = _post(api, merchant, "/v1/payment_intents", _payer(document=document))
    _assert_problem(response, 400, "invalid_tax_id", "payment_method.pix.payer.document")
    assert _rows(db) == before


@pytest.mark.parametrize("document", ["12.ABC.345/01DE-35", "12ABC34501DE35"])
def test_an_alphanumeric_cnpj_is_accepted(
    api: ApiProcess, merchant: Merchant, document: str
) -> None:
    response = _post(api, merchant, "/v1/payment_intents", _payer(document=document))
    assert response.status_code == 201, response.text
    payer = response.json()["payment_method"]["pix"]["payer"]
    assert (payer["document_type"], payer["document"]) == ("cnpj", "**.ABC.345/01DE-**")


@pytest.mark.parametrize("expires_in", [0, 59, 30 * 24 * 3600 + 1, -1])
def test_expires_in_outside_its_range_is_refused_with_the_range(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any], expires_in: int
) -> None:
    before = _rows(db)
    response = _post(api, merchant, "/v1/payment_intents", pix_intent(expires_in=expires_in))
    _assert_problem(response, 400, "parameter_invalid", "expires_in")
    assert "between 60 and 2592000 seconds" in response.json()["detail"]
    assert _rows(db) == before


DUPLICATE_KEY_CASES = [
    ("/v1/payment_intents", b'{"amount": 1990, "amount": 1, "currency": "BRL"}', "amount"),
    (
        "/v1/payment_intents",
        b'{"amount": 1990, "currency": "BRL", "payment_method": '
        b'{"type": "pix", "type": "card", "card": {"token": "x"}}}',
        "payment_method.type",
    ),
    (
        "/v1/payment_intents",
        b'{"amount": 1990, "currency": "BRL", "metadata": {"a": "1"}, "metadata": {}}',
        "metadata",
    ),
    ("/v1/refunds", b'{"payment_intent": "pi_1", "payment_intent": "pi_2"}', "payment_intent"),
    (
        "/v1/webhook_endpoints",
        b'{"url": "https://example.com/a", "enabled_events": [{"x": 1, "x": 2}]}',
        "enabled_events.0.x",
    ),
    ("/v1/gateway_priority", b'{"priority": null, "priority": ["efi"]}', "priority"),
]


@pytest.mark.parametrize(("path", "content", "param"), DUPLICATE_KEY_CASES)
def test_a_json_key_given_twice_is_refused(
    api: ApiProcess,
    merchant: Merchant,
    db: psycopg.Connection[Any],
    path: str,
    content: bytes,
    param: str,
) -> None:
    before = _rows(db)
    response = httpx.post(
        f"{api.url}{path}",
        content=content,
        headers={
            **merchant.headers,
            "Content-Type": "application/json",
            "Idempotency-Key": f"dup-{param}",
        },
    )
    _assert_problem(response, 400, "duplicate_key", param)
    assert _rows(db) == before


def _operations(api: ApiProcess) -> list[tuple[str, str, list[dict[str, Any]]]]:
    spec = httpx.get(f"{api.url}/openapi.json").json()
    return [
        (method.upper(), path, operation.get("parameters", []))
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
        if operation.get("parameters")
    ]


def test_the_routes_are_read_from_the_published_schema(api: ApiProcess) -> None:
    covered = {(method, path) for method, path, _ in _operations(api)}
    assert {
        ("GET", "/v1/events"),
        ("GET", "/v1/events/{event_id}"),
        ("GET", "/v1/payment_intents/{intent_id}"),
        ("GET", "/v1/refunds/{refund_id}"),
        ("GET", "/v1/webhook_endpoints/{endpoint_id}/deliveries"),
    } <= covered


@pytest.mark.parametrize("character", CONTROL_CHARACTERS)
def test_control_characters_in_a_path_id_are_a_404(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any], character: str
) -> None:
    before = _rows(db)
    for method, path, parameters in _operations(api):
        url = path
        for parameter in parameters:
            if parameter["in"] == "path":
                url = url.replace("{" + parameter["name"] + "}", f"evt_a{character}b")
        if url == path:
            continue
        response = httpx.request(method, f"{api.url}{url}", headers=merchant.headers)
        _assert_problem(response, 404, "resource_missing", "id")
    assert _rows(db) == before


@pytest.mark.parametrize("character", CONTROL_CHARACTERS)
def test_control_characters_in_a_query_value_are_a_400(
    api: ApiProcess, merchant: Merchant, db: psycopg.Connection[Any], character: str
) -> None:
    before = _rows(db)
    for method, path, parameters in _operations(api):
        url = path
        for parameter in parameters:
            if parameter["in"] == "path":
                url = url.replace("{" + parameter["name"] + "}", "we_00000000000000000000000000")
        for parameter in parameters:
            if parameter["in"] != "query":
                continue
            name = parameter["name"]
            response = httpx.request(
                method, f"{api.url}{url}?{name}=a{character}b", headers=merchant.headers
            )
            _assert_problem(response, 400, "parameter_invalid", name)
    assert _rows(db) == before


def test_control_characters_in_a_query_name_or_an_undeclared_parameter(
    api: ApiProcess, merchant: Merchant
) -> None:
    for url in ["/v1/events?a%00b=1", "/v1/callbacks/efi?hmac=x%00y"]:
        response = httpx.request(
            "POST" if "callbacks" in url else "GET", f"{api.url}{url}", headers=merchant.headers
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "parameter_invalid"


def test_the_object_id_filter_with_a_nul_is_a_400(api: ApiProcess, merchant: Merchant) -> None:
    response = httpx.get(
        f"{api.url}/v1/events", params={"object_id": "pi_\x00"}, headers=merchant.headers
    )
    _assert_problem(response, 400, "parameter_invalid", "object_id")
