"""/v1/webhook_endpoints and /v1/events over HTTP: secrets shown once, URL rules (SSRF),
the events list and its filters. Delivery itself is in test_webhooks.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import ApiProcess, Merchant, card_intent, create_merchant, start_api

RECEIVER = "https://hooks.shop.example/pixwave"
ENDPOINT_LIMIT = 3


@pytest.fixture(scope="module")
def live_merchant(service_env: dict[str, str]) -> Merchant:
    return create_merchant("Loja Real", live=True)


@pytest.fixture(scope="module")
def development_api(service_env: dict[str, str]) -> Iterator[ApiProcess]:
    """An API as `pixwave up` runs it: test-mode endpoints may be on loopback."""
    overrides = {
        "PIXWAVE_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "PIXWAVE_WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT": str(ENDPOINT_LIMIT),
    }
    with start_api(overrides) as process:
        yield process


@pytest.fixture(scope="module")
def local_merchant(service_env: dict[str, str]) -> Merchant:
    return create_merchant("Loja Local")


def post(api: ApiProcess, merchant: Merchant, path: str, body: Any = None) -> httpx.Response:
    return httpx.post(f"{api.url}{path}", json=body, headers=merchant.headers, timeout=10)


def get(api: ApiProcess, merchant: Merchant, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{api.url}{path}", params=params, headers=merchant.headers, timeout=10)


def endpoint_body(url: str = "http://127.0.0.1:9/hooks", **overrides: Any) -> dict[str, Any]:
    return {"url": url, "enabled_events": ["*"], **overrides}


def test_the_secret_is_shown_at_creation_and_rotation_only(
    api: ApiProcess, merchant: Merchant
) -> None:
    # The session's API allows no private URLs, so this endpoint names a public address.
    created = post(api, merchant, "/v1/webhook_endpoints", endpoint_body("http://8.8.8.8/h"))
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["status"] == "enabled"
    fetched = get(api, merchant, f"/v1/webhook_endpoints/{endpoint['id']}").json()
    assert "secret" not in fetched
    assert fetched["url"] == "http://8.8.8.8/h"
    listed = get(api, merchant, "/v1/webhook_endpoints").json()["data"]
    assert endpoint["id"] in [e["id"] for e in listed]
    assert all("secret" not in e for e in listed)

    rotated = post(api, merchant, f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (None, endpoint["secret"])


def test_a_deleted_endpoint_is_gone(api: ApiProcess, merchant: Merchant) -> None:
    endpoint = post(api, merchant, "/v1/webhook_endpoints", endpoint_body("http://8.8.8.8/")).json()
    path = f"/v1/webhook_endpoints/{endpoint['id']}"
    deleted = httpx.delete(f"{api.url}{path}", headers=merchant.headers)
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "disabled"
    assert get(api, merchant, path).status_code == 404


def test_another_merchant_cannot_see_an_endpoint(
    api: ApiProcess, merchant: Merchant, other_merchant: Merchant
) -> None:
    endpoint = post(api, merchant, "/v1/webhook_endpoints", endpoint_body("http://8.8.8.8/")).json()
    assert get(api, other_merchant, f"/v1/webhook_endpoints/{endpoint['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "param", "detail"),
    [
        (endpoint_body(enabled_events=["payment_intent.exploded"]), "enabled_events", "Unknown"),
        (
            endpoint_body(enabled_events=["alert.gateway_circuit_opened"]),
            "enabled_events",
            "Unknown",
        ),
        (endpoint_body(enabled_events=[]), "enabled_events", None),
        (endpoint_body("ftp://8.8.8.8/"), "url", "https or http"),
        (endpoint_body("http://127.0.0.1:9/hooks"), "url", "loopback"),
    ],
)
def test_bad_endpoints_are_refused_with_the_offending_param(
    api: ApiProcess, merchant: Merchant, body: dict[str, Any], param: str, detail: str | None
) -> None:
    response = post(api, merchant, "/v1/webhook_endpoints", body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["param"] == param
    if detail is not None:
        assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://8.8.8.8/hooks", "https"),
        ("https://127.0.0.1/hooks", "loopback"),
        ("https://localhost/hooks", "loopback"),
        ("https://[::1]/hooks", "loopback"),
        ("https://10.0.0.8/hooks", "private"),
        ("https://192.168.0.10/hooks", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://169.254.1.1/hooks", "link-local"),
        ("https://[::ffff:10.0.0.1]/hooks", "private"),
        ("https://100.100.100.200/latest/meta-data", "metadata"),
        ("https://100.64.0.1/hooks", "carrier-grade NAT"),
        ("https://[2002:a9fe:a9fe::1]/hooks", "metadata address in IPv6 form"),
        ("https://[64:ff9b::a9fe:a9fe]/hooks", "metadata address in IPv6 form"),
        ("https://does-not-resolve.invalid/hooks", "does not resolve"),
    ],
)
def test_live_mode_refuses_unsafe_urls(
    api: ApiProcess, live_merchant: Merchant, url: str, reason: str
) -> None:
    response = post(api, live_merchant, "/v1/webhook_endpoints", endpoint_body(url))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["param"] == "url"
    assert reason in problem["detail"]
    listed = get(api, live_merchant, "/v1/webhook_endpoints").json()["data"]
    assert url not in [e["url"] for e in listed]  # nothing was written


def test_live_mode_takes_https_on_a_public_address(
    api: ApiProcess, live_merchant: Merchant
) -> None:
    response = post(api, live_merchant, "/v1/webhook_endpoints", endpoint_body("https://8.8.8.8/h"))
    assert response.status_code == 201, response.text
    assert response.json()["livemode"] is True


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data", "metadata"),
        ("http://100.100.100.200/latest/meta-data", "metadata"),
        ("http://169.254.1.1/hooks", "link-local"),
        ("http://10.0.0.8/hooks", "private"),
        ("http://[2002:a9fe:a9fe::1]/hooks", "metadata address in IPv6 form"),
    ],
)
def test_test_mode_allowing_private_urls_still_refuses_all_but_loopback(
    development_api: ApiProcess, local_merchant: Merchant, url: str, reason: str
) -> None:
    response = post(development_api, local_merchant, "/v1/webhook_endpoints", endpoint_body(url))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "url_not_allowed"
    assert reason in response.json()["detail"]


def test_test_mode_allowing_private_urls_takes_loopback(
    development_api: ApiProcess, local_merchant: Merchant
) -> None:
    for url in ("http://127.0.0.1:9/hooks", "http://localhost:9/hooks", "http://[::1]:9/h"):
        response = post(
            development_api, local_merchant, "/v1/webhook_endpoints", endpoint_body(url)
        )
        assert response.status_code == 201, response.text


def test_a_merchant_has_a_bounded_number_of_endpoints(development_api: ApiProcess) -> None:
    merchant = create_merchant("Loja Muitos Ganchos")
    made = [
        post(development_api, merchant, "/v1/webhook_endpoints", endpoint_body())
        for _ in range(ENDPOINT_LIMIT)
    ]
    assert [r.status_code for r in made] == [201] * ENDPOINT_LIMIT
    refused = post(development_api, merchant, "/v1/webhook_endpoints", endpoint_body())
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "webhook_endpoint_limit_reached"
    listed = get(development_api, merchant, "/v1/webhook_endpoints").json()["data"]
    assert len(listed) == ENDPOINT_LIMIT  # nothing was written

    first = made[0].json()["id"]
    deleted = httpx.delete(
        f"{development_api.url}/v1/webhook_endpoints/{first}", headers=merchant.headers
    )
    assert deleted.status_code == 200
    again = post(development_api, merchant, "/v1/webhook_endpoints", endpoint_body())
    assert again.status_code == 201, again.text


def test_events_list_filter_and_page(api: ApiProcess, other_merchant: Merchant) -> None:
    intents = [
        post(api, other_merchant, "/v1/payment_intents", card_intent(1000 + n)).json()["id"]
        for n in range(3)
    ]
    listed = get(api, other_merchant, "/v1/events", limit=100).json()
    mine = [e for e in listed["data"] if e["aggregate"]["id"] in intents]
    assert [e["aggregate"]["id"] for e in mine] == intents[::-1]  # newest first
    assert {e["type"] for e in mine} == {"payment_intent.created"}

    first_page = get(api, other_merchant, "/v1/events", limit=2).json()
    assert first_page["has_more"] is True
    rest = get(
        api, other_merchant, "/v1/events", limit=100, starting_after=first_page["data"][-1]["id"]
    ).json()
    ids = [e["id"] for e in first_page["data"] + rest["data"]]
    assert ids == [e["id"] for e in listed["data"]]

    by_object = get(api, other_merchant, "/v1/events", object_id=intents[0]).json()["data"]
    assert [e["aggregate"]["id"] for e in by_object] == [intents[0]]
    by_type = get(api, other_merchant, "/v1/events", type="refund.succeeded").json()["data"]
    assert by_type == []

    event = by_object[0]
    assert get(api, other_merchant, f"/v1/events/{event['id']}").json() == event


def test_events_are_the_merchants_own(
    api: ApiProcess, merchant: Merchant, other_merchant: Merchant
) -> None:
    intent = post(api, merchant, "/v1/payment_intents", card_intent()).json()["id"]
    [event] = get(api, merchant, "/v1/events", object_id=intent).json()["data"]
    assert get(api, other_merchant, f"/v1/events/{event['id']}").status_code == 404
    assert get(api, other_merchant, "/v1/events", object_id=intent).json()["data"] == []
    redeliver = post(api, other_merchant, f"/v1/events/{event['id']}/redeliver")
    assert redeliver.status_code == 404


@pytest.mark.parametrize(
    ("params", "param"),
    [({"type": "alert.gateway_circuit_opened"}, "type"), ({"starting_after": "pi_1"}, None)],
)
def test_bad_event_queries_are_400(
    api: ApiProcess, merchant: Merchant, params: dict[str, str], param: str | None
) -> None:
    response = get(api, merchant, "/v1/events", **params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
