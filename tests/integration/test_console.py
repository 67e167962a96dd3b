"""The operators' console (/console) over HTTP against a real API process: off without a
token, a login that takes only the operator token, CSRF on every POST, pages that say
"SQS is unreachable" rather than fail, gateway health from Redis, and an intent looked up
with what was recorded about it. The DLQ pages in a real browser: tests/e2e/test_console.py."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from app.embedded import free_port
from app.gateways.health import BUCKET_SECONDS
from app.gateways.port import GatewayName
from tests.aws import CREDENTIALS
from tests.integration.charge_scene import Scene
from tests.integration.test_dlq import charge_world
from tests.integration.worker_support import probe_event
from tests.integration.world import isolated
from tests.support import ApiProcess, Merchant, card_intent, pix_intent, start_api, wait_for

TOKEN = "operator-token-for-the-console-tests"
PREFIX = "consolehttp"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def console_api(service_env: dict[str, str]) -> Iterator[ApiProcess]:
    """The console on, its AWS endpoint a port nobody listens on."""
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = {
        **CREDENTIALS,
        "PIXWAVE_OPERATOR_TOKEN": TOKEN,
        "PIXWAVE_AWS_ENDPOINT_URL": nowhere,
        "PIXWAVE_NAME_PREFIX": PREFIX,
    }
    with start_api(settings) as api:
        yield api


def log_in(api: ApiProcess) -> tuple[httpx.Client, str]:
    """A client holding an operator session, and the session's CSRF token."""
    client = httpx.Client(base_url=api.url, follow_redirects=False, timeout=30)
    answer = client.post("/console/login", data={"token": TOKEN})
    assert answer.status_code == 303, answer.text
    page = client.get("/console/intents")
    assert page.status_code == 200
    found = CSRF_FIELD.search(page.text)
    assert found is not None
    return client, found[1]


def test_without_a_token_the_console_does_not_exist(api: ApiProcess) -> None:
    paths = [("GET", "/console"), ("GET", "/console/login"), ("POST", "/console/login")]
    for method, path in paths:
        answer = httpx.request(method, f"{api.url}{path}", data={"token": "anything"})
        assert answer.status_code == 404, (method, path)
        assert answer.headers["content-type"] == "application/problem+json"
    assert "/console" not in httpx.get(f"{api.url}/openapi.json").text


def test_only_the_operator_token_logs_in(console_api: ApiProcess, merchant: Merchant) -> None:
    url = console_api.url
    assert httpx.get(f"{url}/console").headers["location"] == "/console/login"
    wrong = httpx.post(f"{url}/console/login", data={"token": TOKEN[:-1] + "?"})
    assert wrong.status_code == 401
    assert "That is not the token." in wrong.text
    assert "set-cookie" not in wrong.headers
    merchant_key = httpx.post(f"{url}/console/login", data={"token": merchant.api_key})
    assert merchant_key.status_code == 401
    # A merchant's key as a bearer token, or a forged cookie, is no session.
    bearer = httpx.get(f"{url}/console", headers=merchant.headers)
    assert (bearer.status_code, bearer.headers["location"]) == (303, "/console/login")
    forged = httpx.get(f"{url}/console", cookies={"pixwave_console": "1.nonce.signature"})
    assert forged.status_code == 303

    right = httpx.post(f"{url}/console/login", data={"token": TOKEN})
    assert (right.status_code, right.headers["location"]) == (303, "/console")
    cookie = right.headers["set-cookie"].lower()
    for flag in ("httponly", "samesite=strict", "path=/console"):
        assert flag in cookie
    assert "secure" not in cookie  # plain HTTP here; HTTPS requests get Secure


def test_every_post_needs_the_sessions_csrf_token(console_api: ApiProcess) -> None:
    client, csrf = log_in(console_api)
    purge = "/console/dlq/charge/purge"
    confirm = f"{PREFIX}-charge-dlq"
    for form in ({"confirm": confirm}, {"confirm": confirm, "csrf_token": csrf[:-2] + "00"}):
        refused = client.post(purge, data=form)
        assert refused.status_code == 403
        assert "came from another site" in refused.text
    assert client.post(purge, json={"confirm": confirm, "csrf_token": csrf}).status_code == 403
    assert client.post("/console/logout", data={}).status_code == 403
    # Another session's token does not do either.
    _, other_csrf = log_in(console_api)
    stolen = client.post(purge, data={"confirm": confirm, "csrf_token": other_csrf})
    assert stolen.status_code == 403

    # With the token, the typed confirmation is still checked before anything is deleted.
    mistyped = client.post(purge, data={"confirm": "charge", "csrf_token": csrf})
    assert mistyped.status_code == 400
    assert f"Type {confirm} to purge it: nothing was deleted." in mistyped.text
    nothing = client.post(
        "/console/dlq/charge/redrive", data={"scope": "selected", "csrf_token": csrf}
    )
    assert nothing.status_code == 400
    assert "Select at least one message" in nothing.text

    # Forms are taken under /console only: the API still wants JSON.
    form_to_api = client.post("/v1/payment_intents", data={"amount": "100"})
    assert form_to_api.status_code == 415

    out = client.post("/console/logout", data={"csrf_token": csrf})
    assert out.status_code == 303
    client.cookies.clear()
    assert client.get("/console").status_code == 303


def test_sqs_out_of_reach_is_a_banner_not_an_error(console_api: ApiProcess) -> None:
    client, _ = log_in(console_api)
    overview = client.get("/console")
    assert overview.status_code == 200
    assert 'class="banner"' in overview.text
    assert "unpublished" in overview.text  # the database's figures are still there
    assert overview.headers["content-security-policy"].startswith("default-src 'self'")
    dlq = client.get("/console/dlq/charge")
    assert dlq.status_code == 200
    assert 'class="banner"' in dlq.text
    unknown = client.get("/console/dlq/nowhere")
    assert unknown.status_code == 404
    assert "unknown dead-letter queue &#39;nowhere&#39;" in unknown.text
    assert client.get("/console/static/console.js").status_code == 200
    assert client.get("/console/static/..%2Froutes.py").status_code == 404


def test_gateway_health_comes_from_the_shared_breakers(
    console_api: ApiProcess, service_env: dict[str, str]
) -> None:
    shared = redis.Redis.from_url(service_env["PIXWAVE_REDIS_URL"])
    shared.set(f"{PREFIX}:gateway:efi:open", 1, ex=60)
    shared.hset(f"{PREFIX}:gateway:efi:window:{_bucket()}", mapping={"ok": 3, "fail": 1, "ms": 400})
    try:
        client, _ = log_in(console_api)
        page = client.get("/console/gateways")
    finally:
        shared.delete(f"{PREFIX}:gateway:efi:open")
    assert page.status_code == 200
    efi = _row(page.text, "efi")
    assert "<td>open</td>" in efi
    assert "75.0 %" in efi
    assert "100 ms" in efi
    assert "<td>closed</td>" in _row(page.text, "mercadopago")
    assert "mercadopago → efi" in page.text


def _bucket() -> int:
    return int(time.time()) // BUCKET_SECONDS * BUCKET_SECONDS


def _row(page: str, gateway: str) -> str:
    found = re.search(rf'<tr[^>]*data-gateway="{gateway}">(.*?)</tr>', page, re.S)
    assert found is not None, gateway
    return found[1]


def test_an_intent_is_shown_with_its_events(console_api: ApiProcess, merchant: Merchant) -> None:
    created = httpx.post(
        f"{console_api.url}/v1/payment_intents", json=pix_intent(2590), headers=merchant.headers
    )
    assert created.status_code == 201, created.text
    intent_id = created.json()["id"]
    client, _ = log_in(console_api)

    page = client.get("/console/intents", params={"id": intent_id})

    assert page.status_code == 200
    assert f"<code>{intent_id}</code> · pending" in page.text
    assert "25.90 BRL" in page.text
    assert "payment_intent.created" in page.text
    assert "No attempt yet." in page.text  # no charge worker runs here
    assert merchant.merchant_id in page.text
    missing = client.get("/console/intents", params={"id": "<script>alert(1)</script>"})
    assert missing.status_code == 404
    assert "No intent &lt;script&gt;alert(1)&lt;/script&gt;." in missing.text
    assert "<script>alert" not in missing.text


async def test_a_charged_intent_shows_its_attempt_and_ledger_lines(scene: Scene) -> None:
    intent_id = await scene.new_intent(card_intent(4990))
    await scene.charge(intent_id, GatewayName.MERCADOPAGO)
    assert scene.intent(intent_id)["status"] == "succeeded"
    settings = {"PIXWAVE_DATABASE_URL": scene.database_url, "PIXWAVE_OPERATOR_TOKEN": TOKEN}

    with start_api(settings) as api:
        client, _ = log_in(api)
        page = client.get("/console/intents", params={"id": intent_id})

    assert page.status_code == 200
    attempts = _table(page.text, "attempts")
    assert "<td>mercadopago</td><td>succeeded</td>" in attempts
    assert "first in priority order" in attempts
    ledger = _table(page.text, "ledger")
    assert f"<td>charge</td><td>{intent_id}</td>" in ledger
    assert "-49.90 BRL" in ledger  # the gross, out of the gateway's clearing account
    assert "gateway:mercadopago:clearing" in ledger
    assert "payment_intent.succeeded" in _table(page.text, "events")


def _table(page: str, name: str) -> str:
    found = re.search(rf'<table class="{name}">(.*?)</table>', page, re.S)
    assert found is not None, name
    return found[1]


def test_all_of_a_dlq_is_redriven_after_its_dry_run_and_a_purge_needs_its_name(
    service_env: dict[str, str], aws_endpoint: str
) -> None:
    database_url, _ = isolated(service_env, "console")
    world = charge_world(database_url, aws_endpoint)
    settings = {**world.base_env, "PIXWAVE_OPERATOR_TOKEN": TOKEN}
    for _ in range(2):
        world.sqs.send_message(QueueUrl=world.dlq_url, MessageBody=probe_event()[1])
    redrive = f"/console/dlq/{world.dlq_name}/redrive"

    with start_api(settings) as api:
        client, csrf = log_in(api)
        overview = client.get("/console")
        assert f'<a href="/console/dlq/{world.dlq_name}">' in overview.text
        dry = client.post(redrive, data={"scope": "all", "action": "dry-run", "csrf_token": csrf})
        assert dry.text.count('data-outcome="would move"') == 2
        assert world.depth(world.dlq_url)["visible"] == 2

        moved = client.post(redrive, data={"scope": "all", "action": "redrive", "csrf_token": csrf})
        assert moved.status_code == 200
        if "message move task" not in moved.text:  # moto: one by one
            assert moved.text.count('data-outcome="moved"') == 2
        wait_for(lambda: world.depth() == {"visible": 2, "in_flight": 0}, timeout=30)

        world.sqs.send_message(QueueUrl=world.dlq_url, MessageBody=probe_event()[1])
        purged = client.post(
            f"/console/dlq/{world.dlq_name}/purge",
            data={"confirm": world.dlq_name, "csrf_token": csrf},
        )
    assert purged.status_code == 200
    assert f"Purged {world.dlq_name}" in purged.text
    wait_for(lambda: world.depth(world.dlq_url) == {"visible": 0, "in_flight": 0}, timeout=30)
    assert world.depth() == {"visible": 2, "in_flight": 0}  # the source queue is untouched


def test_with_redis_away_the_gateway_page_says_whose_counts_it_shows(
    service_env: dict[str, str],
) -> None:
    settings = {
        "PIXWAVE_OPERATOR_TOKEN": TOKEN,
        "PIXWAVE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    with start_api(settings) as api:
        client, _ = log_in(api)
        page = client.get("/console/gateways")
    assert page.status_code == 200
    assert "Redis is unavailable" in page.text
    assert "<td>closed</td>" in _row(page.text, "efi")
