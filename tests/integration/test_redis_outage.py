"""Redis down, PostgreSQL fine: the API keeps taking intents (rate limits in memory),
/readyz says degraded, the charge worker keeps charging on in-memory breakers, webhook
places are kept in memory. A real redis-server is killed and started again here."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.embedded import free_port
from app.gateways.health import GatewayHealth
from app.gateways.port import GatewayName
from app.redis_fallback import open_redis
from app.webhooks.places import EndpointPlaces
from devtools.chaos.outage import RedisOutage
from tests.integration.charge_scene import Scene
from tests.support import ApiProcess, Merchant, pix_intent, start_api, wait_for

AUTH_FAILURES_PER_MINUTE = 3
RECOVERY_TIMEOUT_SECONDS = 30.0
THRESHOLD = 3


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisOutage]:
    server = RedisOutage(tmp_path / "redis")
    try:
        yield server
    finally:
        server.cut()


@pytest.fixture
def api_on_own_redis(redis_server: RedisOutage) -> Iterator[ApiProcess]:
    overrides = {
        "PIXWAVE_REDIS_URL": redis_server.url,
        "PIXWAVE_AUTH_FAILURES_PER_MINUTE": str(AUTH_FAILURES_PER_MINUTE),
    }
    with start_api(overrides) as api:
        yield api


def _ready(api: ApiProcess) -> dict[str, str]:
    response = httpx.get(f"{api.url}/readyz", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def test_the_api_keeps_taking_intents_while_redis_is_down(
    api_on_own_redis: ApiProcess, redis_server: RedisOutage, merchant: Merchant
) -> None:
    api = api_on_own_redis
    url = f"{api.url}/v1/payment_intents"
    assert httpx.post(url, json=pix_intent(), headers=merchant.headers).status_code == 201
    assert _ready(api)["status"] == "ready"

    redis_server.cut()
    taken = [httpx.post(url, json=pix_intent(), headers=merchant.headers) for _ in range(3)]
    assert [r.status_code for r in taken] == [201, 201, 201], [r.text for r in taken]
    assert _ready(api) == {"status": "degraded", "postgres": "ok", "redis": "unavailable"}
    # The limit on failed authentications still holds, counted in the process.
    bad = {"Authorization": "Bearer sk_test_guessing"}
    guesses = [httpx.get(url, headers=bad).status_code for _ in range(AUTH_FAILURES_PER_MINUTE)]
    assert guesses == [401] * AUTH_FAILURES_PER_MINUTE
    refused = httpx.get(url, headers=bad)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    metrics = httpx.get(f"{api.url}/metrics").text
    assert 'pixwave_redis_fallbacks_total{component="rate_limit"}' in metrics
    assert 'pixwave_redis_available{component="rate_limit"} 0.0' in metrics

    redis_server.restore()  # empty, as after a crash
    wait_for(lambda: _ready(api)["status"] == "ready", timeout=RECOVERY_TIMEOUT_SECONDS)
    # The in-memory block holds until the API tries Redis again (a second after its
    # last failure); from then on Redis counts, and it has seen no failures.
    wait_for(
        lambda: httpx.get(url, headers=merchant.headers).status_code == 200,
        timeout=RECOVERY_TIMEOUT_SECONDS,
    )
    metrics = httpx.get(f"{api.url}/metrics").text
    assert 'pixwave_redis_available{component="rate_limit"} 1.0' in metrics
    assert httpx.post(url, json=pix_intent(), headers=merchant.headers).status_code == 201


async def test_the_charge_worker_keeps_charging_while_redis_is_down(
    scene: Scene, redis_server: RedisOutage
) -> None:
    redis_server.cut()
    intent_id = await scene.new_pix_intent()
    await scene.charge(intent_id, GatewayName.MERCADOPAGO, redis_url=redis_server.url)
    assert scene.intent(intent_id)["status"] == "requires_action"
    assert scene.attempt(intent_id)["outcome"] == "succeeded"


async def test_breakers_open_and_half_open_in_memory_while_redis_is_down() -> None:
    nowhere = open_redis(f"redis://127.0.0.1:{free_port()}")  # nothing listens there
    health = GatewayHealth(nowhere, threshold=THRESHOLD, open_seconds=1)
    opened = [await health.record_failure("efi") for _ in range(THRESHOLD)]
    assert opened == [False, False, True]
    assert await health.available(["efi", "mercadopago"]) == {"mercadopago"}
    assert (await health.window("efi")).calls == THRESHOLD

    async with asyncio.timeout(RECOVERY_TIMEOUT_SECONDS):  # the open second ends: half-open
        while True:
            if await health.available(["efi"]) == {"efi"}:  # this caller takes the probe
                break
            await asyncio.sleep(0.05)
    assert await health.available(["efi"]) == set()  # every other caller waits for it
    await health.record_success("efi")
    assert await health.available(["efi"]) == {"efi"}
    await nowhere.aclose()


async def test_webhook_places_are_kept_in_memory_while_redis_is_down() -> None:
    nowhere = open_redis(f"redis://127.0.0.1:{free_port()}")
    places = EndpointPlaces(nowhere, namespace="t", limit=2, hold_seconds=10)
    first, second = await places.take("we_1"), await places.take("we_1")
    assert first is not None
    assert second is not None
    assert await places.take("we_1") is None  # the limit holds in this worker
    assert await places.take("we_2") is not None  # other endpoints go on
    await places.give_back("we_1", first)
    assert await places.take("we_1") is not None
    await nowhere.aclose()
