"""The circuit breaker every charge worker shares, on real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.gateways.health import GatewayHealth

THRESHOLD = 3


@pytest.fixture
async def health(service_env: dict[str, str]) -> AsyncIterator[GatewayHealth]:
    redis = Redis.from_url(service_env["PIXWAVE_REDIS_URL"])
    yield GatewayHealth(redis, namespace=f"t{uuid.uuid4().hex}", threshold=THRESHOLD)
    await redis.aclose()


async def test_consecutive_failures_open_the_circuit_once(health: GatewayHealth) -> None:
    opened = [await health.record_failure("efi") for _ in range(THRESHOLD)]
    assert opened == [False, False, True]
    assert await health.available(["efi", "mercadopago"]) == {"mercadopago"}
    assert await health.record_failure("efi") is False  # already open: no second alert


async def test_a_success_resets_the_streak(health: GatewayHealth) -> None:
    for _ in range(THRESHOLD - 1):
        await health.record_failure("efi")
    await health.record_success("efi")
    assert await health.record_failure("efi") is False
    assert await health.available(["efi"]) == {"efi"}


async def test_half_open_lets_one_probe_through_and_its_failure_reopens(
    service_env: dict[str, str],
) -> None:
    redis = Redis.from_url(service_env["PIXWAVE_REDIS_URL"])
    namespace = f"t{uuid.uuid4().hex}"
    health = GatewayHealth(redis, namespace=namespace, threshold=THRESHOLD)
    for _ in range(THRESHOLD):
        await health.record_failure("efi")
    await redis.delete(f"{namespace}:gateway:efi:open")  # the open period ends: half-open
    assert await health.available(["efi"]) == {"efi"}  # this caller holds the probe
    assert await health.available(["efi"]) == set()  # every other caller waits for it
    assert await health.record_failure("efi") is False  # the probe failed: open again
    assert await health.available(["efi"]) == set()
    await redis.delete(f"{namespace}:gateway:efi:open")
    assert await health.available(["efi"]) == {"efi"}
    assert await health.record_success("efi") is True  # the probe succeeded: closed
    assert await health.available(["efi"]) == {"efi"}
    assert await health.available(["efi"]) == {"efi"}
    assert await health.record_failure("efi") is False  # closed again: a streak is needed
    await redis.aclose()


async def test_a_failure_rate_over_the_window_opens_it_without_a_streak(
    service_env: dict[str, str],
) -> None:
    redis = Redis.from_url(service_env["PIXWAVE_REDIS_URL"])
    health = GatewayHealth(
        redis, namespace=f"t{uuid.uuid4().hex}", threshold=THRESHOLD, window_min_calls=8
    )
    opened = []
    for _ in range(4):  # succeed, fail, succeed, fail …: never two failures in a row
        await health.record_success("mercadopago", 0.1)
        opened.append(await health.record_failure("mercadopago", 0.2))
    assert opened == [False, False, False, True]  # the 8th call makes 50 % of 8
    assert await health.available(["mercadopago"]) == set()
    assert (await health.seen(["mercadopago"]))["mercadopago"] == {
        "calls": 8,
        "success_rate": 0.5,
        "mean_ms": 150,
    }
    await redis.aclose()


async def test_a_fleet_sees_each_transition_once_through_a_whole_outage(
    service_env: dict[str, str],
) -> None:
    """Workers share the circuit: of all their calls, one opened it and one closed it,
    however often the open period ended and a probe failed in between."""
    redis = Redis.from_url(service_env["PIXWAVE_REDIS_URL"])
    namespace = f"t{uuid.uuid4().hex}"
    fleet = [GatewayHealth(redis, namespace=namespace, threshold=THRESHOLD) for _ in range(4)]
    opened = await asyncio.gather(*(w.record_failure("efi") for w in fleet for _ in range(3)))
    for _ in range(3):  # the open period ends, and the probe fails again
        await redis.delete(f"{namespace}:gateway:efi:open")
        opened += await asyncio.gather(*(w.record_failure("efi") for w in fleet))
    await redis.delete(f"{namespace}:gateway:efi:open")
    closed = await asyncio.gather(*(w.record_success("efi") for w in fleet))
    assert (opened.count(True), closed.count(True)) == (1, 1)
    assert await fleet[0].available(["efi"]) == {"efi"}
    await redis.aclose()
